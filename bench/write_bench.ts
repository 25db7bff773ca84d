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
 * `WRITE_BENCH=<writes>[,<iterations>]` (with `--allow-env`) scales both
 * groups (default 1,000,000 writes) and sets the measured iterations of
 * each bench (default 10, after 2 warm-ups; the driver `bench/http.ts`
 * runs 3 per round).
 *
 * @module
 */

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

const opts = { n: iterations ?? 10, warmup: 2 };

Deno.bench({
  name: "naive: encode + enqueue per write",
  group: "writeString",
  baseline: true,
  ...opts,
  async fn() {
    let i = 0;
    const readable = new ReadableStream<Uint8Array>({
      pull(controller) {
        for (let k = 0; k < PACE && i < WRITES; k++, i++) {
          controller.enqueue(encoder.encode(LINE));
        }
        if (i === WRITES) controller.close();
      },
    });
    expect(await drain(readable), WRITES * LINE.length);
  },
});

Deno.bench({
  name: "hand-tuned: encodeInto a fresh 64 KiB buffer",
  group: "writeString",
  ...opts,
  async fn() {
    let i = 0;
    const readable = new ReadableStream<Uint8Array>({
      pull(controller) {
        const buffer = new Uint8Array(BUFFER);
        let used = 0;
        // 3 bytes per UTF-16 unit is the most encodeInto can need.
        while (i < WRITES && BUFFER - used >= LINE.length * 3) {
          used += encoder.encodeInto(LINE, buffer.subarray(used)).written;
          i++;
        }
        if (used > 0) controller.enqueue(buffer.subarray(0, used));
        if (i === WRITES) controller.close();
      },
    });
    expect(await drain(readable), WRITES * LINE.length);
  },
});

Deno.bench({
  name: "ours: streamingBody writeString, flush every 655",
  group: "writeString",
  ...opts,
  async fn() {
    const { body, readable } = streamingBody();
    const drained = drain(readable);
    for (let i = 0; i < WRITES;) {
      for (let k = 0; k < PACE && i < WRITES; k++, i++) body.writeString(LINE);
      if (await body.flush() !== "written") throw new Error("closed");
    }
    body.closeWriter();
    expect(await drained, WRITES * LINE.length);
  },
});

Deno.bench({
  name: "raw: ReadableStream, one 64 KiB chunk a pull",
  group: "scheduleBigstring",
  baseline: true,
  ...opts,
  async fn() {
    let i = 0;
    const readable = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(CHUNK);
        if (++i === CHUNKS) controller.close();
      },
    });
    expect(await drain(readable), CHUNKS * BUFFER);
  },
});

Deno.bench({
  name: "ours: scheduleBigstring + flush per 64 KiB chunk",
  group: "scheduleBigstring",
  ...opts,
  async fn() {
    const { body, readable } = streamingBody();
    const drained = drain(readable);
    for (let i = 0; i < CHUNKS; i++) {
      body.scheduleBigstring(CHUNK);
      if (await body.flush() !== "written") throw new Error("closed");
    }
    body.closeWriter();
    expect(await drained, CHUNKS * BUFFER);
  },
});
