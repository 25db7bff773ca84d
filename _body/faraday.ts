/**
 * The coalescing buffer of a writer body — Faraday's role in httpaf: many
 * small copied writes become few large chunks, and zero-copy chunks keep
 * their place among them. No callbacks, no channel: bytes go in by the
 * write methods and come out, oldest first, by {@linkcode Faraday.shift}.
 *
 * Invariant: the pending output is, in order, the sealed chunks of
 * `#queue`, then `#buf[0, #len)`, then `#text` (not yet encoded). A chunk
 * returned by `shift()` is never written again: the channel keeps it for
 * good.
 *
 * Private: owned by `Writer` (`writer.ts`).
 *
 * @module
 */

import { isHigh, isLow } from "./check.ts";

// Smallest free tail of a buffer worth writing into after the bytes
// before it were sealed.
const MIN_TAIL = 512;
// Smallest buffer allocated.
const MIN_BUFFER = 64;
// Text is encoded in batches of about this many UTF-16 code units: one
// encodeInto per batch instead of one per call (the call is what costs);
// a default 64 KiB chunk of ASCII is one batch. Measured side by side on
// 1M 100-byte writes: a median of 2.58× a hand-tuned encodeInto loop,
// against 2.4× with batches of 32K.
const TEXT_BATCH = 65536;

const encoder = new TextEncoder();

/** Pending output: coalesced copies, zero-copy chunks and unencoded text. */
export class Faraday {
  readonly #size: number; // the largest buffer (the body's bufferSize)
  #queue: Uint8Array[] | null = null; // sealed chunks, oldest first
  #queued = 0; // bytes in #queue
  #buf: Uint8Array | null = null; // #buf[0, #len) pending, the rest free
  #len = 0;
  // Text written after #buf's bytes. Consecutive writeString calls join
  // here (appending to a string is a cheap rope node in V8) and are
  // encoded together.
  #text = "";
  #textHigh = false; // #text ends with a high surrogate
  // Size of the next new buffer: what the last chunk taken from a buffer
  // needed (rounded up to a power of two), so that a producer writing the
  // same amount between takes fills one buffer without growing it.
  #next = MIN_BUFFER;

  /** @param size the largest chunk a copied write may produce. */
  constructor(size: number) {
    this.#size = size;
  }

  /** Whether nothing is pending. */
  get empty(): boolean {
    return this.#queued === 0 && this.#len === 0 && this.#text === "";
  }

  /** The pending bytes, exactly (pending text is encoded first). */
  get pending(): number {
    this.#encodeText();
    return this.#queued + this.#len;
  }

  /**
   * A lower and an upper bound of the pending bytes without encoding the
   * pending text (1 to 3 bytes per UTF-16 code unit): `[low, high]`.
   */
  bounds(): [number, number] {
    const known = this.#queued + this.#len;
    const units = this.#text.length;
    return [known + units, known + 3 * units];
  }

