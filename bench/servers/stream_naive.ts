/**
 * Streaming `?bytes=N` of 100-byte writes — naive: a pull-driven
 * `ReadableStream` with one `TextEncoder.encode` + `controller.enqueue` per
 * write, 655 writes (~64 KiB) per pull, so it never buffers the whole body.
 *
 * @module
 */

import { bytesParam, LINE, PACE, serve } from "./_serve.ts";

const encoder = new TextEncoder();

serve((request) => {
  const total = bytesParam(request.url);
  let sent = 0;
  const readable = new ReadableStream<Uint8Array>({
    pull(controller) {
      for (let i = 0; i < PACE && sent < total; i++) {
        const n = Math.min(LINE.length, total - sent);
        controller.enqueue(
          encoder.encode(n === LINE.length ? LINE : LINE.slice(0, n)),
        );
        sent += n;
      }
      if (sent >= total) controller.close();
    },
  });
  return new Response(readable, {
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
});
