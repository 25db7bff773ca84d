/**
 * Readers: web `ReadableStream` ⇄ `Body<"read">`.
 *
 * - {@linkcode bodyFromReadable}: bytes flow stream → body. The stream is
 *   read only while a read is scheduled, one chunk per read, so a body that
 *   is not read holds at most one chunk. A BYOB reader fills one reused
 *   buffer when the stream offers it.
 * - {@linkcode readableFromBody}: bytes flow body → stream. Each pull
 *   schedules one read; chunks are copied out because `onRead` memory is
 *   borrowed.
 *
 * @module
 */

import {
  Body,
  type BodyOptions,
  createReader,
  DEFAULT_BUFFER_SIZE,
  deliverInput,
  endInput,
  failInput,
  type ReadChannel,
} from "../body.ts";
import { checkBodyOptions, checkLimit, describe } from "../_check.ts";
import { reportCallbackError } from "./_callback.ts";

// Larger BYOB views collapse on chunked uploads in Deno's server (measured).
const MAX_VIEW = 65536;

/** Options of {@linkcode bodyFromReadable}. */
export interface ReaderOptions extends BodyOptions {
  /**
   * The most bytes the stream may bring. A stream that grows past it is
   * cancelled and its read answered `onEof(error)` with a `RangeError`
   * naming the limit; the bytes past the limit are never delivered.
   * Default: no limit.
   */
  maxBytes?: number;
}

/**
 * A `Body<"read">` over `stream`. The stream is locked at once and read
 * only while a read is scheduled. With a byte stream, a BYOB reader fills
 * one reused buffer of `min(bufferSize, 64 KiB)` (so `onRead` memory is
 * overwritten by the next read — copy what you keep); otherwise each chunk
 * is delivered as the stream produced it.
 *
 * A stream error becomes `onEof(error)`; a chunk that is not a Uint8Array
 * fails the body with a `TypeError`; `closeReader()` cancels the stream.
 * An exception thrown by `onRead`/`onEof` when the stream answered closes
 * the body, cancels the stream with that exception and is passed to
 * `options.onError`.
 *
 * @param stream a stream of Uint8Array chunks, not locked.
 * @param options `bufferSize` for the BYOB buffer; `maxBytes`; `onError`.
 * @returns the reader body; it owns the stream from now on.
 * @throws {TypeError} when `stream` is not an unlocked ReadableStream.
 *
 * @example Counting the bytes of a stream
 * ```ts
 * import { bodyFromReadable } from "@httpaf/body";
 *
 * const body = bodyFromReadable(new Blob(["hello"]).stream());
 * const total = await new Promise<number>((resolve, reject) => {
 *   let n = 0;
 *   const onRead = (_b: Uint8Array, _off: number, len: number) => {
 *     n += len;
 *     body.scheduleRead({ onRead, onEof });
 *   };
 *   const onEof = (error?: unknown) => error ? reject(error) : resolve(n);
 *   body.scheduleRead({ onRead, onEof });
 * });
 * if (total !== 5) throw new Error(`${total}`);
 * ```
 */
export function bodyFromReadable(
  stream: ReadableStream<Uint8Array>,
  options?: ReaderOptions,
): Body<"read"> {
  const maxBytes = checkLimit(
    "bodyFromReadable",
    "maxBytes",
    options?.maxBytes,
  );
  return openReader("bodyFromReadable", stream, options, {
    onError: options?.onError,
    maxBytes,
    overflow: (max) =>
      new RangeError(
        `bodyFromReadable: the stream brought more than maxBytes (${max} bytes)`,
      ),
  });
}

/**
 * What the `Deno.serve` adapter sets and learns on a request stream. Not
 * part of the public API.
 */
