/**
 * The channel end of `bodyFromReadable`: a reader body fed by a web
 * `ReadableStream`, and the hooks through which the adapters built on it
 * (`withBody`'s request bodies, `request`'s response bodies) add limits,
 * declared lengths and timeouts. Bytes flow stream → (one reused BYOB
 * buffer, or the stream's own chunk) → the body → `onRead`; the stream is
 * read only while a read is scheduled. Private to the readable capability
 * and those built on it.
 *
 * @module
 */

import {
  type Body,
  createReader,
  DEFAULT_BUFFER_SIZE,
  deliverInput,
  endInput,
  failInput,
  type ReadChannel,
} from "../../body.ts";
import { describe, reportCallbackError } from "../../_body/check.ts";

// Larger BYOB views collapse on chunked uploads in Deno's server (Deno
// 2.9.6, measured).
const MAX_VIEW = 65536;

/**
 * What an adapter built on this one (`withBody`, `request`) sets and
 * learns on a stream it reads.
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
  /**
   * The body released the stream, which is being cancelled: `reason` is
   * `undefined` after `closeReader()`, else the error the body failed with
   * (a stream failure, a limit, a callback's exception, or `failInput` by
   * the adapter). Called once, before `onEnd` and before a pending read
   * is answered.
   */
  onRelease?: (reason: unknown) => void;
  /**
   * The stream itself failed (its read rejected, or it ended short of the
   * declared `length`) with `error`: called before the body fails with it,
   * so before any `onEof(error)` runs.
   */
  onFail?: (error: unknown) => void;
}

/**
 * `bodyFromReadable` for `caller`, with `hooks`: the stream is locked at
 * once, read only while a read is scheduled, into one reused BYOB buffer
 * of `min(bufferSize, 64 KiB)` (a `bufferSize` checked by the caller) when
 * it is a byte stream.
 *
 * @throws {TypeError} when `stream` is not an unlocked ReadableStream.
 */
export function openReader(
  caller: string,
  stream: ReadableStream<Uint8Array>,
  bufferSize: number | undefined,
  hooks: SourceHooks,
): Body<"read"> {
  if (!(stream instanceof ReadableStream)) {
    throw new TypeError(
      `${caller}: expected a ReadableStream, received ${describe(stream)}`,
    );
  }
  if (stream.locked) throw new TypeError(`${caller}: the stream is locked`);
  const size = Math.min(bufferSize ?? DEFAULT_BUFFER_SIZE, MAX_VIEW);
  return new StreamSource(caller, stream, size, hooks).body;
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
      // Not a byte stream (Deno 2.9.6 hands small request bodies over as plain
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
    this.#hooks.onRelease?.(reason);
    this.#hooks.onEnd?.();
    const reader = this.#byob ?? this.#reader!;
    // A source whose cancel fails has nothing left to tell us: the input is
    // being discarded either way, so the rejection is deliberately dropped.
    reader.cancel(reason).catch(() => {});
  }

  // The application keeps the chunk delivered last: a BYOB source reads
  // the next one into new memory instead of reusing it (a default
  // reader's chunks are the stream's own, new each time).
  keep(): void {
    this.#buffer = null;
  }

  callbackError(error: unknown): void {
    failInput(this.body, error);
    reportCallbackError(this.#caller, this.#hooks.onError, error);
  }

  #onByob = (result: ReadableStreamReadResult<Uint8Array>): void => {
    this.#hooks.onAnswer?.();
    // Released meanwhile: whatever the read brings, the input was already
    // given up on purpose, which is neither an end nor a failure.
    if (this.#released) return;
    const view = result.value;
    if (view !== undefined) this.#buffer = view.buffer as ArrayBuffer;
    if (result.done) this.#end();
    else this.#deliver(view!);
  };

  #onChunk = (result: ReadableStreamReadResult<Uint8Array>): void => {
    this.#hooks.onAnswer?.();
    if (this.#released) return;
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
    const error = new Error(
      `${this.#caller}: the body ended after ${this.#count} of ${length} bytes`,
    );
    this.#hooks.onFail?.(error);
    failInput(this.body, error);
  }

  #onFailure = (error: unknown): void => {
    this.#hooks.onAnswer?.();
    if (this.#released) return;
    this.#hooks.onFail?.(error);
    failInput(this.body, error);
  };
}
