/**
 * httpaf's `Body` for Deno: callback-driven, backpressured, zero-copy byte
 * bodies, and adapters that join them to web streams.
 *
 * @example Echo a stream through a reader body and a writer body
 * ```ts
 * import { bodyFromReadable, streamingBody } from "@httpaf/body";
 *
 * const input = bodyFromReadable(new Blob(["echo"]).stream());
 * const { body: output, readable } = streamingBody();
 * const onRead = (buffer: Uint8Array, off: number, len: number) => {
 *   output.writeBigstring(buffer, off, len); // copies: buffer is borrowed
 *   output.flush((result) => {
 *     if (result === "written") input.scheduleRead({ onRead, onEof });
 *     else input.closeReader();
 *   });
 * };
 * const onEof = () => output.closeWriter();
 * input.scheduleRead({ onRead, onEof });
 * const text = await new Response(readable).text();
 * if (text !== "echo") throw new Error(text);
 * ```
 *
 * @module
 */

export {
  Body,
  type BodyOptions,
  type BodySide,
  chunks,
  DEFAULT_BUFFER_SIZE,
  type FlushResult,
  pipeBody,
  type PipeResult,
  type ReadCallbacks,
  toBytes,
  type ToBytesOptions,
  toText,
  type WriterOptions,
} from "./body.ts";
export {
  bodyFromReadable,
  bodyFromWritable,
  readableFromBody,
  type ReaderOptions,
  type StreamingBody,
  streamingBody,
  writableFromBody,
} from "./adapters/mod.ts";
export {
  compressBody,
  type CompressOptions,
  type Encoding,
  negotiateEncoding,
} from "./adapters/compress.ts";
export { request, type RequestOptions } from "./adapters/client.ts";
export {
  DEFAULT_MAX_HEADER_BYTES,
  multipart,
  type MultipartCallbacks,
  type MultipartForm,
  type MultipartOptions,
  type MultipartPart,
  multipartWriter,
  type PartInit,
} from "./adapters/multipart.ts";
export {
  proxy,
  type ProxyOptions,
  type ResponseHead,
  type UpstreamRequest,
} from "./adapters/proxy.ts";
export {
  type BodyHandler,
  type FetchHandler,
  Reqd,
  type StreamingOptions,
  type Timeouts,
  withBody,
  type WithBodyOptions,
} from "./adapters/serve.ts";
