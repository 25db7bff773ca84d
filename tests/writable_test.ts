/**
 * Tests for `adapters/writable.ts`: `streamingBody` (writer body → new
 * readable), `bodyFromWritable` (writer body → existing writable) and
 * `writableFromBody` (new writable → writer body), held to the "Writer
 * bodies" and "Stream adapters" sections of README.md.
 *
 * Callback order is recorded in an `events` array and asserted whole. Where
 * the event loop must turn, `until` waits a bounded number of turns for a
 * condition and `turns` lets it run a few times to show that something did
 * not happen; neither stands in for an event.
 */

import assert from "node:assert/strict";
import { concat, failsWith, turns, until } from "./_harness/util.ts";
import {
  type Body,
  bodyFromReadable,
  bodyFromWritable,
  type FlushResult,
  streamingBody,
  writableFromBody,
} from "../mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

function text(buffer: Uint8Array): string {
  return decoder.decode(buffer);
}

// Index of the first byte where `a` and `b` differ, -1 if they are equal.
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

async function readAll(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
  }
}

// mulberry32: a small seeded generator, so failures reproduce.
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomText(next: () => number, length: number): string {
  const alphabet = ["a", "b", "z", "0", " ", "é", "€", "😀", "\n"];
  let out = "";
  while (out.length < length) {
    out += alphabet[Math.floor(next() * alphabet.length)]!;
  }
  return out;
}

// A sink whose write promises the test settles by hand.
function manualSink(label: (value: unknown) => string = String) {
  const events: string[] = [];
  const writes: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  const stream = new WritableStream<Uint8Array>({
    write(chunk) {
      events.push(`write:${text(chunk)}`);
      return new Promise((resolve, reject) => writes.push({ resolve, reject }));
    },
    close() {
      events.push("close");
    },
    abort(reason) {
      events.push(`abort:${label(reason)}`);
    },
  });
  return { stream, events, writes };
}

// ---------------------------------------------------------------------
// streamingBody
// ---------------------------------------------------------------------

Deno.test("streamingBody flush answers written only once the consumer has read every byte before it", async () => {
  const { body, readable } = streamingBody({ bufferSize: 64 });
  body.writeString("a".repeat(100)); // two chunks: 64 + 36 bytes
  const events: string[] = [];
  body.flush((result) => events.push(`flush:${result}`));
  await turns();
  assert.deepEqual(events, [] as string[]); // nobody reads: the flush waits
  const reader = readable.getReader();
  events.push(`read:${(await reader.read()).value!.length}`);
  await turns();
  assert.deepEqual(events, ["read:64"]); // 36 bytes not read yet
  events.push(`read:${(await reader.read()).value!.length}`);
  await turns();
  assert.deepEqual(events, ["read:64", "flush:written", "read:36"]);
});

Deno.test("streamingBody coalesces small copied writes into one chunk", async () => {
  const { body, readable } = streamingBody();
  for (let i = 0; i < 1000; i++) body.writeString(i % 2 ? "y" : "x");
  body.closeWriter();
  const chunks = await readAll(readable.getReader());
  assert.equal(chunks.length, 1);
  assert.equal(text(chunks[0]!), "xy".repeat(500));

  const mixed = streamingBody();
  for (let i = 0; i < 1000; i++) {
    if (i % 3 === 0) mixed.body.writeChar("é");
    else if (i % 3 === 1) mixed.body.writeBigstring(bytes("b"));
    else mixed.body.writeString("s");
  }
  mixed.body.closeWriter();
  const mixedChunks = await readAll(mixed.readable.getReader());
  assert.equal(mixedChunks.length, 1);
  assert.equal(mixedChunks[0]!.length, 334 * 2 + 333 + 333);
});

