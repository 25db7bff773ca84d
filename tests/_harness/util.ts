// Helpers shared by the test suites. Not a test file (no `_test` suffix).
import assert from "node:assert/strict";

/** A timer turn of the event loop. */
export function macrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Lets the event loop turn until `condition` holds; fails after `limit`
 * turns rather than hanging.
 */
export async function until(
  condition: () => boolean,
  what: string,
  limit = 100,
): Promise<void> {
  for (let i = 0; i < limit && !condition(); i++) await macrotask();
  assert.ok(condition(), `still waiting for ${what} after ${limit} turns`);
}

/**
 * Lets the event loop turn `n` times: room for something that must not
 * happen to show itself.
 */
export async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await macrotask();
}

/**
 * A validator for assert.throws/rejects: exactly class `cls`, message
 * starting with `prefix`.
 */
export function failsWith(
  cls: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor,
  prefix: string,
): (error: unknown) => true {
  return (error) => {
    assert.ok(error instanceof Error, `not an Error: ${String(error)}`);
    assert.equal(Object.getPrototypeOf(error), cls.prototype, error.name);
    assert.ok(
      error.message.startsWith(prefix),
      `message ${JSON.stringify(error.message)} does not start with ${
        JSON.stringify(prefix)
      }`,
    );
    return true;
  };
}

/** `n` random bytes (getRandomValues fills at most 64 KiB a call). */
export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, at + 65536));
  }
  return bytes;
}

/** The chunks joined into one array. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
