/**
 * A writer body's limits: its buffer size when not the default, a declared
 * exact length (a response's `content-length`) and `maxPendingBytes`.
 * Idle bodies are many, so a writer with every default carries none of
 * this (null). No state: each check is a comparison that returns the error
 * to raise, or null.
 *
 * Private: owned by `Writer` (`writer.ts`).
 *
 * @module
 */

import { DEFAULT_BUFFER_SIZE } from "./abstract.ts";
import type { Faraday } from "./faraday.ts";

/** A writer's settings, when any differs from the default. */
export class Limits {
  /**
   * @param bufferSize the largest chunk a copied write produces.
   * @param length the declared exact output length, or -1 for none.
   * @param maxPending the most pending bytes (`Infinity`: no limit).
   */
  constructor(
    readonly bufferSize: number,
    readonly length: number,
    readonly maxPending: number,
  ) {}

  /** The limits of checked writer options; null when all are defaults. */
  static of(options: {
    bufferSize?: number;
    contentLength?: number;
    maxPendingBytes?: number;
  }): Limits | null {
    const { bufferSize = DEFAULT_BUFFER_SIZE, contentLength, maxPendingBytes } =
      options;
    if (
      bufferSize === DEFAULT_BUFFER_SIZE && contentLength === undefined &&
      maxPendingBytes === undefined
    ) return null;
    return new Limits(
      bufferSize,
      contentLength ?? -1,
      maxPendingBytes ?? Infinity,
    );
  }

  /** The error of writing `size` more bytes after `written`, or null. */
  overLength(method: string, written: number, size: number): Error | null {
    const length = this.length;
    if (length < 0 || written + size <= length) return null;
    return new RangeError(
      `Body.${method}: ${size} more bytes would exceed the declared length of ${length} bytes (${written} written)`,
    );
  }

  /**
   * The error of holding more than `maxPending` bytes, or null. The
   * bounds come first: the exact count encodes pending text.
   */
  overPending(method: string, faraday: Faraday): Error | null {
    const max = this.maxPending;
    if (max === Infinity) return null;
    const [low, high] = faraday.bounds();
    if (high <= max || (low <= max && faraday.pending <= max)) return null;
    return new RangeError(
      `Body.${method}: ${faraday.pending} pending bytes exceed maxPendingBytes (${max})`,
    );
  }

  /** The error of ending after `written` bytes, short of the length. */
  short(what: string, written: number): Error | null {
    const length = this.length;
    if (length < 0 || written >= length) return null;
    return new Error(
      `${what} after ${written} of the ${length} declared bytes`,
    );
  }
}
