/**
 * The channel end of `bodyFromWritable`: a writer body whose coalesced
 * chunks are written to an existing `WritableStream`. Bytes flow body →
 * `writer.write(chunk)` → the sink; "written" means the sink's write
 * promise resolved. Private to the writable capability.
 *
 * @module
 */

import {
  type Body,
  createWriter,
  nextOutput,
  outputClosed,
  outputWritten,
  type WriteChannel,
  type WriterOptions,
} from "../../body.ts";
import { reportCallbackError } from "../../_body/check.ts";

// The channel end of bodyFromWritable. Write promises resolve in order, so
// one bound handler and a queue of lengths count what reached the sink.
export class WritableSink implements WriteChannel {
  readonly body: Body<"write">;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lengths: number[] = []; // of writes in flight, oldest at #head
  #head = 0;
  #onError: ((error: unknown) => void) | undefined;

  constructor(
    stream: WritableStream<Uint8Array>,
    options: WriterOptions,
    onError: ((error: unknown) => void) | undefined,
  ) {
    this.#onError = onError;
    this.#writer = stream.getWriter();
    this.body = createWriter(this, options);
    this.#writer.closed.then(undefined, this.#broken);
    this.#pump(); // nothing yet: registers for a wake
  }

  wake(): void {
    this.#pump();
  }

  abort(reason: unknown): void {
    // The stream may have failed already; then there is nothing to abort.
    this.#writer.abort(reason).catch(() => {});
  }

  callbackError(error: unknown): void {
    outputClosed(this.body, error);
    this.abort(error);
    reportCallbackError("bodyFromWritable", this.#onError, error);
  }

  #pump(): void {
    for (;;) {
      const out = nextOutput(this.body);
      if (out === "yield") return;
      if (out === "close") {
        this.#writer.close().then(undefined, this.#broken);
        return;
      }
      this.#lengths.push(out.length);
      this.#writer.write(out).then(this.#wrote, this.#broken);
    }
  }

  #wrote = (): void => {
    const n = this.#lengths[this.#head++]!;
    if (this.#head === this.#lengths.length) {
      this.#lengths.length = 0;
      this.#head = 0;
    }
    outputWritten(this.body, n);
  };

  // The stream errored: the reason already reached whoever errored it; for
  // the body it means "closed".
  #broken = (error: unknown): void => {
    outputClosed(this.body, error);
  };
}
