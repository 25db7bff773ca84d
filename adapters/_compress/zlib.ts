/**
 * Stateful, synchronous compressors on Deno's native zlib, brotli and zstd
 * (`node:zlib`), for `compress.ts`. Private: never re-exported.
 *
 * How they are driven. `node:zlib` offers two public ways to compress a
 * stream, and neither fits a body that flushes:
 *
 * - its stream objects (`createGzip()`, `.write()`, `.flush()`) are
 *   asynchronous: every flush is a round of stream events and callbacks;
 * - its `*Sync` functions are one-shot: each call starts a new compressed
 *   stream (concatenated gzip members, and no shared dictionary between
 *   events: 4.3× the bytes of one stream on 100-byte events).
 *
 * Every `node:zlib` stream object owns a native handle whose
 * `writeSync(flush, in, inOff, inLen, out, outOff, outLen)` compresses
 * synchronously and leaves `[availOutAfter, availInAfter]` in the object's
 * `_writeState`: it is what node:zlib's own `*Sync` functions loop on
 * (`processChunkSync` in Node's lib/zlib.js, ported to Deno as is). We
 * loop on it the same way, keeping the stream's state between calls.
 * Measured in Deno 2.9.6, 100-byte events with a flush each: gzip
 * 3.0–4.6 µs an event against 5.2–12.8 µs through `.write()`/`.flush()`,
 * zstd 1.5–2.4 against 4.3–6.9, brotli 10.8–11.2 against 12.9; the same
 * throughput on 64 KiB chunks. The handle is not public API, so
 * {@linkcode openCompressor} checks for it and fails with a clear error.
 *
 * @module
 */

import zlib from "node:zlib";
import type { Body } from "../../body.ts";
import { describe } from "../../_body/check.ts";

/** A content coding `compressBody` can produce. */
export type Encoding = "gzip" | "deflate" | "br" | "zstd";

/** What a compressor does with the bytes it is given. */
export type Mode = "process" | "flush" | "finish";

// The part of a node:zlib stream object used here (see the module doc).
interface NativeHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  onerror: (message: string, errno: number) => void;
}
interface Engine {
  _handle?: NativeHandle;
  _writeState?: Uint32Array;
  close(): void;
}

interface Kind {
  min: number;
  max: number;
  level: number; // the default
  flags: Record<Mode, number>;
  // chunkSize 64 (the least): the stream object's own output buffer is
  // never used, so it should cost nothing.
  create(level: number): Engine;
}

const C = zlib.constants;
const ZLIB_FLAGS = {
  process: C.Z_NO_FLUSH,
  flush: C.Z_SYNC_FLUSH,
  finish: C.Z_FINISH,
};
const KINDS: Record<Encoding, Kind> = {
  gzip: {
    min: 0,
    max: 9,
    level: 6,
    flags: ZLIB_FLAGS,
    create: (level) => zlib.createGzip({ level, chunkSize: 64 }),
  },
  deflate: {
    min: 0,
    max: 9,
    level: 6,
    flags: ZLIB_FLAGS,
    create: (level) => zlib.createDeflate({ level, chunkSize: 64 }),
  },
  br: {
    min: 0,
    max: 11,
    // Measured on log lines: 5 is 3.4× smaller than 4 and no slower (its
    // context modelling starts there); 11, brotli's own default, runs at
    // ~0.5 MiB/s.
    level: 5,
    flags: {
      process: C.BROTLI_OPERATION_PROCESS,
      flush: C.BROTLI_OPERATION_FLUSH,
      finish: C.BROTLI_OPERATION_FINISH,
    },
    create: (level) =>
      zlib.createBrotliCompress({
        chunkSize: 64,
        params: { [C.BROTLI_PARAM_QUALITY]: level },
      }),
  },
  zstd: {
    min: 1,
    max: 22,
    level: 3,
    flags: {
      process: C.ZSTD_e_continue,
      flush: C.ZSTD_e_flush,
      finish: C.ZSTD_e_end,
    },
    create: (level) =>
      zlib.createZstdCompress({
        chunkSize: 64,
        params: { [C.ZSTD_c_compressionLevel]: level },
      }),
  },
};

/** The encodings, in the order error messages list them. */
export const ENCODINGS: readonly Encoding[] = ["gzip", "deflate", "br", "zstd"];

