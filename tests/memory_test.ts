// Memory rules of DESIGN.md, measured on the V8 heap (run with
// --v8-flags=--expose-gc, as `deno task test` does). Figures are per body,
// averaged over many, after full collections.
import assert from "node:assert/strict";
import { streamingBody } from "../mod.ts";

const gc = (globalThis as { gc?: () => void }).gc;
const N = 10_000;

// Heap plus ArrayBuffer memory, the two places a body keeps bytes.
function used(): number {
  const { heapUsed, external } = Deno.memoryUsage();
  return heapUsed + external;
}

/** Bytes per object that `make` returns, kept alive together. */
async function perObject(
  make: () => unknown | Promise<unknown>,
): Promise<number> {
  const keep: unknown[] = new Array(N).fill(gc);
  gc!();
  gc!();
  const before = used();
  for (let i = 0; i < N; i++) {
    const made = make();
    keep[i] = made instanceof Promise ? await made : made;
  }
  gc!();
  gc!();
  const after = used();
  assert.equal(keep.length, N);
  return (after - before) / N;
}

/** The smallest of a few measurements: the least disturbed by noise. */
async function measure(
  make: () => unknown | Promise<unknown>,
): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 3; i++) best = Math.min(best, await perObject(make));
  return best;
}

const EVENT = "data: " + "x".repeat(92) + "\n\n"; // 100 bytes

Deno.test({
  name: "an idle streamingBody costs at most 1.2x a bare ReadableStream",
  ignore: gc === undefined,
  async fn() {
    const bare = await measure(() => new ReadableStream());
    const ours = await measure(() => streamingBody());
    assert.ok(
      ours <= 1.2 * bare,
      `streamingBody ${ours.toFixed(0)} B vs ReadableStream ${
        bare.toFixed(0)
      } B`,
    );
  },
});

Deno.test({
  name:
    "a writer's buffer is allocated on the first write and sized to the data",
  ignore: gc === undefined,
  async fn() {
    const idle = await measure(() => streamingBody());
    const written = await measure(() => {
      const pair = streamingBody();
      pair.body.writeString("data: tick\n\n");
      return pair;
    });
    // The default bufferSize is 64 KiB; a 12-byte write must not cost that.
    assert.ok(
      written - idle <= 8192,
      `one small write cost ${(written - idle).toFixed(0)} B`,
    );
  },
});

Deno.test({
  name:
    "a drained writer holds at most 1.3x the memory of a raw stream that delivered the same event",
  ignore: gc === undefined,
  async fn() {
    const raw = await measure(async () => {
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      const stream = new ReadableStream<Uint8Array>({
        start: (c) => void (controller = c),
      });
      const reader = stream.getReader();
      controller.enqueue(new TextEncoder().encode(EVENT));
      await reader.read();
      return [stream, reader, controller];
    });
    const ours = await measure(async () => {
      const pair = streamingBody();
      const reader = pair.readable.getReader();
      pair.body.writeString(EVENT);
      const flushed = pair.body.flush();
      await reader.read();
      assert.equal(await flushed, "written");
      return [pair, reader];
    });
    assert.ok(
      ours <= 1.3 * raw,
      `drained streamingBody ${ours.toFixed(0)} B vs raw ${raw.toFixed(0)} B`,
    );
  },
});
