/**
 * The channel interfaces: what a body needs from the source it reads or
 * the output it writes to. Adapters implement them; the core calls them.
 * Re-exported by `body.ts`, whose channel-end functions (`deliverInput`,
 * `nextOutput`, …) are how a channel answers.
 *
 * @module
 */

/**
 * What a reader body needs from its source. Implemented by adapters.
 */
export interface ReadChannel {
  /**
   * The body wants bytes: answer once, now or later, with
   * `deliverInput` (one chunk), `endInput` or
   * `failInput`. Called only while a read is scheduled, nothing is
   * buffered and no request is outstanding, so the body holds at most one
   * chunk that no read asked for.
   */
  request(): void;
  /**
   * The reader was closed (`Body.closeReader` or
   * `failInput`): release the source, e.g. cancel its stream with
   * `reason`. Called at most once, never after the input ended by itself.
   */
  release(reason: unknown): void;
  /**
   * An application callback (`onRead`, `onEof`) that the body ran on the
   * channel's behalf threw `error`. The body is still consistent; the
   * channel decides what the failure means (adapters close the body).
   */
  callbackError(error: unknown): void;
  /**
   * Optional. The application keeps the bytes delivered last for good (it
   * hands them on without a copy): never reuse their memory — deliver the
   * next chunk in new memory. Called only while those bytes are the
   * application's, before its next read. A channel without it lends only:
   * its bytes are copied by whoever keeps them.
   */
  keep?(): void;
}

/**
 * What a writer body needs from its output channel. Implemented by adapters.
 */
export interface WriteChannel {
  /**
   * Output became available, or the writer was closed, after
   * `nextOutput` last returned `"yield"`. Called from a microtask,
   * once per burst of writes, never inside an application call.
   */
  wake(): void;
  /**
   * The writer was aborted (`abortOutput`) or cut (past its
   * `maxPendingBytes`): end the output without a clean end-of-stream, with
   * `reason`. Called at most once, never after `nextOutput`
   * returned `"close"` or the channel reported itself closed.
   */
  abort(reason: unknown): void;
  /**
   * A flush callback that the body ran on the channel's behalf threw
   * `error`. Every other flush was still answered.
   */
  callbackError(error: unknown): void;
  /**
   * Optional. The application called `Body.flush`: every byte
   * written so far should leave now (a compressor emits what it holds).
   * Called from a microtask, once per burst of flushes, never inside an
   * application call, never after the channel closed or
   * `nextOutput` returned `"close"`.
   */
  flush?(): void;
  /**
   * Optional. The application started watching the body's `signal`: report
   * the output's loss (with `outputClosed`) as soon as it happens, even
   * while nothing is written — a channel that otherwise notices only at
   * its next write (a compressor over another body) must listen now.
   * Called at most once, from the first read of `signal`, never after the
   * output was lost.
   */
  watch?(): void;
}
