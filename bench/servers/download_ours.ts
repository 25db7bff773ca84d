/**
 * Download of `?bytes=N` in 64 KiB chunks — ours: `scheduleBigstring` of the
 * pre-made chunk (handed over without a copy), flush-paced with httpaf's
 * callback loop. The flush of a chunk answers when Deno's server takes it
 * from the response stream, and the next chunk is scheduled inside that
 * answer, so the stream has it ready before the server asks again. Apart
 * from the library, the same work as `download_raw.ts`: the same chunks,
 * the same headers. `timeouts=off`: without timeouts.
 *
 * @module
 */

import { type FlushResult, withBody } from "../../mod.ts";
import {
  bodyOptions,
  bytesParam,
  CHUNK,
  premadeChunk,
  serve,
} from "./_serve.ts";

serve(withBody((reqd) => {
  const total = bytesParam(reqd.request.url);
  const body = reqd.respondWithStreaming({
    headers: { "content-type": "application/octet-stream" },
  });
  let sent = 0;
  const next = (result: FlushResult) => {
    if (result !== "written") return; // the client went away
    if (sent === total) return body.closeWriter();
    const n = Math.min(CHUNK, total - sent);
    body.scheduleBigstring(premadeChunk(n));
    sent += n;
    body.flush(next);
  };
  next("written");
}, bodyOptions()));
