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

import { Body, type BodyOptions } from "../body.ts";
import {
  BODY_OPTIONS,
  checkBodyOptions,
  checkLimit,
  describe,
} from "../_body/check.ts";
import { openReader } from "./_readable/source.ts";

const READER_OPTIONS = [...BODY_OPTIONS, "maxBytes"] as const;

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
  const caller = "bodyFromReadable";
  const bufferSize = checkBodyOptions(caller, options, READER_OPTIONS);
  const maxBytes = checkLimit(caller, "maxBytes", options?.maxBytes);
  return openReader(caller, stream, bufferSize, {
    onError: options?.onError,
    maxBytes,
    overflow: (max) =>
      new RangeError(
        `bodyFromReadable: the stream brought more than maxBytes (${max} bytes)`,
      ),
  });
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
