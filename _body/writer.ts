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

import { Body, DEFAULT_BUFFER_SIZE, type FlushResult } from "./abstract.ts";
import type { WriteChannel } from "./channel.ts";
import {
  checkBytes,
  checkChannel,
  checkChar,
  checkIndex,
  checkText,
  describe,
  utf8Length,
} from "./check.ts";
import { Faraday } from "./faraday.ts";
import { Limits } from "./limits.ts";
import { type FlushCallback, FlushQueue, type Progress } from "./flushes.ts";

const WRITE_CHANNEL = ["wake", "abort", "callbackError"] as const;

/**
 * What the application may still do: `"open"` (write) or `"closed"`
 * (`closeWriter()` or an abort: writes throw).
 */
type WriterState = "open" | "closed";

/**
 * Where the output stands:
 * - `"live"`: the channel takes chunks;
 * - `"waiting"`: live, and the channel waits to be woken for output
 *   (`nextOutput()` returned `"yield"`);
 * - `"ending"`: `closeWriter()` or `endOutput()`: the pending output, then
 *   end-of-stream;
 * - `"ended"`: `nextOutput()` returned `"close"`;
 * - `"gone"`: the channel closed, or the output was aborted: pending output
 *   was dropped.
 */
type OutputState = "live" | "waiting" | "ending" | "ended" | "gone";

// Why a writer's output was lost, kept until its signal is made.
class Lost {
  constructor(readonly reason: unknown) {}
}

/** A writer body: `Body<"write">`. */
export class Writer extends Body<"write"> implements Progress {
  readonly #channel: WriteChannel;
  readonly #limits: Limits | null; // null: every default
  #state: WriterState = "open";
  #output: OutputState = "live";
  #faraday: Faraday | null = null; // made at the first write
  #taken = 0; // bytes handed to the channel, ever
  #delivered = 0; // bytes the channel reported written, ever
  #flushes: FlushQueue | null = null; // made at the first flush
  // `signal`'s controller once read; before that, why the output was lost
  // to the application (its channel closed, failed or ended it, or it was
  // aborted) if it was; null while neither. One field: idle writers are many.
  #signal: AbortController | Lost | null = null;

  /** `options` as checked by `checkWriterOptions`. */
  constructor(
    channel: WriteChannel,
    options: {
      bufferSize?: number;
      contentLength?: number;
      maxPendingBytes?: number;
    },
  ) {
    super();
    checkChannel("createWriter", channel, WRITE_CHANNEL);
    this.#channel = channel;
    this.#limits = Limits.of(options);
  }

  get side(): "write" {
    return "write";
  }

  get pendingBytes(): number {
    return this.#faraday?.pending ?? 0;
  }

  isClosed(): boolean {
    return this.#state === "closed" || !this.#live();
  }

