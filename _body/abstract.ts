/**
 * The application end of the core: the documented `Body<Rw>` API that
 * both sides share, and its types, re-exported by `body.ts`. Each side is
 * a subclass of its own — `Reader` (`reader.ts`) and `Writer`
 * (`writer.ts`) — that overrides the operations of its side;
 * the other side's operations stay the ones below, which throw a
 * `TypeError` for plain-JS callers (TypeScript rejects them at compile
 * time through their `this:` types). The class lives here, not in
 * `body.ts`, because the subclasses must extend it while `body.ts` imports
 * them: a module cannot extend a class of a module that imports it.
 *
 * @module
 */

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
   * is borrowed: it stays valid and unchanged until the next `scheduleRead`
   * or `closeReader` on this body — an `await` in between is fine (write it
   * to a file, then schedule the next read) — and may be reused by the body
   * after that. Copy what you keep longer.
   */
  onRead(buffer: Uint8Array, off: number, len: number): void;
  /**
   * The input has ended and every buffered byte was delivered. Called with
   * no argument on a clean end, with the error when the input failed.
   */
  onEof(error?: unknown): void;
}

/** The default {@linkcode BodyOptions.bufferSize}: 64 KiB. */
export const DEFAULT_BUFFER_SIZE = 65536;

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
   * exception is logged with `console.error`; either way it never escapes
   * as an uncaught error.
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
  /**
   * The most bytes the body may hold for its channel (`pendingBytes`). The
   * write that makes it hold more cuts the output, as when the channel
   * closes: the channel is told to abort (without a clean end), pending
   * output is dropped, every flush answers `"closed"`, and later writes are
   * dropped without throwing. Memory stays bounded even for a producer
   * that does not wait for its flushes. Default: no limit.
   */
  maxPendingBytes?: number;
}

/**
 * A one-way byte pipe with httpaf's callback semantics: `Body<"read">` for
 * the input of a handler (scheduleRead, closeReader), `Body<"write">` for
 * its output (write*, scheduleBigstring, flush, closeWriter). Calling a
 * method of the other side is a type error, and a `TypeError` at run time.
 *
 * Bodies are made by the adapters (`bodyFromReadable`, `streamingBody`, …)
 * or, for a new adapter, by `createReader` / `createWriter` of
 * `@httpaf/body/body`.
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
export abstract class Body<Rw extends BodySide> {
  /**
   * Not for direct use: bodies come from the adapters, or from
   * `createReader` / `createWriter`.
   *
   * @throws {TypeError} when called as `new Body()`.
   */
  constructor() {
    if (new.target === Body) {
      throw new TypeError(
        "Body: bodies are made by the adapters or by createReader/createWriter",
      );
    }
  }

  /** Which end this body is: `"read"` or `"write"`. */
  abstract get side(): Rw;

  /**
   * Bytes inside the body: for a writer, written but not yet handed to the
   * output channel; for a reader, received from the input but not yet
   * delivered to `onRead`.
   */
  abstract get pendingBytes(): number;

  /**
   * Reader: `true` once {@linkcode Body.closeReader} was called or the
   * input ended, even if buffered bytes remain. Writer: `true` after
   * {@linkcode Body.closeWriter} or once the output channel closed (client
   * gone); a closed writer may still have pending output.
   */
  abstract isClosed(): boolean;

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
    throw otherSide(this, "scheduleRead", callbacks);
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
    throw otherSide(this, "closeReader");
  }

  /**
   * Writes one Unicode code point as UTF-8 (1–4 bytes). Copies.
   *
   * @param char a string of exactly one code point (a surrogate pair counts
   *   as one; a lone surrogate cannot be written as UTF-8).
   * @throws {TypeError} on a reader body, or for anything but one code point.
   * @throws {Error} `Body.writeChar: body is closed` after `closeWriter()`.
   */
  writeChar(this: Body<"write">, char: string): void {
    throw otherSide(this, "writeChar", char);
  }

  /**
   * Writes `str.slice(off, off + len)` as UTF-8, coalesced with neighbouring
   * copied writes. Copies: `str` is not kept. `off`/`len` count UTF-16 code
   * units; a surrogate pair cut in half is written as U+FFFD, and so are
   * surrogate halves that two calls write apart.
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
    throw otherSide(this, "writeString", str, off, len);
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
    throw otherSide(this, "writeBigstring", bytes, off, len);
  }

  /**
   * Hands `bytes[off, off + len)` to the output channel **without a copy**,
   * in order with copied writes. The memory is handed over for good: never
   * modify it again, not even after a flush answered (Deno 2.9.6's server keeps a
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
    throw otherSide(this, "scheduleBigstring", bytes, off, len);
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
    throw otherSide(this, "flush", callback);
  }

  /**
   * Ends the writer as failed: never a clean end. The output channel is
   * told to abort (a response becomes a broken transfer, a stream errors
   * with `reason`), pending output is dropped, every unanswered flush
   * answers `"closed"`, {@linkcode Body.signal} aborts with `reason`, and
   * later `write*` calls throw as after `closeWriter()`. No effect once the
   * output ended cleanly or is gone. Idempotent.
   *
   * @param reason why (default: an `Error` saying the body was aborted).
   * @throws {TypeError} on a reader body.
   */
  abort(this: Body<"write">, reason?: unknown): void {
    throw otherSide(this, "abort", reason);
  }

  /**
   * Writer: an `AbortSignal` that aborts when the output can no longer take
   * what the application writes — the channel closed or failed (a client
   * gone, a timeout, `maxPendingBytes`), the channel ended it (a server
   * shutting down), or {@linkcode Body.abort} — and never after a clean
   * end. Its `reason` says why. Pass it to whatever a producer awaits (a
   * timer, an upstream `fetch`, a database cursor) to stop producing for
   * nobody. Made on first use: idle writers cost nothing for it.
   *
   * @throws {TypeError} on a reader body (its type is `never` there).
   */
  get signal(): Rw extends "write" ? AbortSignal : never {
    throw otherSide(this, "signal");
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
    throw otherSide(this, "closeWriter");
  }
}

// The error of an operation called on a body of the other side. The
// arguments are received only so that the signatures above can be kept.
function otherSide(
  body: Body<BodySide>,
  method: string,
  ..._args: unknown[]
): TypeError {
  const side = body.side;
  return new TypeError(
    `Body.${method}: not available on a ${side} body (it is a ${
      side === "read" ? "write" : "read"
    } operation)`,
  );
}
