/**
 * `compress`: streaming compression.
 * - In-process (`bench/compress_bench.ts`, one subprocess that runs every
 *   round): 64 MiB of 100-byte lines compressed — ours (`compressBody`
 *   over `streamingBody`, gzip level 6, br levels 4 and 5, zstd level 3) against
 *   a `CompressionStream` pipeline and Hono's `compress()` over its
 *   `stream()` helper: throughput and compressed size, ratios per round.
 * - Over HTTP/1.1: server-sent events with a flush per event
 *   (`servers/sse_ours.ts`), identity against gzip and br
 *   (`respondWithStreaming(init, { compress })`): every byte the raw client
 *   read — head, chunk framing and body — per event.
 *
 * @module
 */

import type { Context } from "../_context.ts";
import { rawGet } from "../_load.ts";
import { runDeno } from "../_process.ts";
import { atLeast, count, fmt, INFO, median, type Target } from "../_report.ts";
import { sideBySide, type Unit } from "../_runner.ts";

interface Run {
  bytes: number;
  ms: number;
}

/**
 * The in-process rows: which table, the contender, and against which
 * reference (ours / reference for speed, reference / ours for size).
 */
const ROWS: {
  table: "log" | "repeated";
  name: string;
  label: string;
  vs?: string;
  speed?: Target;
  size?: Target;
}[] = [
  {
    table: "log",
    name: "CompressionStream gzip",
    label: "CompressionStream gzip",
  },
  {
    table: "log",
    name: "Hono compress() gzip",
    label: "Hono compress() over stream(), gzip",
  },
  {
    table: "log",
    name: "ours gzip-6",
    label: "ours gzip-6 vs CompressionStream gzip",
    vs: "CompressionStream gzip",
    speed: atLeast(3),
    size: atLeast(1, "≥ 1× (equal or smaller)"),
  },
  {
    table: "log",
    name: "ours gzip-6",
    label: "ours gzip-6 vs Hono compress()",
    vs: "Hono compress() gzip",
    speed: atLeast(3),
    size: atLeast(1, "≥ 1× (equal or smaller)"),
  },
  {
    table: "log",
    name: "CompressionStream brotli",
    label: "CompressionStream brotli",
  },
  {
    table: "log",
    name: "ours br-4",
    label: "ours br-4 vs CompressionStream brotli",
    vs: "CompressionStream brotli",
    speed: INFO,
    size: INFO,
  },
  {
    table: "log",
    name: "ours br-5",
    label: "ours br-5 (its default) vs CompressionStream brotli",
    vs: "CompressionStream brotli",
    speed: INFO,
    size: INFO,
  },
  {
    table: "log",
    name: "ours zstd-3",
    label: "ours zstd-3 vs CompressionStream gzip",
    vs: "CompressionStream gzip",
    speed: INFO,
    size: INFO,
  },
  {
    table: "repeated",
    name: "CompressionStream gzip, repeated line",
    label: "CompressionStream gzip",
  },
  {
    table: "repeated",
    name: "ours gzip-6, repeated line",
    label: "ours gzip-6 vs CompressionStream gzip",
    vs: "CompressionStream gzip, repeated line",
    speed: atLeast(3),
    size: atLeast(1, "≥ 1× (equal or smaller)"),
  },
];

export async function compress(ctx: Context): Promise<void> {
  await inProcess(ctx);
  ctx.report.notes.push(NOTE);
  await sse(ctx);
}

/** One `compress_bench.ts` subprocess: the text size, runs by contender. */
async function measure(mib: number, rounds: number) {
  const file = new URL("../compress_bench.ts", import.meta.url).pathname;
  const args = ["run", "--quiet", "--no-lock", "--allow-env=COMPRESS_BENCH"];
  const json = await runDeno([...args, file], 900_000, {
    COMPRESS_BENCH: `${mib},${rounds}`,
  });
  const { bytes, runs } = JSON.parse(json) as {
    bytes: number;
    runs: Record<string, Run[]>;
  };
  const of = (name: string) => {
    const list = runs[name];
    if (list === undefined) throw new Error(`compress_bench: no ${name}`);
    return list;
  };
  return { input: bytes, of };
}