Deno.test("streamingBody chunks of copied writes are at most bufferSize", async () => {
  const { body, readable } = streamingBody({ bufferSize: 100 });
  const next = random(3);
  const big = new Uint8Array(1000).map(() => Math.floor(next() * 256));
  const unicode = randomText(next, 500);
  body.writeString("x".repeat(1000));
  body.writeString(unicode);
  body.writeBigstring(big);
  for (const char of "ab€😀é".repeat(60)) body.writeChar(char);
  body.writeString("tail", 1, 2);
  body.closeWriter();
  const chunks = await readAll(readable.getReader());
  const sizes = chunks.map((c) => c.length);
  assert.ok(sizes.every((n) => n > 0 && n <= 100), `sizes: ${sizes}`);
  const expected = concat([
    bytes("x".repeat(1000) + unicode),
    big,
    bytes("ab€😀é".repeat(60) + "ai"),
  ]);
  assert.equal(firstDifference(concat(chunks), expected), -1);
});

Deno.test("scheduleBigstring hands the very same memory to the consumer, in order with copied writes", async () => {
  const { body, readable } = streamingBody();
  const whole = bytes("WHOLE");
  const backing = bytes("..sub-range..");
  body.writeString("a");
  body.scheduleBigstring(whole);
  body.writeString("b");
  body.scheduleBigstring(backing, 2, 9);
  body.writeBigstring(bytes("c"));
  body.closeWriter();
  const chunks = await readAll(readable.getReader());
  assert.deepEqual(chunks.map(text), ["a", "WHOLE", "b", "sub-range", "c"]);
  assert.equal(chunks[1], whole);
  const sub = chunks[3]!;
  assert.equal(sub.buffer, backing.buffer);
  assert.deepEqual(
    [sub.byteOffset, sub.byteLength],
    [backing.byteOffset + 2, 9],
  );
});

Deno.test("a chunk handed to the consumer is never modified by later writes", async () => {
  const { body, readable } = streamingBody({ bufferSize: 4096 });
  const reader = readable.getReader();
  const next = random(11);
  const kept: { chunk: Uint8Array; copy: Uint8Array }[] = [];
  const written: Uint8Array[] = [];
  const take = async () => {
    const { value } = await reader.read();
    kept.push({ chunk: value!, copy: value!.slice() });
  };
  for (let i = 0; i < 300; i++) {
    const piece = randomText(next, 1 + Math.floor(next() * 200));
    if (i % 4 === 0) {
      body.writeBigstring(bytes(piece));
    } else if (i % 4 === 1) {
      for (const char of piece) body.writeChar(char);
    } else {
      body.writeString(piece);
    }
    written.push(bytes(piece));
    if (i % 3 === 0) await take(); // takes a partly filled buffer
  }
  body.closeWriter();
  for (const chunk of await readAll(reader)) {
    kept.push({ chunk, copy: chunk.slice() });
  }
  kept.forEach(({ chunk, copy }, i) => {
    assert.equal(firstDifference(chunk, copy), -1, `chunk ${i} changed`);
  });
  const all = concat(kept.map((k) => k.chunk));
  assert.equal(firstDifference(all, concat(written)), -1);
});

Deno.test("flush never answers synchronously inside flush", async () => {
  const { body, readable } = streamingBody();
  const reader = readable.getReader();
  const events: string[] = [];
  const flushMarked = (label: string) => {
    let returned = false;
    body.flush((result) => {
      events.push(`${label}:${result}:${returned ? "later" : "inside"}`);
    });
    returned = true;
  };
  flushMarked("nothing written");
  await until(() => events.length === 1, "the first flush");
  body.writeString("x");
  await reader.read();
  flushMarked("all delivered");
  await until(() => events.length === 2, "the second flush");
  await reader.cancel();
  flushMarked("channel closed");
  await until(() => events.length === 3, "the third flush");
  body.closeWriter();
  flushMarked("writer closed");
  await until(() => events.length === 4, "the fourth flush");
  assert.deepEqual(events, [
    "nothing written:written:later",
    "all delivered:written:later",
    "channel closed:closed:later",
    "writer closed:closed:later",
  ]);
});

Deno.test("flush() without a callback returns a promise of the result", async () => {
  const { body, readable } = streamingBody();
  const reader = readable.getReader();
  body.writeString("x");
  const first = body.flush();
  assert.ok(first instanceof Promise);
  await reader.read();
  assert.equal(await first, "written");
  body.writeString("y");
  const second = body.flush();
  await reader.cancel();
  assert.equal(await second, "closed");
});

