/**
 * The core of `@httpaf/body`: the documented {@linkcode Body} type (one
 * class per side behind it) and the channel end through which adapters
 * connect a body to real input and output. No I/O, no streams.
 *
 * - A reader body ({@linkcode createReader}) asks its
 *   {@linkcode ReadChannel} for bytes only while a read is scheduled and
 *   nothing is buffered; the channel answers with {@linkcode deliverInput},
 *   {@linkcode endInput} or {@linkcode failInput}.
 * - A writer body ({@linkcode createWriter}) wakes its
 *   {@linkcode WriteChannel} when output is ready; the channel takes chunks
 *   with {@linkcode nextOutput} (Faraday's `operation`/`shift` in one call),
 *   reports progress with {@linkcode outputWritten} and
 *   {@linkcode outputClosed}, and ends it with {@linkcode endOutput} or
 *   {@linkcode abortOutput}.
 *
 * Every channel-end function checks the side of the body it is given: the
 * other side is a `TypeError` at the call.
 *
 * It also holds the everyday helpers built on the application end alone,
 * re-exported by the main entry: {@linkcode chunks}, {@linkcode toBytes},
 * {@linkcode toText} and {@linkcode pipeBody}.
 *
 * @module
 */

import {
  Body,
  type BodyOptions,
  type BodySide,
  DEFAULT_BUFFER_SIZE,
  type FlushResult,
  type ReadCallbacks,
  type WriterOptions,
} from "./_body/abstract.ts";
import type { ReadChannel, WriteChannel } from "./_body/channel.ts";
import {
  checkBodyOptions,
  checkBytes,
  checkWriterOptions,
} from "./_body/check.ts";
import {
  chunks,
  toBytes,
  type ToBytesOptions,
  toText,
} from "./_body/consume.ts";
import { pipeBody, type PipeResult } from "./_body/pipe.ts";
import { Reader } from "./_body/reader.ts";
import { readerOf, writerOf } from "./_body/side.ts";
import { Writer } from "./_body/writer.ts";

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
  type ReadChannel,
  toBytes,
  type ToBytesOptions,
  toText,
  type WriteChannel,
  type WriterOptions,
};

// =====================================================================
// The channel end: for adapters.
// =====================================================================

/**
 * Makes a reader body fed by `channel`.
 *
 * @example A body over an array of chunks
 * ```ts
 * import { createReader, deliverInput, endInput } from "@httpaf/body/body";
 *
 * const chunks = [new TextEncoder().encode("hi")];
 * const body = createReader({
 *   request: () => {
 *     const chunk = chunks.shift();
 *     if (chunk) deliverInput(body, chunk);
 *     else endInput(body);
 *   },
 *   release: () => {},
 *   callbackError: (error) => { throw error; },
 * });
 * let got = "";
 * body.scheduleRead({
 *   onRead: (b, off, len) => got += new TextDecoder().decode(b.subarray(off, off + len)),
 *   onEof: () => {},
 * });
 * if (got !== "hi") throw new Error(got);
 * ```
 */
export function createReader(
  channel: ReadChannel,
  options?: BodyOptions,
): Body<"read"> {
  checkBodyOptions("createReader", options); // a reader has no buffer of its own
  return new Reader(channel);
}

/**
 * Makes a writer body whose output goes to `channel`.
 *
 * @example A channel that collects the output
 * ```ts
 * import { createWriter, nextOutput, outputWritten } from "@httpaf/body/body";
 *
 * const out: Uint8Array[] = [];
 * const take = () => {
 *   for (let c = nextOutput(body); typeof c !== "string"; c = nextOutput(body)) {
 *     out.push(c);
 *     outputWritten(body, c.length); // the channel has these bytes now
 *   }
 * };
 * const body = createWriter({ wake: take, abort() {}, callbackError() {} });
 * take(); // nothing yet: the body will wake us
 * body.writeString("hello");
 * if (await body.flush() !== "written") throw new Error("not written");
 * if (new TextDecoder().decode(out[0]) !== "hello") throw new Error("lost");
 * ```
 */
export function createWriter(
  channel: WriteChannel,
  options?: WriterOptions,
): Body<"write"> {
  return new Writer(channel, checkWriterOptions("createWriter", options));
}

/**
 * Answers a {@linkcode ReadChannel.request} with `bytes[off, off + len)`.
 * The body may hold on to that memory until it next calls `request()` (or
 * releases the channel): do not reuse it before. Empty chunks are skipped.
 * Input delivered after the reader closed is discarded.
 *
 * @throws {Error} when a previous chunk is still held (nothing requested).
 *
 * @example Answering a request with part of a buffer
 * ```ts
 * import { createReader, deliverInput } from "@httpaf/body/body";
 *
 * const source = new TextEncoder().encode("[payload]");
 * const body = createReader({
 *   request: () => deliverInput(body, source, 1, 7),
 *   release() {},
 *   callbackError() {},
 * });
 * body.scheduleRead({
 *   onRead: (b, off, len) => {
 *     const text = new TextDecoder().decode(b.subarray(off, off + len));
 *     if (text !== "payload") throw new Error(text);
 *   },
 *   onEof() {},
 * });
 * ```
 */
export function deliverInput(
  body: Body<"read">,
  bytes: Uint8Array,
  off?: number,
  len?: number,
): void {
  const reader = readerOf("deliverInput", body);
  const [start, count] = checkBytes("deliverInput", bytes, off, len);
  reader.deliverInput(bytes, start, count);
}

