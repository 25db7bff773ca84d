/**
 * `hono`: the cost of `withBody` inside a framework — 2 KiB hello through
 * a Hono route: plain Hono (`c.text`), a `withBody` per route (made once,
 * the context passed through) and a `withBody` made per request, under the
 * keep-alive load of `hello`.
 *
 * @module
 */

import type { Context } from "../_context.ts";
import { atLeast, INFO } from "../_report.ts";
import { REQ_S, sideBySide } from "../_runner.ts";
import { helloLoad } from "./hello.ts";

export async function hono(ctx: Context): Promise<void> {
  const { helloConnections: conns, helloMs: ms } = ctx.sizes;
  const { client, run } = await helloLoad(ctx);
  await sideBySide(ctx, {
    scenario: `Hono 2 KiB hello, ${conns} keep-alive conns × ${
      ms / 1000
    } s, ${client}`,
    rounds: ctx.rounds,
    contenders: {
      raw: "hono_raw.ts",
      route: "hono_route.ts",
      request: "hono_request.ts",
    },
    run,
    unit: REQ_S,
    rows: [
      { ref: "raw", label: "Hono c.text(hello)" },
      {
        ours: "route",
        vs: "raw",
        label: "withBody per route, context passed",
        target: atLeast(0.95),
      },
      {
        ours: "request",
        vs: "raw",
        label: "withBody made per request",
        target: INFO,
      },
    ],
  });
}