Deno.test("cancelling the readable answers pending flushes closed, closes the body and drops later writes", async () => {
  const { body, readable } = streamingBody();
  const events: string[] = [];
  body.writeString("never read");
  body.flush((result) => events.push(`flush 1:${result}`));
  body.flush((result) => events.push(`flush 2:${result}`));
  assert.equal(body.isClosed(), false);
  await readable.cancel(new Error("client gone"));
  assert.equal(body.isClosed(), true);
  body.writeString("dropped");
  body.writeChar("d");
  body.writeBigstring(bytes("dropped"));
  body.scheduleBigstring(bytes("dropped"));
  assert.equal(body.pendingBytes, 0);
  body.flush((result) => events.push(`flush 3:${result}`));
  await until(() => events.length === 3, "three flushes");
  assert.deepEqual(events, [
    "flush 1:closed",
    "flush 2:closed",
    "flush 3:closed",
  ]);
});

Deno.test("a write → flush → continue-while-written producer loop ends when the consumer cancels", async () => {
  const { body, readable } = streamingBody();
  let rounds = 0;
  const producer = (async (): Promise<FlushResult | "runaway"> => {
    for (;;) {
      rounds++;
      body.writeString(`tick ${rounds}\n`);
      const result = await body.flush();
      if (result !== "written") return result;
      if (rounds > 1000) return "runaway";
    }
  })();
  const reader = readable.getReader();
  const got: string[] = [];
  for (let i = 0; i < 3; i++) got.push(text((await reader.read()).value!));
  await reader.cancel();
  assert.equal(await producer, "closed");
  assert.deepEqual(got, ["tick 1\n", "tick 2\n", "tick 3\n"]);
  // Tick 3 counts as written only once the stream asks for more, which a
  // cancel may pre-empt: then the flush after it answers "closed".
  assert.ok(rounds === 3 || rounds === 4, `rounds: ${rounds}`);
});

Deno.test("closeWriter makes later writes throw Error 'Body.<method>: body is closed'", () => {
  const { body } = streamingBody();
  body.writeString("kept");
  body.closeWriter();
  const attempts: [string, () => void][] = [
    ["writeString", () => body.writeString("x")],
    ["writeChar", () => body.writeChar("x")],
    ["writeBigstring", () => body.writeBigstring(bytes("x"))],
    ["scheduleBigstring", () => body.scheduleBigstring(bytes("x"))],
  ];
  for (const [method, attempt] of attempts) {
    assert.throws(attempt, (error: unknown) => {
      failsWith(Error, `Body.${method}: body is closed`)(error);
      assert.equal((error as Error).message, `Body.${method}: body is closed`);
      return true;
    });
  }
  assert.equal(body.pendingBytes, 4);
  assert.equal(body.isClosed(), true);
});

Deno.test("closeWriter delivers pending output, then the stream closes", async () => {
  const { body, readable } = streamingBody();
  const events: string[] = [];
  const scheduled = bytes("scheduled");
  body.writeString("copied ");
  body.scheduleBigstring(scheduled);
  body.flush((result) => events.push(`flush:${result}`));
  body.closeWriter();
  assert.equal(body.pendingBytes, 16);
  const reader = readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    events.push(done ? "done" : `read:${text(value)}`);
    if (done) break;
  }
  // The flush covers both chunks: it answers once the consumer took the
  // second, before the stream reports its end.
  assert.deepEqual(events, [
    "read:copied ",
    "read:scheduled",
    "flush:written",
    "done",
  ]);
  assert.equal(body.pendingBytes, 0);
});

Deno.test("flush still works after closeWriter", async () => {
  const { body, readable } = streamingBody();
  body.writeString("last words");
  body.closeWriter();
  const pending = body.flush();
  const chunks = await readAll(readable.getReader());
  assert.deepEqual(chunks.map(text), ["last words"]);
  assert.equal(await pending, "written");
  assert.equal(await body.flush(), "written"); // after the stream closed
});

Deno.test("closeWriter is idempotent", async () => {
  const { body, readable } = streamingBody();
  body.writeString("once");
  body.closeWriter();
  body.closeWriter();
  assert.equal(body.isClosed(), true);
  const reader = readable.getReader();
  const chunks = await readAll(reader);
  body.closeWriter();
  assert.deepEqual(chunks.map(text), ["once"]);
  await reader.closed;
});