/** Whether `value` names an encoding. */
export function isEncoding(value: unknown): value is Encoding {
  return typeof value === "string" && Object.hasOwn(KINDS, value);
}

// Where every compressor writes: compression is synchronous and each piece
// is copied into its output body before the next call, so one buffer
// serves them all and an idle compressor holds no output memory.
const scratch = new Uint8Array(65536);
const EMPTY = new Uint8Array(0);

/** A stateful compressor; see the module doc for how it is driven. */
export class Compressor {
  #engine: Engine;
  #handle: NativeHandle;
  #state: Uint32Array; // [availOutAfter, availInAfter] of the last call
  #flags: Record<Mode, number>;
  #error: Error | null = null; // set by the handle during a call

  constructor(encoding: Encoding, engine: Engine) {
    const handle = engine._handle;
    const state = engine._writeState;
    if (
      typeof handle?.writeSync !== "function" ||
      !(state instanceof Uint32Array)
    ) {
      engine.close();
      throw new Error(
        `compressBody: this runtime's node:zlib has no synchronous ${encoding} handle (checked with Deno 2.9.6)`,
      );
    }
    this.#engine = engine;
    this.#handle = handle;
    this.#state = state;
    this.#flags = KINDS[encoding].flags;
    // The handle reports a failure by calling this during writeSync. Taking
    // it over also keeps node:zlib from emitting an "error" event that
    // nobody listens to.
    handle.onerror = (message, errno) => {
      this.#error ??= new Error(
        `compressBody: ${encoding} failed: ${message} (errno ${errno})`,
      );
    };
  }

  /**
   * Compresses `bytes` (or nothing) with `mode` and writes what comes out
   * to `output` (copied). Returns the number of compressed bytes written.
   * `"flush"` and `"finish"` emit everything given so far.
   *
   * @throws {Error} when the compressor failed; it is unusable then.
   */
  push(mode: Mode, output: Body<"write">, bytes: Uint8Array = EMPTY): number {
    const flag = this.#flags[mode];
    const state = this.#state;
    let inOff = 0;
    let inLen = bytes.length;
    let produced = 0;
    for (;;) {
      this.#handle.writeSync(flag, bytes, inOff, inLen, scratch, 0, 65536);
      if (this.#error !== null) throw this.#error;
      const have = 65536 - state[0]!;
      if (have > 0) {
        output.writeBigstring(scratch, 0, have);
        produced += have;
      }
      // Room left in the output: the compressor has nothing more for now.
      if (state[0] !== 0) return produced;
      inOff += inLen - state[1]!;
      inLen = state[1]!;
    }
  }

  /** Frees the native state. Idempotent. */
  close(): void {
    this.#engine.close();
  }
}

/**
 * A compressor for `encoding` at `level` (default: the encoding's).
 *
 * @throws {TypeError} for an unknown encoding or a non-number level.
 * @throws {RangeError} for a level out of the encoding's range.
 */
export function openCompressor(encoding: unknown, level: unknown): Compressor {
  if (!isEncoding(encoding)) {
    throw new TypeError(
      `compressBody: unknown encoding ${
        typeof encoding === "string"
          ? JSON.stringify(encoding)
          : describe(encoding)
      }; expected one of ${ENCODINGS.map((e) => `"${e}"`).join(", ")}`,
    );
  }
  const kind = KINDS[encoding];
  const chosen = level === undefined
    ? kind.level
    : checkLevel("compressBody: level", [encoding], level);
  return new Compressor(encoding, kind.create(chosen));
}

/**
 * `level`, checked against every one of `encodings` (`what` names it in
 * messages): a level is given before the client's `accept-encoding`
 * picks one of them.
 *
 * @throws {TypeError} for a level that is not a number.
 * @throws {RangeError} for a level out of an encoding's range.
 */
export function checkLevel(
  what: string,
  encodings: readonly Encoding[],
  level: unknown,
): number {
  if (typeof level !== "number") {
    throw new TypeError(
      `${what} must be a number, received ${describe(level)}`,
    );
  }
  for (const encoding of encodings) {
    const { min, max } = KINDS[encoding];
    if (!Number.isInteger(level) || level < min || level > max) {
      throw new RangeError(
        `${what} for ${encoding} must be an integer from ${min} to ${max}, received ${level}`,
      );
    }
  }
  return level;
}
