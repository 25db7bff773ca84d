/**
 * The write side: the application's writes go into a {@linkcode Faraday}
 * (the coalescing buffer, made at the first write); the output channel (a
 * {@linkcode WriteChannel}) takes chunks from it and reports how many
 * bytes reached their destination; flushes are answered from that count.
 *
 * Byte counts, all monotonic: bytes *written* by the application
 * (`#taken` + what the Faraday holds) ≥ bytes *taken* by the channel
 * (`#taken`) ≥ bytes the channel reported *delivered* (`#delivered`). A
 * flush waits for the written count at the time it was made.
 *
 * Private: reached through `Body<"write">` and the channel-end functions of
 * `body.ts`.
 *
 * @module
 */

import { Body } from "./_body.ts";
import {
  checkBytes,
  checkChannel,
  checkIndex,
  describe,
  utf8Length,
} from "./_check.ts";
import { Faraday } from "./_faraday.ts";
import type { FlushResult, WriteChannel } from "./body.ts";

type FlushCallback = (result: FlushResult) => void;

const WRITE_CHANNEL = ["wake", "abort", "callbackError"] as const;

/**
 * What the application may still do: `"open"` (write) or `"closed"`
 * (`closeWriter()` or an abort: writes throw).
 */
type WriterState = "open" | "closed";

/**
 * Where the output stands:
 * - `"live"`: the channel takes chunks;
 * - `"ending"`: `closeWriter()` or `endOutput()`: the pending output, then
 *   end-of-stream;
 * - `"ended"`: `nextOutput()` returned `"close"`;
 * - `"gone"`: the channel closed, or the output was aborted: pending output
 *   was dropped.
 */
type OutputState = "live" | "ending" | "ended" | "gone";

// One unanswered flush in the ring of #lastFlush: the written count it
// waits for, its callback, and the next flush (after the newest: the
// oldest).
class Flush {
  next: Flush = this;
  constructor(readonly target: number, readonly callback: FlushCallback) {}
}

/** A writer body: `Body<"write">`. */
export class Writer extends Body<"write"> {
  readonly #channel: WriteChannel;
  readonly #bufferSize: number;
  readonly #length: number; // the declared exact length, or -1 for none
  #state: WriterState = "open";
  #output: OutputState = "live";
  #faraday: Faraday | null = null; // made at the first write
  #taken = 0; // bytes handed to the channel, ever
  #delivered = 0; // bytes the channel reported written, ever
  #lastFlush: Flush | null = null; // the newest unanswered flush
  #waiting = false; // nextOutput() returned "yield": wake the channel
  #flushTask = false; // a #afterFlush microtask is queued

  constructor(channel: WriteChannel, bufferSize: number, length: number) {
    super();
    checkChannel("createWriter", channel, WRITE_CHANNEL);
    this.#channel = channel;
    this.#bufferSize = bufferSize;
    this.#length = length;
  }

  get side(): "write" {
    return "write";
  }

  get pendingBytes(): number {
    return this.#faraday?.pending ?? 0;
  }

  isClosed(): boolean {
    return this.#state === "closed" || this.#output !== "live";
  }

