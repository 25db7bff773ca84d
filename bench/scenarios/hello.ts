/**
 * `hello`: 2 KiB responses to 32 keep-alive connections for a fixed time —
 * `wrk` when it is on PATH, else a raw HTTP/1.1 client in this process.
 *
 * @module
 */

import type { Context } from "../_context.ts";
import { keepAliveLoad } from "../_load.ts";
import { atLeast, fmt, median } from "../_report.ts";
import { REQ_S, sideBySide } from "../_runner.ts";

export async function hello(ctx: Context): Promise<void> {
  const { helloConnections: conns, helloMs: ms } = ctx.sizes;
  const wrk = await hasWrk();
  const client = wrk ? "wrk" : "Deno raw TCP client";
  const result = await sideBySide(ctx, {
    scenario: `HTTP 2 KiB hello, ${conns} keep-alive conns × ${
      ms / 1000
    } s, ${client}`,
    rounds: ctx.rounds,
    contenders: { ours: "hello_ours.ts", raw: "hello_raw.ts" },
    run: async (server) => {
      const rps = wrk
        ? await wrkLoad(server.port, conns, ms)
        : await keepAliveLoad(server.port, conns, ms)
          .then((load) => load.requests / load.seconds);
      return { value: rps, units: rps * ms / 1000 };
    },
    unit: REQ_S,
    rows: [
      { ref: "raw", label: "raw Deno.serve new Response(text)" },
      {
        ours: "ours",
        vs: "raw",
        label: "ours respondWithString",
        target: atLeast(0.97),
      },
    ],
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

async function hasWrk(): Promise<boolean> {
  try {
    await new Deno.Command("wrk", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return true; // any exit status: it ran (wrk --version exits 1)
  } catch {
    return false; // not on PATH: the raw client is used instead
  }
}

async function wrkLoad(port: number, conns: number, ms: number) {
  const seconds = Math.max(1, Math.round(ms / 1000));
  const output = await new Deno.Command("wrk", {
    args: ["-t1", `-c${conns}`, `-d${seconds}s`, `http://127.0.0.1:${port}/`],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(seconds * 1000 + 30_000),
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const match = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (match === null || /Non-2xx|Socket errors/.test(text)) {
    throw new Error(`wrk: ${text}`);
  }
  return Number(match[1]);
}
