/**
 * README.md, "Everyday patterns": an echo, ours and the plain-streams
 * version with the guarantees plain streams can give (a size limit; a cut
 * upload makes a broken response). `tests/patterns_test.ts` holds both to
 * the README's text and ours to its guarantees.
 *
 * @module
 */

// #region ours
import { pipeBody, withBody } from "@httpaf/body";

export const echo = withBody(
  (reqd) => pipeBody(reqd.requestBody, reqd.respondWithStreaming()),
  { maxBodyBytes: 1 << 20 },
);
// #endregion ours

// #region plain
export const plainEcho = (request: Request) => {
  let size = 0;
  const limit = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      size += chunk.length;
      if (size > 1 << 20) throw new RangeError("too large");
      controller.enqueue(chunk);
    },
  });
  return new Response(request.body?.pipeThrough(limit));
};
// #endregion plain
