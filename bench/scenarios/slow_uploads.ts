/**
 * `slow`: 2,000 loopback clients connect, send half of a 100,000-byte
 * upload, and stall. Ours (`upload_ours.ts` with a 2 s `readTimeout`)
 * against a raw BYOB loop on `Deno.serve` (no timeout): whether every
 * client gets its `408`, how long each stalled read waited before it timed
 * out (the server's own measure, from its last chunk: the README allows the
 * timeout + 25%), and the server's RSS meanwhile.
 *
 * Deno 2.9.6 keeps a stalled HTTP/1.1 connection open once a read of its
 * body has waited (README, "Slow clients"): what the library can release
 * is everything but the socket, so the figures show both servers' memory
 * with 2,000 sockets held.
 *
 * @module
 */

import type { Context } from "../_context.ts";
import { delay, type Server, startServer } from "../_process.ts";
import { fmt, median, verdict } from "../_report.ts";

const MiB = 2 ** 20;
const TIMEOUT = 2000; // SHORT_TIMEOUT of the servers
const DECLARED = 100_000;

export async function slow(ctx: Context): Promise<void> {
  const clients = ctx.sizes.slowClients;
  const scenario = `${fmt(clients)} clients stalled mid-upload (${
    DECLARED / 2
  } of ${DECLARED} B)`;
  for (
    const [name, contender] of [
      ["upload_ours.ts timeouts=short", "ours, readTimeout 2 s"],
      ["upload_byob.ts", "raw BYOB loop, no timeout (info)"],
    ] as const
  ) {
    // No --expose-gc: the servers would force a full GC per request
    // (beginSpan), thousands of them with every client connected.
    const server = await startServer(name);
    try {
      const before = await server.rss();
      const { got408, rss } = await stallAll(server, clients, TIMEOUT * 3);
      const waits = server.lines.filter((l) => l.startsWith("timed-out "))
        .map((l) => Number(l.slice(10))).sort((a, b) => a - b);
      const ours = name.startsWith("upload_ours");
      const worst = waits.at(-1) ?? NaN;
      ctx.report.row({
        scenario,
        contender,
        figure: `${fmt(got408)} got 408` +
          (ours
            ? `; reads timed out after ${fmt(median(waits))} ms (max ${
              fmt(worst)
            })`
            : "") +
          `; RSS +${fmt((rss - before) / MiB, 1)} MiB`,
        target: ours ? `all, ≤ ${TIMEOUT * 1.25} ms` : "",
        met: ours
          ? verdict(
            got408 === clients && waits.length === clients &&
              worst <= TIMEOUT * 1.25,
          )
          : "",
      });
    } finally {
      await server.stop();
    }
  }
  ctx.report.notes.push(
    "slow: each client sends its head and half its body, then nothing; " +
      "the server times each read that times out from its last chunk. RSS: the " +
      "server's VmRSS with every client connected and stalled, minus its " +
      "value before. Deno keeps each stalled HTTP/1.1 socket (README, " +
      "Slow clients): most of that memory is Deno's per connection.",
  );
}

// Connects `count` stalled clients; resolves once every one got its 408
// or `ms` passed after the last one stalled.
async function stallAll(server: Server, count: number, ms: number) {
  const head = new TextEncoder().encode(
    `POST / HTTP/1.1\r\nhost: x\r\ncontent-length: ${DECLARED}\r\n\r\n`,
  );
  const half = new Uint8Array(DECLARED / 2);
  const conns: Deno.Conn[] = [];
  let got408 = 0;
  try {
    for (let i = 0; i < count; i++) {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.port,
      });
      conns.push(conn);
      await conn.write(head);
      for (let off = 0; off < half.length;) {
        off += await conn.write(half.subarray(off));
      }
      const buffer = new Uint8Array(64);
      conn.read(buffer).then((n) => {
        const text = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
        if (text.startsWith("HTTP/1.1 408")) got408++;
      }, () => {}); // a reset is not a 408: it is simply not counted
    }
    const until = performance.now() + ms;
    while (got408 < count && performance.now() < until) await delay(50);
    return { got408, rss: await server.rss() };
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Closed already by the server: nothing to release.
      }
    }
    await delay(200); // the server sees the clients gone
  }
}
