/**
 * Upload consumed — ours, the everyday way: `for await (const bytes of
 * chunks(reqd.requestBody))`, answering the byte count (see
 * `upload_ours.ts` for the reply).
 *
 * @module
 */

import { chunks, withBody } from "../../mod.ts";
import {
  beginSpan,
  bodyOptions,
  endSpan,
  JSON_HEADERS,
  serve,
  uploadReply,
} from "./_serve.ts";

serve(withBody(async (reqd) => {
  const begun = beginSpan();
  let bytes = 0;
  let reads = 0;
  for await (const chunk of chunks(reqd.requestBody)) {
    bytes += chunk.length;
    reads++;
  }
  const json = uploadReply({ bytes, reads }, endSpan(begun));
  reqd.respondWithString({ headers: JSON_HEADERS }, json);
}, bodyOptions()));
