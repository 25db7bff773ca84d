/**
 * The allocation pass of `upload`: fresh upload servers run with
 * `--v8-flags=--trace-gc,--expose-gc`; each reading starts after a forced
 * full GC and its reply gives its time span; the trace lines inside the
 * span are counted by kind (full / young), with their pause time, next to
 * the V8 heap bytes allocated meanwhile.
 *
 * @module
 */

import type { Context } from "../_context.ts";
import type { UploadReply } from "../_load.ts";
import { count, fmt, median, verdict } from "../_report.ts";
import { alternate } from "../_runner.ts";

/** The contenders, as `upload.ts` names them. */
type Key = "ours" | "forAwait" | "byob";

/** The collections of one span of `--trace-gc` output. */
interface GcSpan {
  full: number;
  young: number;
  pauseMs: number;
}

/** A contender's medians, and how the table shows them. */
interface Figure {
  full: number;
  pause: number;
  text: string;
}

export async function uploadGc(
  ctx: Context,
  uploaders: Record<Key, string>,
): Promise<void> {
  const { report, sizes: { uploadBytes: bytes, gcUploads } } = ctx;
  const replies: Record<Key, UploadReply[]> = {
    ours: [],
    forAwait: [],
    byob: [],
  };
  const traced = await alternate(uploaders, gcUploads, async (server, key) => {
    replies[key].push((await ctx.post(server, bytes)).reply);
    return { value: 0, units: 1 };
  }, ["--trace-gc", "--expose-gc"]);
  const [ours, forAwait, byob] = (["ours", "forAwait", "byob"] as const)
    .map((key) => {
      const measured = replies[key].slice(1); // the first: a warm-up
      const spans = gcSpans(traced.servers[key].lines, measured);
      const heap = measured.map((reply) => reply.allocated / 2 ** 20);
      const of = (pick: (gc: GcSpan) => number) => median(spans.map(pick));
      const [full, young, pause] = [
        of((gc) => gc.full),
        of((gc) => gc.young),
        of((gc) => gc.pauseMs),
      ];
      const text = `${fmt(full, 1)} full + ${fmt(young, 1)} young GCs, ` +
        `${fmt(pause, 1)} ms GC, ${fmt(median(heap), 1)} MiB heap alloc`;
      return { full, pause, text };
    }) as [Figure, Figure, Figure];
  const scenario = `HTTP ${bytes / 2 ** 20} MiB upload: server GCs while ` +
    `reading (${count(gcUploads, "upload")})`;
  report.reference(scenario, "for await (request.body)", forAwait.text);
  const contender = "BYOB loop, one 64 KiB buffer";
  report.row({ scenario, contender, figure: byob.text });
  report.row({
    scenario,
    contender: "ours vs for-await",
    figure: ours.text,
    ratio: forAwait.pause === 0
      ? "—"
      : `${fmt(ours.pause / forAwait.pause, 2)}× GC time`,
    target: "fewer allocations (full GCs) than for-await",
    met: forAwait.full === 0
      ? "— (no full GC in the reference)"
      : verdict(ours.full < forAwait.full),
  });
  report.notes.push(
    "upload GCs: the server's `--trace-gc` lines timed within the reading " +
      "of one body (each reading starts after a forced full GC, so from " +
      'the same heap state; forced GCs not counted). "full" = mark-compacts: ' +
      "for-await gets a fresh 64 KiB ArrayBuffer per chunk, memory outside " +
      "the V8 heap that shows up as full GCs for external memory; " +
      '"young" = scavenges of short-lived JS objects (promises, read ' +
      'results, views). "ms GC" = main-thread pause time, incremental ' +
      'marking steps included. "heap alloc" = `total_allocated_bytes` ' +
      "over the same span (JS objects only, not ArrayBuffer memory).",
  );
}

/**
 * The collections inside each span, from a server's `--trace-gc` lines.
 * Their timestamps are V8's clock (ms since the isolate started); the
 * server's `gc-clock` line gives `performance.now()` at the end of the
 * first forced ("testing") GC, which maps one clock onto the other (to
 * within that GC's few ms). Forced GCs are not counted.
 *
 * @throws {Error} without a `gc-clock` line or its GC.
 */
function gcSpans(lines: string[], spans: UploadReply[]): GcSpan[] {
  const trace = /^\[\d+:0x[0-9a-f]+\]\s+(\d+) ms: /;
  const clock = lines.find((line) => line.startsWith("gc-clock "));
  const first = lines.find((line) =>
    trace.test(line) && line.includes(" testing;")
  );
  if (clock === undefined || first === undefined) {
    throw new Error("no gc-clock calibration in the server's output");
  }
  const offset = Number(trace.exec(first)![1]) - Number(clock.split(" ")[1]);
  const collections = lines.flatMap((line) => {
    const match = trace.exec(line);
    if (match === null || line.includes(" testing;")) return [];
    const pause = /MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms/.exec(
      line,
    );
    const steps = /\(\+ ([\d.]+) ms in \d+ steps/.exec(line);
    return [{
      at: Number(match[1]) - offset,
      young: / ms: (Scavenge|Minor)/.test(line),
      pauseMs: Number(pause?.[1] ?? 0) + Number(steps?.[1] ?? 0),
    }];
  });
  return spans.map(({ start, end }) => {
    const inside = collections.filter((gc) => gc.at >= start && gc.at <= end);
    const young = inside.filter((gc) => gc.young).length;
    const pauseMs = inside.reduce((sum, gc) => sum + gc.pauseMs, 0);
    return { full: inside.length - young, young, pauseMs };
  });
}
