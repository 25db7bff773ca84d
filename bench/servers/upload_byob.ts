/**
 * Upload consumed — a hand-written BYOB loop into one reused 64 KiB buffer
 * (a default reader when Deno hands over a small body as a plain stream),
 * answering the byte count and the span of the reading (see
 * `upload_ours.ts`).
 *
 * @module
 */

import { beginSpan, CHUNK, endSpan, serve } from "./_serve.ts";

async function count(stream: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  let reader: ReadableStreamBYOBReader;
  try {
    reader = stream.getReader({ mode: "byob" });
  } catch { // not a byte stream
    for await (const chunk of stream) bytes += chunk.length;
    return bytes;
  }
  let buffer = new ArrayBuffer(CHUNK);
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (value !== undefined) buffer = value.buffer as ArrayBuffer;
    if (done) return bytes;
    bytes += value.length;
  }
}

serve(async (request) => {
  const begun = beginSpan();
  const bytes = request.body === null ? 0 : await count(request.body);
  return Response.json({ bytes, ...endSpan(begun) });
});
