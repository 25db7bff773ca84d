/**
 * `stream`: 64 MiB of 100-byte writes over HTTP — ours (`writeString`, a
 * flush per ~64 KiB) vs naive (encode + enqueue per write, pull-driven) vs
 * Hono's `stream()` helper (`await stream.write(string)` per write).
 *
 * @module
 */

import type { Context } from "../_context.ts";
import { atLeast } from "../_report.ts";
import { MIB_S, perMiB, sideBySide } from "../_runner.ts";

export async function stream(ctx: Context): Promise<void> {
  const bytes = ctx.sizes.streamBytes;
  await sideBySide(ctx, {
    scenario: `HTTP ${bytes / 2 ** 20} MiB of 100 B writes`,
    rounds: ctx.rounds,
    contenders: {
      ours: "stream_ours.ts",
      naive: "stream_naive.ts",
      hono: "stream_hono.ts",
    },
    run: async (server) => perMiB(await ctx.get(server, bytes)),
    unit: MIB_S,
    rows: [
      { ref: "naive", label: "naive stream (encode + enqueue)" },
      { ref: "hono", label: "Hono stream() (await write)" },
      { ours: "ours", vs: "naive", label: "ours vs naive", target: atLeast(4) },
      {
        ours: "ours",
        vs: "hono",
        label: "ours vs Hono",
        target: atLeast(1.0001, "> 1× (ahead)"),
      },
    ],
  });
}
