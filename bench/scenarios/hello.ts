/**
 * `hello`: 2 KiB responses to 32 keep-alive connections for a fixed time —
 * `wrk` when it is on PATH, else a raw HTTP/1.1 client in this process.
 *
 * @module
 */

import type { Context } from "../_context.ts";
import { keepAliveLoad } from "../_load.ts";
import { onPath, runTool, type Server } from "../_process.ts";
import { atLeast, fmt, median, type Target } from "../_report.ts";
import { type Measure, oursVsRaw, REQ_S, sideBySide } from "../_runner.ts";

/** The rows of a hello load, ours held to `target`. */
export const helloRows = (target: Target) =>
  oursVsRaw(
    "raw Deno.serve new Response(text)",
    "ours respondWithString",
    target,
  );

/** The keep-alive hello load of a run: its client's name and one run. */
export async function helloLoad(ctx: Context): Promise<{
  client: string;
  run: (server: Server) => Promise<Measure>;
}> {
  const { helloConnections: conns, helloMs: ms } = ctx.sizes;
  const wrk = await onPath("wrk", ["--version"]);
  return {
    client: wrk ? "wrk" : "Deno raw TCP client",
    run: async (server) => {
      const rps = wrk
        ? await wrkLoad(server.port, conns, ms)
        : await keepAliveLoad(server.port, conns, ms)
          .then((load) => load.requests / load.seconds);
      return { value: rps, units: rps * ms / 1000 };
    },
  };
}

export async function hello(ctx: Context): Promise<void> {
  const { helloConnections: conns, helloMs: ms } = ctx.sizes;
  const { client, run } = await helloLoad(ctx);
  const result = await sideBySide(ctx, {
    scenario: `HTTP 2 KiB hello, ${conns} keep-alive conns × ${
      ms / 1000
    } s, ${client}`,
    rounds: ctx.rounds,
    contenders: { ours: "hello_ours.ts", raw: "hello_raw.ts" },
    run,
    unit: REQ_S,
    rows: helloRows(atLeast(0.97)),
  });
  const busy = (key: "ours" | "raw") =>
    fmt(median(result.figures[key]) * median(result.cpu[key]), 2);
  ctx.report.notes.push(
    `hello: server CPU use under load (req/s × CPU/req) was ${busy("raw")} ` +
      `cores for raw and ${busy("ours")} for ours — near 1 means the server ` +
      "(one JS thread) and not the client set the pace. Raw's response " +
      "carries `content-type: text/plain;charset=UTF-8` (added by " +
      "`new Response(string)`); ours, `respondWithString` without init, " +
      "has none: ~40 bytes less per response.",
  );
}

async function wrkLoad(port: number, conns: number, ms: number) {
  const seconds = Math.max(1, Math.round(ms / 1000));
  const text = await runTool(
    "wrk",
    ["-t1", `-c${conns}`, `-d${seconds}s`, `http://127.0.0.1:${port}/`],
    seconds * 1000 + 30_000,
  );
  const match = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (match === null || /Non-2xx|Socket errors/.test(text)) {
    throw new Error(`wrk: ${text}`);
  }
  return Number(match[1]);
}
