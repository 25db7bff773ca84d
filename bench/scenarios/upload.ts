/**
 * `upload`: 256 MiB streamed up (chunked) — ours (`scheduleRead` loop) vs
 * `for await` vs a BYOB loop into one reused 64 KiB buffer (short runs:
 * twice the rounds); then the allocation pass of `upload_gc.ts`.
 *
 * @module
 */

import type { Context } from "../_context.ts";
import { atLeast } from "../_report.ts";
import { MIB_S, perMiB, sideBySide } from "../_runner.ts";
import { uploadGc } from "./upload_gc.ts";

const UPLOADERS = {
  ours: "upload_ours.ts",
  forAwait: "upload_for_await.ts",
  byob: "upload_byob.ts",
};

export async function upload(ctx: Context): Promise<void> {
  const bytes = ctx.sizes.uploadBytes;
  await sideBySide(ctx, {
    scenario: `HTTP ${bytes / 2 ** 20} MiB upload consumed`,
    rounds: ctx.rounds * 2,
    contenders: UPLOADERS,
    run: async (server) => perMiB(await ctx.post(server, bytes)),
    unit: MIB_S,
    rows: [
      { ref: "forAwait", label: "for await (request.body)" },
      { ref: "byob", label: "BYOB loop, one 64 KiB buffer" },
      {
        ours: "ours",
        vs: "forAwait",
        label: "ours vs for-await",
        target: atLeast(0.95),
      },
      { ours: "ours", vs: "byob", label: "ours vs BYOB", target: atLeast(1) },
    ],
  });
  await uploadGc(ctx, UPLOADERS);
}