Deno.test("bad arguments throw TypeError or RangeError naming the method and write nothing", async () => {
  const { body, readable } = streamingBody();
  body.writeString("ok");
  const four = new Uint8Array(4);
  const cases: [
    () => unknown,
    TypeErrorConstructor | RangeErrorConstructor,
    string,
  ][] = [
    [() => body.writeString(42 as unknown as string), TypeError, "writeString"],
    [
      () => body.writeString(null as unknown as string),
      TypeError,
      "writeString",
    ],
    [
      () => body.writeString("abc", "1" as unknown as number),
      TypeError,
      "writeString",
    ],
    [() => body.writeString("abc", -1), RangeError, "writeString"],
    [() => body.writeString("abc", 1.5), RangeError, "writeString"],
    [() => body.writeString("abc", 4), RangeError, "writeString"],
    [() => body.writeString("abc", 1, 3), RangeError, "writeString"],
    [() => body.writeString("abc", 0, -1), RangeError, "writeString"],
    [() => body.writeString("abc", 0, NaN), RangeError, "writeString"],
    [() => body.writeString("abc", 0, Infinity), RangeError, "writeString"],
    [() => body.writeChar(65 as unknown as string), TypeError, "writeChar"],
  ];
  for (const method of ["writeBigstring", "scheduleBigstring"] as const) {
    const call = (bytes: unknown, off?: unknown, len?: unknown) => () =>
      body[method](bytes as Uint8Array, off as number, len as number);
    cases.push(
      [call("abcd"), TypeError, method],
      [call(new ArrayBuffer(4)), TypeError, method],
      [call([1, 2, 3, 4]), TypeError, method],
      [call(new Uint16Array(4)), TypeError, method],
      [call(null), TypeError, method],
      [call(four, "0"), TypeError, method],
      [call(four, 5), RangeError, method],
      [call(four, -1), RangeError, method],
      [call(four, 0.5), RangeError, method],
      [call(four, 2, 3), RangeError, method],
      [call(four, 0, 1.5), RangeError, method],
      [call(four, 0, -1), RangeError, method],
    );
  }
  cases.push([
    () => body.flush("later" as unknown as () => void),
    TypeError,
    "flush",
  ]);
  for (const [attempt, cls, method] of cases) {
    assert.throws(attempt, failsWith(cls, `Body.${method}:`));
    assert.equal(body.pendingBytes, 2, `after a bad ${method} call`);
  }
  body.closeWriter();
  const chunks = await readAll(readable.getReader());
  assert.deepEqual(chunks.map(text), ["ok"]);
});

Deno.test("writeChar writes one code point as its 1 to 4 bytes of UTF-8", async () => {
  const cases: [string, number[]][] = [
    ["\0", [0x00]],
    ["a", [0x61]],
    ["\x7f", [0x7f]],
    ["\x80", [0xc2, 0x80]],
    ["é", [0xc3, 0xa9]],
    ["\u07ff", [0xdf, 0xbf]],
    ["\u0800", [0xe0, 0xa0, 0x80]],
    ["€", [0xe2, 0x82, 0xac]],
    ["\ud7ff", [0xed, 0x9f, 0xbf]],
    ["\ue000", [0xee, 0x80, 0x80]],
    ["\uffff", [0xef, 0xbf, 0xbf]],
    ["\u{10000}", [0xf0, 0x90, 0x80, 0x80]],
    ["😀", [0xf0, 0x9f, 0x98, 0x80]],
    ["\u{10ffff}", [0xf4, 0x8f, 0xbf, 0xbf]],
  ];
  const { body, readable } = streamingBody();
  for (const [char, encoded] of cases) {
    const before = body.pendingBytes;
    body.writeChar(char);
    assert.equal(body.pendingBytes - before, encoded.length, char);
  }
  body.closeWriter();
  const out = concat(await readAll(readable.getReader()));
  assert.deepEqual([...out], cases.flatMap(([, encoded]) => encoded));
});