export interface SourceHooks {
  /** Receives an exception thrown by `onRead`/`onEof` (body closed). */
  onError?: (error: unknown) => void;
  /** The most bytes the stream may bring (default: no limit). */
  maxBytes?: number;
  /** Makes the error of a stream that brought more than `maxBytes`. */
  overflow?: (max: number) => RangeError;
  /** Called with that error after the body failed with it. */
  onOverflow?: (error: RangeError) => void;
  /**
   * The exact number of bytes the stream must bring (a declared
   * `content-length`): a stream that ends short of it fails the body.
   */
  length?: number;
  /** The stream was asked for bytes: the body now waits on it. */
  onWait?: () => void;
  /** The stream answered the last request (a chunk, its end, a failure). */
  onAnswer?: () => void;
  /** The input ended, failed or was released: called once. */
  onEnd?: () => void;
}

/**
 * {@linkcode bodyFromReadable} for `caller`, with `hooks`. Not part of the
 * public API.
 */
export function openReader(
  caller: string,
  stream: ReadableStream<Uint8Array>,
  options: BodyOptions | undefined,
  hooks: SourceHooks,
): Body<"read"> {
  if (!(stream instanceof ReadableStream)) {
    throw new TypeError(
      `${caller}: expected a ReadableStream, received ${describe(stream)}`,
    );
  }
  if (stream.locked) throw new TypeError(`${caller}: the stream is locked`);
  const size = checkBodyOptions(caller, options) ?? DEFAULT_BUFFER_SIZE;
  return new StreamSource(caller, stream, Math.min(size, MAX_VIEW), hooks).body;
}

// The channel end of bodyFromReadable. Its promise handlers are bound once,
// so a chunk costs no closure.
class StreamSource implements ReadChannel {
  readonly body: Body<"read">;
  readonly #caller: string;
  // One of the two is set: BYOB for byte streams, default otherwise.
  #byob: ReadableStreamBYOBReader | null = null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  readonly #viewSize: number;
  // The reused BYOB buffer: allocated at the first read, transferred to the
  // stream during a read and back in its result.
  #buffer: ArrayBuffer | null = null;
  #released = false;
  #count = 0; // bytes the stream brought so far
  readonly #hooks: SourceHooks;

  constructor(
    caller: string,
    stream: ReadableStream<Uint8Array>,
    viewSize: number,
    hooks: SourceHooks,
  ) {
    this.#caller = caller;
    this.#viewSize = viewSize;
    this.#hooks = hooks;
    try {
      this.#byob = stream.getReader({ mode: "byob" });
    } catch {
      // Not a byte stream (Deno hands small request bodies over as plain
      // one-chunk streams): the default reader is the only way in.
      this.#reader = stream.getReader();
    }
    this.body = createReader(this);
  }

  /** Bytes the stream brought so far. */
  get count(): number {
    return this.#count;
  }

