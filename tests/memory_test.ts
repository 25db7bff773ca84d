// Memory rules of DESIGN.md, measured on the V8 heap (run with
// --v8-flags=--expose-gc, as `deno task test` does). Figures are per body,
// averaged over many, after full collections.
import assert from "node:assert/strict";
import { streamingBody } from "../mod.ts";

const gc = (globalThis as { gc?: () => void }).gc;
const N = 10_000;

/** Heap bytes per object that `make` returns, kept alive together. */
function perObject(make: () => unknown): number {
  const keep: unknown[] = new Array(N).fill(null);
  gc!();
  gc!();
  const before = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < N; i++) keep[i] = make();
  gc!();
  gc!();
  const after = Deno.memoryUsage().heapUsed;
  assert.equal(keep.length, N);
  return (after - before) / N;
}

/** The smallest of a few measurements: the least disturbed by noise. */
function measure(make: () => unknown): number {
  let best = Infinity;
  for (let i = 0; i < 3; i++) best = Math.min(best, perObject(make));
  return best;
}

Deno.test({
  name: "an idle streamingBody costs at most 1.3x a bare ReadableStream",
  ignore: gc === undefined,
  fn() {
    const bare = measure(() => new ReadableStream());
    const ours = measure(() => streamingBody());
    assert.ok(
      ours <= 1.3 * bare,
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
  fn() {
    const idle = measure(() => streamingBody());
    const written = measure(() => {
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
