/**
 * `download`: 1 GiB a round in 64 KiB chunks — ours (`scheduleBigstring`, a
 * flush per chunk) vs a raw pull-based `ReadableStream`, both sending the
 * same pre-made chunk. Short runs: three times the rounds. Compared twice:
 * throughput, and the server's CPU per MiB (raw / ours).
 *
 * @module
 */

import type { Context } from "../_context.ts";
import { atLeast, type Target } from "../_report.ts";
import { MIB_S, oursVsRaw, perMiB, sideBySide } from "../_runner.ts";

/** The rows of a download, ours held to `target`. */
export const downloadRows = (target: Target) =>
  oursVsRaw("raw pull ReadableStream", "ours (scheduleBigstring)", target);

export async function download(ctx: Context): Promise<void> {
  const bytes = ctx.sizes.downloadBytes;
  await sideBySide(ctx, {
    scenario: `HTTP ${bytes / 2 ** 20} MiB download, 64 KiB chunks`,
    rounds: ctx.rounds * 3,
    contenders: { ours: "download_ours.ts", raw: "download_raw.ts" },
    run: async (server) => perMiB(await ctx.get(server, bytes)),
    unit: MIB_S,
    rows: [
      ...downloadRows(atLeast(0.98)),
      {
        ours: "ours",
        vs: "raw",
        label: "ours, server CPU per MiB (raw / ours)",
        target: atLeast(0.95),
        by: "cpu",
      },
    ],
  });
}
