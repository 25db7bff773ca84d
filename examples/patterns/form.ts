/**
 * README.md, "Everyday patterns": a browser form upload — fields read whole
 * (with a limit), files streamed to disk part by part, nothing buffered —
 * and the plain version with `request.formData()`, which holds the whole
 * upload in memory first. `tests/patterns_test.ts` holds both to the
 * README's text and ours to its guarantees. `dir` is where files go.
 *
 * @module
 */

// #region ours
import { chunks, multipart, toText, withBody } from "@httpaf/body";

export const form = (dir: string) =>
  withBody((reqd) => {
    const fields: Record<string, string> = {};
    const files: string[] = [];
    const type = reqd.request.headers.get("content-type");
    multipart(reqd.requestBody, type, {
      async onPart(part) {
        if (part.filename === undefined) {
          fields[part.name] = await toText(part.body);
          return;
        }
        const path = `${dir}/${crypto.randomUUID()}`;
        files.push(path);
        using file = await Deno.open(path, { write: true, createNew: true });
        for await (const bytes of chunks(part.body)) {
          for (let at = 0; at < bytes.length;) {
            at += await file.write(bytes.subarray(at));
          }
        }
      },
      async onEnd(error) {
        if (error === undefined) {
          return reqd.respondWithString({ status: 201 }, `${files}\n`);
        }
        for (const path of files) await Deno.remove(path).catch(() => {});
        reqd.reportException(error); // 413 past a limit, 400 if malformed
      },
    }, { maxParts: 20, maxFieldBytes: 64 << 10, maxPartBytes: 1 << 30 });
  });
// #endregion ours

// #region plain
export const plainForm = (dir: string) => async (request: Request) => {
  let form: FormData; // the whole upload, in memory
  try {
    form = await request.formData();
  } catch {
    return new Response(null, { status: 400 });
  }
  const files: string[] = [];
  for (const value of form.values()) {
    if (typeof value === "string") continue;
    const path = `${dir}/${crypto.randomUUID()}`;
    await Deno.writeFile(path, value.stream(), { createNew: true });
    files.push(path);
  }
  return new Response(`${files}\n`, { status: 201 });
};
// #endregion plain
