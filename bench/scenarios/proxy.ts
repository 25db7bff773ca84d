/**
 * `proxy`: 1 GiB a round downloaded through a proxy from a local upstream
 * (`download_raw.ts`: 64 KiB pre-made chunks) — Deno's native pass-through
 * (`new Response(upstream.body)`), a bare JS copy loop, Hono's `proxy()`
 * helper, ours with every guarantee (the bodies through the library) and
 * ours in pass-through mode. Throughput and the proxy's CPU per MiB.
 *
 * @module
 */

import type { Context } from "../_context.ts";
import { startServer } from "../_process.ts";
import { atLeast, INFO } from "../_report.ts";
import { MIB_S, perMiB, sideBySide } from "../_runner.ts";

export async function proxy(ctx: Context): Promise<void> {
  const bytes = ctx.sizes.downloadBytes;
  const upstream = await startServer("download_raw.ts");
  try {
    const at = `upstream=${upstream.port}`;
    await sideBySide(ctx, {
      scenario: `HTTP ${bytes / 2 ** 20} MiB download through a proxy`,
      rounds: ctx.rounds * 2,
      contenders: {
        native: `proxy_native.ts ${at}`,
        loop: `proxy_loop.ts ${at}`,
        hono: `proxy_hono.ts ${at}`,
        ours: `proxy_ours.ts ${at}`,
        pass: `proxy_ours.ts ${at} pass`,
      },
      run: async (server) => perMiB(await ctx.get(server, bytes)),
      unit: MIB_S,
      rows: [
        { ref: "native", label: "native: new Response(upstream.body)" },
        {
          ours: "loop",
          vs: "native",
          label: "a bare JS copy loop",
          target: INFO,
        },
        { ours: "hono", vs: "native", label: "Hono proxy()", target: INFO },
        {
          ours: "ours",
          vs: "native",
          label: "ours, every guarantee",
          target: atLeast(0.7),
        },
        {
          ours: "ours",
          vs: "loop",
          label: "ours, every guarantee, vs the JS loop",
          target: atLeast(1),
        },
        {
          ours: "ours",
          vs: "loop",
          label: "ours, CPU per MiB (loop / ours)",
          target: INFO,
          by: "cpu",
        },
        {
          ours: "pass",
          vs: "native",
          label: "ours, passThrough",
          target: atLeast(0.95),
        },
      ],
    });
  } finally {
    await upstream.stop();
  }
}