Deno.test("writeChar rejects anything but one Unicode scalar value with TypeError", () => {
  const { body } = streamingBody();
  const bad: unknown[] = [
    "",
    "ab",
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",
    "\udc00\ud800", // a reversed pair: two lone surrogates
    "😀a",
    "e\u0301", // two code points, one grapheme
    65,
    null,
    undefined,
    {},
    ["a"],
  ];
  for (const char of bad) {
    assert.throws(
      () => body.writeChar(char as string),
      failsWith(TypeError, "Body.writeChar:"),
    );
  }
  assert.equal(body.pendingBytes, 0);
});

Deno.test("writeString writes str[off, off + len) (UTF-16 positions) as UTF-8", async () => {
  const long = "x".repeat(200) + "é" + "y".repeat(200);
  const cases: [string, number | undefined, number | undefined, number[]][] = [
    ["hello world", 6, undefined, [...bytes("world")]],
    ["hello world", 0, 5, [...bytes("hello")]],
    ["hello world", 11, undefined, []],
    ["hello", 2, 0, []],
    ["abcé", undefined, undefined, [0x61, 0x62, 0x63, 0xc3, 0xa9]],
    ["héllo", 1, 1, [0xc3, 0xa9]],
    ["a😀b", 1, 2, [0xf0, 0x9f, 0x98, 0x80]],
    ["a😀b", 1, 1, [0xef, 0xbf, 0xbd]], // half a pair: U+FFFD
    ["a😀b", 2, 2, [0xef, 0xbf, 0xbd, 0x62]],
    [long, 150, 101, [...bytes("x".repeat(50) + "é" + "y".repeat(50))]],
  ];
  const { body, readable } = streamingBody();
  for (const [str, off, len, encoded] of cases) {
    const before = body.pendingBytes;
    body.writeString(str, off, len);
    assert.equal(
      body.pendingBytes - before,
      encoded.length,
      `${JSON.stringify(str.slice(0, 12))}, ${off}, ${len}`,
    );
  }
  body.closeWriter();
  const out = concat(await readAll(readable.getReader()));
  assert.deepEqual([...out], cases.flatMap(([, , , encoded]) => encoded));
});

Deno.test("an exception thrown by a flush callback errors the readable with it, closes the body and reaches options.onError", async () => {
  const events: string[] = [];
  const failure = new Error("flush callback failed");
  const { body, readable } = streamingBody({
    onError: (error) =>
      events.push(error === failure ? "onError:failure" : "onError:other"),
  });
  body.writeString("x");
  body.flush(() => {
    events.push("throwing flush");
    throw failure;
  });
  body.flush((result) => events.push(`flush:${result}`));
  const reader = readable.getReader();
  assert.equal(text((await reader.read()).value!), "x");
  await assert.rejects(reader.read(), (error: unknown) => error === failure);
  assert.deepEqual(events, [
    "throwing flush",
    "flush:written",
    "onError:failure",
  ]);
  assert.equal(body.isClosed(), true);
  body.writeString("dropped"); // the channel is gone: dropped, no throw
  assert.equal(body.pendingBytes, 0);
});

Deno.test("an idle streamingBody has nothing pending", async () => {
  const { body, readable } = streamingBody();
  assert.equal(body.pendingBytes, 0);
  assert.equal(body.isClosed(), false);
  body.writeString("12345");
  assert.equal(body.pendingBytes, 5);
  await readable.getReader().read();
  assert.equal(body.pendingBytes, 0);
});

Deno.test("streamingBody contentLength: a write past the declared length throws RangeError naming the method and writes nothing", async () => {
  const { body, readable } = streamingBody({ contentLength: 5 });
  body.writeString("abc");
  const attempts: [string, () => void][] = [
    ["writeString", () => body.writeString("xyz")],
    ["writeString", () => body.writeString("é€")],
    ["writeChar", () => body.writeChar("😀")],
    ["writeBigstring", () => body.writeBigstring(bytes("xyz"))],
    ["scheduleBigstring", () => body.scheduleBigstring(bytes("xyz"))],
  ];
  for (const [method, attempt] of attempts) {
    assert.throws(attempt, failsWith(RangeError, `Body.${method}:`));
    assert.equal(body.pendingBytes, 3, method);
  }
  body.writeString("de"); // exactly up to the length
  body.closeWriter();
  const chunks = await readAll(readable.getReader());
  assert.equal(text(concat(chunks)), "abcde");
});

