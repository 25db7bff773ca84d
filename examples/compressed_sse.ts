/**
 * Compressed server-sent events: `GET /events?count=N&interval=MS` streams
 * N events, one every MS milliseconds, compressed with the best encoding
 * the client accepts (gzip, zstd or br), and each event decodable the
 * moment it arrives.
 *
 * ```sh
 * deno run --allow-net --allow-env=HOST,PORT examples/compressed_sse.ts
 * curl -sSN --compressed 'http://127.0.0.1:8005/events?count=5&interval=500'
 * curl -sSN -H 'accept-encoding: gzip' 'http://127.0.0.1:8005/events?count=3' | gunzip
 * ```
 *
 * `HOST`/`PORT` override the address (default 127.0.0.1:8005). Without an
 * acceptable `accept-encoding` the events go uncompressed; either way the
 * response says `vary: accept-encoding`.
 *
 * Each event is written, then flushed. A compressor holds bytes back until
 * it has enough to compress well; on a compressing body the flush is a sync
 * flush of the compressor, so the compressed bytes of every event so far
 * leave at once, and the next event is scheduled only when the flush
 * answered `"written"`. (The web's `CompressionStream` has no flush. Deno
 * 2.9.6's happens to sync-flush after every chunk it is given — measured —
 * so it streams too, but pays that flush on every chunk however small, and
 * offers neither zstd nor a level.)
 *
 * Shutting down ends every stream cleanly through its compressing body
 * (`endOutput`), which writes the compressed stream's trailer before the
 * response closes. (Ending the response body underneath, as `withBody`'s
 * own `signal` does, would cut the compressed stream short of it.)
 *
 * @module
 */

import {
  type Body,
  compressBody,
  negotiateEncoding,
  type Reqd,
  withBody,
} from "@httpaf/body";
import { endOutput } from "@httpaf/body/body";
import { serveUntilSignal } from "./_serve.ts";

/**
 * The encodings offered, preferred first. For events, gzip: the fewest
 * bytes per flushed event (measured 20.9 B for 100-byte events, zstd 23.2,
 * br 22.5) and the least memory per open stream (~0.25 MiB, where zstd and
 * br grow to 3–6 MiB once a stream carried a few MiB).
 */
const OFFERED = ["gzip", "zstd", "br"] as const;

/**
 * The events server as a fetch handler.
 *
 * @param stop when it aborts, every open stream ends cleanly and new
 *   requests get `503`.
 * @returns the fetch handler, for `Deno.serve` or any framework.
 */
export function createApp(
  stop?: AbortSignal,
): (request: Request) => Response | Promise<Response> {
  const open = new Set<() => void>(); // ends one open stream each
  stop?.addEventListener("abort", () => {
    for (const end of open) end();
    open.clear();
  }, { once: true });
  return withBody((reqd) => {
    const url = new URL(reqd.request.url);
    if (stop?.aborted) return reply(reqd, 503, "shutting down\n");
    if (url.pathname !== "/events") {
      return reply(reqd, 404, "GET /events?count=N&interval=MS\n");
    }
    if (reqd.request.method !== "GET") return reply(reqd, 405, "GET only\n");
    const count = intParam(url, "count", 10);
    const interval = intParam(url, "interval", 1000);
    if (count === null || interval === null) {
      return reply(reqd, 400, "count and interval must be integers ≥ 1\n");
    }
    events(reqd, count, interval, open);
  });
}

/** Streams `count` events to `reqd`, compressed if the client accepts it. */
function events(
  reqd: Reqd,
  count: number,
  interval: number,
  open: Set<() => void>,
): void {
  const encoding = negotiateEncoding(reqd.request, OFFERED);
  const headers: Record<string, string> = {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    vary: "accept-encoding",
  };
  if (encoding !== null) headers["content-encoding"] = encoding;
  const response = reqd.respondWithStreaming({ status: 200, headers });
  const body: Body<"write"> = encoding === null
    ? response
    : compressBody(response, encoding, {
      onError: (error) => reqd.reportException(error),
    });
  let id = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const end = () => {
    clearTimeout(timer);
    endOutput(body); // pending events, the trailer, then the end
  };
  open.add(end);
  const next = (result: "written" | "closed") => {
    // The client left, or the server is stopping (end() ran).
    if (result === "closed" || !open.has(end)) return void open.delete(end);
    if (id === count) {
      open.delete(end);
      return body.closeWriter();
    }
    timer = setTimeout(tick, interval);
  };
  const tick = () => {
    id++;
    const time = new Date().toISOString();
    body.writeString(`id: ${id}\ndata: {"seq":${id},"time":"${time}"}\n\n`);
    body.flush(next);
  };
  // The client sees the stream open at once: the comment is flushed.
  body.writeString(": connected\n\n");
  body.flush(next);
}

function intParam(url: URL, name: string, fallback: number): number | null {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const n = Number(raw);
  return /^\d+$/.test(raw) && n >= 1 && n <= 2 ** 31 ? n : null;
}

function reply(reqd: Reqd, status: number, text: string): void {
  reqd.respondWithString({
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  }, text);
}

if (import.meta.main) {
  await serveUntilSignal({
    port: 8005,
    app: (stop) => createApp(stop),
    banner: (origin) => `compressed events on ${origin}/events?count=N`,
  });
}
