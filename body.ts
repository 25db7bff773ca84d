/**
 * The core of `@httpaf/body`: httpaf's `Body` as one generic class,
 * {@linkcode Body}, with a small channel end through which adapters connect
 * it to real input and output. No I/O and no streams live here.
 *
 * A body is a one-way byte pipe. Its *application end* is the `Body<Rw>`
 * API; its *channel end* is the functions at the bottom of this file, used
 * by adapters (`adapters/`) and by anyone writing a new one:
 *
 * - a reader body asks its {@linkcode ReadChannel} for bytes only while a
 *   read is scheduled and nothing is buffered; the channel answers with
 *   {@linkcode deliverInput}, {@linkcode endInput} or {@linkcode failInput};
 * - a writer body wakes its {@linkcode WriteChannel} when output is ready;
 *   the channel takes chunks with {@linkcode nextOutput} (Faraday's
 *   `operation`/`shift` in one call) and reports progress with
 *   {@linkcode outputWritten} and {@linkcode outputClosed}.
 *
 * @module
 */

import {
  checkBufferSize,
  checkBytes,
  checkIndex,
  describe,
  isHigh,
  isLow,
  utf8Length,
} from "./_check.ts";

/** Which end of a body the application holds: `"read"` or `"write"`. */
export type BodySide = "read" | "write";

/**
 * How a flush was answered: `"written"` when every byte written before the
 * flush reached the output channel, `"closed"` when the channel closed or
 * failed first.
 */
export type FlushResult = "written" | "closed";

/** The one-shot callbacks of {@linkcode Body.scheduleRead}. */
export interface ReadCallbacks {
  /**
   * Receives the next bytes: `buffer[off, off + len)`, `len > 0`. The memory
   * is borrowed: it is valid only during the call and may be reused by the
   * body afterwards. Copy what you keep.
   */
  onRead(buffer: Uint8Array, off: number, len: number): void;
  /**
   * The input has ended and every buffered byte was delivered. Called with
   * no argument on a clean end, with the error when the input failed.
   */
  onEof(error?: unknown): void;
}

/** Options shared by every body and adapter. */
export interface BodyOptions {
  /**
   * Size in bytes of the buffers copied writes coalesce into (the largest
   * chunk a copied write produces), and of the reused read buffer of
   * `bodyFromReadable` (capped at 64 KiB there). Default: 65536.
   */
  bufferSize?: number;
  /**
   * Called with an exception thrown by an application callback that an
   * adapter invoked (`onRead`, `onEof`, a flush callback) after the adapter
   * closed the body and failed its stream side with it. Without it the
   * exception is not rethrown: it travels only to the stream side.
   */
  onError?: (error: unknown) => void;
}

/** Options of a writer body. */
export interface WriterOptions extends BodyOptions {
  /**
   * The exact number of bytes the body will carry (a response's
   * `content-length`). A write that would go past it throws a `RangeError`
   * and writes nothing; `closeWriter()` short of it aborts the output
   * instead of ending it cleanly, so a truncated body never looks complete.
   */
  contentLength?: number;
}

/** The default {@linkcode BodyOptions.bufferSize}: 64 KiB. */
export const DEFAULT_BUFFER_SIZE = 65536;

/**
 * What a reader body needs from its source. Implemented by adapters.
 */
export interface ReadChannel {
  /**
   * The body wants bytes: answer once, now or later, with
   * {@linkcode deliverInput} (one chunk), {@linkcode endInput} or
   * {@linkcode failInput}. Called only while a read is scheduled, nothing is
   * buffered and no request is outstanding, so the body holds at most one
   * chunk that no read asked for.
   */
  request(): void;
  /**
   * The reader was closed ({@linkcode Body.closeReader} or
   * {@linkcode failInput}): release the source, e.g. cancel its stream with
   * `reason`. Called at most once, never after the input ended by itself.
   */
  release(reason: unknown): void;
  /**
   * An application callback (`onRead`, `onEof`) that the body ran on the
   * channel's behalf threw `error`. The body is still consistent; the
   * channel decides what the failure means (adapters close the body).
   */
  callbackError(error: unknown): void;
}

/**
 * What a writer body needs from its output channel. Implemented by adapters.
 */
