/**
 * In-process write benchmarks: `deno bench bench/write_bench.ts`.
 *
 * Group `writeString` — 1M × 100-byte writes through a stream that a reader
 * loop drains in the same process; every contender produces ~64 KiB, then
 * waits for the reader:
 * - `naive` (baseline): a pull-driven `ReadableStream`, one
 *   `TextEncoder.encode` + `controller.enqueue` per write, 655 writes a pull;
 * - `hand-tuned`: `encodeInto` into a fresh 64 KiB buffer, one enqueue per
 *   full buffer;
 * - `ours`: `streamingBody()`, `writeString` per write, `await flush()`
 *   every 655 writes (65,500 bytes: one chunk).
 *
 * Group `scheduleBigstring` — 1024 × 64 KiB chunks (one read-only chunk
 * handed over again and again, never modified):
 * - `raw` (baseline): a pull-based `ReadableStream`, one chunk a pull;
 * - `ours`: `scheduleBigstring` + `await flush()` per chunk.
 *
 * Group `pendingBytes` — 10,000 × 100-byte `writeString` into a
 * `streamingBody()` nobody reads yet, `without` (baseline) and `with` a
 * `pendingBytes` read after each write: what asking costs (100 iterations).
 *
 * `WRITE_BENCH=<writes>[,<iterations>]` (with `--allow-env`) scales the
 * first two groups (default 1,000,000 writes) and sets their measured
 * iterations (default 10, after 2 warm-ups; the driver `bench/http.ts`
 * runs 3 per round).
 *
 * @module
 */

import type { Body } from "../mod.ts";
import { streamingBody } from "../mod.ts";

const granted =
  Deno.permissions.querySync({ name: "env", variable: "WRITE_BENCH" })
    .state === "granted";
const [writes, iterations] = ((granted ? Deno.env.get("WRITE_BENCH") : "") ||
  "1000000,10").split(",").map(Number);
const WRITES = writes!;
const LINE = "abcdefghijklmnopqrstuvwxyz".repeat(4).slice(0, 99) + "\n";
const PACE = 655; // 100-byte writes per 64 KiB chunk
const BUFFER = 65536;
const CHUNKS = Math.max(1, Math.round(WRITES / 1000)); // 64 MiB at 1M
const CHUNK = new Uint8Array(BUFFER).fill(0x61);
const PENDING_WRITES = 10_000;
const encoder = new TextEncoder();

// Reads `readable` to its end; resolves with the byte count.
async function drain(readable: ReadableStream<Uint8Array>): Promise<number> {
  const reader = readable.getReader();
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return bytes;
    bytes += value.length;
  }
}

function expect(bytes: number, expected: number): void {
  if (bytes !== expected) {
    throw new Error(`${bytes} bytes, expected ${expected}`);
  }
}

// A pull-driven stream: `pull` enqueues, and says when it is done.
async function pulled(
  expected: number,
  pull: (controller: ReadableStreamDefaultController<Uint8Array>) => boolean,
): Promise<void> {
  const readable = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pull(controller)) controller.close();
    },
  });
  expect(await drain(readable), expected);
}

// A streamingBody() that `produce` writes into, drained meanwhile.
async function ours(
  expected: number,
  produce: (body: Body<"write">) => Promise<void>,
): Promise<void> {
  const { body, readable } = streamingBody();
  const drained = drain(readable);
  await produce(body);
  body.closeWriter();
  expect(await drained, expected);
}

async function flushed(body: Body<"write">): Promise<void> {
  if (await body.flush() !== "written") throw new Error("closed");
}

// The benches of `group`, by name; the first is the baseline. Deno.bench
// awaits only what an async function returns (it looks at the function's
// kind), hence the async wrapper.
function group(
  name: string,
  benches: Record<string, () => void | Promise<void>>,
  n = iterations ?? 10,
): void {
  Object.entries(benches).forEach(([bench, fn], i) =>
    Deno.bench({
      name: bench,
      group: name,
      baseline: i === 0,
      n,
      warmup: 2,
      fn: async () => await fn(),
    })
  );
}

group("writeString", {
  "naive: encode + enqueue per write": () => {
    let i = 0;
    return pulled(WRITES * LINE.length, (controller) => {
      for (let k = 0; k < PACE && i < WRITES; k++, i++) {
        controller.enqueue(encoder.encode(LINE));
      }
      return i === WRITES;
    });
  },
  "hand-tuned: encodeInto a fresh 64 KiB buffer": () => {
    let i = 0;
    return pulled(WRITES * LINE.length, (controller) => {
      const buffer = new Uint8Array(BUFFER);
      let used = 0;
      // 3 bytes per UTF-16 unit is the most encodeInto can need.
      while (i < WRITES && BUFFER - used >= LINE.length * 3) {
        used += encoder.encodeInto(LINE, buffer.subarray(used)).written;
        i++;
      }
      if (used > 0) controller.enqueue(buffer.subarray(0, used));
      return i === WRITES;
    });
  },
  "ours: streamingBody writeString, flush every 655": () =>
    ours(WRITES * LINE.length, async (body) => {
      for (let w = 0; w < WRITES;) {
        for (let k = 0; k < PACE && w < WRITES; k++, w++) {
          body.writeString(LINE);
        }
        await flushed(body);
      }
    }),
});

group("scheduleBigstring", {
  "raw: ReadableStream, one 64 KiB chunk a pull": () => {
    let i = 0;
    return pulled(CHUNKS * BUFFER, (controller) => {
      controller.enqueue(CHUNK);
      return ++i === CHUNKS;
    });
  },
  "ours: scheduleBigstring + flush per 64 KiB chunk": () =>
    ours(CHUNKS * BUFFER, async (body) => {
      for (let c = 0; c < CHUNKS; c++) {
        body.scheduleBigstring(CHUNK);
        await flushed(body);
      }
    }),
});

// 10,000 writes into a body nobody reads, then cancelled.
function pendingWrites(read: boolean): void {
  const { body, readable } = streamingBody();
  let pending = 0;
  for (let w = 0; w < PENDING_WRITES; w++) {
    body.writeString(LINE);
    if (read) pending = body.pendingBytes;
  }
  if (read) expect(pending, PENDING_WRITES * LINE.length);
  readable.cancel();
}

group("pendingBytes", {
  "without: 10,000 writeString": () => pendingWrites(false),
  "with: pendingBytes read after each": () => pendingWrites(true),
}, 100);
