/**
 * Multipart upload consumed — `await request.formData()`: Deno's own
 * parser, which holds the whole upload in memory before it answers; each
 * entry's size counted; answers as `multipart_ours.ts` does.
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

const encoder = new TextEncoder();

serve(async (request) => {
  const begun = beginSpan();
  let bytes = 0;
  let reads = 0;
  for (const [, value] of await request.formData()) {
    bytes += typeof value === "string"
      ? encoder.encode(value).length
      : value.size;
    reads++;
  }
  const json = uploadReply({ bytes, reads }, endSpan(begun));
  return new Response(json, { headers: JSON_HEADERS });
});