export interface WriteChannel {
  /**
   * Output became available, or the writer was closed, after
   * {@linkcode nextOutput} last returned `"yield"`. Called from a microtask,
   * once per burst of writes, never inside an application call.
   */
  wake(): void;
  /**
   * The writer was aborted ({@linkcode abortOutput}): end the output without
   * a clean end-of-stream, with `reason`. Called at most once, never after
   * {@linkcode nextOutput} returned `"close"` or the channel closed.
   */
  abort(reason: unknown): void;
  /**
   * A flush callback that the body ran on the channel's behalf threw
   * `error`. Every other flush was still answered.
   */
  callbackError(error: unknown): void;
  /**
   * Optional. The application called {@linkcode Body.flush}: every byte
   * written so far should leave now (a compressor emits what it holds).
   * Called from a microtask, once per burst of flushes, never inside an
   * application call, never after the channel closed or
   * {@linkcode nextOutput} returned `"close"`.
   */
  flush?(): void;
}

// Bits of Body#flags (one field: an idle body should cost little memory).
// Reader: the input is open while neither ENDED nor CLOSED is set.
const ENDED = 1; // the source ended the input cleanly
const CLOSED = 2; // closeReader() or failInput() released the source
const FAILED = 4; // the input failed with #error (CLOSED is set too)
const REQUESTED = 8; // a ReadChannel.request() is unanswered
const SERVING = 16; // the read loop is on the stack
// Writer:
const APP_CLOSED = 32; // closeWriter() or an abort: writes throw
const GONE = 64; // the channel closed: writes are dropped, flushes "closed"
const EOS_SENT = 128; // nextOutput() returned "close"
const WAITING = 256; // nextOutput() returned "yield": wake on new output
const WAKE_QUEUED = 512; // a wake() microtask is queued
const SETTLE_QUEUED = 1024; // a flush-settling microtask is queued
const DRAINING = 2048; // endOutput(): pending output, then end-of-stream
// Which side: set for a writer body, clear for a reader.
const WRITER = 4096;
const TEXT_HIGH = 8192; // #text ends with a high surrogate
const FLUSH_QUEUED = 16384; // a WriteChannel.flush() microtask is queued

// Smallest free tail of a coalescing buffer worth writing into after the
// bytes before it were handed to the channel.
const MIN_TAIL = 512;
// First buffer a writer allocates, unless the data is larger; it then
// doubles (moving its pending bytes) up to bufferSize while writes fill it.
const FIRST_BUFFER = 4096;
// Text from writeString is encoded in batches of about this many code
// units: one encodeInto per batch instead of one per call.
const TEXT_BATCH = 16384;

const encoder = new TextEncoder();
const token = Symbol("Body");

type FlushCallback = (result: FlushResult) => void;

// Friend access for the channel-end functions below (set in a static block).
let friend: {
  deliver(
    body: Body<"read">,
    bytes: Uint8Array,
    off: number,
    len: number,
  ): void;
  end(body: Body<"read">, failed: boolean, error: unknown): void;
  next(body: Body<"write">): Uint8Array | "yield" | "close";
  written(body: Body<"write">, n: number): void;
  closed(body: Body<"write">): void;
  abort(body: Body<"write">, reason: unknown): void;
  drain(body: Body<"write">): void;
};

/**
 * A one-way byte pipe with httpaf's callback semantics: `Body<"read">` for
 * the input of a handler (scheduleRead, closeReader), `Body<"write">` for
 * its output (write*, scheduleBigstring, flush, closeWriter). Calling a
 * method of the other side is a type error, and a `TypeError` at run time.
 *
 * Bodies are made by the adapters (`bodyFromReadable`, `streamingBody`, …)
 * or, for a new adapter, by {@linkcode createReader} / {@linkcode createWriter}.
 *
 * @example Writing and reading through a stream
 * ```ts
 * import { streamingBody } from "@httpaf/body";
 *
 * const { body, readable } = streamingBody();
 * body.writeString("hello, ");
 * body.writeBigstring(new TextEncoder().encode("world"));
 * body.closeWriter();
 * const text = await new Response(readable).text();
 * if (text !== "hello, world") throw new Error(text);
 * ```
 */
export class Body<Rw extends BodySide> {
  readonly #channel: ReadChannel | WriteChannel;
  #flags = 0; // the bits above

  // ---- read side (valid for a reader) ----
  // A callback pair is set exactly while a read is scheduled and unanswered.
  #onRead: ReadCallbacks["onRead"] | null = null;
  #onEof: ReadCallbacks["onEof"] | null = null;
  // The held chunk: #held[#heldOff, #heldOff + #heldLen), valid iff #heldLen > 0.
  #held: Uint8Array | null = null;
  #heldOff = 0;
  #heldLen = 0;
  #error: unknown = undefined; // valid with FAILED