  override writeChar(char: string): void {
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
    if (!this.#accept("writeChar", size)) return;
    this.#buffer().writeCodePoint(cp);
    this.#wake();
  }

  override writeString(str: string, off?: number, len?: number): void {
    if (typeof str !== "string") {
      throw new TypeError(
        "Body.writeString: expected a string, received " + describe(str),
      );
    }
    const start = off === undefined
      ? 0
      : checkIndex("Body.writeString", "off", off, str.length);
    const count = len === undefined
      ? str.length - start
      : checkIndex("Body.writeString", "len", len, str.length - start);
    // With a declared length, the exact UTF-8 size is checked first.
    const size = this.#length < 0 ? 0 : utf8Length(str, start, count);
    if (!this.#accept("writeString", size) || count === 0) return;
    const piece = count === str.length ? str : str.slice(start, start + count);
    if (this.#length < 0) this.#buffer().writeText(piece);
    else this.#buffer().writeTextNow(piece);
    this.#wake();
  }

  override writeBigstring(
    bytes: Uint8Array,
    off?: number,
    len?: number,
  ): void {
    const [start, count] = checkBytes("Body.writeBigstring", bytes, off, len);
    if (!this.#accept("writeBigstring", count) || count === 0) return;
    this.#buffer().writeBytes(bytes, start, count);
    this.#wake();
  }

  override scheduleBigstring(
    bytes: Uint8Array,
    off?: number,
    len?: number,
  ): void {
    const [start, count] = checkBytes(
      "Body.scheduleBigstring",
      bytes,
      off,
      len,
    );
    if (!this.#accept("scheduleBigstring", count) || count === 0) return;
    this.#buffer().schedule(
      count === bytes.length ? bytes : bytes.subarray(start, start + count),
    );
    this.#wake();
  }

  override flush(callback: FlushCallback): void;
  override flush(): Promise<FlushResult>;
  override flush(callback?: FlushCallback): void | Promise<FlushResult> {
    if (callback !== undefined && typeof callback !== "function") {
      throw new TypeError(
        "Body.flush: expected a callback function or nothing, received " +
          describe(callback),
      );
    }
    let promise: Promise<FlushResult> | undefined;
    if (callback === undefined) {
      promise = new Promise((resolve) => (callback = resolve));
    }
    // Once the channel is gone or writes are dropped, nothing more reaches
    // it: a later flush can only answer "closed" (so write/flush loops end).
    const lost = this.#output === "gone" || this.#dropping();
    const target = lost ? Infinity : this.#written();
    const flush = new Flush(target, callback!);
    const last = this.#lastFlush;
    if (last !== null) {
      flush.next = last.next;
      last.next = flush;
    }
    this.#lastFlush = flush;
    this.#queueFlushTask();
    return promise;
  }

  override closeWriter(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    if (this.#output !== "live") return;
    const length = this.#length;
    if (length >= 0 && this.#written() < length) {
      return this.abortOutput(
        new Error(
          `Body.closeWriter: closed after ${this.#written()} of the ${length} declared bytes`,
        ),
      );
    }
    this.#output = "ending";
    this.#wake();
  }

  // ---- the channel end (body.ts: nextOutput, outputWritten, …) ----

  nextOutput(): Uint8Array | "yield" | "close" {
    const output = this.#output;
    if (output === "gone" || output === "ended") return "close";
    const chunk = this.#faraday?.shift() ?? null;
    if (chunk !== null) {
      this.#taken += chunk.length;
      return chunk;
    }
    if (output === "live") {
      this.#waiting = true;
      return "yield";
    }
    this.#output = "ended";
    this.#faraday = null;
    // Nothing more will reach the channel: flushes beyond it are "closed"
    // (answered from a microtask: the channel is in the middle of a call).
    if (this.#lastFlush !== null) this.#queueFlushTask();
    return "close";
  }

  outputWritten(n: number): void {
    const max = this.#taken - this.#delivered;
    checkIndex("outputWritten", "n", n, max);
    this.#delivered += n;
    this.#settle();
  }

  outputClosed(): void {
    if (this.#output === "gone") return;
    this.#output = "gone";
    this.#waiting = false;
    this.#faraday = null; // nothing pending can be delivered any more
    this.#settle();
  }

  endOutput(): void {
    if (this.#output !== "live") return;
    const length = this.#length;
    if (length >= 0 && this.#written() < length) {
      return this.abortOutput(
        new Error(
          `endOutput: output ended after ${this.#written()} of the ${length} declared bytes`,
        ),
      );
    }
    this.#output = "ending";
    this.#wake();
  }

  abortOutput(reason: unknown): void {
    this.#state = "closed";
    const output = this.#output;
    if (output === "gone") return;
    this.outputClosed();
    if (output !== "ended") this.#channel.abort(reason);
  }

  // ---- internals ----

  #written(): number {
    return this.#taken + (this.#faraday?.pending ?? 0);
  }

  #buffer(): Faraday {
    return (this.#faraday ??= new Faraday(this.#bufferSize));
  }

  // Writes are dropped, without throwing, once the output ends or is gone
  // while the application still writes.
  #dropping(): boolean {
    return this.#state === "open" && this.#output !== "live";
  }

  // Whether a write of `size` bytes may go ahead: throws once closed by the
  // application or past the declared length, false (drop it) once the
  // output no longer takes writes.
  #accept(method: string, size: number): boolean {
    if (this.#state === "closed") {
      throw new Error(`Body.${method}: body is closed`);
    }
    if (this.#output !== "live") return false;
    const length = this.#length;
    if (length >= 0 && this.#written() + size > length) {
      throw new RangeError(
        `Body.${method}: ${size} more bytes would exceed the declared length of ${length} bytes (${this.#written()} written)`,
      );
    }
    return true;
  }

  // Wakes the channel, from a microtask, if it waits for output.
  #wake(): void {
    if (!this.#waiting) return;
    this.#waiting = false;
    queueMicrotask(() => {
      if (this.#output !== "gone") this.#channel.wake();
    });
  }

  #queueFlushTask(): void {
    if (this.#flushTask) return;
    this.#flushTask = true;
    queueMicrotask(() => this.#afterFlush());
  }

  // After a burst of flushes: tells the channel (its optional flush hook),
  // then answers what can be answered already.
  #afterFlush(): void {
    this.#flushTask = false;
    const channel = this.#channel;
    if (
      channel.flush !== undefined &&
      (this.#output === "live" || this.#output === "ending")
    ) {
      channel.flush();
    }
    this.#settle();
  }

  // Answers, in order, every flush whose bytes were all delivered, and
  // those whose bytes can no longer reach the channel with "closed". A
  // throwing callback does not stop the others; its exception goes to the
  // channel afterwards.
  #settle(): void {
    let errors: unknown[] | null = null;
    for (let last = this.#lastFlush; last !== null; last = this.#lastFlush) {
      const first = last.next;
      const result = this.#answer(first.target);
      if (result === null) break;
      if (first === last) this.#lastFlush = null;
      else last.next = first.next;
      try {
        first.callback(result);
      } catch (error) {
        (errors ??= []).push(error);
      }
    }
    if (errors !== null) {
      for (const error of errors) this.#channel.callbackError(error);
    }
  }

  // How a flush waiting for `target` written bytes is answered now, or
  // null while it must wait.
  #answer(target: number): FlushResult | null {
    if (target <= this.#delivered) return "written";
    const output = this.#output;
    if (output === "gone") return "closed";
    if (output === "ended" && target > this.#taken) return "closed";
    return null;
  }
}
