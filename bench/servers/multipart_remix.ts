/**
 * Multipart upload consumed — `@remix-run/multipart-parser`: its
 * `parseMultipartRequest` over the request, limits raised past the upload
 * (it keeps each part's content chunks until the part ends), each part's
 * size counted; answers as `multipart_ours.ts` does.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix
import { parseMultipartRequest } from "npm:@remix-run/multipart-parser@0.16.3";
import {
  beginSpan,
  endSpan,
  JSON_HEADERS,
  serve,
  uploadReply,
} from "./_serve.ts";

const GiB = 2 ** 30;

serve(async (request) => {
  const begun = beginSpan();
  let bytes = 0;
  let reads = 0;
  const parts = parseMultipartRequest(request, {
    maxFileSize: 4 * GiB,
    maxTotalSize: 8 * GiB,
  });
  for await (const part of parts) {
    bytes += part.size;
    reads += part.content.length;
  }
  const json = uploadReply({ bytes, reads }, endSpan(begun));
  return new Response(json, { headers: JSON_HEADERS });
});
