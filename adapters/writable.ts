/**
 * Writers: `Body<"write">` ⇄ web streams.
 *
 * - {@linkcode streamingBody}: bytes flow body → a new `ReadableStream`
 *   (for `new Response(readable)`). "written" means the consumer has taken
 *   the bytes: at most one chunk waits in the stream's queue, and it counts
 *   as written only once the consumer dequeued it.
 * - {@linkcode bodyFromWritable}: bytes flow body → an existing
 *   `WritableStream`. "written" means the sink's write promise resolved.
 * - {@linkcode writableFromBody}: bytes flow a new `WritableStream` → body,
 *   without a copy. A write resolves when the body flushed its chunk.
 *
 * @module
 */

import { abortOutput, Body, type WriterOptions } from "../body.ts";
import { checkWriterOptions, describe } from "../_body/check.ts";
import { type StreamingBody, StreamSink } from "./_writable/sink.ts";
import { WritableSink } from "./_writable/writable_sink.ts";

export type { StreamingBody };

/**
 * A writer body whose output is `readable`. At most one chunk waits in the
 * stream's queue, and it counts as written only once the consumer took it,
 * so a flush answers `"written"` once the consumer has read every byte
 * before it, and a consumer that stops reading stops the flushes
 * (backpressure).
 * Cancelling the stream answers pending flushes `"closed"`; `closeWriter()`
 * closes it after the pending output. An exception thrown by a flush
 * callback errors the stream with it, closes the body and is passed to
 * `options.onError`.
 *
 * @param options `bufferSize` of the coalescing buffers; `onError`.
 * @returns `{ body, readable }`.
 * @throws {TypeError} for a `bufferSize` of the wrong type.
 * @throws {RangeError} for a `bufferSize` out of range.
 *
 * @example A streamed response
 * ```ts
 * import { streamingBody } from "@httpaf/body";
 *
 * const { body, readable } = streamingBody();
 * const response = new Response(readable);
 * for (let i = 0; i < 3; i++) body.writeString(`line ${i}\n`);
 * body.closeWriter();
 * const text = await response.text();
 * if (text !== "line 0\nline 1\nline 2\n") throw new Error(text);
 * ```
 */
export function streamingBody(options?: WriterOptions): StreamingBody {
  const onError = options?.onError;
  const sink = new StreamSink(
    "streamingBody",
    checkWriterOptions("streamingBody", options),
    onError && { onError },
  );
  return { body: sink.body, readable: sink.readable() };
}

/**
 * A writer body whose output goes to `stream`. Coalesced chunks are written
 * as soon as they are ready; a flush answers `"written"` once the sink's
 * write promises for every byte before it resolved, `"closed"` if the
 * stream errored first. `closeWriter()` closes the stream after the pending
 * output. An exception thrown by a flush callback aborts the stream with
 * it, closes the body and is passed to `options.onError`.
 *
 * @param stream an unlocked WritableStream; the body owns it from now on.
 * @param options `bufferSize` of the coalescing buffers; `onError`.
 * @returns the writer body.
 * @throws {TypeError} when `stream` is not an unlocked WritableStream.
 *
 * @example Writing into a sink
 * ```ts
 * import { bodyFromWritable } from "@httpaf/body";
 *
 * const chunks: Uint8Array[] = [];
 * const body = bodyFromWritable(new WritableStream({ write: (c) => { chunks.push(c); } }));
 * body.writeString("a");
 * body.writeString("b");
 * if (await body.flush() !== "written") throw new Error("not written");
 * if (chunks.length !== 1) throw new Error("writes were not coalesced");
 * ```
 */
export function bodyFromWritable(
  stream: WritableStream<Uint8Array>,
  options?: WriterOptions,
): Body<"write"> {
  if (!(stream instanceof WritableStream)) {
    throw new TypeError(
      "bodyFromWritable: expected a WritableStream, received " +
        describe(stream),
    );
  }
  if (stream.locked) {
    throw new TypeError("bodyFromWritable: the stream is locked");
  }
  const checked = checkWriterOptions("bodyFromWritable", options);
  return new WritableSink(stream, checked, options?.onError).body;
}

/**
 * A `WritableStream` into a writer body. `write(chunk)` schedules `chunk`
 * without a copy — it is handed over for good, as with
 * `scheduleBigstring` — and resolves once the body flushed it, so the
 * stream's backpressure follows the body's channel. It rejects if the
 * body's channel closed first. `close()` closes the writer and resolves
 * when the pending output was written; `abort(reason)` ends the body's
 * output without a clean end where its channel can express one.
 *
 * @param body a writer body; the stream owns it from now on.
 * @returns the stream.
 * @throws {TypeError} when `body` is not a writer body.
 *
 * @example Piping a web stream into a body
 * ```ts
 * import { streamingBody, writableFromBody } from "@httpaf/body";
 *
 * const { body, readable } = streamingBody();
 * const piped = new Blob(["via pipeTo"]).stream().pipeTo(writableFromBody(body));
 * const text = await new Response(readable).text();
 * await piped;
 * if (text !== "via pipeTo") throw new Error(text);
 * ```
 */
export function writableFromBody(
  body: Body<"write">,
): WritableStream<Uint8Array> {
  if (!(body instanceof Body) || body.side !== "write") {
    throw new TypeError(
      "writableFromBody: expected a writer body, received " + describe(body),
    );
  }
  const written = (result: string): void => {
    if (result !== "written") {
      // The cause says why the output went (a client gone, a timeout).
      throw new Error(
        "writableFromBody: the body's output closed before the chunk was written",
        { cause: body.signal.reason },
      );
    }
  };
  return new WritableStream<Uint8Array>({
    write(chunk) {
      try {
        if (!(chunk instanceof Uint8Array)) {
          throw new TypeError(
            "writableFromBody: chunks must be Uint8Array, received " +
              describe(chunk),
          );
        }
        body.scheduleBigstring(chunk);
      } catch (error) {
        // The stream errors and will never close the body: end its output
        // without a clean end, so its consumer is not left waiting.
        abortOutput(body, error);
        throw error;
      }
      return body.flush().then(written);
    },
    close() {
      body.closeWriter();
      return body.flush().then(written);
    },
    abort(reason) {
      abortOutput(body, reason);
    },
  });
}