  override writeChar(char: string): void {
    const cp = checkChar("Body.writeChar", char);
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (!this.#accept("writeChar", size)) return;
    this.#buffer().writeCodePoint(cp);
    this.#wrote("writeChar");
  }

  override writeString(str: string, off?: number, len?: number): void {
    // The hot path (millions of small writes): a whole string into a body
    // with no declared length or limit. Checks as below, no tuple.
    if (
      off === undefined && len === undefined && typeof str === "string" &&
      this.#limits === null
    ) {
      if (!this.#accept("writeString", 0) || str.length === 0) return;
      this.#buffer().writeText(str);
      return this.#wake();
    }
    const [start, count] = checkText("Body.writeString", str, off, len);
    // With a declared length, the exact UTF-8 size is checked first.
    const exact = (this.#limits?.length ?? -1) >= 0;
    const size = exact ? utf8Length(str, start, count) : 0;
    if (!this.#accept("writeString", size) || count === 0) return;
    const piece = count === str.length ? str : str.slice(start, start + count);
    if (exact) this.#buffer().writeTextNow(piece);
    else this.#buffer().writeText(piece);
    this.#wrote("writeString");
  }

  override writeBigstring(
    bytes: Uint8Array,
    off?: number,
    len?: number,
  ): void {
    const [start, count] = checkBytes("Body.writeBigstring", bytes, off, len);
    if (!this.#accept("writeBigstring", count) || count === 0) return;
    this.#buffer().writeBytes(bytes, start, count);
    this.#wrote("writeBigstring");
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
    this.#wrote("scheduleBigstring");
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
    (this.#flushes ??= new FlushQueue()).push(target, callback!);
    // A microtask only when there is something for it to do: tell the
    // channel's flush hook, or answer a flush that can be answered now.
    // Every other flush is answered by the channel's progress (one chunk,
    // one flush: no microtask per chunk on the download path).
    const output = this.#output;
    if (
      this.#channel.flush !== undefined || target <= this.#delivered ||
      output === "gone" || output === "ended"
    ) this.#queueFlushTask();
    return promise;
  }

  override abort(reason?: unknown): void {
    this.abortOutput(
      reason === undefined
        ? new Error("Body.abort: the body was aborted")
        : reason,
    );
  }

  override get signal(): AbortSignal {
    const held = this.#signal;
    if (held instanceof AbortController) return held.signal;
    const controller = this.#signal = new AbortController();
    if (held !== null) controller.abort(held.reason);
    else this.#channel.watch?.();
    return controller.signal;
  }

  override closeWriter(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    if (!this.#live()) return;
    const short = this.#limits?.short(
      "Body.closeWriter: closed",
      this.#written(),
    );
    if (short) return this.abortOutput(short);
    this.#end();
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
    if (output === "live" || output === "waiting") {
      this.#output = "waiting";
      return "yield";
    }
    this.#output = "ended";
    this.#faraday = null;
    // Nothing more will reach the channel: flushes beyond it are "closed"
    // (answered from a microtask: the channel is in the middle of a call).
    if (this.#flushes?.empty === false) this.#queueFlushTask();
    return "close";
  }

  outputWritten(n: number): void {
    const max = this.#taken - this.#delivered;
    checkIndex("outputWritten", "n", n, max);
    this.#delivered += n;
    this.#settle();
  }

  outputClosed(reason?: unknown): void {
    const output = this.#output;
    if (output === "gone") return;
    this.#output = "gone";
    this.#faraday = null; // nothing pending can be delivered any more
    if (output !== "ended") {
      this.#lose(
        reason ?? new Error("Body: the output channel closed before the end"),
      );
    }
    this.#settle();
  }

  endOutput(): void {
    if (!this.#live()) return;
    const short = this.#limits?.short(
      "endOutput: output ended",
      this.#written(),
    );
    if (short) return this.abortOutput(short);
    if (this.#state === "open") {
      this.#lose(
        new Error("Body: the output channel ended the body (a shutdown)"),
      );
    }
    this.#end();
  }

  abortOutput(reason: unknown): void {
    this.#state = "closed";
    const output = this.#output;
    if (output === "gone") return;
    this.outputClosed(reason);
    if (output !== "ended") this.#channel.abort(reason);
  }

  // ---- internals ----

  #written(): number {
    return this.#taken + (this.#faraday?.pending ?? 0);
  }

  #buffer(): Faraday {
    return (this.#faraday ??= new Faraday(
      this.#limits?.bufferSize ?? DEFAULT_BUFFER_SIZE,
    ));
  }

  // Writes are dropped, without throwing, once the output ends or is gone
  // while the application still writes.
  #dropping(): boolean {
    return this.#state === "open" && !this.#live();
  }

  // Whether a write of `size` bytes may go ahead: throws once closed by the
  // application or past the declared length, false (drop it) once the
  // output no longer takes writes.
  #accept(method: string, size: number): boolean {
    if (this.#state === "closed") {
      throw new Error(`Body.${method}: body is closed`);
    }
    if (!this.#live()) return false;
    // Counting what was written encodes pending text: only for a length.
    const limits = this.#limits;
    if (limits !== null && limits.length >= 0) {
      const over = limits.overLength(method, this.#written(), size);
      if (over) throw over;
    }
    return true;
  }

  // After an accepted write: cuts the output if it now holds more than
  // maxPendingBytes, else wakes the channel.
  #wrote(method: string): void {
    const over = this.#limits?.overPending(method, this.#faraday!);
    if (over) return this.#cut(over);
    this.#wake();
  }

  // The output is cut from the body's side: as when the channel closes,
  // and the channel is told to abort. The application may go on writing
  // (its writes are dropped).
  #cut(reason: unknown): void {
    this.outputClosed(reason);
    this.#channel.abort(reason);
  }

  // The application's writes no longer reach the output: the signal, if
  // one was made, aborts with `reason` (the first one).
  #lose(reason: unknown): void {
    const held = this.#signal;
    if (held === null) this.#signal = new Lost(reason);
    else if (held instanceof AbortController) held.abort(reason); // first wins
  }

  // Whether the channel still takes output.
  #live(): boolean {
    return this.#output === "live" || this.#output === "waiting";
  }

  // The pending output, then end-of-stream.
  #end(): void {
    const waiting = this.#output === "waiting";
    this.#output = "ending";
    if (waiting) this.#queueWake();
  }

  // Wakes the channel, from a microtask, if it waits for output.
  #wake(): void {
    if (this.#output !== "waiting") return;
    this.#output = "live";
    this.#queueWake();
  }

  #queueWake(): void {
    queueMicrotask(() => {
      if (this.#output !== "gone") this.#channel.wake();
    });
  }

  #queueFlushTask(): void {
    if (this.#flushes!.claimTask()) queueMicrotask(() => this.#afterFlush());
  }

  // After a burst of flushes: tells the channel (its optional flush hook),
  // then answers what can be answered already.
  #afterFlush(): void {
    this.#flushes!.taskRan();
    const channel = this.#channel;
    if (
      channel.flush !== undefined &&
      (this.#live() || this.#output === "ending")
    ) {
      channel.flush();
    }
    this.#settle();
  }

  // Answers what the flushes can be answered now; a callback's exception
  // goes to the channel once every flush that could be was answered.
  #settle(): void {
    const errors = this.#flushes?.settle(this) ?? null;
    if (errors !== null) {
      for (const error of errors) this.#channel.callbackError(error);
    }
  }

  // ---- Progress, for the flushes ----

  get delivered(): number {
    return this.#delivered;
  }

  get taken(): number {
    return this.#taken;
  }

  get ended(): boolean {
    return this.#output === "ended";
  }

  get gone(): boolean {
    return this.#output === "gone";
  }
}