  /**
   * Appends text, encoded later in a batch. Each call is encoded on its own
   * terms: a high surrogate ending one call and a low surrogate starting
   * the next stay two U+FFFD, as two TextEncoder calls would write them.
   */
  writeText(piece: string): void {
    if (this.#textHigh && isLow(piece.charCodeAt(0))) this.#encodeText();
    this.#text += piece;
    this.#textHigh = isHigh(piece.charCodeAt(piece.length - 1));
    if (this.#text.length >= TEXT_BATCH) this.#encodeText();
  }

  /** Appends text encoded at once (its byte size was needed exactly). */
  writeTextNow(piece: string): void {
    this.#encodeText();
    this.#encode(piece);
  }

  /** Appends one code point (a Unicode scalar value) as UTF-8. */
  writeCodePoint(cp: number): void {
    this.#encodeText();
    const buf = this.#reserve(4, 4);
    let i = this.#len;
    if (cp < 0x80) {
      buf[i++] = cp;
    } else if (cp < 0x800) {
      buf[i++] = 0xc0 | (cp >> 6);
      buf[i++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      buf[i++] = 0xe0 | (cp >> 12);
      buf[i++] = 0x80 | ((cp >> 6) & 0x3f);
      buf[i++] = 0x80 | (cp & 0x3f);
    } else {
      buf[i++] = 0xf0 | (cp >> 18);
      buf[i++] = 0x80 | ((cp >> 12) & 0x3f);
      buf[i++] = 0x80 | ((cp >> 6) & 0x3f);
      buf[i++] = 0x80 | (cp & 0x3f);
    }
    this.#len = i;
  }

  /** Appends a copy of `bytes[off, off + len)`. */
  writeBytes(bytes: Uint8Array, off: number, len: number): void {
    this.#encodeText();
    const end = off + len;
    for (let from = off; from < end;) {
      const buf = this.#reserve(1, end - from);
      const n = Math.min(buf.length - this.#len, end - from);
      buf.set(
        from === 0 && n === bytes.length
          ? bytes
          : bytes.subarray(from, from + n),
        this.#len,
      );
      this.#len += n;
      from += n;
    }
  }

  /** Appends `chunk` itself, without a copy, after everything pending. */
  schedule(chunk: Uint8Array): void {
    this.#encodeText();
    this.#seal();
    (this.#queue ??= []).push(chunk);
    this.#queued += chunk.length;
  }

  /** Takes the oldest pending chunk, handed over for good; null if none. */
  shift(): Uint8Array | null {
    this.#encodeText();
    const queue = this.#queue;
    if (queue !== null && queue.length > 0) {
      const chunk = queue.shift()!; // short arrays: shift is cheap
      this.#queued -= chunk.length;
      return chunk;
    }
    const buf = this.#buf;
    const len = this.#len;
    if (buf === null || len === 0) return null;
    this.#next = Math.min(this.#size, 2 ** Math.ceil(Math.log2(len)));
    if (this.#next < MIN_BUFFER) this.#next = MIN_BUFFER;
    // Nothing else is pending: no free tail is kept between bursts of
    // writes (thousands of idle streams must not each hold one).
    this.#buf = null;
    this.#len = 0;
    return buf.subarray(0, len);
  }

  // Encodes the pending text into the buffer.
  #encodeText(): void {
    const text = this.#text;
    if (text === "") return;
    this.#text = "";
    this.#textHigh = false;
    this.#encode(text);
  }

  // Encodes `text` as UTF-8 into the buffer, sealing and allocating
  // buffers as they fill.
  #encode(text: string): void {
    let rest = text;
    for (;;) {
      const buf = this.#reserve(4, rest.length * 3);
      const { read, written } = encoder.encodeInto(
        rest,
        buf.subarray(this.#len),
      );
      this.#len += written;
      if (read === rest.length) return;
      // The buffer is full (less than one character's bytes left).
      rest = rest.slice(read);
    }
  }

  // Returns the buffer with at least `min` free bytes after #len. A full
  // buffer smaller than #size grows (its pending bytes are still ours to
  // move), so small writes end up in chunks as large as #size; a full
  // buffer at #size is sealed. `want` sizes a new buffer to the data: the
  // bytes this write still has to place.
  #reserve(min: number, want: number): Uint8Array {
    const buf = this.#buf;
    const len = this.#len;
    if (buf !== null && buf.length - len >= min) return buf;
    const max = this.#size;
    if (buf !== null && len > 0 && len + min <= max) {
      const size = Math.min(max, Math.max(buf.length * 2, len + want));
      const grown = new Uint8Array(size);
      grown.set(buf.subarray(0, len));
      return (this.#buf = grown);
    }
    this.#seal();
    const size = Math.min(max, Math.max(want, this.#next));
    return (this.#buf = new Uint8Array(Math.max(min, size)));
  }

  // Moves the pending part of the buffer to the queue. The free tail stays
  // in use: the sealed bytes themselves are never written again.
  #seal(): void {
    const buf = this.#buf;
    if (buf === null || this.#len === 0) return;
    (this.#queue ??= []).push(buf.subarray(0, this.#len));
    this.#queued += this.#len;
    this.#buf = buf.length - this.#len >= MIN_TAIL
      ? buf.subarray(this.#len)
      : null;
    this.#len = 0;
  }
}
