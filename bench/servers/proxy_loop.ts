/**
 * Proxied download — a bare JS copy loop: the upstream body read with a
 * default reader, each chunk enqueued into the response stream as it
 * came (no copy, no guarantees beyond what the streams give).
 *
 * @module
 */

import { serve, upstream } from "./_serve.ts";

const origin = upstream();
serve(async (request) => {
  const { pathname, search } = new URL(request.url);
  const response = await fetch(origin + pathname + search);
  const reader = response.body!.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, { status: response.status });
});
