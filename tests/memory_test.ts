// Memory rules of README.md ("Memory"), measured on the V8 heap (run with
// --v8-flags=--expose-gc, as `deno task test` does). Figures are per body,
// averaged over many, after full collections.
import assert from "node:assert/strict";
import { streamingBody } from "../mod.ts";
import { createWriter } from "../body.ts";

const gc = (globalThis as { gc?: () => void }).gc;
const N = 10_000;
const WARM_UP = 2_000;
const ROUNDS = 5;

// Heap plus ArrayBuffer memory, the two places a body keeps bytes.
function used(): number {
  const { heapUsed, external } = Deno.memoryUsage();
  return heapUsed + external;
}

/** Bytes per object that `make` returns, kept alive together. */
async function perObject(
  make: () => unknown | Promise<unknown>,
): Promise<number> {
  // Warm-up first: code compiled for `make` (in the background, sooner or
  // later on a loaded machine) must not land inside the measured window.
  for (let i = 0; i < WARM_UP; i++) {
    const made = make();
    if (made instanceof Promise) await made;
  }
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

const median = (values: number[]): number =>
  values.sort((x, y) => x - y)[values.length >> 1]!;

/**
 * Bytes per object of `ours` and of `reference`, measured in alternation
 * (so both see the same machine) and summed up by their medians: a
 * measure that holds on a loaded machine, not only on a quiet one.
 */
async function compare(
  reference: () => unknown | Promise<unknown>,
  ours: () => unknown | Promise<unknown>,
): Promise<{ reference: number; ours: number }> {
  const refs: number[] = [];
  const mine: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    refs.push(await perObject(reference));
    mine.push(await perObject(ours));
  }
  return { reference: median(refs), ours: median(mine) };
}

/** Bytes per object that `make` returns: the median of a few rounds. */
async function measure(
  make: () => unknown | Promise<unknown>,
): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < ROUNDS; i++) values.push(await perObject(make));
  return median(values);
}

const EVENT = "data: " + "x".repeat(92) + "\n\n"; // 100 bytes

Deno.test({
  name: "an idle streamingBody costs at most 1.2x a bare ReadableStream",
  ignore: gc === undefined,
  async fn() {
    const { reference: bare, ours } = await compare(
      () => new ReadableStream(),
      () => streamingBody(),
    );
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
    const { reference: raw, ours } = await compare(async () => {
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      const stream = new ReadableStream<Uint8Array>({
        start: (c) => void (controller = c),
      });
      const reader = stream.getReader();
      controller.enqueue(new TextEncoder().encode(EVENT));
      await reader.read();
      return [stream, reader, controller];
    }, async () => {
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

Deno.test({
  name: "a writer makes its signal only when read: an idle writer holds none",
  ignore: gc === undefined,
  async fn() {
    const channel = { wake() {}, abort() {}, callbackError() {} };
    const idle = await measure(() => createWriter(channel));
    const watched = await measure(() => {
      const writer = createWriter(channel);
      void writer.signal;
      return writer;
    });
    assert.ok(idle <= 128, `an idle writer holds ${idle.toFixed(0)} B`);
    assert.ok(
      watched - idle >= 100,
      `a read signal added only ${(watched - idle).toFixed(0)} B`,
    );
  },
});
