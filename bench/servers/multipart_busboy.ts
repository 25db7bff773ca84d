/**
 * Multipart upload consumed — busboy (Node streams): `request.body` read
 * with `for await` and written into busboy with backpressure (a Buffer
 * view of each chunk, no copy), each file's bytes counted from its
 * stream's `data` events, fields from their values; answers as
 * `multipart_ours.ts` does.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix
import busboy from "npm:busboy@1.6.0";
import { Buffer } from "node:buffer";
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
  await new Promise<void>((resolve, reject) => {
    const parser = busboy({
      headers: { "content-type": request.headers.get("content-type") ?? "" },
      limits: { fieldSize: Infinity },
    });
    parser.on("file", (_name: string, stream: NodeJS.ReadableStream) => {
      stream.on("data", (chunk: Uint8Array) => {
        bytes += chunk.length;
        reads++;
      });
    });
    parser.on("field", (_name: string, value: string) => {
      bytes += Buffer.byteLength(value);
      reads++;
    });
    parser.on("close", resolve);
    parser.on("error", reject);
    (async () => {
      for await (const chunk of request.body!) {
        const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
        if (!parser.write(view)) {
          await new Promise((drained) => parser.once("drain", drained));
        }
      }
      parser.end();
    })().catch(reject);
  });
  const json = uploadReply({ bytes, reads }, endSpan(begun));
  return new Response(json, { headers: JSON_HEADERS });
});
