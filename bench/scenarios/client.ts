/**
 * `client`: `request()` (httpaf's client over `fetch`) against plain
 * `fetch`, the clients running in this process, side by side against one
 * plain `Deno.serve` peer (`servers/client_peer.ts`): every round runs each
 * contender once, the order rotated per round; a ratio is the median of
 * the per-round ratios, with their range.
 *
 * - Download of 256 MiB in 64 KiB chunks (short runs: twice the rounds),
 *   counting the bytes: ours (a `scheduleRead` loop) vs `for await` over
 *   the response body vs a BYOB loop into one reused 64 KiB buffer.
 * - Upload of 1M × 100-byte writes: ours (`writeString`, a flush every
 *   655 writes) vs a naive stream enqueuing each write as its own chunk.
 *
 * @module
 */

import type { Context } from "../_context.ts";
import { startServer } from "../_process.ts";
import { atLeast, count, fmt, median, type Target } from "../_report.ts";
import {
  byobDownload,
  forAwaitDownload,
  LINE,
  naiveUpload,
  oursDownload,
  oursUpload,
} from "./client_contenders.ts";

const MiB = 2 ** 20;
// The bound of one transfer: a download, or an upload (the naive one
// moves ~1 MiB/s here: the peer parses a 100-byte HTTP chunk per write).
const DOWNLOAD_MS = 120_000;
const UPLOAD_MS = 900_000;

/**
 * One contender: one transfer (a tenth of it for the warm-up, when the
 * size allows), bounded by `signal`; resolves with the bytes it moved.
 */
type Run = (signal: AbortSignal, warmUp: boolean) => Promise<number>;

export async function client(ctx: Context): Promise<void> {
  const server = await startServer("client_peer.ts");
  try {
    const url = `http://127.0.0.1:${server.port}/`;
    await download(ctx, url);
    await upload(ctx, url);
  } finally {
    await server.stop();
  }
}

async function download(ctx: Context, url: string): Promise<void> {
  const bytes = ctx.sizes.uploadBytes;
  const get = `${url}?bytes=${bytes}`;
  const mibs = await alternate(ctx.rounds * 2, DOWNLOAD_MS, {
    ours: (signal) => oursDownload(get, bytes, signal),
    forAwait: (signal) => forAwaitDownload(get, bytes, signal),
    byob: (signal) => byobDownload(get, bytes, signal),
  });
  const scenario = `client: ${bytes / MiB} MiB download through fetch, ${
    count(ctx.rounds * 2, "round")
  } in one process`;
  const figure = (values: number[]) => `${fmt(median(values))} MiB/s`;
  const { report } = ctx;
  report.reference(
    scenario,
    "for await (response.body)",
    figure(mibs.forAwait),
  );
  report.reference(scenario, "BYOB loop, one 64 KiB buffer", figure(mibs.byob));
  compare(
    ctx,
    scenario,
    "request() vs for-await",
    mibs.ours,
    mibs.forAwait,
    atLeast(1),
  );
  compare(
    ctx,
    scenario,
    "request() vs BYOB",
    mibs.ours,
    mibs.byob,
    atLeast(0.95),
  );
}

async function upload(ctx: Context, url: string): Promise<void> {
  const writes = ctx.sizes.writes;
  const size = (warmUp: boolean) => warmUp ? Math.ceil(writes / 10) : writes;
  const mibs = await alternate(ctx.rounds, UPLOAD_MS, {
    ours: async (signal, warmUp) =>
      (await oursUpload(url, size(warmUp), signal)).bytes,
    naive: async (signal, warmUp) =>
      (await naiveUpload(url, size(warmUp), signal)).bytes,
  });
  const scenario = `client: ${
    fmt(writes)
  } × ${LINE.length} B writes uploaded, ${
    count(ctx.rounds, "round")
  } in one process`;
  const figure = (values: number[]) => `${fmt(median(values), 1)} MiB/s`;
  ctx.report.reference(
    scenario,
    "naive (a stream chunk per write)",
    figure(mibs.naive),
  );
  compare(
    ctx,
    scenario,
    "request() (flush every 655) vs naive",
    mibs.ours,
    mibs.naive,
    atLeast(10),
  );
}

function compare(
  ctx: Context,
  scenario: string,
  label: string,
  ours: number[],
  reference: number[],
  target: Target,
): void {
  const ratios = ours.map((value, i) => value / reference[i]!);
  ctx.report.compared(
    scenario,
    label,
    `${fmt(median(ours))} MiB/s`,
    ratios,
    target,
  );
}

/**
 * Warms each contender up with one run, then runs `rounds` rounds, each
 * running every contender once, the order rotated per round; each run is
 * bounded by `ms`. Returns the MiB/s of each measured run, by contender,
 * in round order.
 */
async function alternate<K extends string>(
  rounds: number,
  ms: number,
  contenders: Record<K, Run>,
): Promise<Record<K, number[]>> {
  const keys = Object.keys(contenders) as K[];
  const figures = Object.fromEntries(
    keys.map((k) => [k, []]),
  ) as unknown as Record<K, number[]>;
  const once = async (key: K, warmUp = false) => {
    const signal = AbortSignal.timeout(ms);
    const start = performance.now();
    const bytes = await contenders[key](signal, warmUp);
    return bytes / MiB / ((performance.now() - start) / 1000);
  };
  for (const key of keys) await once(key, true);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < keys.length; k++) {
      const key = keys[(k + round) % keys.length]!;
      figures[key].push(await once(key));
    }
  }
  return figures;
}
