/**
 * Upload consumed — a hand-written BYOB loop into one reused 64 KiB buffer
 * (a default reader when Deno hands over a small body as a plain stream),
 * answering the byte count, the chunk count and the span of the reading
 * (see `upload_ours.ts`).
 *
 * @module
 */

import {
  beginSpan,
  CHUNK,
  endSpan,
  JSON_HEADERS,
  serve,
  uploadReply,
} from "./_serve.ts";

/** Bytes and chunks read from `stream`. */
async function count(stream: ReadableStream<Uint8Array>) {
  let bytes = 0;
  let reads = 0;
  let reader: ReadableStreamBYOBReader;
  try {
    reader = stream.getReader({ mode: "byob" });
  } catch { // not a byte stream
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
  const begun = beginSpan();
  const counted = request.body === null
    ? { bytes: 0, reads: 0 }
    : await count(request.body);
  const json = uploadReply(counted, endSpan(begun));
  return new Response(json, { headers: JSON_HEADERS });
});
