/**
 * The parser behind `multipart`: one input body in, one part body at a
 * time out. Private to the multipart capability.
 *
 * Bytes flow input → (the input's own read buffer) → the current part's
 * body → its `onRead`. A part's bytes are views of the input's buffer,
 * delivered without a copy; the next input read is scheduled only when the
 * part asks for more (or was closed), so those views stay valid until the
 * part's next `scheduleRead`/`closeReader`, as on any reader. Two things
 * are copied, both bounded: a chunk's tail that may be the start of a
 * delimiter split across two reads (the carry: shorter than the
 * delimiter), and a header line split across reads (at most
 * `maxHeaderBytes`).
 *
 * Order. A part ended or failed from inside its channel's `request()` is
 * answered by the core after `request()` returns; the application closing
 * a part is answered after `release()` returns. So after a part's end the
 * parser stops (`#barrier`) until a microtask, and only then goes on to the
 * next part's `onPart` or to `onEnd`: a part's `onEof` always comes first.
 *
 * Reentrance. Application callbacks run inside the parser (`onPart`, a
 * part's `onRead`) and may call back into it (`scheduleRead` → `request()`,
 * `closeReader` → `release()`); the input may answer inside
 * `scheduleRead`. Every entry point goes through `#pump`, which runs the
 * steps in a loop and only records a call made while it runs: constant
 * stack, one step at a time.
 *
 * @module
 */

import {
  type Body,
  createReader,
  deliverInput,
  endInput,
  failInput,
  type ReadCallbacks,
} from "../../body.ts";
import { reportCallbackError } from "../../_body/check.ts";
import { clientFault, HeadBlock, malformed, type PartHead } from "./headers.ts";
import { Delimiter } from "./search.ts";

/** The parser's limits; `Infinity` for none. */
export interface Limits {
  maxParts: number;
  maxHeaderBytes: number;
  maxPartBytes: number;
  maxFieldBytes: number;
}

/** A part as `onPart` receives it. */
export interface Part extends PartHead {
  body: Body<"read">;
}

/** What the application gave `multipart`. */
export interface Handlers {
  onPart: (part: Part) => void | Promise<void>;
  onEnd: (error?: unknown) => void;
}

/**
 * Where the parse stands:
 * - `"preamble"`: before the first delimiter; bytes are discarded.
 * - `"content"`: a part's content, up to the next delimiter: delivered to
 *   the part when it asks (`#partState` `"open"`), discarded once the
 *   application closed it (`"closed"`).
 * - `"line"`: the rest of a delimiter's line: `--` (the close delimiter),
 *   or optional padding and CRLF.
 * - `"head"`: a part's header lines, up to the blank line.
 * - `"ending"`: finished (`#endError`); `onEnd` is due, after the barrier.
 * - `"done"`: `onEnd` was called.
 */
type State = "preamble" | "content" | "line" | "head" | "ending" | "done";

/** The current part: none, read by the application, or closed by it. */
type PartState = "none" | "open" | "closed";

const EMPTY = new Uint8Array(0);
const CR = 13;
const LF = 10;
const DASH = 45;

/** One multipart parse; see the module doc. */
export class Parser {
  readonly #input: Body<"read">;
  readonly #delimiter: Delimiter;
  readonly #limits: Limits;
  readonly #onPart: Handlers["onPart"];
  readonly #onEnd: Handlers["onEnd"];
  readonly #callbacks: ReadCallbacks; // the input's, bound once
  #state: State = "preamble";

  // The input chunk: #buf[#pos, #buf.length) is not parsed yet; #buf[i] is
  // byte #base + i of the input. Valid until the next input read.
  #buf: Uint8Array = EMPTY;
  #pos = 0;
  #base = 0;
  #received = 0; // input bytes received
  #reading = false; // an input read is scheduled and unanswered
  #inputEnd: "open" | "ended" | "failed" = "open"; // how the input ended
  #inputError: unknown = undefined; // valid when "failed"

  // A tail that may start a delimiter the next chunk completes:
  // #carry[0, #carryLen), a proper prefix of the delimiter. At first the
  // CRLF that the first boundary line need not be preceded by.
  readonly #carry: Uint8Array;
  #carryLen = 2;

