/**
 * Download of `?bytes=N` in 64 KiB chunks — raw: a pull-based
 * `ReadableStream` enqueuing one fresh chunk per pull.
 *
 * @module
 */

import { bytesParam, CHUNK, serve } from "./_serve.ts";

serve((request) => {
  const total = bytesParam(request.url);
  let sent = 0;
  const readable = new ReadableStream<Uint8Array>({
    pull(controller) {
      const n = Math.min(CHUNK, total - sent);
      if (n > 0) controller.enqueue(new Uint8Array(n));
      sent += n;
      if (sent >= total) controller.close();
    },
  });
  return new Response(readable, {
    headers: { "content-type": "application/octet-stream" },
  });
});
