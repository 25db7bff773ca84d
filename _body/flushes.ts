/**
 * Flush bookkeeping of a writer body: the unanswered flushes, oldest
 * first, each waiting for a count of written bytes to be delivered, and
 * the rule that answers them. No I/O, no timers: the writer calls
 * {@linkcode FlushQueue.settle} whenever its counts or its output change.
 *
 * Private: owned by `Writer` (`writer.ts`).
 *
 * @module
 */

import type { FlushResult } from "./abstract.ts";

/** A flush callback. */
export type FlushCallback = (result: FlushResult) => void;

// One unanswered flush: the written count it waits for, its callback, and
// the next flush of the ring (after the newest: the oldest).
class Flush {
  next: Flush = this;
  constructor(readonly target: number, readonly callback: FlushCallback) {}
}

/** Where the writer's output stands, as far as flushes care. */
export interface Progress {
  /** Bytes the channel reported written, ever. */
  readonly delivered: number;
  /** Bytes handed to the channel, ever. */
  readonly taken: number;
  /** The channel took its end-of-stream: nothing more will be taken. */
  readonly ended: boolean;
  /** The channel is gone: nothing more will be delivered. */
  readonly gone: boolean;
}

/** The unanswered flushes of one writer, answered in order. */
export class FlushQueue {
  #last: Flush | null = null; // the newest; its `next` is the oldest
  #task = false; // the owner queued a microtask that will settle this queue

  /** Whether every flush was answered. */
  get empty(): boolean {
    return this.#last === null;
  }

  /**
   * Whether the owner should queue a microtask to settle this queue:
   * true once until {@linkcode FlushQueue.taskRan} (one per burst).
   */
  claimTask(): boolean {
    if (this.#task) return false;
    return (this.#task = true);
  }

  /** The owner's microtask runs: the next flush may queue another. */
  taskRan(): void {
    this.#task = false;
  }

  /** Adds a flush that waits until `target` written bytes are delivered. */
  push(target: number, callback: FlushCallback): void {
    const flush = new Flush(target, callback);
    const last = this.#last;
    if (last !== null) {
      flush.next = last.next;
      last.next = flush;
    }
    this.#last = flush;
  }

  /**
   * Answers, oldest first, every flush whose bytes were all delivered
   * (`"written"`), and those whose bytes can no longer be (`"closed"`).
   * Stops at the first that must wait. A callback may flush again (it is
   * answered in turn); one that throws does not stop the others.
   *
   * @returns the exceptions the callbacks threw, or null.
   */
  settle(progress: Progress): unknown[] | null {
    let errors: unknown[] | null = null;
    for (let last = this.#last; last !== null; last = this.#last) {
      const first = last.next;
      const result = answer(first.target, progress);
      if (result === null) break;
      if (first === last) this.#last = null;
      else last.next = first.next;
      try {
        first.callback(result);
      } catch (error) {
        (errors ??= []).push(error);
      }
    }
    return errors;
  }
}

// How a flush waiting for `target` written bytes is answered now, or null
// while it must wait.
function answer(target: number, progress: Progress): FlushResult | null {
  if (target <= progress.delivered) return "written";
  if (progress.gone) return "closed";
  if (progress.ended && target > progress.taken) return "closed";
  return null;
}