  // The current part (null for none) and its state; #wanted: its read
  // asked for bytes (request() unanswered).
  #part: Body<"read"> | null = null;
  #partState: PartState = "none";
  #wanted = false;
  #index = 0; // parts started
  #partBytes = 0; // content bytes of the current part so far
  #partMax = Infinity; // the limit on them
  #isFile = false; // the current part has a file name (maxPartBytes)

  // The delimiter's line: nothing after the boundary yet, one dash,
  // padding, or a CR that its LF must follow.
  #afterBoundary: "start" | "dash" | "padding" | "cr" = "start";
  // The header block: bytes so far (from the end of the delimiter), the
  // lines read, and a line split across reads: #line[0, #lineLen), which
  // starts at byte #lineAt of the input.
  #headBytes = 0;
  #head: HeadBlock | null = null;
  #line: Uint8Array = EMPTY;
  #lineLen = 0;
  #lineAt = 0;

  #running = false; // #pump is on the stack
  #again = false; // something happened while it ran
  #barrier = false; // a part just ended: wait for a microtask
  // The promise an async onPart returned, until it settles: the next part
  // and onEnd wait for it once the part's body ended or was closed.
  #handling: Promise<unknown> | null = null;
  #endError: unknown = undefined; // valid in "ending" unless #clean
  #clean = false;

  constructor(
    input: Body<"read">,
    boundary: string,
    handlers: Handlers,
    limits: Limits,
  ) {
    this.#input = input;
    this.#delimiter = new Delimiter(boundary);
    this.#carry = new Uint8Array(this.#delimiter.length);
    this.#carry[0] = CR;
    this.#carry[1] = LF;
    this.#onPart = handlers.onPart;
    this.#onEnd = handlers.onEnd;
    this.#limits = limits;
    this.#callbacks = { onRead: this.#onInputRead, onEof: this.#onInputEof };
  }

  /** Starts parsing: `onPart` may run before this returns. */
  start(): void {
    this.#pump();
  }

  // ---- the input ----

