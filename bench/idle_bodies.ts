/**
 * Heap cost of open, idle bodies, measured in-process: prints
 * `{"count": N, "bytes": B}` where B is the growth of the V8 heap (after a
 * forced full GC) while N of them are alive.
 *
 * ```sh
 * deno run --v8-flags=--expose-gc bench/idle_bodies.ts ours 10000
 * deno run --v8-flags=--expose-gc bench/idle_bodies.ts bare 10000
 * ```
 *
 * `ours` keeps N `streamingBody()` results (body + readable); `bare` keeps N
 * `new ReadableStream()`, the reference of DESIGN.md ("at most ~1.3× a bare
 * ReadableStream").
 *
 * @module
 */

import { streamingBody } from "../mod.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
const kind = Deno.args[0];
const count = Number(Deno.args[1] ?? "10000");
if ((kind !== "ours" && kind !== "bare") || !Number.isSafeInteger(count)) {
  throw new TypeError("usage: idle_bodies.ts ours|bare <count>");
}
const make = kind === "ours"
  ? () => streamingBody()
  : () => new ReadableStream();

make(); // load and compile the code before the baseline
const settle = () => {
  for (let i = 0; i < 3; i++) gc();
  return Deno.memoryUsage().heapUsed;
};
const before = settle();
const alive: unknown[] = new Array(count);
for (let i = 0; i < count; i++) alive[i] = make();
const after = settle();
console.log(JSON.stringify({ count: alive.length, bytes: after - before }));
