/**
 * `h2c` and `h2tls`: the download, upload and hello servers over HTTP/2 —
 * h2c with prior knowledge, or TLS with ALPN h2 and the test certificate —
 * driven by h2load, or Deno's fetch (`_h2.ts`). Ours against raw
 * `Deno.serve` on the same protocol, side by side:
 * - download of 256 MiB in 64 KiB chunks (ours `scheduleBigstring`, a raw
 *   pull stream);
 * - upload of 256 MiB (`h2_upload.ts`);
 * - a 2 KiB hello, many streams on each of a few connections; then one
 *   request at a time on one connection, where TLS waits on Nagle and
 *   delayed ACKs (Deno sets `TCP_NODELAY` on plain connections only).
 *
 * @module
 */

import type { Context } from "../_context.ts";
import { type H2Client, h2Client } from "../_h2.ts";
import { atLeast, count, fmt, median } from "../_report.ts";
import { downloadRows } from "./download.ts";
import { h2Upload } from "./h2_upload.ts";
import { helloRows } from "./hello.ts";
import { MIB_S, perMiB, REQ_S, sideBySide } from "../_runner.ts";

export const h2c = (ctx: Context): Promise<void> => overH2(ctx, false);
export const h2tls = (ctx: Context): Promise<void> => overH2(ctx, true);

/** Ours against raw on the same protocol. */
const TARGET = atLeast(0.95);

async function overH2(ctx: Context, tls: boolean): Promise<void> {
  await using client = await h2Client(tls, ctx.client === "fetch");
  const on = (server: string) => tls ? `${server} tls` : server;
  const bytes = ctx.sizes.h2Bytes;
  const mib = `${bytes / 2 ** 20} MiB`;
  const what = `${client.protocol}, ${client.name}`;
  await sideBySide(ctx, {
    scenario: `${mib} download, 64 KiB chunks, ${what}`,
    rounds: ctx.rounds * 2, // short runs
    contenders: { ours: on("download_ours.ts"), raw: on("download_raw.ts") },
    run: async (server) => perMiB(await client.get(server, bytes)),
    unit: MIB_S,
    rows: downloadRows(TARGET),
  });
  await h2Upload(ctx, client, on);
  await h2Hello(ctx, client, on, tls);
}

/** Many streams a connection, then one request at a time (latency-bound). */
async function h2Hello(
  ctx: Context,
  client: H2Client,
  on: (server: string) => string,
  tls: boolean,
): Promise<void> {
  const { h2Connections: conns, h2Streams: streams, helloMs: ms } = ctx.sizes;
  const perRequest: number[] = []; // ms, from raw's median req/s
  for (const [c, s] of [[conns, streams], [1, 1]] as const) {
    const result = await sideBySide(ctx, {
      scenario: `2 KiB hello, ${count(c, "conn")} × ${count(s, "stream")} × ${
        ms / 1000
      } s, ${client.protocol}, ${client.name}`,
      rounds: ctx.rounds,
      contenders: { ours: on("hello_ours.ts"), raw: on("hello_raw.ts") },
      run: async (server) => {
        const rps = await client.hello(server, c, s, ms);
        return { value: rps, units: rps * ms / 1000 };
      },
      unit: REQ_S,
      rows: helloRows(TARGET),
    });
    perRequest.push(1000 * c * s / median(result.figures.raw));
  }
  ctx.report.notes.push(
    `${client.protocol} hello: one request at a time took ` +
      `${fmt(perRequest[1]!, 2)} ms each from raw (${fmt(perRequest[0]!, 2)} ` +
      `ms with ${conns * streams} in flight).` + (tls ? TLS_NOTE : ""),
  );
}

const TLS_NOTE = " Deno 2.9.6 sets TCP_NODELAY on plain connections only: " +
  "on a keep-alive TLS connection a lone small response waits for Nagle " +
  "and the client's delayed ACK (~40 ms), so those rows are latency-bound " +
  "for both servers; with many streams in flight the connection seldom " +
  "idles and the stall hides.";
