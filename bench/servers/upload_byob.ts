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
  countBytes,
  endSpan,
  JSON_HEADERS,
  serve,
  uploadReply,
} from "./_serve.ts";

serve(async (request) => {
  const begun = beginSpan();
  const counted = request.body === null
    ? { bytes: 0, reads: 0 }
    : await countBytes(request.body);
  const json = uploadReply(counted, endSpan(begun));
  return new Response(json, { headers: JSON_HEADERS });
});