Deno.test("streamingBody contentLength: closeWriter short of it errors the readable, never a clean end", async () => {
  const { body, readable } = streamingBody({ contentLength: 10 });
  const events: string[] = [];
  body.writeString("short");
  body.flush((result) => events.push(`flush:${result}`));
  body.closeWriter();
  const reader = readable.getReader();
  const outcome: string[] = [];
  for (;;) {
    try {
      const { done, value } = await reader.read();
      outcome.push(done ? "done" : `read:${text(value)}`);
      if (done) break;
    } catch (error) {
      failsWith(Error, "Body.closeWriter:")(error);
      outcome.push("errored");
      break;
    }
  }
  assert.equal(outcome.at(-1), "errored");
  assert.ok(!outcome.includes("done"));
  await until(() => events.length === 1, "the flush");
  assert.deepEqual(events, ["flush:closed"]);
  assert.equal(body.isClosed(), true);
});

// ---------------------------------------------------------------------
// bodyFromWritable
// ---------------------------------------------------------------------

Deno.test("bodyFromWritable answers a flush written only after the sink's write promise resolved", async () => {
  const { stream, events, writes } = manualSink();
  const body = bodyFromWritable(stream);
  body.writeString("abc");
  body.flush((result) => events.push(`flush:${result}`));
  await until(() => writes.length === 1, "the sink's write");
  await turns();
  assert.deepEqual(events, ["write:abc"]);
  events.push("resolve");
  writes[0]!.resolve();
  await until(() => events.length === 3, "the flush");
  assert.deepEqual(events, ["write:abc", "resolve", "flush:written"]);
});

Deno.test("bodyFromWritable answers pending flushes closed when the sink errors", async () => {
  const { stream, events, writes } = manualSink();
  const body = bodyFromWritable(stream);
  body.writeString("abc");
  body.flush((result) => events.push(`flush:${result}`));
  await until(() => writes.length === 1, "the sink's write");
  events.push("reject");
  writes[0]!.reject(new Error("disk full"));
  await until(() => events.length === 3, "the flush");
  assert.deepEqual(events, ["write:abc", "reject", "flush:closed"]);
  assert.equal(body.isClosed(), true);
  body.writeString("dropped"); // the channel is gone: dropped, no throw
  assert.equal(body.pendingBytes, 0);
  assert.equal(await body.flush(), "closed");
});

Deno.test("bodyFromWritable closeWriter closes the stream after the pending output", async () => {
  const { stream, events, writes } = manualSink();
  const body = bodyFromWritable(stream);
  body.writeString("abc");
  body.closeWriter();
  body.flush((result) => events.push(`flush:${result}`));
  await until(() => writes.length === 1, "the sink's write");
  await turns();
  assert.deepEqual(events, ["write:abc"]); // no close before the write ended
  events.push("resolve");
  writes[0]!.resolve();
  await until(() => events.length === 4, "close and flush");
  assert.deepEqual(events, ["write:abc", "resolve", "close", "flush:written"]);
  body.closeWriter(); // idempotent
  await turns();
  assert.equal(events.length, 4);
});

Deno.test("bodyFromWritable aborts the sink with an exception thrown by a flush callback", async () => {
  const failure = new Error("flush callback failed");
  const { stream, events, writes } = manualSink((reason) =>
    reason === failure ? "failure" : String(reason)
  );
  const body = bodyFromWritable(stream, {
    onError: (error) =>
      events.push(error === failure ? "onError:failure" : "onError:other"),
  });
  body.writeString("x");
  body.flush(() => {
    events.push("throwing flush");
    throw failure;
  });
  await until(() => writes.length === 1, "the sink's write");
  writes[0]!.resolve();
  await until(() => events.length === 4, "the abort");
  assert.deepEqual(events, [
    "write:x",
    "throwing flush",
    "abort:failure",
    "onError:failure",
  ]);
  assert.equal(body.isClosed(), true);
});

Deno.test("bodyFromWritable coalesces small writes into one sink write", async () => {
  const chunks: Uint8Array[] = [];
  const body = bodyFromWritable(
    new WritableStream({ write: (chunk) => void chunks.push(chunk) }),
  );
  for (let i = 0; i < 1000; i++) body.writeString("z");
  assert.equal(await body.flush(), "written");
  assert.deepEqual(chunks.map(text), ["z".repeat(1000)]);
});

