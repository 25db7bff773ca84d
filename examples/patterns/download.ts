/**
 * README.md, "Everyday patterns": a file download, ours and the
 * plain-streams version. Here plain streams are as short and keep
 * backpressure and the client's leaving; ours adds `writeTimeout` (a
 * client that stops reading is cut) and a declared length that a file
 * shrinking under it cannot fake. `tests/patterns_test.ts` holds both to
 * the README's text and ours to its guarantees.
 *
 * @module
 */

// #region ours
import { bodyFromReadable, pipeBody, withBody } from "@httpaf/body";

export const download = (path: string) =>
  withBody(async (reqd) => {
    const file = await Deno.open(path);
    const headers = { "content-length": String((await file.stat()).size) };
    const output = reqd.respondWithStreaming({ headers });
    await pipeBody(bodyFromReadable(file.readable), output);
  });
// #endregion ours

// #region plain
export const plainDownload = (path: string) => async () => {
  const file = await Deno.open(path);
  const headers = { "content-length": String((await file.stat()).size) };
  return new Response(file.readable, { headers });
};
// #endregion plain
