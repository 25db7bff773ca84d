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
  JSON_HEADERS,
  premadeChunk,
  serve,
} from "./_serve.ts";

/** Bytes and chunks read from `stream`. */
async function count(stream: ReadableStream<Uint8Array>) {
  let bytes = 0;
  let reads = 0;
  let reader: ReadableStreamBYOBReader;
  try {
    reader = stream.getReader({ mode: "byob" });
  } catch { // not a byte stream (a small body that arrived whole)
    for await (const chunk of stream) {
      bytes += chunk.length;
      reads++;
    }
    return { bytes, reads };
  }
  let buffer = new ArrayBuffer(CHUNK);
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (value !== undefined) buffer = value.buffer as ArrayBuffer;
    if (done) return { bytes, reads };
    bytes += value.length;
    reads++;
  }
}

serve(async (request) => {
  if (request.method !== "GET") {
    const counted = request.body === null
      ? { bytes: 0, reads: 0 }
      : await count(request.body);
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