Deno.test("bodyFromWritable rejects a non-stream or a locked stream with TypeError", () => {
  for (const bad of [null, undefined, {}, new ReadableStream()]) {
    assert.throws(
      () => bodyFromWritable(bad as unknown as WritableStream<Uint8Array>),
      failsWith(TypeError, "bodyFromWritable: expected a WritableStream"),
    );
  }
  const stream = new WritableStream<Uint8Array>();
  stream.getWriter();
  assert.throws(
    () => bodyFromWritable(stream),
    failsWith(TypeError, "bodyFromWritable: the stream is locked"),
  );
});

// ---------------------------------------------------------------------
// writableFromBody
// ---------------------------------------------------------------------

Deno.test("writableFromBody passes each chunk to the body's channel without a copy", async () => {
  const { body, readable } = streamingBody();
  const writer = writableFromBody(body).getWriter();
  const reader = readable.getReader();
  const memory = bytes("..........sub-view..........");
  const chunks = [memory.subarray(10, 18), bytes("whole")];
  for (const chunk of chunks) {
    const written = writer.write(chunk);
    const { value } = await reader.read();
    assert.equal(value, chunk);
    await written;
  }
  assert.equal(text(chunks[0]!), "sub-view");
});

Deno.test("writableFromBody write resolves only once its chunk was flushed (backpressure)", async () => {
  const { body, readable } = streamingBody();
  const writer = writableFromBody(body).getWriter();
  await writer.ready;
  const events: string[] = [];
  const written = writer.write(bytes("payload")).then(() =>
    events.push("write resolved")
  );
  const ready = writer.ready.then(() => events.push("ready"));
  await turns();
  assert.deepEqual(events, [] as string[]);
  assert.equal(writer.desiredSize, 0);
  const reader = readable.getReader();
  const { value } = await reader.read();
  events.push(`read:${text(value!)}`);
  await Promise.all([written, ready]);
  assert.deepEqual(events.sort(), ["read:payload", "ready", "write resolved"]);
  assert.equal(writer.desiredSize, 1);
});

Deno.test("writableFromBody write rejects once the body's channel closed", async () => {
  const closedFirst = failsWith(
    Error,
    "writableFromBody: the body's output closed",
  );
  // Closed while the write waits for its flush.
  {
    const { body, readable } = streamingBody();
    const writer = writableFromBody(body).getWriter();
    const write = writer.write(bytes("lost"));
    await turns();
    await readable.cancel(new Error("client gone"));
    await assert.rejects(write, closedFirst);
    await assert.rejects(writer.closed, closedFirst);
  }
  // Closed before the write.
  {
    const { body, readable } = streamingBody();
    await readable.cancel();
    const writer = writableFromBody(body).getWriter();
    await assert.rejects(writer.write(bytes("lost")), closedFirst);
  }
});

Deno.test("writableFromBody close closes the writer and the readable ends after the pending output", async () => {
  const { body, readable } = streamingBody();
  const writer = writableFromBody(body).getWriter();
  const events: string[] = [];
  const written = writer.write(bytes("last")).then(() => events.push("write"));
  const closed = writer.close().then(() => events.push("close"));
  const reader = readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    events.push(done ? "done" : `read:${text(value)}`);
    if (done) break;
  }
  await Promise.all([written, closed]);
  assert.deepEqual(events, ["read:last", "write", "done", "close"]);
  assert.equal(body.isClosed(), true);
});

Deno.test("writableFromBody abort(reason) errors the channel with reason, never a clean end", async () => {
  const { body, readable } = streamingBody();
  const writer = writableFromBody(body).getWriter();
  const reader = readable.getReader();
  const written = writer.write(bytes("sent"));
  assert.equal(text((await reader.read()).value!), "sent");
  await written;
  const events: string[] = [];
  body.writeString("unsent"); // pending output is dropped by the abort
  body.flush((result) => events.push(`flush:${result}`));
  const reason = new Error("producer failed");
  await writer.abort(reason);
  await assert.rejects(reader.read(), (error: unknown) => error === reason);
  await until(() => events.length === 1, "the flush");
  assert.deepEqual(events, ["flush:closed"]);
  assert.equal(body.isClosed(), true);
  assert.throws(
    () => body.writeString("x"),
    failsWith(Error, "Body.writeString: body is closed"),
  );
});

