/**
 * The delimiter search under `multipart()` (`adapters/_multipart/search.ts`,
 * its module doc): `find` and `tail` agree with a naive byte-by-byte search
 * on seeded inputs built to trip a skipping search — small alphabets made
 * of the delimiter's own bytes, planted delimiters and planted prefixes,
 * every boundary shape (one byte, repeated bytes, 70 bytes, a browser's) —
 * and on 64 KiB chunks of random bytes and of text. The seed is fixed: a
 * failure replays as it is.
 */

import assert from "node:assert/strict";
import { Delimiter } from "../adapters/_multipart/search.ts";

// The first start of `d` in buf[from, end), or -1.
function naiveFind(buf: Uint8Array, d: Uint8Array, from: number, end: number) {
  for (let s = from; s + d.length <= end; s++) {
    let j = 0;
    while (j < d.length && buf[s + j] === d[j]) j++;
    if (j === d.length) return s;
  }
  return -1;
}

// The first start s in buf[from, end) of a tail shorter than `d` that is a
// prefix of `d`, or -1.
function naiveTail(buf: Uint8Array, d: Uint8Array, from: number, end: number) {
  for (let s = Math.max(from, end - d.length + 1); s < end; s++) {
    let j = 0;
    while (s + j < end && buf[s + j] === d[j]) j++;
    if (s + j === end) return s;
  }
  return -1;
}

// A small seeded generator (a linear congruential one): [0, 1).
function generator(seed: number) {
  return () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

const BOUNDARIES = [
  "a",
  "ab",
  "aaaa",
  "-",
  "--",
  "a-b",
  "0123456789abcdef",
  "----WebKitFormBoundaryABCDEFGHijklmnop",
  "x".repeat(70),
  "-".repeat(70),
  "ab".repeat(35),
  "' ()+_,-./:=?",
];

// `count` inputs for `delimiter`: bytes drawn from the delimiter's own, CR,
// LF, '-' and a few others, with whole delimiters and prefixes planted, and
// a random [from, end) inside.
function* inputs(delimiter: Delimiter, random: () => number, count: number) {
  const d = delimiter.bytes;
  const alphabet = [...new Set([...d, 13, 10, 45, 0, 255, 0x71, 0x20])];
  for (let k = 0; k < count; k++) {
    const n = Math.floor(random() * 400);
    const buf = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      buf[i] = alphabet[Math.floor(random() * alphabet.length)]!;
    }
    const plants = Math.floor(random() * 3);
    for (let p = 0; p < plants && n > 0; p++) {
      const at = Math.floor(random() * n);
      const take = random() < 0.5 ? d.length : Math.floor(random() * d.length);
      for (let j = 0; j < take && at + j < n; j++) buf[at + j] = d[j]!;
    }
    const from = Math.floor(random() * (n + 1));
    const end = from + Math.floor(random() * (n - from + 1));
    yield { buf, from, end };
  }
}

Deno.test("find returns the first delimiter exactly as a naive search does, on inputs made of the delimiter's own bytes", () => {
  const random = generator(12345);
  let found = 0;
  for (const boundary of BOUNDARIES) {
    const delimiter = new Delimiter(boundary);
    for (const { buf, from, end } of inputs(delimiter, random, 3000)) {
      const expected = naiveFind(buf, delimiter.bytes, from, end);
      assert.equal(
        delimiter.find(buf, from, end),
        expected,
        `${JSON.stringify(boundary)} in [${buf}] from ${from} to ${end}`,
      );
      if (expected >= 0) found++;
    }
  }
  // The inputs do hold delimiters: the agreement is not all on -1.
  assert.ok(found > 1000, `only ${found} inputs held a delimiter`);
});

Deno.test("tail returns where a partial delimiter at the chunk's end starts, exactly as a naive search does", () => {
  const random = generator(67890);
  let partial = 0;
  for (const boundary of BOUNDARIES) {
    const delimiter = new Delimiter(boundary);
    for (const { buf, from, end } of inputs(delimiter, random, 3000)) {
      // tail is asked only when find found nothing.
      if (delimiter.find(buf, from, end) >= 0) continue;
      const expected = naiveTail(buf, delimiter.bytes, from, end);
      assert.equal(
        delimiter.tail(buf, from, end),
        expected,
        `${JSON.stringify(boundary)} in [${buf}] from ${from} to ${end}`,
      );
      if (expected >= 0) partial++;
    }
  }
  assert.ok(partial > 1000, `only ${partial} inputs ended in a prefix`);
});

Deno.test("find locates a delimiter planted anywhere in 64 KiB of random bytes or of text", () => {
  const random = generator(4242);
  for (
    const boundary of [
      "----WebKitFormBoundaryABCDEFGHijklmnop",
      "----FormBoundary0123456789abcdef0123456789abcdef",
      "a",
    ]
  ) {
    const delimiter = new Delimiter(boundary);
    for (let k = 0; k < 120; k++) {
      const buf = new Uint8Array(64 * 1024);
      const text = k % 2 === 1;
      for (let i = 0; i < buf.length; i++) {
        const byte = Math.floor(random() * 256);
        buf[i] = text ? 32 + (byte % 95) : byte;
      }
      if (text) { for (let i = 79; i < buf.length; i += 80) buf[i] = 10; }
      if (k % 3 !== 0) {
        const at = Math.floor(random() * (buf.length - delimiter.length));
        buf.set(delimiter.bytes, at);
      }
      assert.equal(
        delimiter.find(buf, 0, buf.length),
        naiveFind(buf, delimiter.bytes, 0, buf.length),
        `${JSON.stringify(boundary)}, chunk ${k}`,
      );
    }
  }
});
