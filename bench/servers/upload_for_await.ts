/**
 * Upload consumed — `for await (const chunk of request.body)`, answering
 * the byte count and the span of the reading (see `upload_ours.ts`).
 *
 * @module
 */

import { beginSpan, endSpan, serve } from "./_serve.ts";

serve(async (request) => {
  const begun = beginSpan();
  let bytes = 0;
  if (request.body !== null) {
    for await (const chunk of request.body) bytes += chunk.length;
  }
  return Response.json({ bytes, ...endSpan(begun) });
});