Deno.test("writableFromBody rejects a chunk that is not a Uint8Array with TypeError", async () => {
  const { body } = streamingBody();
  const writer = writableFromBody(body).getWriter();
  const bad = writer.write("text" as unknown as Uint8Array);
  await assert.rejects(
    bad,
    failsWith(TypeError, "writableFromBody: chunks must be Uint8Array"),
  );
  assert.equal(body.pendingBytes, 0);
});

Deno.test("writableFromBody ends the body's output without a clean end when a write fails", async () => {
  // The stream owns the body: once the stream has errored nobody can close
  // the body any more, so its consumer must not be left waiting forever.
  const { body, readable } = streamingBody();
  const writer = writableFromBody(body).getWriter();
  await assert.rejects(
    writer.write(new Uint16Array(2) as unknown as Uint8Array),
    failsWith(TypeError, "writableFromBody: chunks must be Uint8Array"),
  );
  const reader = readable.getReader();
  let outcome = "pending";
  reader.read().then(
    ({ done }) => outcome = done ? "clean end" : "chunk",
    () => outcome = "errored",
  );
  await until(() => outcome !== "pending", "the readable to end");
  assert.equal(outcome, "errored");
  assert.equal(body.isClosed(), true);
});

Deno.test("writableFromBody rejects a body that is not a writer with TypeError", () => {
  const reader = bodyFromReadable(new ReadableStream<Uint8Array>());
  for (const body of [null, undefined, {}, new WritableStream(), reader]) {
    assert.throws(
      () => writableFromBody(body as unknown as Body<"write">),
      failsWith(TypeError, "writableFromBody: expected a writer body"),
    );
  }
});

Deno.test("pipeTo through writableFromBody round-trips several MiB byte-exact", async () => {
  const total = 4 << 20;
  const next = random(42);
  const data = new Uint8Array(total);
  for (let i = 0; i < total; i += 4) {
    new DataView(data.buffer).setUint32(i, (next() * 2 ** 32) >>> 0);
  }
  let sent = 0;
  let chunks = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === total) return controller.close();
      // Sizes from 0 B to 128 KiB, spread evenly over the powers of two.
      const size = Math.floor(2 ** (next() * 17)) - 1;
      const end = Math.min(total, sent + size);
      controller.enqueue(data.slice(sent, end)); // fresh memory: handed over
      sent = end;
      chunks++;
    },
  });
  const { body, readable } = streamingBody();
  const piped = source.pipeTo(writableFromBody(body));
  const received = new Uint8Array(await new Response(readable).arrayBuffer());
  await piped;
  assert.ok(chunks > 100, `only ${chunks} chunks`);
  assert.equal(received.length, total);
  assert.equal(firstDifference(received, data), -1);
  assert.equal(body.isClosed(), true);
});

Deno.test("bodyFromWritable has closed the body when options.onError receives a flush callback's exception", async () => {
  const failure = new Error("flush callback failed");
  const events: string[] = [];
  const body = bodyFromWritable(new WritableStream<Uint8Array>(), {
    onError: (error) =>
      events.push(`onError ${error === failure} closed=${body.isClosed()}`),
  });
  body.writeString("x");
  body.flush(() => {
    throw failure;
  });
  await until(() => events.length === 1, "onError");
  assert.deepEqual(events, ["onError true closed=true"]);
  body.writeString("dropped, not thrown");
  assert.equal(body.pendingBytes, 0);
});

Deno.test("bodyFromWritable notices a sink that errors while the body is idle", async () => {
  let sink!: WritableStreamDefaultController;
  const body = bodyFromWritable(
    new WritableStream<Uint8Array>({ start: (c) => void (sink = c) }),
  );
  sink.error(new Error("the sink failed on its own"));
  await until(() => body.isClosed(), "the body to close");
  assert.equal(await body.flush(), "closed");
  body.writeString("dropped, not thrown");
  assert.equal(body.pendingBytes, 0);
});