/**
 * The input ended cleanly: once buffered bytes are read, reads get
 * `onEof()`, with no argument.
 *
 * @example An empty body
 * ```ts
 * import { createReader, endInput } from "@httpaf/body/body";
 *
 * const body = createReader({ request() {}, release() {}, callbackError() {} });
 * endInput(body);
 * let ended = false;
 * body.scheduleRead({ onRead() {}, onEof: (...args) => ended = args.length === 0 });
 * if (!ended) throw new Error("no clean EOF");
 * ```
 */
export function endInput(body: Body<"read">): void {
  readerOf("endInput", body).endInput();
}

/**
 * The input failed (client gone, limit exceeded, handler error): buffered
 * bytes are dropped, the source is released with `error` (the channel's
 * `release` must bear being called when the source itself failed), and
 * every read is answered `onEof(error)`. No effect once the input ended or
 * the reader was closed.
 *
 * @example A truncated upload
 * ```ts
 * import { createReader, failInput } from "@httpaf/body/body";
 *
 * const body = createReader({ request() {}, release() {}, callbackError() {} });
 * let seen: unknown;
 * body.scheduleRead({ onRead() {}, onEof: (error) => seen = error });
 * const gone = new Error("client gone");
 * failInput(body, gone);
 * if (seen !== gone) throw new Error("truncation looked complete");
 * ```
 */
export function failInput(body: Body<"read">, error: unknown): void {
  readerOf("failInput", body).failInput(error);
}

/**
 * Takes the next chunk of output: the chunk, handed over for good (count it
 * with {@linkcode outputWritten} once the channel has it); `"yield"` when
 * nothing is pending (the body will call {@linkcode WriteChannel.wake});
 * `"close"` once the writer is closed and everything was taken.
 *
 * @example Draining a closed writer
 * ```ts
 * import { createWriter, nextOutput } from "@httpaf/body/body";
 *
 * const body = createWriter({ wake() {}, abort() {}, callbackError() {} });
 * body.writeString("a");
 * body.writeString("b");
 * body.closeWriter();
 * const first = nextOutput(body); // both writes, coalesced
 * if (typeof first === "string" || first.length !== 2) throw new Error();
 * if (nextOutput(body) !== "close") throw new Error("no end-of-stream");
 * ```
 */
export function nextOutput(
  body: Body<"write">,
): Uint8Array | "yield" | "close" {
  return writerOf("nextOutput", body).nextOutput();
}

/**
 * `n` more bytes reached the output channel: answers the flushes they
 * complete.
 *
 * @example Partial progress answers nothing yet
 * ```ts
 * import { createWriter, nextOutput, outputWritten } from "@httpaf/body/body";
 *
 * const body = createWriter({ wake() {}, abort() {}, callbackError() {} });
 * body.writeString("abcd");
 * const answers: string[] = [];
 * body.flush((r) => answers.push(r));
 * nextOutput(body);
 * outputWritten(body, 2);
 * outputWritten(body, 2); // now every byte before the flush got through
 * if (answers.join() !== "written") throw new Error(answers.join());
 * ```
 */
export function outputWritten(body: Body<"write">, n: number): void {
  writerOf("outputWritten", body).outputWritten(n);
}

/**
 * The output channel closed or failed (consumer cancelled, client gone):
 * pending output is dropped, every pending flush answers `"closed"`, the
 * body reports closed, later writes are dropped without throwing, and the
 * body's `signal` aborts with `reason` (default: an `Error` saying the
 * output closed) unless the output had ended cleanly.
 *
 * @example The client went away
 * ```ts
 * import { createWriter, outputClosed } from "@httpaf/body/body";
 *
 * const body = createWriter({ wake() {}, abort() {}, callbackError() {} });
 * body.writeString("lost");
 * const result = body.flush();
 * outputClosed(body);
 * if (await result !== "closed" || !body.isClosed()) throw new Error();
 * body.writeString("dropped"); // no throw: a producer loop just ends
 * ```
 */
export function outputClosed(body: Body<"write">, reason?: unknown): void {
  writerOf("outputClosed", body).outputClosed(reason);
}

/**
 * The channel is ending (e.g. server shutdown): pending output is still
 * delivered, then end-of-stream; later writes are dropped without throwing
 * and later flushes answer `"closed"`, as when the channel is gone. Short
 * of a declared `contentLength`, the output is aborted instead.
 *
 * @example Ending a stream for a shutdown
 * ```ts
 * import { createWriter, endOutput, nextOutput } from "@httpaf/body/body";
 *
 * const body = createWriter({ wake() {}, abort() {}, callbackError() {} });
 * body.writeString("last words");
 * endOutput(body);
 * body.writeString("dropped");
 * const chunk = nextOutput(body);
 * if (typeof chunk === "string" || chunk.length !== 10) throw new Error();
 * if (nextOutput(body) !== "close") throw new Error("no clean end");
 * ```
 */
export function endOutput(body: Body<"write">): void {
  writerOf("endOutput", body).endOutput();
}

/**
 * Closes the writer without a clean end: like {@linkcode outputClosed}, and
 * the channel is told to {@linkcode WriteChannel.abort} unless it already
 * ended or closed. Later writes throw as after `closeWriter()`.
 *
 * @example A handler failed mid-response
 * ```ts
 * import { abortOutput, createWriter } from "@httpaf/body/body";
 *
 * let aborted: unknown;
 * const body = createWriter({
 *   wake() {},
 *   abort: (reason) => aborted = reason,
 *   callbackError() {},
 * });
 * const failure = new Error("handler failed");
 * abortOutput(body, failure);
 * if (aborted !== failure) throw new Error("not aborted");
 * ```
 */
export function abortOutput(body: Body<"write">, reason: unknown): void {
  writerOf("abortOutput", body).abortOutput(reason);
}
