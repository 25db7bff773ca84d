/**
 * Multipart upload consumed — ours: `multipart` over `reqd.requestBody`,
 * each part's bytes counted chunk by chunk as they arrive (views of the
 * request body's read buffer, no copy), answering the count of part
 * content bytes and of reads (the reply of `upload_ours.ts`).
 *
 * @module
 */

import { type Body, withBody } from "../../mod.ts";
import { multipart } from "../../adapters/multipart.ts";
import {
  beginSpan,
  bodyOptions,
  endSpan,
  JSON_HEADERS,
  serve,
  uploadReply,
} from "./_serve.ts";

serve(withBody((reqd) => {
  const begun = beginSpan();
  let bytes = 0;
  let reads = 0;
  const contentType = reqd.request.headers.get("content-type");
  multipart(reqd.requestBody, contentType, {
    onPart(part) {
      const body: Body<"read"> = part.body;
      const callbacks = {
        onRead(_buffer: Uint8Array, _off: number, len: number) {
          bytes += len;
          reads++;
          body.scheduleRead(callbacks);
        },
        onEof() {}, // a failure reaches onEnd too
      };
      body.scheduleRead(callbacks);
    },
    onEnd(error) {
      if (error !== undefined) return reqd.reportException(error);
      const json = uploadReply({ bytes, reads }, endSpan(begun));
      reqd.respondWithString({ headers: JSON_HEADERS }, json);
    },
  });
}, bodyOptions()));
