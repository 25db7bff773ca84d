/**
 * Download of `?bytes=N` in 64 KiB chunks — ours: `scheduleBigstring` of a
 * fresh chunk (handed over without a copy), one flush per chunk.
 *
 * @module
 */

import { withBody } from "../../mod.ts";
import { bytesParam, CHUNK, serve } from "./_serve.ts";

serve(withBody(async (reqd) => {
  const total = bytesParam(reqd.request.url);
  const body = reqd.respondWithStreaming({
    headers: { "content-type": "application/octet-stream" },
  });
  for (let sent = 0; sent < total;) {
    const n = Math.min(CHUNK, total - sent);
    body.scheduleBigstring(new Uint8Array(n));
    sent += n;
    if (await body.flush() !== "written") return; // the client went away
  }
  body.closeWriter();
}));
