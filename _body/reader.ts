/**
 * The read side: a small state machine between one source (a
 * {@linkcode ReadChannel}) and one scheduled read at a time. The body asks
 * its channel for bytes only while a read is scheduled and nothing is
 * buffered, so it holds at most one chunk that no read asked for.
 *
 * Private: reached through `Body<"read">` and the channel-end functions of
 * `body.ts`.
 *
 * @module
 */

import { Body, type ReadCallbacks } from "./abstract.ts";
import type { ReadChannel } from "./channel.ts";
import { checkChannel, describe } from "./check.ts";

const READ_CHANNEL = ["request", "release", "callbackError"] as const;

/**
 * Where the input stands:
 * - `"open"`: the source may bring more; nothing is asked of it.
 * - `"requested"`: a `ReadChannel.request()` is unanswered.
 * - `"ended"`: the source ended cleanly (bytes may still be held).
 * - `"closed"`: `closeReader()` released the source (bytes may still be held).
 * - `"failed"`: the input failed with `#error`; held bytes were dropped.
 */
type InputState = "open" | "requested" | "ended" | "closed" | "failed";

/** A reader body: `Body<"read">`. */
export class Reader extends Body<"read"> {
  readonly #channel: ReadChannel;
  #state: InputState = "open";
  #serving = false; // the read loop (#serve) is on the stack
  // The scheduled read: both set exactly while one is unanswered.
  #onRead: ReadCallbacks["onRead"] | null = null;
  #onEof: ReadCallbacks["onEof"] | null = null;
  // The held chunk is #held[#heldOff, #heldOff + #heldLen), valid iff
  // #heldLen > 0.
  #held: Uint8Array | null = null;
  #heldOff = 0;
  #heldLen = 0;
  #error: unknown = undefined; // valid in "failed"

  constructor(channel: ReadChannel) {
    super();
    checkChannel("createReader", channel, READ_CHANNEL);
    this.#channel = channel;
  }

  get side(): "read" {
    return "read";
  }

  get pendingBytes(): number {
    return this.#heldLen;
  }

  isClosed(): boolean {
    return this.#state !== "open" && this.#state !== "requested";
  }

  override scheduleRead(callbacks: ReadCallbacks): void {
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
    if (!this.#serving) this.#serve(true);
  }

  /**
   * Asks the channel to leave the memory of the bytes delivered last to
   * the application for good; false when it only lends (then copy them).
   * For `pipeBody`, inside `onRead`, before the next read.
   */
  keepDelivered(): boolean {
    const keep = this.#channel.keep;
    if (keep === undefined) return false;
    keep.call(this.#channel);
    return true;
  }

  override closeReader(): void {
    const state = this.#state;
    if (state !== "open" && state !== "requested") return;
    this.#state = "closed";
    this.#channel.release(undefined);
    this.#resume(true);
  }

  // ---- the channel end (body.ts: deliverInput, endInput, failInput) ----

  deliverInput(bytes: Uint8Array, off: number, len: number): void {
    const state = this.#state;
    if (state === "requested") this.#state = "open";
    else if (state !== "open") return; // closed or ended: input is discarded
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

  endInput(): void {
    const state = this.#state;
    if (state !== "open" && state !== "requested") return;
    this.#state = "ended";
    this.#resume(false);
  }

  failInput(error: unknown): void {
    const state = this.#state;
    if (state !== "open" && state !== "requested") return;
    // "An error shuts down the reader": held bytes are dropped too, so a
    // failure never looks like a clean end.
    this.#state = "failed";
    this.#held = null;
    this.#heldLen = 0;
    this.#error = error === undefined
      ? new Error("failInput: the input failed without a reason")
      : error;
    this.#channel.release(this.#error);
    this.#resume(false);
  }

  // ---- the read loop ----

  // Serves a scheduled read unless the loop is already on the stack.
  #resume(direct: boolean): void {
    if (this.#onRead !== null && !this.#serving) this.#serve(direct);
  }

  // Serves scheduled reads until one has to wait for the source. A read
  // scheduled inside a callback is served by the next turn of this loop,
  // not by recursion. `direct`: called from the application, so a callback
  // exception is thrown to it; otherwise it goes to the channel.
  #serve(direct: boolean): void {
    this.#serving = true;
    try {
      while (this.#onRead !== null && this.#answer()) {
        // answered: a read scheduled by the callback is served next turn
      }
    } catch (error) {
      // Off the stack before the channel hears of it: a failure that
      // causes is answered at once.
      this.#serving = false;
      // A read scheduled before the throw must not be stranded.
      if (this.#onRead !== null) queueMicrotask(() => this.#resume(false));
      if (direct) throw error;
      this.#channel.callbackError(error);
    } finally {
      this.#serving = false;
    }
  }

  // Answers the scheduled read if it can be answered now, else asks the
  // source once. Returns whether the loop should go on. The callbacks are
  // cleared before one runs, so it may schedule the next read.
  #answer(): boolean {
    const onRead = this.#onRead!;
    const onEof = this.#onEof!;
    if (this.#heldLen > 0) {
      const buffer = this.#held!;
      const off = this.#heldOff;
      const len = this.#heldLen;
      this.#held = null;
      this.#heldLen = 0;
      this.#onRead = this.#onEof = null;
      onRead(buffer, off, len);
      return true;
    }
    const state = this.#state;
    if (state === "open") {
      this.#state = "requested";
      this.#channel.request(); // may answer at once
      // Answered already (a chunk, an empty chunk, EOF): next turn.
      return this.#state !== "requested";
    }
    if (state === "requested") return false; // the source will answer
    this.#onRead = this.#onEof = null;
    if (state === "failed") onEof(this.#error);
    else onEof();
    return true;
  }
}