async function inProcess(ctx: Context): Promise<void> {
  const mib = ctx.sizes.compressBytes / 2 ** 20;
  const { input, of } = await measure(mib, ctx.rounds);
  const speed = (run: Run) => input / 2 ** 20 / (run.ms / 1000);
  const when = `in-process (${count(ctx.rounds, "round")})`;
  const tables = {
    log: `compress ${mib} MiB of distinct 100 B log lines, ${when}`,
    repeated: `compress ${mib} MiB of one repeated 100 B line, ${when}`,
  };
  for (const { table, name, label, vs, speed: fast, size } of ROWS) {
    const list = of(name);
    const out = list[0]!.bytes; // the same every round
    const figure = `${fmt(median(list.map(speed)), 1)} MiB/s, ${fmt(out)} B (${
      fmt(input / out, 2)
    }:1)`;
    const scenario = tables[table];
    if (vs === undefined) {
      ctx.report.reference(scenario, label, figure);
      continue;
    }
    const ref = of(vs);
    const speeds = list.map((run, i) => speed(run) / speed(ref[i]!));
    ctx.report.compared(scenario, `${label}: speed`, figure, speeds, fast);
    const sizes = list.map((run, i) => ref[i]!.bytes / run.bytes);
    ctx.report.compared(
      scenario,
      `${label}: size (${vs.split(",")[0]} / ours)`,
      "",
      sizes,
      size,
    );
  }
}

const NOTE = "compress in-process: speed = MiB of text in per second, " +
  "median of the rounds (each round runs every contender once, the order " +
  "rotated); size ratios = the reference's compressed bytes / ours (≥ 1: " +
  "ours as small or smaller; the same every round). Ours and " +
  "CompressionStream both get 64 KiB chunks (an awaited flush every 655 " +
  "lines); Hono's compress() gets one 100 B chunk a write.";

async function sse(ctx: Context): Promise<void> {
  const events = ctx.sizes.sseEvents;
  const unit: Unit = (value, cpu) =>
    `${fmt(value)} B (${fmt(value / events, 1)} B/event), ${
      fmt(cpu * 1e6, 1)
    } µs CPU/event`;
  await sideBySide(ctx, {
    scenario: `HTTP SSE, ${fmt(events)} events of 100 B, a flush each: ` +
      "bytes on the wire",
    rounds: ctx.rounds,
    contenders: {
      identity: "sse_ours.ts",
      gzip: "sse_ours.ts encoding=gzip",
      br: "sse_ours.ts encoding=br",
    },
    run: async (server, key) => {
      const path = `/?events=${events}`;
      const accept = "accept-encoding: gzip, br\r\n";
      const response = await rawGet(server.port, path, accept, 2 ** 30, 60_000);
      const encoding = /\r\ncontent-encoding:\s*(\S+)/i.exec(response.head);
      if ((encoding?.[1] ?? "identity") !== key) {
        throw new Error(`SSE ${key}: the server sent ${encoding?.[1]}`);
      }
      return { value: response.wire, units: events };
    },
    unit,
    rows: [
      { ref: "identity", label: "identity" },
      {
        ours: "gzip",
        vs: "identity",
        label: "ours gzip-6 (compressed / identity)",
      },
      {
        ours: "br",
        vs: "identity",
        label: "ours br-4 (compressed / identity)",
      },
    ],
  });
  ctx.report.notes.push(
    "SSE: every byte the raw HTTP/1.1 client read (response head, chunked " +
      "framing, body) for events written and flushed one by one; each " +
      "flush of a compressed body is a sync flush of the compressor, so " +
      "each event can be decoded as it arrives. Ratios there: compressed " +
      "/ identity (lower is fewer bytes).",
  );
}
