/**
 * README.md, "Everyday patterns": an upload to a file, ours and the
 * plain-streams version with the guarantees plain streams can give (a size
 * limit, no file left by a cut upload). `tests/patterns_test.ts` holds
 * both to the README's text and ours to its guarantees. `dir` is where the
 * files go.
 *
 * @module
 */

// #region ours
import { chunks, withBody } from "@httpaf/body";

export const upload = (dir: string) =>
  withBody(async (reqd) => {
    const path = `${dir}/${crypto.randomUUID()}`;
    const file = await Deno.open(path, { write: true, createNew: true });
    const out = file.writable.getWriter();
    try {
      for await (const bytes of chunks(reqd.requestBody)) {
        await out.write(bytes);
      }
      await out.close();
    } catch (error) { // cut short, too large, timed out: no file left
      await out.abort(error);
      await Deno.remove(path);
      throw error;
    }
    reqd.respondWithString({ status: 201 }, `${path}\n`);
  }, { maxBodyBytes: 1 << 30 });
// #endregion ours

// #region plain
export const plainUpload = (dir: string) => async (request: Request) => {
  const path = `${dir}/${crypto.randomUUID()}`;
  const file = await Deno.open(path, { write: true, createNew: true });
  let size = 0;
  const limit = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      size += chunk.length;
      if (size > 1 << 30) throw new RangeError("too large");
      controller.enqueue(chunk);
    },
  });
  try {
    await request.body!.pipeThrough(limit).pipeTo(file.writable);
  } catch (error) {
    await Deno.remove(path);
    const tooLarge = error instanceof RangeError;
    return new Response(null, { status: tooLarge ? 413 : 400 });
  }
  return new Response(`${path}\n`, { status: 201 });
};
// #endregion plain
