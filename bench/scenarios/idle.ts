/**
 * `idle`: memory held by bodies kept alive (`bench/memory_probe.ts`, one
 * subprocess with `--expose-gc` per kind and sample, median of 3): idle
 * `streamingBody()`s against bare `ReadableStream`s (as constructed, the
 * measure of README.md, "Memory", and after their start step ran), bare reader and
 * writer bodies, and writers drained after one 100-byte event against a
 * raw stream that delivered the same chunk. Bytes held = V8 heap growth plus
 * ArrayBuffer memory (`Deno.memoryUsage()` heapUsed + external).
 *
 * @module
 */

import type { Context } from "../_context.ts";
import { runDeno } from "../_process.ts";
import { atMost, fmt, INFO, median, type Target } from "../_report.ts";

const SAMPLES = 3;

/**
 * The rows: which table, the probe's kind, the label; a reference, or
 * compared (`vs` the reference's kind, ours / reference), or else info.
 */
const ROWS: {
  table: "idle" | "settled" | "drained";
  kind: string;
  label: string;
  ref?: true;
  vs?: string;
  target?: Target;
}[] = [
  {
    table: "idle",
    kind: "bare",
    label: "bare new ReadableStream()",
    ref: true,
  },
  {
    table: "idle",
    kind: "ours",
    label: "ours streamingBody()",
    vs: "bare",
    target: atMost(1.2),
  },
  { table: "idle", kind: "reader", label: "createReader, no-op channel" },
  { table: "idle", kind: "writer", label: "createWriter, no-op channel" },
  {
    table: "settled",
    kind: "bare",
    label: "bare new ReadableStream()",
    ref: true,
  },
  {
    table: "settled",
    kind: "ours",
    label: "ours streamingBody()",
    vs: "bare",
    target: INFO,
  },
  {
    table: "drained",
    kind: "drained-raw",
    label: "raw ReadableStream (one fresh chunk)",
    ref: true,
  },
  {
    table: "drained",
    kind: "drained",
    label: "ours streamingBody() (writeString)",
    vs: "drained-raw",
    target: atMost(1.3),
  },
];

interface Held {
  heap: number;
  external: number;
}

// The probe's mode for a table: objects as constructed, or after every
// microtask ran (memory_probe.ts).
const modeOf = (table: string) =>
  table === "settled" ? "settled" : "constructed";

export async function idle(ctx: Context): Promise<void> {
  const n = ctx.sizes.idleCount;
  const samples = new Map<string, Held[]>(
    ROWS.map((row) => [`${row.kind} ${modeOf(row.table)}`, []]),
  );
  for (let i = 0; i < SAMPLES; i++) {
    for (const [key, list] of samples) list.push(await probe(key, n));
  }
  const each = (kind: string, table: string) => {
    const list = samples.get(`${kind} ${modeOf(table)}`)!;
    const heap = median(list.map((held) => held.heap)) / n;
    const external = median(list.map((held) => held.external)) / n;
    return { bytes: heap + external, heap, external };
  };
  const of = `${fmt(n)}`;
  const tables = {
    idle:
      `${of} idle bodies as constructed, heap + buffers (median of ${SAMPLES})`,
    settled: `${of} idle bodies after their start step ran, heap + buffers ` +
      `(median of ${SAMPLES})`,
    drained: `${of} writers after one 100 B event written, flushed and ` +
      `read, heap + buffers (median of ${SAMPLES})`,
  };
  for (const { table, kind, label, ref, vs, target } of ROWS) {
    const { bytes, heap, external } = each(kind, table);
    const figure = `${fmt(bytes * n / 2 ** 20, 1)} MiB (${fmt(bytes)} B ` +
      `each: heap ${fmt(heap)} + buffers ${fmt(external)})`;
    const scenario = tables[table];
    if (ref) ctx.report.reference(scenario, label, figure);
    else if (vs === undefined) {
      ctx.report.row({ scenario, contender: label, figure, target: INFO.text });
    } else {
      const ratio = bytes / each(vs, table).bytes;
      ctx.report.compared(scenario, label, figure, [ratio], target);
    }
  }
}

// `key`: the probe's kind and mode, "ours settled".
async function probe(key: string, n: number): Promise<Held> {
  const [kind, mode] = key.split(" ");
  const file = new URL("../memory_probe.ts", import.meta.url).pathname;
  const flags = ["--quiet", "--no-lock", "--v8-flags=--expose-gc"];
  const args = ["run", ...flags, file, kind!, String(n), mode!];
  const out = await runDeno(args, 60_000);
  return JSON.parse(out) as Held;
}
