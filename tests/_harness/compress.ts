// Helpers of the compression suites (compress_test.ts,
// compressed_sse_test.ts). Not a test file (no `_test` suffix).
//
// The oracle is node:zlib's public decompression: a streaming decompressor
// fed the compressed bytes as they arrive (never finished) for "decodes at
// each flush", and strict decoders for complete streams.

import assert from "node:assert/strict";
import zlib from "node:zlib";
import { concat } from "./util.ts";
import { type Body, bodyFromWritable } from "../../mod.ts";
import type { Encoding } from "../../adapters/compress.ts";

export const ENCODINGS: readonly Encoding[] = ["gzip", "deflate", "br", "zstd"];
export const encoder = new TextEncoder();
export const decoder = new TextDecoder();
export const KiB = 1024;
export const TIMEOUT_MS = 5000;

/** `promise`, or a rejection naming `what` after TIMEOUT_MS: no test hangs. */
export async function bounded<T>(
  promise: Promise<T>,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer in ${TIMEOUT_MS} ms`)),
      TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Asserts `actual` and `expected` hold the same bytes, with a short
 * message (node:assert's diff of two large arrays takes gigabytes).
 */
export function assertBytes(
  actual: Uint8Array,
  expected: Uint8Array,
  what: string,
) {
  const n = Math.min(actual.length, expected.length);
  let at = 0;
  while (at < n && actual[at] === expected[at]) at++;
  if (at === n && actual.length === expected.length) return;
  assert.fail(
    `${what}: ${actual.length} bytes where ${expected.length} were expected, first difference at ${at}`,
  );
}

/**
 * The complete stream decoded; throws if it is truncated or corrupt. (Deno
 * 2.9.6's node:zlib decodes a truncated brotli or zstd stream without a
 * complaint, so brotli goes through the web DecompressionStream, and a
 * zstd frame is walked to its last block first.)
 */
export async function decodeComplete(
  encoding: Encoding,
  bytes: Uint8Array,
): Promise<Uint8Array> {
  switch (encoding) {
    case "gzip":
      return new Uint8Array(zlib.gunzipSync(bytes));
    case "deflate":
      return new Uint8Array(zlib.inflateSync(bytes));
    case "br": {
      const decoded = new Blob([bytes.slice()]).stream().pipeThrough(
        new DecompressionStream("brotli" as CompressionFormat),
      );
      return await readAll(decoded);
    }
    case "zstd":
      assert.equal(zstdFrameLength(bytes), bytes.length, "not one whole frame");
      return new Uint8Array(zlib.zstdDecompressSync(bytes));
  }
}

/** The length of the zstd frame at the start of `b` (RFC 8878 §3.1.1). */
function zstdFrameLength(b: Uint8Array): number {
  assert.deepEqual([...b.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd], "magic");
  const descriptor = b[4]!;
  const single = (descriptor >> 5) & 1;
  let at = 5 + (single ? 0 : 1) + [0, 1, 2, 4][descriptor & 3]! +
    [single, 2, 4, 8][descriptor >> 6]!;
  for (let last = 0; !last;) {
    assert.ok(at + 3 <= b.length, "truncated before a block header");
    const header = b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
    last = header & 1;
    const type = (header >> 1) & 3;
    assert.notEqual(type, 3, "reserved block type");
    at += 3 + (type === 1 ? 1 : header >>> 3); // an RLE block holds 1 byte
    assert.ok(at <= b.length, "truncated inside a block");
  }
  return at + ((descriptor >> 2) & 1 ? 4 : 0); // the content checksum
}

/** A client's decompressor: fed bytes as they arrive, never finished. */
export class StreamDecoder {
  #stream: zlib.Gunzip | zlib.BrotliDecompress | zlib.ZstdDecompress;
  #out: Uint8Array[] = [];

  constructor(encoding: Encoding) {
    this.#stream = {
      gzip: zlib.createGunzip,
      deflate: zlib.createInflate,
      br: zlib.createBrotliDecompress,
      zstd: zlib.createZstdDecompress,
    }[encoding]();
    this.#stream.on("data", (chunk: Uint8Array) => this.#out.push(chunk));
  }

  /** Everything decoded so far, after feeding `bytes`. */
  async push(bytes: Uint8Array): Promise<Uint8Array> {
    await bounded(
      new Promise<void>((resolve, reject) => {
        this.#stream.once("error", reject);
        this.#stream.write(bytes);
        this.#stream.flush(() => resolve());
      }),
      "decompressor",
    );
    return concat(this.#out);
  }

  close(): void {
    this.#stream.close();
  }
}

/** A writer body over a WritableStream that records what reaches it. */
export function recordingOutput(): {
  output: Body<"write">;
  chunks: Uint8Array[];
  closed: () => boolean;
} {
  const chunks: Uint8Array[] = [];
  let closed = false;
  const output = bodyFromWritable(
    new WritableStream({
      write(chunk) {
        chunks.push(chunk.slice()); // a copy: what arrived, as it arrived
      },
      close() {
        closed = true;
      },
    }),
  );
  return { output, chunks, closed: () => closed };
}

/** Reads a stream to its end. */
export async function readAll(readable: ReadableStream<Uint8Array>) {
  const all = new Response(readable).arrayBuffer();
  return new Uint8Array(await bounded(all, "the end of the stream"));
}
