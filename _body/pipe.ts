/**
 * `pipeBody(input, output)`: a reader body into a writer body, with
 * backpressure both ways and the ending each outcome calls for. What an
 * echo, a proxy and a file download are made of.
 *
 * @module
 */

import type { Body, FlushResult } from "./abstract.ts";
import type { Reader } from "./reader.ts";
import { readerOf, writerOf } from "./side.ts";

/** How {@linkcode pipeBody} ended. */
export interface PipeResult {
  /**
   * - `"ended"`: the input ended cleanly, the output was closed after it
   *   and every byte was written;
   * - `"closed"`: the output went away first (a client gone, a timeout);
   *   the input was closed, its source released;
   * - `"failed"`: the input failed (a truncated upload, an upstream reset)
   *   or the output refused a write; the output was ended as failed (a
   *   broken transfer, never a clean end). `error` says why.
   */
  outcome: "ended" | "closed" | "failed";
  /** Bytes moved from the input to the output. */
  bytes: number;
  /** Why it failed (`"failed"` only). */
  error?: unknown;
}

// Chunks written and not yet answered "written" while the next is read:
// one on its way to the consumer, one being read.
const IN_FLIGHT = 2;

/**
 * Moves every byte of `input` into `output` and ends `output` the way the
 * input ended: closed after a clean end; aborted (never a clean end) when
 * the input fails. When `output` goes away first (its `signal` aborts, a
 * flush answers `"closed"`), `input` is closed at once, releasing its
 * source: a client that leaves stops the upstream it was reading. An
 * output that its channel ends early (a server shutting down) is aborted
 * rather than ended: it does not carry the whole input.
 * Backpressure holds both ways: at most two chunks are on their way to the
 * output while the next is read, and the next read waits for them. A
 * chunk reaches the output without a copy when the input's source can
 * give its memory up (a stream adapter's source reads into new memory
 * then); otherwise it is copied once (the input's memory is borrowed).
 *
 * The returned promise never rejects, so it is safe to leave un-awaited.
 *
 * @param input a reader body with no read scheduled; the pipe owns it.
 * @param output a writer body; the pipe writes, flushes and ends it.
 * @returns how it ended, with the byte count.
 * @throws {TypeError} when `input` is not a reader or `output` not a writer.
 *
 * @example An echo, in one line
 * ```ts
 * import { bodyFromReadable, pipeBody, streamingBody } from "@httpaf/body";
 *
 * const input = bodyFromReadable(new Blob(["echo"]).stream());
 * const { body: output, readable } = streamingBody();
 * const piped = pipeBody(input, output);
 * const text = await new Response(readable).text();
 * const { outcome, bytes } = await piped;
 * if (text !== "echo" || outcome !== "ended" || bytes !== 4) throw new Error();
 * ```
 */
export function pipeBody(
  input: Body<"read">,
  output: Body<"write">,
): Promise<PipeResult> {
  const reader = readerOf("pipeBody", input);
  writerOf("pipeBody", output);
  return new Promise((resolve) => new Pipe(reader, output, resolve).start());
}

// The state of one pipe. `#state`: "reading" (a read is scheduled),
// "waiting" (too many chunks in flight: the next read waits for a flush),
// "ending" (the input ended: the output's last flush is awaited), "done".
class Pipe {
  readonly #input: Reader;
  readonly #output: Body<"write">;
  readonly #resolve: (result: PipeResult) => void;
  #state: "reading" | "waiting" | "ending" | "done" = "waiting";
  #inFlight = 0; // flushes asked and not yet answered
  #bytes = 0;

  constructor(
    input: Reader,
    output: Body<"write">,
    resolve: (result: PipeResult) => void,
  ) {
    this.#input = input;
    this.#output = output;
    this.#resolve = resolve;
  }

  start(): void {
    const signal = this.#output.signal;
    if (signal.aborted) return this.#gone();
    signal.addEventListener("abort", this.#gone, { once: true });
    this.#read();
  }

  #read(): void {
    this.#state = "reading";
    try {
      this.#input.scheduleRead(this);
    } catch (error) {
      // A read was already scheduled on the input: not ours to pipe.
      this.#fail(error);
    }
  }

  // ReadCallbacks, as arrow fields: `this` is scheduled as it is.
  onRead = (buffer: Uint8Array, off: number, len: number): void => {
    if (this.#state === "done") return;
    try {
      // The input's own memory when its source can give it up (no copy)
      // and the bytes fill at least half of it; a copy otherwise: a small
      // chunk (an event of a stream) would pin all of it, and the source
      // then reuses its memory rather than allocating more.
      if (
        len * 2 >= buffer.buffer.byteLength && this.#input.keepDelivered()
      ) {
        this.#output.scheduleBigstring(buffer, off, len);
      } else this.#output.writeBigstring(buffer, off, len);
    } catch (error) {
      // Closed by someone else, or past a declared length.
      return this.#fail(error);
    }
    this.#bytes += len;
    this.#inFlight++;
    this.#output.flush(this.#flushed);
    if (this.#inFlight < IN_FLIGHT) this.#read();
    else this.#state = "waiting";
  };

  onEof = (error?: unknown): void => {
    if (this.#state === "done") return;
    if (error !== undefined) return this.#fail(error);
    this.#state = "ending";
    this.#output.closeWriter();
    this.#output.flush(this.#ended);
  };

  #flushed = (result: FlushResult): void => {
    this.#inFlight--;
    if (result === "closed") return this.#gone();
    if (this.#state === "waiting") this.#read();
  };

  #ended = (result: FlushResult): void => {
    if (result === "closed") this.#gone();
    else this.#finish({ outcome: "ended", bytes: this.#bytes });
  };

  // The output went away, or its channel ended it early (a shutdown):
  // stop reading, release the input's source. An output the channel was
  // ending is aborted instead: what it carries is not the whole input, and
  // must not end like it.
  #gone = (): void => {
    if (this.#state === "done") return;
    this.#finish({ outcome: "closed", bytes: this.#bytes });
    this.#input.closeReader(); // a pending read is answered onEof(): ignored
    this.#output.abort(this.#output.signal.reason); // no effect once gone
  };

  #fail(error: unknown): void {
    if (this.#state === "done") return;
    this.#finish({ outcome: "failed", bytes: this.#bytes, error });
    this.#input.closeReader();
    this.#output.abort(error);
  }

  #finish(result: PipeResult): void {
    this.#state = "done";
    this.#output.signal.removeEventListener("abort", this.#gone);
    this.#resolve(result);
  }
}
