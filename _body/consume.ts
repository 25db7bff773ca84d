/**
 * Everyday reading of a reader body: `chunks(body)` (an async iterator over
 * its bytes, each a borrowed view, no copy) and the whole-body helpers
 * `toBytes` and `toText`. Built on `scheduleRead` alone, so they work on
 * every reader body — request bodies, response bodies, multipart parts.
 *
 * @module
 */

import type { Body } from "./abstract.ts";
import { checkLimit, checkOptions } from "./check.ts";
import { readerOf } from "./side.ts";

/**
 * The bytes of `body`, chunk by chunk, for `for await`:
 *
 * ```ts ignore
 * for await (const bytes of chunks(reqd.requestBody)) await file.write(bytes);
 * ```
 *
 * Each `bytes` is a view of the body's own memory, valid until the loop
 * takes its next step (no copy: copy what you keep longer). A failed input
 * throws its error from the loop — a truncated upload never ends the loop
 * as if complete. Leaving the loop early (`break`, `return`, a throw inside
 * it) closes the reader, which releases its source (a request stream is
 * cancelled). The next read is scheduled only when the loop asks for it,
 * so a slow loop body slows the source down.
 *
 * @param body a reader body with no read scheduled; the iterator owns it.
 * @returns an async iterable iterator over the body's chunks.
 * @throws {TypeError} when `body` is not a reader body.
 *
 * @example Hashing a body chunk by chunk
 * ```ts
 * import { bodyFromReadable, chunks } from "@httpaf/body";
 * import { createHash } from "node:crypto";
 *
 * const body = bodyFromReadable(new Blob(["hello, ", "world"]).stream());
 * const hash = createHash("sha256");
 * for await (const bytes of chunks(body)) hash.update(bytes);
 * const hex = hash.digest("hex");
 * if (!hex.startsWith("09ca7e4e")) throw new Error(hex);
 * ```
 */
export function chunks(body: Body<"read">): AsyncIterableIterator<Uint8Array> {
  readerOf("chunks", body);
  return new Chunks(body);
}

// One pending step at a time; the read callbacks are bound once, so a
// chunk costs its view (none when the body hands over a whole buffer) and
// the iterator's own promise.
class Chunks implements AsyncIterableIterator<Uint8Array> {
  readonly #body: Body<"read">;
  #done = false;
  #resolve: ((result: IteratorResult<Uint8Array>) => void) | null = null;
  #reject: ((error: unknown) => void) | null = null;

  constructor(body: Body<"read">) {
    this.#body = body;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#done) return Promise.resolve({ done: true, value: undefined });
    if (this.#resolve !== null) {
      return Promise.reject(
        new Error("chunks: next() called before the previous step settled"),
      );
    }
    return new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      try {
        this.#body.scheduleRead(this); // may answer at once
      } catch (error) {
        this.#take();
        this.#done = true;
        reject(error);
      }
    });
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    this.#finish();
    return Promise.resolve({ done: true, value: undefined });
  }

  throw(error?: unknown): Promise<IteratorResult<Uint8Array>> {
    this.#finish();
    return Promise.reject(error);
  }

  // ReadCallbacks, as arrow fields: `this` is scheduled as it is.
  onRead = (buffer: Uint8Array, off: number, len: number): void => {
    const resolve = this.#take();
    const value = off === 0 && len === buffer.length
      ? buffer
      : buffer.subarray(off, off + len);
    resolve?.({ done: false, value });
  };

  onEof = (error?: unknown): void => {
    const reject = this.#reject;
    const resolve = this.#take();
    this.#done = true;
    if (error === undefined) resolve?.({ done: true, value: undefined });
    else reject?.(error);
  };

  #take(): ((result: IteratorResult<Uint8Array>) => void) | null {
    const resolve = this.#resolve;
    this.#resolve = this.#reject = null;
    return resolve;
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#body.closeReader(); // answers a pending read with onEof()
  }
}

/** Options of {@linkcode toBytes} and {@linkcode toText}. */
export interface ToBytesOptions {
  /**
   * The most bytes accepted. A body that brings more is closed (its source
   * released) and the promise rejects with a `RangeError` naming
   * `maxBytes`. Default: no limit.
   */
  maxBytes?: number;
}

/**
 * The whole body, copied into one `Uint8Array` of exactly its length.
 *
 * @param body a reader body with no read scheduled.
 * @param options `maxBytes`.
 * @returns the bytes; rejects with the input's error when it failed (a
 *   truncated body never resolves), or a `RangeError` past `maxBytes`.
 * @throws {TypeError} when `body` is not a reader body, or for bad options.
 * @throws {RangeError} for a negative or fractional `maxBytes`.
 *
 * @example A bounded read of a small body
 * ```ts
 * import { bodyFromReadable, toBytes } from "@httpaf/body";
 *
 * const bytes = await toBytes(bodyFromReadable(new Blob(["abc"]).stream()), {
 *   maxBytes: 1024,
 * });
 * if (bytes.length !== 3) throw new Error(`${bytes.length}`);
 * ```
 */
export function toBytes(
  body: Body<"read">,
  options?: ToBytesOptions,
): Promise<Uint8Array> {
  return collect("toBytes", body, options);
}

/**
 * The whole body decoded as UTF-8 (malformed bytes become U+FFFD, as
 * `Response.text()` does).
 *
 * @param body a reader body with no read scheduled.
 * @param options `maxBytes`, counted on the encoded bytes.
 * @returns the text; rejects as {@linkcode toBytes} does.
 * @throws {TypeError} when `body` is not a reader body, or for bad options.
 * @throws {RangeError} for a negative or fractional `maxBytes`.
 *
 * @example Reading a small body as text
 * ```ts
 * import { bodyFromReadable, toText } from "@httpaf/body";
 *
 * const text = await toText(bodyFromReadable(new Blob(["héllo"]).stream()));
 * if (text !== "héllo") throw new Error(text);
 * ```
 */
export function toText(
  body: Body<"read">,
  options?: ToBytesOptions,
): Promise<string> {
  return collect("toText", body, options).then((bytes) =>
    new TextDecoder().decode(bytes)
  );
}

// Reads `body` to its end into a buffer that doubles as it fills.
function collect(
  caller: string,
  body: Body<"read">,
  options: ToBytesOptions | undefined,
): Promise<Uint8Array> {
  readerOf(caller, body);
  checkOptions(caller, options, ["maxBytes"]);
  const max = checkLimit(caller, "maxBytes", options?.maxBytes) ?? Infinity;
  return new Promise((resolve, reject) => {
    let buffer = new Uint8Array(0);
    let length = 0;
    const onRead = (bytes: Uint8Array, off: number, len: number): void => {
      if (length + len > max) {
        body.closeReader();
        return reject(
          new RangeError(
            `${caller}: the body is larger than maxBytes (${max} bytes)`,
          ),
        );
      }
      if (length + len > buffer.length) {
        const grown = new Uint8Array(
          Math.min(Math.max(2 * buffer.length, length + len, 1024), max),
        );
        grown.set(buffer.subarray(0, length));
        buffer = grown;
      }
      buffer.set(bytes.subarray(off, off + len), length);
      length += len;
      body.scheduleRead({ onRead, onEof });
    };
    const onEof = (error?: unknown): void => {
      if (error !== undefined) reject(error);
      else resolve(length === buffer.length ? buffer : buffer.slice(0, length));
    };
    try {
      body.scheduleRead({ onRead, onEof });
    } catch (error) {
      reject(error); // a read was already scheduled on it
    }
  });
}