  // ---- write side (valid for a writer) ----
  #bufferSize = DEFAULT_BUFFER_SIZE;
  #length = -1; // the declared exact output length, or -1 for none
  #nextSize = FIRST_BUFFER;
  // Sealed chunks waiting for the channel, oldest first. Never written
  // again once sealed.
  #queue: Uint8Array[] | null = null;
  // The coalescing buffer: #buf[0, #bufLen) is pending output, the rest free.
  #buf: Uint8Array | null = null;
  #bufLen = 0;
  // Text written after the buffer's bytes and not yet encoded. Consecutive
  // writeString calls join here (appending to a string is a cheap rope
  // node in V8) and are encoded together by #encodeText, which every other
  // operation that needs exact bytes calls first.
  #text = "";
  #written = 0; // bytes accepted by write calls, ever
  #taken = 0; // bytes handed to the channel by nextOutput(), ever
  #delivered = 0; // bytes the channel reported written, ever
  // Unanswered flushes from #flushHead on, in order, as pairs: the target
  // (#written at flush time), then the callback. One array: idle bodies
  // are many, and each field costs memory.
  #flushes: (number | FlushCallback)[] | null = null;
  #flushHead = 0;

  static {
    friend = {
      deliver: (body, bytes, off, len) => body.#deliver(bytes, off, len),
      end: (body, failed, error) => body.#end(failed, error),
      next: (body) => body.#next(),
      written: (body, n) => body.#outputWritten(n),
      closed: (body) => body.#outputClosed(),
      abort: (body, reason) => body.#abort(reason),
      drain: (body) => body.#drain(),
    };
  }

  /**
   * Not for direct use: bodies come from the adapters, or from
   * {@linkcode createReader} / {@linkcode createWriter}.
   *
   * @throws {TypeError} always, when called directly.
   */
  constructor(
    key: symbol,
    side: Rw,
    channel: Rw extends "read" ? ReadChannel : WriteChannel,
    options?: WriterOptions,
  ) {
    if (key !== token) {
      throw new TypeError(
        "Body: bodies are made by the adapters or createReader/createWriter",
      );
    }
    if (side === "write") this.#flags = WRITER;
    this.#channel = channel;
    const size = options?.bufferSize;
    if (size !== undefined) this.#bufferSize = checkBufferSize("Body", size);
    if (this.#nextSize > this.#bufferSize) this.#nextSize = this.#bufferSize;
    const length = options?.contentLength;
    if (length !== undefined) {
      this.#length = checkIndex("Body", "contentLength", length, 2 ** 53 - 1);
    }
  }

  get #readerChannel(): ReadChannel {
    return this.#channel as ReadChannel;
  }

