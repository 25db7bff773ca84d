/**
 * The adapters that join a `Body` to web streams.
 *
 * @example A reader body back into a stream
 * ```ts
 * import { bodyFromReadable, readableFromBody } from "@httpaf/body/adapters";
 *
 * const body = bodyFromReadable(new Blob(["x"]).stream());
 * const text = await new Response(readableFromBody(body)).text();
 * if (text !== "x") throw new Error(text);
 * ```
 *
 * @module
 */

export {
  bodyFromReadable,
  readableFromBody,
  type ReaderOptions,
} from "./readable.ts";
export {
  bodyFromWritable,
  type StreamingBody,
  streamingBody,
  writableFromBody,
} from "./writable.ts";
export {
  compressBody,
  type CompressOptions,
  type Encoding,
  negotiateEncoding,
} from "./compress.ts";
