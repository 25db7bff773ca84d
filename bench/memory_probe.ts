/**
 * Memory held by bodies kept alive, measured in-process: prints
 * `{"count": N, "heap": H, "external": E}` where H and E are the growth of
 * the V8 heap and of memory outside it (ArrayBuffer contents), after forced
 * full GCs, while N objects of one kind are alive.
 *
 * ```sh
 * deno run --v8-flags=--expose-gc bench/memory_probe.ts ours 10000
 * deno run --v8-flags=--expose-gc bench/memory_probe.ts ours 10000 settled
 * deno run --v8-flags=--expose-gc bench/memory_probe.ts drained 10000
 * ```
 *
 * By default objects are measured as constructed: made one after another
 * with no turn in between, so a stream's start step (a microtask) has not
 * run yet — the measure of README.md's idle-body figure ("Memory"). `settled` lets
 * every microtask run before measuring (the start step done: a bare
 * stream drops what only starting needed).
 *
 * Kinds:
 * - `bare`: `new ReadableStream()`, the reference of README.md's figure;
 * - `ours`: an idle `streamingBody()` (body + readable);
 * - `reader` / `writer`: `createReader` / `createWriter` of
 *   `@httpaf/body/body` with one shared no-op channel: the body alone;
 * - `drained`: a `streamingBody()` after one 100-byte event was written,
 *   flushed and read (its reader kept, as a server keeps the stream);
 * - `drained-raw`: a `ReadableStream` that delivered the same event, one
 *   fresh encoded chunk, to its kept reader.
 *
 * @module
 */

import { streamingBody } from "../mod.ts";
import { createReader, createWriter } from "../body.ts";

const EVENT = "data: " + "x".repeat(92) + "\n\n"; // 100 bytes
const encoder = new TextEncoder();
const noop = () => {};
const readChannel = { request: noop, release: noop, callbackError: noop };
const writeChannel = { wake: noop, abort: noop, callbackError: noop };

const KINDS: Record<string, () => unknown> = {
  bare: () => new ReadableStream(),
  ours: () => streamingBody(),
  reader: () => createReader(readChannel),
  writer: () => createWriter(writeChannel),
  drained: async () => {
    const pair = streamingBody();
    const reader = pair.readable.getReader();
    pair.body.writeString(EVENT);
    const flushed = pair.body.flush();
    await expectEvent(reader);
    if (await flushed !== "written") throw new Error("flush: closed");
    return { pair, reader };
  },
  "drained-raw": async () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const readable = new ReadableStream<Uint8Array>({
      start: (c) => void (controller = c),
    });
    const reader = readable.getReader();
    controller.enqueue(encoder.encode(EVENT));
    await expectEvent(reader);
    return { readable, reader, controller };
  },
};

async function expectEvent(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<void> {
  const { value } = await reader.read();
  if (value?.length !== 100) throw new Error(`read ${value?.length} bytes`);
}

const gc = (globalThis as { gc?: () => void }).gc;
const [kind = "", n = "10000", mode = "constructed"] = Deno.args;
const make = KINDS[kind];
const count = Number(n);
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
if (
  make === undefined || !Number.isSafeInteger(count) || count < 1 ||
  (mode !== "constructed" && mode !== "settled")
) {
  throw new TypeError(
    `usage: memory_probe.ts ${
      Object.keys(KINDS).join("|")
    } <count> [constructed|settled]`,
  );
}

function settle(): { heap: number; external: number } {
  for (let i = 0; i < 3; i++) gc!();
  const { heapUsed, external } = Deno.memoryUsage();
  return { heap: heapUsed, external };
}

await make(); // load and compile the code before the baseline
const alive: unknown[] = new Array(count).fill(null);
const before = settle();
for (let i = 0; i < count; i++) {
  const made = make();
  alive[i] = made instanceof Promise ? await made : made;
}
// A macrotask: every microtask queued so far has run.
if (mode === "settled") await new Promise((done) => setTimeout(done, 0));
const after = settle();
console.log(JSON.stringify({
  count: alive.length,
  heap: after.heap - before.heap,
  external: after.external - before.external,
}));
