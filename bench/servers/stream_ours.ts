/**
 * Streaming `?bytes=N` of 100-byte writes — ours: `withBody` +
 * `respondWithStreaming`, `writeString` per write, a flush every 655
 * writes (~64 KiB): the producer waits until Deno's server took the bytes.
 *
 * @module
 */

import { withBody } from "../../mod.ts";
import { bytesParam, LINE, PACE, serve } from "./_serve.ts";

serve(withBody(async (reqd) => {
  const total = bytesParam(reqd.request.url);
  const body = reqd.respondWithStreaming({
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
  let sent = 0;
  while (sent < total) {
    for (let i = 0; i < PACE && sent < total; i++) {
      const n = Math.min(LINE.length, total - sent);
      if (n === LINE.length) body.writeString(LINE);
      else body.writeString(LINE, 0, n); // the last, shorter write
      sent += n;
    }
    if (await body.flush() !== "written") return; // the client went away
  }
  body.closeWriter();
}));
