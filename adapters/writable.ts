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

import {
  abortOutput,
  Body,
  createWriter,
  nextOutput,
  outputClosed,
  outputWritten,
  type WriteChannel,
  type WriterOptions,
} from "../body.ts";
import { checkWriterOptions, describe } from "../_check.ts";
import { reportCallbackError } from "./_callback.ts";

/** A writer body and the stream that carries its output. */
export interface StreamingBody {
  /** The application end: write, flush, close. */
  body: Body<"write">;
  /** The output, for `new Response(readable)` or any consumer. */
  readable: ReadableStream<Uint8Array>;
}

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
 * @throws {TypeError}/{RangeError} for a bad `bufferSize`.
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
    checkWriterOptions("streamingBody", options),
    onError && { onError },
  );
  return { body: sink.body, readable: sink.readable() };
}

/**
 * What the `Deno.serve` adapter learns from a response stream. Not part of
 * the public API.
 */
export interface StreamHooks {
  /** An exception thrown by a flush callback; the stream errored with it. */
  onError?(error: unknown): void;
  /**
   * The readable closed (no argument), errored (its error) or was
   * cancelled (its reason): called once.
   */
  onEnd?(error?: unknown): void;
  /** A chunk was enqueued: the body now waits for the consumer to take it. */
  onEnqueue?(): void;
  /** The consumer took the chunk enqueued last. */
  onTaken?(): void;
}

/** {@linkcode openStream}'s result: a streaming body and its controls. */
export interface OpenStream extends StreamingBody {
  /**
   * Cuts the output as if the consumer had gone, and errors the readable
   * with `reason` (no clean end): flushes answer `"closed"`, later writes
   * are dropped.
   */
  cut(reason: unknown): void;
}

/**
 * {@linkcode streamingBody} for `caller`, with `hooks`. Not part of the
 * public API.
 */
export function openStream(
  caller: string,
  options: WriterOptions | undefined,
  hooks?: StreamHooks,
): OpenStream {
  const sink = new StreamSink(checkWriterOptions(caller, options), hooks);
  return {
    body: sink.body,
    readable: sink.readable(),
    cut: (reason) => sink.cut(reason),
  };
}

// The channel end of streamingBody, and the underlying source of its
// readable (prototype methods: an idle body costs no closures). `#state`:
// "idle"; "pulling": the stream asked for a chunk and got nothing yet;
// "done": the stream is closed, errored or cancelled.
class StreamSink implements WriteChannel, UnderlyingDefaultSource<Uint8Array> {
  readonly body: Body<"write">;
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  #state: "idle" | "pulling" | "done" = "idle";
  // Bytes of the chunk last enqueued, not yet known to be taken (0: none).
  #unconfirmed = 0;
  readonly #hooks: StreamHooks | undefined;

  constructor(options: WriterOptions, hooks: StreamHooks | undefined) {
    this.#hooks = hooks;
    this.body = createWriter(this, options);
  }

  /** The stream this sink is the underlying source of (call once). */
  readable(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>(this, { highWaterMark: 1 });
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
  }

  // With a high-water mark of 1 the stream pulls only when its queue is
  // empty: the consumer has taken the chunk enqueued before.
  pull(): void {
    const taken = this.#unconfirmed;
    if (taken > 0) {
      this.#unconfirmed = 0;
      this.#hooks?.onTaken?.();
      outputWritten(this.body, taken);
    }
    if (this.#state === "idle") this.#state = "pulling";
    this.#pump();
  }

  cancel(reason: unknown): void {
    this.#end(reason);
    outputClosed(this.body);
  }

  cut(reason: unknown): void {
    this.#fail(reason);
    outputClosed(this.body);
  }

  wake(): void {
    if (this.#state === "pulling") this.#pump();
  }

  abort(reason: unknown): void {
    this.#fail(reason);
  }

  callbackError(error: unknown): void {
    this.#fail(error);
    outputClosed(this.body);
    reportCallbackError("streamingBody", this.#hooks?.onError, error);
  }

  // Hands one chunk to the stream: straight into a pending read, or into
  // its queue, where it waits for the consumer. One chunk ready ahead keeps
  // Deno's server busy (measured 1.2x the throughput of handing chunks
  // over only on demand); it counts as written only once taken (pull).
  #pump(): void {
    if (this.#state === "done") return;
    const out = nextOutput(this.body);
    if (out === "yield") return;
    this.#state = "idle";
    if (out === "close") {
      this.#end();
      this.#controller!.close();
    } else {
      this.#unconfirmed = out.length;
      // Before enqueue: a consumer waiting on a read takes the chunk, and
      // the stream pulls again, inside enqueue().
      this.#hooks?.onEnqueue?.();
      this.#controller!.enqueue(out);
    }
  }

  #fail(reason: unknown): void {
    if (this.#end(reason)) this.#controller!.error(reason);
  }

  // Marks the stream finished; false if it already was.
  #end(error?: unknown): boolean {
    if (this.#state === "done") return false;
    this.#state = "done";
    this.#hooks?.onEnd?.(error);
    return true;
  }
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

// The channel end of bodyFromWritable. Write promises resolve in order, so
// one bound handler and a queue of lengths count what reached the sink.
class WritableSink implements WriteChannel {
  readonly body: Body<"write">;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lengths: number[] = []; // of writes in flight, oldest at #head
  #head = 0;
  #onError: ((error: unknown) => void) | undefined;

  constructor(
    stream: WritableStream<Uint8Array>,
    options: WriterOptions,
    onError: ((error: unknown) => void) | undefined,
  ) {
    this.#onError = onError;
    this.#writer = stream.getWriter();
    this.body = createWriter(this, options);
    this.#writer.closed.then(undefined, this.#broken);
    this.#pump(); // nothing yet: registers for a wake
  }

  wake(): void {
    this.#pump();
  }

  abort(reason: unknown): void {
    // The stream may have failed already; then there is nothing to abort.
    this.#writer.abort(reason).catch(() => {});
  }

  callbackError(error: unknown): void {
    outputClosed(this.body);
    this.abort(error);
    reportCallbackError("bodyFromWritable", this.#onError, error);
  }

  #pump(): void {
    for (;;) {
      const out = nextOutput(this.body);
      if (out === "yield") return;
      if (out === "close") {
        this.#writer.close().then(undefined, this.#broken);
        return;
      }
      this.#lengths.push(out.length);
      this.#writer.write(out).then(this.#wrote, this.#broken);
    }
  }

  #wrote = (): void => {
    const n = this.#lengths[this.#head++]!;
    if (this.#head === this.#lengths.length) {
      this.#lengths.length = 0;
      this.#head = 0;
    }
    outputWritten(this.body, n);
  };

  // The stream errored: the reason already reached whoever errored it; for
  // the body it means "closed".
  #broken = (): void => {
    outputClosed(this.body);
  };
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
      throw new Error(
        "writableFromBody: the body's output closed before the chunk was written",
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