  #onInputRead = (buffer: Uint8Array, off: number, len: number): void => {
    this.#reading = false;
    const end = off + len;
    // The search runs to the end of #buf: bound it to the chunk.
    this.#buf = end === buffer.length ? buffer : buffer.subarray(0, end);
    this.#pos = off;
    this.#base = this.#received - off;
    this.#received += len;
    this.#pump();
  };

  #onInputEof = (error?: unknown): void => {
    this.#reading = false;
    if (error === undefined) this.#inputEnd = "ended";
    else {
      this.#inputEnd = "failed";
      this.#inputError = error;
    }
    this.#pump();
  };

  // The chunk is parsed: ask the input for the next one (the old one is no
  // longer ours then), or end when the input has.
  #need(): boolean {
    if (this.#inputEnd !== "open") {
      this.#end(this.#truncation());
      return true;
    }
    if (this.#reading) return false;
    this.#reading = true;
    this.#buf = EMPTY;
    this.#pos = 0;
    try {
      this.#input.scheduleRead(this.#callbacks); // may answer at once
    } catch (error) {
      // A read already scheduled on the input by someone else.
      this.#reading = false;
      this.#end(error);
      return true;
    }
    return false;
  }

  // What a premature end of the input means.
  #truncation(): unknown {
    if (this.#inputEnd === "failed") return this.#inputError;
    const where = this.#state === "preamble"
      ? "before any boundary"
      : this.#state === "head"
      ? `in the header block of part ${this.#index}`
      : this.#state === "line"
      ? "right after a boundary"
      : `in the content of part ${this.#index}`;
    return clientFault(
      new TypeError(
        `multipart: the input ended at byte ${this.#received} ${where}, without the closing delimiter`,
      ),
      400,
    );
  }

  // ---- the loop ----

  #pump(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    try {
      do {
        this.#again = false;
        try {
          while (this.#step()) {
            // each step did something: go on
          }
        } catch (error) {
          // Only a failure of the parser itself lands here (application
          // callbacks are caught where they are called): the parse ends
          // with it, so it reaches onEnd.
          this.#end(error);
          this.#again = true;
        }
      } while (this.#again);
    } finally {
      this.#running = false;
    }
  }

  // One step; false when the parser must wait (for the input, the part,
  // or the barrier).
  #step(): boolean {
    if (this.#barrier) return false;
    if (this.#handling !== null && this.#partState !== "open") return false;
    switch (this.#state) {
      case "preamble":
      case "content":
        return this.#content();
      case "line":
        return this.#delimiterLine();
      case "head":
        return this.#headLines();
      case "ending":
        return this.#ending();
      case "done":
        return false;
    }
  }

  // A part just ended or was closed: go on only from a fresh microtask,
  // once the core has answered its read.
  #raiseBarrier(): void {
    this.#barrier = true;
    queueMicrotask(this.#lowerBarrier);
  }

  #lowerBarrier = (): void => {
    this.#barrier = false;
    this.#pump();
  };

  // ---- content: the search for the next delimiter ----

  #content(): boolean {
    const mode = this.#state === "preamble"
      ? "discard"
      : this.#partState === "open"
      ? "deliver"
      : "skip";
    if (mode === "deliver" && !this.#wanted) return false;
    const delimiter = this.#delimiter;
    const buf = this.#buf;
    const pos = this.#pos;
    const end = buf.length;
    const carried = this.#carryLen;
    if (carried > 0) {
      if (pos === end) return this.#need();
      const n = delimiter.continues(buf, pos, end, carried);
      if (n < 0) {
        // Not a delimiter after all: the carried bytes are content.
        this.#carryLen = 0;
        return this.#take(mode, this.#carry, 0, carried);
      }
      if (carried + n < delimiter.length) {
        this.#carryLen = carried + n; // still a prefix: carry on
        this.#carry.set(buf.subarray(pos, end), carried);
        this.#pos = end;
        return this.#need();
      }
      this.#carryLen = 0;
      this.#pos = pos + n;
      this.#toLine();
      return true;
    }
    if (pos === end) return this.#need();
    const at = delimiter.find(buf, pos, end);
    let stop = at;
    if (at >= 0) {
      this.#pos = at + delimiter.length;
      this.#toLine();
    } else {
      const tail = delimiter.tail(buf, pos, end);
      stop = tail < 0 ? end : tail;
      // A possible delimiter start: copied, the chunk will be reused.
      for (let i = stop; i < end; i++) this.#carry[i - stop] = buf[i]!;
      this.#carryLen = end - stop;
      this.#pos = end;
    }
    // State first, delivery last: the application may call back at once.
    return this.#take(mode, buf, pos, stop - pos);
  }

  // Content bytes: counted against the part's limit, then delivered to
  // the part (no copy), skipped, or discarded (preamble).
  #take(
    mode: "discard" | "deliver" | "skip",
    bytes: Uint8Array,
    off: number,
    len: number,
  ): boolean {
    if (len === 0 || mode === "discard") return true;
    const total = this.#partBytes + len;
    if (total > this.#partMax) {
      this.#end(this.#partTooLarge());
      return true;
    }
    this.#partBytes = total;
    if (mode === "deliver") {
      this.#wanted = false;
      deliverInput(this.#part!, bytes, off, len);
    }
    return true;
  }

  #toLine(): void {
    this.#state = "line";
    this.#afterBoundary = "start";
    this.#headBytes = 0;
  }

  // ---- the rest of a delimiter's line ----

  // `--` ends the multipart body; otherwise optional spaces or tabs, then
  // CRLF (counted in the next header block). An open part is ended only
  // when it asks: its end then comes before anything about the next part.
  #delimiterLine(): boolean {
    if (this.#partState === "open" && !this.#wanted) return false;
    const buf = this.#buf;
    const end = buf.length;
    let pos = this.#pos;
    for (; pos < end; pos++) {
      const c = buf[pos]!;
      const line = this.#afterBoundary;
      if (line === "start" && c === DASH) {
        this.#afterBoundary = "dash";
        continue;
      }
      if (line === "dash") {
        if (c !== DASH) {
          return this.#malformed("a boundary followed by a single -", pos);
        }
        this.#pos = pos + 1;
        this.#end(undefined, true); // the close delimiter
        return true;
      }
      if (++this.#headBytes > this.#limits.maxHeaderBytes) {
        this.#end(this.#headerTooLarge(this.#index + 1));
        return true;
      }
      if (line === "cr") {
        if (c !== LF) {
          return this.#malformed("a CR without LF after a boundary", pos);
        }
        this.#pos = pos + 1;
        return this.#nextPart();
      }
      if (c === CR) this.#afterBoundary = "cr";
      else if (c === 32 || c === 9) this.#afterBoundary = "padding";
      else return this.#malformed("expected CRLF or -- after a boundary", pos);
    }
    this.#pos = pos;
    return this.#need();
  }

  // The delimiter's line ended: the part before it is complete.
  #nextPart(): boolean {
    this.#endPart();
    if (++this.#index > this.#limits.maxParts) {
      this.#end(
        tooLarge(
          `multipart: more than maxParts (${this.#limits.maxParts}) parts`,
        ),
      );
      return true;
    }
    this.#state = "head";
    this.#head = new HeadBlock();
    this.#lineLen = 0;
    return true;
  }

  // Ends the current part cleanly (it asked: its read is answered onEof()).
  #endPart(): void {
    const part = this.#part;
    const state = this.#partState;
    this.#part = null;
    this.#partState = "none";
    this.#wanted = false;
    if (part !== null && state === "open") {
      this.#raiseBarrier();
      endInput(part);
    }
  }

  // ---- the header block ----

  #headLines(): boolean {
    const buf = this.#buf;
    const end = buf.length;
    const max = this.#limits.maxHeaderBytes;
    let pos = this.#pos;
    while (pos < end) {
      const lf = buf.indexOf(LF, pos);
      const stop = lf < 0 ? end : lf + 1;
      this.#headBytes += stop - pos;
      if (this.#headBytes > max) {
        this.#end(this.#headerTooLarge(this.#index));
        return true;
      }
      if (lf < 0) {
        this.#keepLine(buf, pos, end);
        this.#pos = end;
        return this.#need();
      }
      this.#pos = stop;
      let error: TypeError | null;
      if (this.#lineLen > 0) {
        this.#keepLine(buf, pos, lf);
        const at = this.#lineAt;
        const len = this.#lineLen;
        this.#lineLen = 0;
        error = this.#headerLine(this.#line, 0, len, at);
      } else {
        error = this.#headerLine(buf, pos, lf, this.#base + pos);
      }
      if (error !== null) {
        this.#end(error);
        return true;
      }
      if (this.#state !== "head") return true; // the part began
      pos = stop;
    }
    this.#pos = pos;
    return this.#need();
  }

  // Keeps bytes[from, to) of a header line that goes on in the next chunk.
  #keepLine(bytes: Uint8Array, from: number, to: number): void {
    if (this.#lineLen === 0) this.#lineAt = this.#base + from;
    const need = this.#lineLen + to - from;
    if (need > this.#line.length) {
      const grown = new Uint8Array(Math.max(need, 2 * this.#line.length, 256));
      grown.set(this.#line.subarray(0, this.#lineLen));
      this.#line = grown;
    }
    this.#line.set(bytes.subarray(from, to), this.#lineLen);
    this.#lineLen = need;
  }

  // A header line `bytes[from, lf)` (its LF at `lf`) starting at byte `at`:
  // added to the block, or the blank line that ends it.
  #headerLine(
    bytes: Uint8Array,
    from: number,
    lf: number,
    at: number,
  ): TypeError | null {
    const end = lf - 1; // where the CR must be
    if (lf === from || bytes[end] !== CR) {
      return malformed("a header line ending in a bare LF", at + lf - from);
    }
    const cr = bytes.indexOf(CR, from);
    if (cr < end) {
      return malformed("a bare CR in a header line", at + cr - from);
    }
    if (end > from) return this.#head!.add(bytes, from, end, at);
    const head = this.#head!.finish(this.#index, at + 2);
    if (head instanceof TypeError) return head;
    this.#head = null;
    this.#startPart(head);
    return null;
  }

  #startPart(head: PartHead): void {
    const body = createReader({
      request: () => {
        if (this.#part !== body) return; // ended: the core asks no more
        this.#wanted = true;
        this.#pump();
      },
      release: () => this.#released(body),
      callbackError: (error) => this.#callbackFailed(error),
    });
    this.#part = body;
    this.#partState = "open";
    this.#wanted = false;
    this.#partBytes = 0;
    this.#isFile = head.filename !== undefined;
    this.#partMax = this.#isFile
      ? this.#limits.maxPartBytes
      : this.#limits.maxFieldBytes;
    this.#state = "content";
    const onPart = this.#onPart;
    let result: unknown;
    try {
      result = onPart({ ...head, body });
    } catch (error) {
      return this.#end(error);
    }
    // An async onPart: the next part and onEnd wait for it (its handler
    // may still be busy with this part after its body ended), and its
    // rejection is handled as a throw would be (an unhandled rejection
    // would end the process).
    if (typeof (result as PromiseLike<void> | undefined)?.then === "function") {
      const handling = this.#handling = Promise.resolve(result);
      handling.then(this.#handled, this.#rejected);
    }
  }

  #handled = (): void => {
    this.#handling = null;
    this.#pump();
  };

  #rejected = (error: unknown): void => {
    this.#handling = null;
    this.#callbackFailed(error);
    this.#pump();
  };

  // The part's reader was closed: by the application (its content is
  // skipped from now on), or by the parser ending or failing it (no longer
  // the current part then: nothing to do).
  #released(body: Body<"read">): void {
    if (this.#part !== body || this.#partState !== "open") return;
    this.#partState = "closed";
    this.#wanted = false;
    this.#raiseBarrier(); // the core answers its pending read after this
  }

  // A part's onRead/onEof threw when the parser answered it, or an async
  // onPart rejected: the parse ends with that exception, which reaches
  // onEnd (or the console, once onEnd was called).
  #callbackFailed(error: unknown): void {
    if (this.#state === "done") {
      return reportCallbackError("multipart", undefined, error);
    }
    if (this.#state === "ending") {
      this.#endError = error;
      this.#clean = false;
      return;
    }
    this.#end(error);
    this.#pump();
  }

  // ---- the end ----

  // The parse ends: cleanly at the close delimiter, else with `error` (the
  // current part fails with it and the input is closed). onEnd follows.
  #end(error: unknown, clean = false): void {
    if (this.#state === "ending" || this.#state === "done") return;
    this.#state = "ending";
    this.#endError = error;
    this.#clean = clean;
    if (clean) this.#endPart();
    else {
      const part = this.#part;
      const open = this.#partState === "open";
      this.#part = null;
      this.#partState = "none";
      this.#wanted = false;
      if (part !== null && open) {
        this.#raiseBarrier();
        failInput(part, error);
      }
    }
    this.#buf = EMPTY;
    this.#pos = 0;
    // Nothing more is parsed: the source is released (may answer our
    // pending read with onEof() right now; it is ignored in "ending").
    this.#input.closeReader();
  }

  #ending(): boolean {
    this.#state = "done";
    const onEnd = this.#onEnd;
    try {
      if (this.#clean) onEnd();
      else onEnd(this.#endError);
    } catch (error) {
      // Nothing is left to tell: the parse is over and its input closed.
      reportCallbackError("multipart", undefined, error);
    }
    return false;
  }

  #malformed(what: string, pos: number): boolean {
    this.#end(malformed(what, this.#base + pos));
    return true;
  }

  #partTooLarge(): RangeError {
    const [kind, option] = this.#isFile
      ? ["file", "maxPartBytes"]
      : ["field", "maxFieldBytes"];
    return tooLarge(
      `multipart: ${kind} part ${this.#index} is larger than ${option} (${this.#partMax} bytes)`,
    );
  }

  #headerTooLarge(index: number): RangeError {
    return tooLarge(
      `multipart: the header block of part ${index} is larger than maxHeaderBytes (${this.#limits.maxHeaderBytes} bytes)`,
    );
  }
}

// A limit's error, marked for withBody's 413.
function tooLarge(message: string): RangeError {
  return clientFault(new RangeError(message), 413);
}
