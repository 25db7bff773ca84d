/**
 * Server-sent events — ours: `?events=N` events of 100 bytes, each written
 * with `writeString` and flushed (awaited) before the next, as a live
 * stream would send them. `encoding=gzip` or `encoding=br` (level 4):
 * `respondWithStreaming(init, { compress: [encoding] })`, so the client
 * must accept it; each flush then sync-flushes the compressor.
 *
 * @module
 */

import { type StreamingOptions, withBody } from "../../mod.ts";
import { bytesParam, option, serve } from "./_serve.ts";

const encoding = option("encoding", "identity");
const compress: StreamingOptions | undefined =
  encoding === "gzip" || encoding === "br"
    ? { compress: [encoding], level: encoding === "br" ? 4 : 6 }
    : undefined;
const HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
};

/** Event `i`: an id and a JSON data line, padded to 100 bytes. */
function event(i: number): string {
  const price = (1000 + Math.sin(i) * 50).toFixed(3);
  return `id: ${i}\ndata: {"seq":${i},"price":${price}}`.padEnd(98) + "\n\n";
}

serve(withBody(async (reqd) => {
  const events = bytesParam(reqd.request.url, "events");
  const body = reqd.respondWithStreaming({ headers: HEADERS }, compress);
  for (let i = 1; i <= events; i++) {
    body.writeString(event(i));
    if (await body.flush() !== "written") return; // the client went away
  }
  body.closeWriter();
}));