  request(): void {
    this.#hooks.onWait?.();
    if (this.#byob !== null) {
      const buffer = this.#buffer ?? new ArrayBuffer(this.#viewSize);
      this.#buffer = null;
      this.#byob.read(new Uint8Array(buffer, 0, this.#viewSize)).then(
        this.#onByob,
        this.#onFailure,
      );
    } else {
      this.#reader!.read().then(this.#onChunk, this.#onFailure);
    }
  }

  release(reason: unknown): void {
    this.#released = true;
    this.#hooks.onEnd?.();
    const reader = this.#byob ?? this.#reader!;
    // A source whose cancel fails has nothing left to tell us: the input is
    // being discarded either way, so the rejection is deliberately dropped.
    reader.cancel(reason).catch(() => {});
  }

  callbackError(error: unknown): void {
    failInput(this.body, error);
    reportCallbackError(this.#caller, this.#hooks.onError, error);
  }

  #onByob = (result: ReadableStreamReadResult<Uint8Array>): void => {
    this.#hooks.onAnswer?.();
    const view = result.value;
    if (view !== undefined) this.#buffer = view.buffer as ArrayBuffer;
    if (result.done) this.#end();
    else this.#deliver(view!);
  };

  #onChunk = (result: ReadableStreamReadResult<Uint8Array>): void => {
    this.#hooks.onAnswer?.();
    if (result.done) return this.#end();
    const chunk: unknown = result.value;
    if (chunk instanceof Uint8Array) return this.#deliver(chunk);
    failInput(
      this.body,
      new TypeError(
        `${this.#caller}: the stream produced a chunk that is not a Uint8Array`,
      ),
    );
  };

  #deliver(chunk: Uint8Array): void {
    const count = (this.#count += chunk.length);
    const { maxBytes, length } = this.#hooks;
    if (maxBytes !== undefined && count > maxBytes) {
      const error = this.#hooks.overflow!(maxBytes);
      failInput(this.body, error); // cancels the stream
      this.#hooks.onOverflow?.(error);
    } else if (length !== undefined && count > length) {
      failInput(
        this.body,
        new RangeError(
          `${this.#caller}: the body brought ${count} bytes, more than its declared content-length of ${length}`,
        ),
      );
    } else {
      deliverInput(this.body, chunk, 0, chunk.length);
    }
  }

  // The stream ended: cleanly, unless short of a declared length (a
  // truncated body must never look complete).
  #end(): void {
    const length = this.#hooks.length;
    if (length === undefined || this.#count === length) {
      this.#hooks.onEnd?.();
      return endInput(this.body);
    }
    failInput(
      this.body,
      new Error(
        `${this.#caller}: the body ended after ${this.#count} of ${length} bytes`,
      ),
    );
  }

  #onFailure = (error: unknown): void => {
    this.#hooks.onAnswer?.();
    if (!this.#released) failInput(this.body, error);
  };
}

/**
 * A `ReadableStream` of the bytes of a reader body. Each pull schedules one
 * read; each chunk is a copy (the body's `onRead` memory is borrowed). The
 * stream closes at a clean EOF and errors with the body's error otherwise;
 * cancelling it closes the reader.
 *
 * @param body a reader body with no read scheduled; the stream owns it.
 * @returns a stream with a high-water mark of 0: nothing is read ahead.
 * @throws {TypeError} when `body` is not a reader body.
 *
 * @example Piping a body into a web stream
 * ```ts
 * import { bodyFromReadable, readableFromBody } from "@httpaf/body";
 *
 * const body = bodyFromReadable(new Blob(["round trip"]).stream());
 * const text = await new Response(readableFromBody(body)).text();
 * if (text !== "round trip") throw new Error(text);
 * ```
 */
export function readableFromBody(
  body: Body<"read">,
): ReadableStream<Uint8Array> {
  if (!(body instanceof Body) || body.side !== "read") {
    throw new TypeError(
      "readableFromBody: expected a reader body, received " + describe(body),
    );
  }
  return new ReadableStream(new BodySource(body), { highWaterMark: 0 });
}

// The underlying source of readableFromBody. A pull while a read is still
// outstanding does nothing: the answer will satisfy it.
class BodySource implements UnderlyingDefaultSource<Uint8Array> {
  #body: Body<"read">;
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  #reading = false;
  #cancelled = false; // the stream is closed already: answers go nowhere

  constructor(body: Body<"read">) {
    this.#body = body;
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
  }

  pull(): void {
    if (this.#reading) return;
    this.#reading = true;
    this.#body.scheduleRead(this);
  }

  cancel(): void {
    this.#cancelled = true;
    this.#body.closeReader();
  }

  // The ReadCallbacks: arrow fields, so `this` can be scheduled as it is.
  onRead = (buffer: Uint8Array, off: number, len: number): void => {
    this.#reading = false;
    if (!this.#cancelled) {
      this.#controller!.enqueue(buffer.slice(off, off + len));
    }
  };

  // The body reports a failure with a defined error, a clean end with none.
  onEof = (error?: unknown): void => {
    this.#reading = false;
    if (this.#cancelled) return;
    if (error === undefined) this.#controller!.close();
    else this.#controller!.error(error);
  };
}
