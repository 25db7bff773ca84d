/**
 * The server the client scenario (`scenarios/client.ts`) measures its
 * contenders against — plain `Deno.serve`, no library, so that only the
 * client differs: `GET ?bytes=N` streams N bytes of the pre-made 64 KiB
 * chunk (a pull-based `ReadableStream`, as `download_raw.ts`); any other
 * method reads the upload with a BYOB loop into one reused 64 KiB buffer
 * and answers `{"bytes", "reads"}`.
 *
 * @module
 */

import {
  bytesParam,
  CHUNK,
  countBytes,
  JSON_HEADERS,
  premadeChunk,
  serve,
} from "./_serve.ts";

serve(async (request) => {
  if (request.method !== "GET") {
    const counted = request.body === null
      ? { bytes: 0, reads: 0 }
      : await countBytes(request.body);
    return new Response(JSON.stringify(counted), { headers: JSON_HEADERS });
  }
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
