/**
 * Upload consumed — `for await (const chunk of request.body)`, answering
 * the byte count, the chunk count and the span of the reading (see
 * `upload_ours.ts`).
 *
 * @module
 */

import {
  beginSpan,
  endSpan,
  JSON_HEADERS,
  serve,
  uploadReply,
} from "./_serve.ts";

serve(async (request) => {
  const begun = beginSpan();
  let bytes = 0;
  let reads = 0;
  if (request.body !== null) {
    for await (const chunk of request.body) {
      bytes += chunk.length;
      reads++;
    }
  }
  const json = uploadReply({ bytes, reads }, endSpan(begun));
  return new Response(json, { headers: JSON_HEADERS });
});