  get #writerChannel(): WriteChannel {
    return this.#channel as WriteChannel;
  }

  /** Which end this body is: `"read"` or `"write"`. */
  get side(): Rw {
    return ((this.#flags & WRITER) !== 0 ? "write" : "read") as Rw;
  }

  /**
   * Bytes inside the body: for a writer, written but not yet handed to the
   * output channel; for a reader, received from the input but not yet
   * delivered to `onRead`.
   */
  get pendingBytes(): number {
    if ((this.#flags & WRITER) === 0) return this.#heldLen;
    this.#encodeText();
    return this.#written - this.#taken;
  }

  /**
   * Reader: `true` once {@linkcode Body.closeReader} was called or the
   * input ended, even if buffered bytes remain. Writer: `true` after
   * {@linkcode Body.closeWriter} or once the output channel closed (client
   * gone); a closed writer may still have pending output.
   */
  isClosed(): boolean {
    return (this.#flags & WRITER) === 0
      ? (this.#flags & (ENDED | CLOSED)) !== 0
      : (this.#flags & (APP_CLOSED | GONE | DRAINING)) !== 0;
  }

  // ===================================================================
  // Read side
  // ===================================================================

  /**
   * Schedules one read. It is answered exactly once: `onRead(buffer, off,
   * len)` with the next bytes, or `onEof(error?)` once the input ended and
   * every buffered byte was delivered (also when scheduled after EOF).
   *
   * If bytes or EOF are available, the answer comes before `scheduleRead`
   * returns, and an exception from that callback is thrown to the caller.
   * A read scheduled inside `onRead`/`onEof` is served after that callback
   * returns, by a loop: any number of chunks run in constant stack.
   *
   * @param callbacks `onRead` and `onEof`, both functions.
   * @throws {TypeError} on a writer body, or when a callback is missing.
   * @throws {Error} `Body.scheduleRead: a read is already scheduled`.
   */
  scheduleRead(this: Body<"read">, callbacks: ReadCallbacks): void {
    this.#expect("read", "scheduleRead");
    const onRead = callbacks?.onRead;
    const onEof = callbacks?.onEof;
    if (typeof onRead !== "function" || typeof onEof !== "function") {
      throw new TypeError(
        "Body.scheduleRead: expected { onRead, onEof } functions, received " +
          describe(callbacks),
      );
    }
    if (this.#onRead !== null) {
      throw new Error(
        "Body.scheduleRead: a read is already scheduled on this body",
      );
    }
    this.#onRead = onRead;
    this.#onEof = onEof;
    if ((this.#flags & SERVING) === 0) this.#serve(true);
  }

  /**
   * Closes the reader: input after this is discarded and the source is
   * released (an adapter cancels its stream). Bytes already buffered may
   * still be read, then EOF. A scheduled read with nothing buffered is
   * answered `onEof()` now. Idempotent.
   *
   * @throws {TypeError} on a writer body.
   */
  closeReader(this: Body<"read">): void {
    this.#expect("read", "closeReader");
    const flags = this.#flags;
    if ((flags & CLOSED) !== 0) return;
    this.#flags = flags | CLOSED;
    if ((flags & ENDED) === 0) this.#readerChannel.release(undefined);
    if (this.#onRead !== null && (flags & SERVING) === 0) this.#serve(true);
  }

  // Serves scheduled reads until one has to wait for the source. A read
  // scheduled inside a callback is served by the next turn of this loop,
  // not by recursion. `direct`: called from the application, so a callback
  // exception is thrown to it; otherwise it goes to the channel.
  #serve(direct: boolean): void {
    this.#flags |= SERVING;
    try {
      while (this.#onRead !== null) {
        const onRead = this.#onRead;
        const onEof = this.#onEof!;
        if (this.#heldLen > 0) {
          const buffer = this.#held!;
          const off = this.#heldOff;
          const len = this.#heldLen;
          this.#held = null;
          this.#heldLen = 0;
          this.#onRead = this.#onEof = null;
          onRead(buffer, off, len);
        } else if ((this.#flags & (ENDED | CLOSED)) !== 0) {
          this.#onRead = this.#onEof = null;
          if ((this.#flags & FAILED) !== 0) onEof(this.#error);
          else onEof();
        } else if ((this.#flags & REQUESTED) === 0) {
          this.#flags |= REQUESTED;
          this.#readerChannel.request(); // may answer synchronously
          // Answered already (a chunk, an empty chunk, EOF): next turn.
          if ((this.#flags & REQUESTED) !== 0) return;
        } else {
          return; // the source will answer
        }
      }
    } catch (error) {
      this.#flags &= ~SERVING;
      // A read scheduled before the throw must not be stranded.
      if (this.#onRead !== null) queueMicrotask(() => this.#resume(false));
      if (direct) throw error;
      this.#readerChannel.callbackError(error);
    } finally {
      this.#flags &= ~SERVING;
    }
  }

  // Serves a pending read unless the loop is already on the stack.
  #resume(direct: boolean): void {
    if (this.#onRead !== null && (this.#flags & SERVING) === 0) {
      this.#serve(direct);
    }
  }

  #deliver(bytes: Uint8Array, off: number, len: number): void {
    const flags = (this.#flags &= ~REQUESTED);
    if ((flags & (ENDED | CLOSED)) !== 0) return; // closed: input is discarded
    if (this.#heldLen > 0) {
      throw new Error(
        "deliverInput: a chunk is already held; wait for request()",
      );
    }
    if (len > 0) {
      this.#held = bytes;
      this.#heldOff = off;
      this.#heldLen = len;
    }
    this.#resume(false);
  }

  #end(failed: boolean, error: unknown): void {
    const flags = (this.#flags &= ~REQUESTED);
    if ((flags & (ENDED | CLOSED)) !== 0) return;
    if (failed) {
      // "An error shuts down the reader": buffered bytes are dropped too,
      // and a failure never looks like a clean end.
      this.#held = null;
      this.#heldLen = 0;
      this.#error = error === undefined
        ? new Error("Body: the input failed without a reason")
        : error;
      this.#flags = flags | CLOSED | FAILED;
      this.#readerChannel.release(this.#error);
    } else {
      this.#flags = flags | ENDED;
    }
    this.#resume(false);
  }

  // ===================================================================
  // Write side
  // ===================================================================

  /**
   * Writes one Unicode code point as UTF-8 (1–4 bytes). Copies.
   *
   * @param char a string of exactly one code point (a surrogate pair counts
   *   as one; a lone surrogate cannot be written as UTF-8).
   * @throws {TypeError} on a reader body, or for anything but one code point.
   * @throws {Error} `Body.writeChar: body is closed` after `closeWriter()`.
   */
  writeChar(this: Body<"write">, char: string): void {
    this.#expect("write", "writeChar");
    const cp = typeof char === "string" ? char.codePointAt(0) : undefined;
    if (
      cp === undefined || char.length !== (cp > 0xffff ? 2 : 1) ||
      (cp >= 0xd800 && cp <= 0xdfff)
    ) {
      throw new TypeError(
        "Body.writeChar: expected a string of one Unicode scalar value, received " +
          describe(char),
      );
    }
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (!this.#writable("writeChar", size)) return;
    this.#encodeText();
    const buf = this.#reserve(4, 4);
    let i = this.#bufLen;
    if (cp < 0x80) {
      buf[i++] = cp;
    } else if (cp < 0x800) {
      buf[i++] = 0xc0 | (cp >> 6);
      buf[i++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      buf[i++] = 0xe0 | (cp >> 12);
      buf[i++] = 0x80 | ((cp >> 6) & 0x3f);
      buf[i++] = 0x80 | (cp & 0x3f);
    } else {
      buf[i++] = 0xf0 | (cp >> 18);
      buf[i++] = 0x80 | ((cp >> 12) & 0x3f);
      buf[i++] = 0x80 | ((cp >> 6) & 0x3f);
      buf[i++] = 0x80 | (cp & 0x3f);
    }
    this.#written += i - this.#bufLen;
    this.#bufLen = i;
    this.#wakeChannel();
  }

  /**
   * Writes `str.slice(off, off + len)` as UTF-8, coalesced with neighbouring
   * copied writes. Copies: `str` is not kept. `off`/`len` count UTF-16 code
   * units; a surrogate pair cut in half is written as U+FFFD.
   *
   * @param str the text.
   * @param off first code unit (default 0).
   * @param len code units to write (default: to the end).
   * @throws {TypeError} on a reader body, or for a non-string / non-number.
   * @throws {RangeError} for `off`/`len` negative, fractional or past the end.
   * @throws {Error} `Body.writeString: body is closed` after `closeWriter()`.
   */
  writeString(
    this: Body<"write">,
    str: string,
    off?: number,
    len?: number,
  ): void {
    this.#expect("write", "writeString");
    if (typeof str !== "string") {
      throw new TypeError(
        "Body.writeString: expected a string, received " + describe(str),
      );
    }
    const start = off === undefined
      ? 0
      : checkIndex("writeString", "off", off, str.length);
    const count = len === undefined
      ? str.length - start
      : checkIndex("writeString", "len", len, str.length - start);
    if (this.#length < 0) {
      if (!this.#writable("writeString", 0) || count === 0) return;
      const piece = start === 0 && count === str.length
        ? str
        : str.slice(start, start + count);
      // Each call is encoded on its own terms: a high surrogate ending one
      // call and a low surrogate starting the next stay two U+FFFD, as two
      // TextEncoder calls would write them, never one joined character.
      if ((this.#flags & TEXT_HIGH) !== 0 && isLow(piece.charCodeAt(0))) {
        this.#encodeText();
      }
      this.#text += piece;
      if (isHigh(piece.charCodeAt(count - 1))) this.#flags |= TEXT_HIGH;
      else this.#flags &= ~TEXT_HIGH;
      if (this.#text.length >= TEXT_BATCH) this.#encodeText();
      return this.#wakeChannel();
    }
    // A declared length is checked against the exact UTF-8 size first, so
    // the text is encoded at once.
    if (!this.#writable("writeString", utf8Length(str, start, count))) return;
    if (count === 0) return;
    this.#encode(
      start === 0 && count === str.length
        ? str
        : str.slice(start, start + count),
    );
    this.#wakeChannel();
  }

  // Encodes the pending text into the coalescing buffer.
  #encodeText(): void {
    const text = this.#text;
    if (text === "") return;
    this.#text = "";
    this.#flags &= ~TEXT_HIGH;
    this.#encode(text);
  }

  // Encodes `text` as UTF-8 into the coalescing buffer, sealing and
  // allocating buffers as they fill.
  #encode(text: string): void {
    let rest = text;
    for (;;) {
      const buf = this.#reserve(4, rest.length * 3);
      const { read, written } = encoder.encodeInto(
        rest,
        buf.subarray(this.#bufLen),
      );
      this.#bufLen += written;
      this.#written += written;
      if (read === rest.length) return;
      // The buffer is full (less than one character's bytes left).
      rest = rest.slice(read);
    }
  }

  /**
   * Copies `bytes[off, off + len)` into the body, coalesced with
   * neighbouring copied writes. The caller may reuse `bytes` as soon as the
   * call returns.
   *
   * @throws {TypeError} on a reader body, or when `bytes` is not a Uint8Array.
   * @throws {RangeError} for `off`/`len` negative, fractional or past the end.
   * @throws {Error} `Body.writeBigstring: body is closed` after `closeWriter()`.
   */
  writeBigstring(
    this: Body<"write">,
    bytes: Uint8Array,
    off?: number,
    len?: number,
  ): void {
    this.#expect("write", "writeBigstring");
    const [start, count] = checkBytes("writeBigstring", bytes, off, len);
    if (!this.#writable("writeBigstring", count) || count === 0) return;
    this.#encodeText();
    let from = start;
    const end = start + count;
    while (from < end) {
      const buf = this.#reserve(1, end - from);
      const n = Math.min(buf.length - this.#bufLen, end - from);
      buf.set(
        from === 0 && n === bytes.length
          ? bytes
          : bytes.subarray(from, from + n),
        this.#bufLen,
      );
      this.#bufLen += n;
      from += n;
    }
    this.#written += count;
    this.#wakeChannel();
  }

  /**
   * Hands `bytes[off, off + len)` to the output channel **without a copy**,
   * in order with copied writes. The memory is handed over for good: never
   * modify it again, not even after a flush answered (Deno's server keeps a
   * reference until the kernel has the bytes). To reuse a buffer, use
   * {@linkcode Body.writeBigstring}.
   *
   * @throws {TypeError} on a reader body, or when `bytes` is not a Uint8Array.
   * @throws {RangeError} for `off`/`len` negative, fractional or past the end.
   * @throws {Error} `Body.scheduleBigstring: body is closed` after `closeWriter()`.
   */
  scheduleBigstring(
    this: Body<"write">,
    bytes: Uint8Array,
    off?: number,
    len?: number,
  ): void {
    this.#expect("write", "scheduleBigstring");
    const [start, count] = checkBytes("scheduleBigstring", bytes, off, len);
    if (!this.#writable("scheduleBigstring", count) || count === 0) return;
    this.#encodeText();
    this.#seal();
    (this.#queue ??= []).push(
      count === bytes.length ? bytes : bytes.subarray(start, start + count),
    );
    this.#written += count;
    this.#wakeChannel();
  }

  /**
   * Answers exactly once, never synchronously inside `flush`: `"written"`
   * when every byte written before the flush reached the output channel,
   * `"closed"` if the channel closed or failed first. Flushes are answered
   * in order. Works after `closeWriter()`.
   *
   * @param callback receives the result; without it a promise is returned.
   * @throws {TypeError} on a reader body, or when `callback` is not a function.
   */
  flush(this: Body<"write">, callback: (result: FlushResult) => void): void;
  /**
   * The promise form of {@linkcode Body.flush}: resolves, never before the
   * next microtask, with `"written"` or `"closed"`; it never rejects.
   *
   * @returns a promise of the result.
   * @throws {TypeError} on a reader body.
   */
  flush(this: Body<"write">): Promise<FlushResult>;
  flush(
    this: Body<"write">,
    callback?: (result: FlushResult) => void,
  ): void | Promise<FlushResult> {
    this.#expect("write", "flush");
    if (callback !== undefined && typeof callback !== "function") {
      throw new TypeError(
        "Body.flush: expected a callback function or nothing, received " +
          describe(callback),
      );
    }
    this.#encodeText(); // the target counts every byte written so far
    let promise: Promise<FlushResult> | undefined;
    if (callback === undefined) {
      promise = new Promise((resolve) => (callback = resolve));
    }
    // Once the channel is gone, writes are dropped and never reach it: a
    // later flush can only answer "closed" (so write/flush loops end).
    (this.#flushes ??= []).push(
      (this.#flags & (GONE | DRAINING)) !== 0 ? Infinity : this.#written,
      callback!,
    );
    if (
      (this.#flags & (GONE | EOS_SENT)) !== 0 ||
      this.#delivered >= this.#written
    ) {
      this.#queueSettle();
    }
    const channel = this.#writerChannel;
    if (
      channel.flush !== undefined &&
      (this.#flags & (FLUSH_QUEUED | GONE | EOS_SENT)) === 0
    ) {
      this.#flags |= FLUSH_QUEUED;
      queueMicrotask(() => {
        this.#flags &= ~FLUSH_QUEUED;
        if ((this.#flags & (GONE | EOS_SENT)) === 0) channel.flush!();
      });
    }
    return promise;
  }

  /**
   * Closes the writer: later `write*`/`scheduleBigstring` calls throw.
   * Pending output is still delivered, then the channel sees end-of-stream.
   * `flush` still works. Idempotent. With a declared `contentLength` not yet
   * reached, the output is aborted instead: it must not look complete.
   *
   * @throws {TypeError} on a reader body.
   */
  closeWriter(this: Body<"write">): void {
    this.#expect("write", "closeWriter");
    if ((this.#flags & APP_CLOSED) !== 0) return;
    this.#flags |= APP_CLOSED;
    const length = this.#length;
    if (length >= 0 && this.#written < length) {
      return this.#abort(
        new Error(
          `Body.closeWriter: closed after ${this.#written} of the ${length} declared bytes`,
        ),
      );
    }
    this.#wakeChannel();
  }

  #expect(side: BodySide, method: string): void {
    if (((this.#flags & WRITER) !== 0) !== (side === "write")) {
      throw new TypeError(
        `Body.${method}: not available on a ${this.side} body (it is a ${side} operation)`,
      );
    }
  }

  // Whether a write of `size` bytes may go ahead: throws once closed by the
  // application or past the declared length, false (drop it) once the
  // channel is gone.
  #writable(method: string, size: number): boolean {
    const flags = this.#flags;
    if ((flags & APP_CLOSED) !== 0) {
      throw new Error(`Body.${method}: body is closed`);
    }
    if ((flags & (GONE | DRAINING)) !== 0) return false;
    const length = this.#length;
    if (length >= 0 && this.#written + size > length) {
      throw new RangeError(
        `Body.${method}: ${size} more bytes would exceed the declared length of ${length} bytes (${this.#written} written)`,
      );
    }
    return true;
  }

  // Returns the coalescing buffer with at least `min` free bytes after
  // #bufLen. A full buffer smaller than bufferSize grows (its pending bytes
  // are still ours to move), so small writes end up in chunks as large as
  // bufferSize; a full buffer at bufferSize is sealed. `want` sizes a new
  // buffer to the data: the bytes this write still has to place.
  #reserve(min: number, want: number): Uint8Array {
    const buf = this.#buf;
    const len = this.#bufLen;
    if (buf !== null && buf.length - len >= min) return buf;
    const max = this.#bufferSize;
    if (buf !== null && len > 0 && len + min <= max) {
      const size = Math.min(max, Math.max(buf.length * 2, len + want));
      const grown = new Uint8Array(size);
      grown.set(buf.subarray(0, len));
      if (size > this.#nextSize) this.#nextSize = size;
      return (this.#buf = grown);
    }
    this.#seal();
    const size = Math.min(max, Math.max(this.#nextSize, want));
    return (this.#buf = new Uint8Array(Math.max(size, min)));
  }

  // Moves the pending part of the coalescing buffer to the queue. The free
  // tail stays in use: the sealed bytes themselves are never written again.
  #seal(): void {
    const buf = this.#buf;
    if (buf === null || this.#bufLen === 0) return;
    (this.#queue ??= []).push(buf.subarray(0, this.#bufLen));
    this.#cutTail(buf);
  }

  #cutTail(buf: Uint8Array): void {
    this.#buf = buf.length - this.#bufLen >= MIN_TAIL
      ? buf.subarray(this.#bufLen)
      : null;
    this.#bufLen = 0;
  }

  #wakeChannel(): void {
    const flags = this.#flags;
    if ((flags & (WAITING | WAKE_QUEUED)) !== WAITING) return;
    this.#flags = (flags & ~WAITING) | WAKE_QUEUED;
    queueMicrotask(() => {
      this.#flags &= ~WAKE_QUEUED;
      if ((this.#flags & GONE) === 0) this.#writerChannel.wake();
    });
  }

  #next(): Uint8Array | "yield" | "close" {
    this.#encodeText();
    const chunk = this.#queue?.shift(); // short arrays: shift is cheap
    if (chunk !== undefined) {
      this.#taken += chunk.length;
      return chunk;
    }
    const buf = this.#buf;
    if (buf !== null && this.#bufLen > 0) {
      const chunk = buf.subarray(0, this.#bufLen);
      this.#taken += this.#bufLen;
      this.#cutTail(buf);
      return chunk;
    }
    if ((this.#flags & (APP_CLOSED | DRAINING)) !== 0) {
      this.#flags |= EOS_SENT;
      this.#buf = null;
      // Nothing more will reach the channel: unanswered flushes are "closed".
      if (this.#flushHead < (this.#flushes?.length ?? 0)) {
        this.#queueSettle();
      }
      return "close";
    }
    this.#flags |= WAITING;
    return "yield";
  }

  #outputWritten(n: number): void {
    this.#delivered += n;
    this.#settle();
  }

  #outputClosed(): void {
    if ((this.#flags & GONE) !== 0) return;
    this.#flags = (this.#flags | GONE) & ~(WAITING | TEXT_HIGH);
    // Nothing pending can be delivered any more: let the memory go.
    this.#queue = null;
    this.#buf = null;
    this.#bufLen = 0;
    this.#text = "";
    this.#taken = this.#written;
    this.#settle();
  }

  #abort(reason: unknown): void {
    const flags = (this.#flags |= APP_CLOSED);
    if ((flags & GONE) !== 0) return;
    this.#outputClosed();
    if ((flags & EOS_SENT) === 0) this.#writerChannel.abort(reason);
  }

  #drain(): void {
    const flags = this.#flags;
    if ((flags & (GONE | EOS_SENT | DRAINING)) !== 0) return;
    this.#flags = flags | DRAINING;
    const length = this.#length;
    if (length >= 0 && this.#written < length) {
      return this.#abort(
        new Error(
          `Body: output ended after ${this.#written} of the ${length} declared bytes`,
        ),
      );
    }
    this.#wakeChannel();
  }

  #queueSettle(): void {
    if ((this.#flags & SETTLE_QUEUED) !== 0) return;
    this.#flags |= SETTLE_QUEUED;
    queueMicrotask(() => {
      this.#flags &= ~SETTLE_QUEUED;
      this.#settle();
    });
  }

  // Answers, in order, every flush whose bytes were all delivered, and all
  // of them with "closed" once the channel is gone. A throwing callback does
  // not stop the others; its exception goes to the channel afterwards.
  #settle(): void {
    const flushes = this.#flushes;
    if (flushes === null) return;
    let errors: unknown[] | null = null;
    while (this.#flushHead < flushes.length) {
      const i = this.#flushHead;
      const target = flushes[i] as number;
      let result: FlushResult;
      if (target <= this.#delivered) result = "written";
      else if (
        (this.#flags & GONE) !== 0 ||
        ((this.#flags & EOS_SENT) !== 0 && target > this.#taken)
      ) result = "closed"; // these bytes can no longer reach the channel
      else break;
      const callback = flushes[i + 1] as FlushCallback;
      this.#flushHead = i + 2;
      try {
        callback(result);
      } catch (error) {
        (errors ??= []).push(error);
      }
    }
    if (this.#flushHead === flushes.length) {
      flushes.length = 0;
      this.#flushHead = 0;
    }
    if (errors !== null) {
      for (const error of errors) this.#writerChannel.callbackError(error);
    }
  }
}

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
  return new Body(token, "read", channel, options);
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
  return new Body(token, "write", channel, options);
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
  off = 0,
  len: number = bytes.length - off,
): void {
  friend.deliver(body, bytes, off, len);
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
  friend.end(body, false, undefined);
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
  friend.end(body, true, error);
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
  return friend.next(body);
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
  friend.written(body, n);
}

/**
 * The output channel closed or failed (consumer cancelled, client gone):
 * pending output is dropped, every pending flush answers `"closed"`, the
 * body reports closed and later writes are dropped without throwing.
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
export function outputClosed(body: Body<"write">): void {
  friend.closed(body);
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
  friend.drain(body);
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
  friend.abort(body, reason);
}
