/**
 * `stalled`: 256 MiB asked for by a client that sends the request, then
 * reads nothing for 3 s: the server's RSS growth (from `/proc`), and its
 * CPU meanwhile (a producer paused by backpressure uses none).
 *
 * @module
 */

import type { Context } from "../_context.ts";
import { stalledRequest } from "../_load.ts";
import { delay, type Server, startServer } from "../_process.ts";
import { fmt, median, verdict } from "../_report.ts";

const MiB = 2 ** 20;
const LIMIT = 32 * MiB;

/** Server, label, whether the row is held to the limit. */
const CONTENDERS: [string, string, boolean][] = [
  ["stream_ours.ts", "ours writeString 100 B, flush per 64 KiB", true],
  ["download_ours.ts", "ours scheduleBigstring 64 KiB", true],
  ["download_raw.ts", "raw pull ReadableStream (info)", false],
];

export async function stalled(ctx: Context): Promise<void> {
  const { stallBytes: bytes, stallMs } = ctx.sizes;
  const scenario = `${bytes / MiB} MiB to a client reading nothing for ${
    stallMs / 1000
  } s: server RSS growth`;
  for (const [name, contender, targeted] of CONTENDERS) {
    const server = await startServer(name);
    try {
      // Warm-up: code compiled and buffers allocated before the baseline.
      await ctx.get(server, Math.min(bytes, 16 * MiB));
      await delay(200);
      const { growth, baseline, cpu } = await stall(server, bytes, stallMs);
      ctx.report.row({
        scenario,
        contender,
        figure: `${fmt(growth / MiB, 1)} MiB (from ${fmt(baseline / MiB)} ` +
          `MiB; ${fmt(cpu, 2)} s server CPU meanwhile)`,
        target: targeted ? `< ${LIMIT / MiB} MiB` : "",
        met: targeted ? verdict(growth < LIMIT) : "",
      });
      await delay(200); // the server sees the client gone
    } finally {
      await server.stop();
    }
  }
  ctx.report.notes.push(
    "stalled: the peak of the server's VmRSS, sampled every 100 ms while " +
      "the client reads nothing, minus its median just before (after a " +
      "16 MiB warm-up download); the server CPU shows the producer " +
      "paused by backpressure rather than buffering.",
  );
}

/** Peak RSS growth over the baseline while a client asks and reads nothing. */
async function stall(server: Server, bytes: number, ms: number) {
  const samples = [];
  for (let i = 0; i < 3; i++) {
    samples.push(await server.rss());
    await delay(50);
  }
  const baseline = median(samples);
  const cpuBefore = await server.cpu();
  const conn = await stalledRequest(server.port, `/?bytes=${bytes}`);
  let peak = baseline;
  try {
    const until = performance.now() + ms;
    for (let i = 0; i < 10_000 && performance.now() < until; i++) {
      await delay(100);
      peak = Math.max(peak, await server.rss());
    }
    return {
      growth: peak - baseline,
      baseline,
      cpu: await server.cpu() - cpuBefore,
    };
  } finally {
    conn.close();
  }
}
