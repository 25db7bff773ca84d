/**
 * Download of `?bytes=N` in 64 KiB chunks — raw: a pull-based
 * `ReadableStream` enqueuing the pre-made chunk once per pull (the same
 * chunks and headers as `download_ours.ts`).
 *
 * @module
 */

import { bytesParam, CHUNK, premadeChunk, serve } from "./_serve.ts";

serve((request) => {
  const total = bytesParam(request.url);
  let sent = 0;
  const readable = new ReadableStream<Uint8Array>({
    pull(controller) {
      const n = Math.min(CHUNK, total - sent);
      if (n > 0) controller.enqueue(premadeChunk(n));
      sent += n;
      if (sent >= total) controller.close();
    },
  });
  return new Response(readable, {
    headers: { "content-type": "application/octet-stream" },
  });
});
