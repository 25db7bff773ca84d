// The core Body<Rw> through its channel end, with scripted channels: each
// test is one rule of README.md ("Reader bodies", "Writer bodies").
import assert from "node:assert/strict";
import { concat } from "./_harness/util.ts";
import {
  abortOutput,
  type Body,
  createReader,
  createWriter,
  deliverInput,
  endInput,
  endOutput,
  failInput,
  type FlushResult,
  nextOutput,
  outputClosed,
  outputWritten,
  type ReadCallbacks,
} from "../body.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string) => enc.encode(s);

/** Lets queued microtasks (and promise reactions) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

// ---------------------------------------------------------------------
// Reader fixtures
// ---------------------------------------------------------------------

interface ScriptedReader {
  body: Body<"read">;
  requests: number;
  released: unknown[];
  callbackErrors: unknown[];
}

/** A reader whose channel only records; the test delivers by hand. */
function manualReader(): ScriptedReader {
  const r: ScriptedReader = {
    body: undefined as unknown as Body<"read">,
    requests: 0,
    released: [],
    callbackErrors: [],
  };
  r.body = createReader({
    request: () => void r.requests++,
    release: (reason) => void r.released.push(reason),
    callbackError: (error) => void r.callbackErrors.push(error),
  });
  return r;
}

/** A reader whose channel answers every request synchronously from `chunks`. */
function syncReader(chunks: Uint8Array[]): ScriptedReader {
  const r = manualReader();
  let i = 0;
  r.body = createReader({
    request: () => {
      r.requests++;
      if (i < chunks.length) deliverInput(r.body, chunks[i++]!);
      else endInput(r.body);
    },
    release: (reason) => void r.released.push(reason),
    callbackError: (error) => void r.callbackErrors.push(error),
  });
  return r;
}

/** Callbacks that record every answer as a string in `log`. */
function recorder(log: string[]): ReadCallbacks {
  return {
    onRead: (b, off, len) =>
      void log.push(`read ${dec.decode(b.subarray(off, off + len))}`),
    onEof: (...args: unknown[]) =>
      void log.push(
        args.length === 0 ? "eof" : `eof(${(args[0] as Error).message})`,
      ),
  };
}

// ---------------------------------------------------------------------
// Read side
// ---------------------------------------------------------------------

Deno.test("scheduleRead answers before returning when bytes are available", () => {
  const r = syncReader([bytes("abc")]);
  const log: string[] = [];
  r.body.scheduleRead(recorder(log));
  log.push("returned");
  assert.deepEqual(log, ["read abc", "returned"]);
});

Deno.test("scheduleRead answers later when the source answers later", () => {
  const r = manualReader();
  const log: string[] = [];
  r.body.scheduleRead(recorder(log));
  log.push("returned");
  assert.equal(r.requests, 1);
  deliverInput(r.body, bytes("xyz"));
  assert.deepEqual(log, ["returned", "read xyz"]);
});

Deno.test("onRead receives exactly buffer[off, off + len) of the delivered chunk", () => {
  const r = manualReader();
  const chunk = bytes("..hello..");
  let seen: [Uint8Array, number, number] | undefined;
  r.body.scheduleRead({
    onRead: (b, o, l) => void (seen = [b, o, l]),
    onEof() {},
  });
  deliverInput(r.body, chunk, 2, 5);
  assert.equal(seen![0], chunk);
  assert.deepEqual(seen!.slice(1), [2, 5]);
});

Deno.test("onEof is called with no argument on a clean end", () => {
  const r = manualReader();
  let args: unknown[] | undefined;
  r.body.scheduleRead({
    onRead() {},
    onEof: (...a: unknown[]) => void (args = a),
  });
  endInput(r.body);
  assert.deepEqual(args, []);
});

Deno.test("onEof receives the error when the input failed", () => {
  const r = manualReader();
  const error = new Deno.errors.BadResource("client gone");
  let args: unknown[] | undefined;
  r.body.scheduleRead({
    onRead() {},
    onEof: (...a: unknown[]) => void (args = a),
  });
  failInput(r.body, error);
  assert.equal(args!.length, 1);
  assert.equal(args![0], error);
});

Deno.test("a failure without a reason still reaches onEof as an Error", () => {
  const r = manualReader();
  let got: unknown = "unset";
  r.body.scheduleRead({ onRead() {}, onEof: (e) => void (got = e) });
  failInput(r.body, undefined);
  assert.ok(got instanceof Error);
});

Deno.test("a failed input drops buffered bytes: truncation never looks complete", () => {
  const r = manualReader();
  const log: string[] = [];
  r.body.scheduleRead(recorder(log));
  deliverInput(r.body, bytes("part"));
  // The next chunk arrives unasked-for-by-a-read? No: the body asks only
  // when read, so deliver one as the answer to the next request.
  r.body.scheduleRead(recorder(log));
  failInput(r.body, new Error("cut"));
  r.body.scheduleRead(recorder(log));
  assert.deepEqual(log, ["read part", "eof(cut)", "eof(cut)"]);
});

Deno.test("every read scheduled after EOF is answered onEof, once each", () => {
  const r = syncReader([]);
  const log: string[] = [];
  for (let i = 0; i < 3; i++) r.body.scheduleRead(recorder(log));
  assert.deepEqual(log, ["eof", "eof", "eof"]);
  assert.equal(r.requests, 1);
});

Deno.test("a read scheduled inside onRead is served after onRead returns", () => {
  const r = syncReader([bytes("1"), bytes("2")]);
  const log: string[] = [];
  const onRead = (b: Uint8Array, off: number, len: number) => {
    const s = dec.decode(b.subarray(off, off + len));
    log.push(`enter ${s}`);
    r.body.scheduleRead({ onRead, onEof: () => void log.push("eof") });
    log.push(`leave ${s}`);
  };
  r.body.scheduleRead({ onRead, onEof: () => void log.push("eof") });
  assert.deepEqual(log, ["enter 1", "leave 1", "enter 2", "leave 2", "eof"]);
});

Deno.test("an empty chunk answered inside request() makes the body ask again", () => {
  const r = syncReader([new Uint8Array(0), bytes("x")]);
  const log: string[] = [];
  r.body.scheduleRead(recorder(log));
  assert.deepEqual(log, ["read x"]);
  assert.equal(r.requests, 2);
});

Deno.test("100k chunks re-scheduled inside onRead run in constant stack", () => {
  let left = 100_000;
  const one = new Uint8Array([7]);
  const body: Body<"read"> = createReader({
    request: () => left-- > 0 ? deliverInput(body, one) : endInput(body),
    release() {},
    callbackError: (e) => {
      throw e;
    },
  });
  let reads = 0;
  let eofs = 0;
  const callbacks: ReadCallbacks = {
    onRead: () => {
      reads++;
      body.scheduleRead(callbacks);
    },
    onEof: () => void eofs++,
  };
  body.scheduleRead(callbacks);
  assert.equal(reads, 100_000);
  assert.equal(eofs, 1);
});

Deno.test("a second scheduleRead while one is pending throws Error", () => {
  const r = manualReader();
  r.body.scheduleRead({ onRead() {}, onEof() {} });
  assert.throws(
    () => r.body.scheduleRead({ onRead() {}, onEof() {} }),
    (e) =>
      e instanceof Error && !(e instanceof TypeError) &&
      e.message.startsWith("Body.scheduleRead:") &&
      e.message.includes("already scheduled"),
  );
  assert.equal(r.requests, 1);
});

Deno.test("scheduleRead without both callbacks throws TypeError naming the method", () => {
  const r = manualReader();
  for (
    const bad of [undefined, {}, { onRead() {} }, { onEof() {} }, {
      onRead: 1,
      onEof() {},
    }]
  ) {
    assert.throws(
      () => r.body.scheduleRead(bad as unknown as ReadCallbacks),
      { name: "TypeError", message: /^Body\.scheduleRead: / },
    );
  }
  assert.equal(r.requests, 0);
});

Deno.test("the source is asked for bytes only while a read is scheduled", () => {
  const r = manualReader();
  assert.equal(r.requests, 0);
  const log: string[] = [];
  r.body.scheduleRead(recorder(log));
  assert.equal(r.requests, 1);
  deliverInput(r.body, bytes("a"));
  assert.equal(r.requests, 1, "no read pending: no new request");
  r.body.scheduleRead(recorder(log));
  assert.equal(r.requests, 2);
  assert.deepEqual(log, ["read a"]);
});

Deno.test("a body never read holds at most one unrequested chunk", () => {
  const r = manualReader();
  deliverInput(r.body, bytes("one"));
  assert.equal(r.body.pendingBytes, 3);
  assert.throws(() => deliverInput(r.body, bytes("two")), Error);
  assert.equal(r.body.pendingBytes, 3);
  const log: string[] = [];
  r.body.scheduleRead(recorder(log));
  assert.deepEqual(log, ["read one"]);
  assert.equal(r.body.pendingBytes, 0);
});

Deno.test("closeReader releases the source once and answers a pending read onEof()", () => {
  const r = manualReader();
  const log: string[] = [];
  r.body.scheduleRead(recorder(log));
  r.body.closeReader();
  r.body.closeReader();
  assert.deepEqual(log, ["eof"]);
  assert.deepEqual(r.released, [undefined]);
});

Deno.test("closeReader discards input that arrives afterwards", () => {
  const r = manualReader();
  const log: string[] = [];
  r.body.scheduleRead(recorder(log));
  r.body.closeReader();
  deliverInput(r.body, bytes("late"));
  r.body.scheduleRead(recorder(log));
  assert.deepEqual(log, ["eof", "eof"]);
  assert.equal(r.body.pendingBytes, 0);
});

Deno.test("closeReader keeps buffered bytes readable, then EOF", () => {
  const r = manualReader();
  deliverInput(r.body, bytes("kept"));
  r.body.closeReader();
  const log: string[] = [];
  r.body.scheduleRead(recorder(log));
  r.body.scheduleRead(recorder(log));
  assert.deepEqual(log, ["read kept", "eof"]);
  assert.equal(r.requests, 0);
});

Deno.test("closeReader after the input ended does not release the source", () => {
  const r = syncReader([]);
  r.body.scheduleRead({ onRead() {}, onEof() {} });
  r.body.closeReader();
  assert.deepEqual(r.released, []);
});

Deno.test("failInput releases the source with the error", () => {
  const r = manualReader();
  const error = new RangeError("too big");
  failInput(r.body, error);
  assert.deepEqual(r.released, [error]);
  assert.equal(r.body.isClosed(), true);
});

Deno.test("reader isClosed is true once the input ended, even with bytes buffered", () => {
  const r = manualReader();
  assert.equal(r.body.isClosed(), false);
  deliverInput(r.body, bytes("x"));
  endInput(r.body);
  assert.equal(r.body.isClosed(), true);
  assert.equal(r.body.pendingBytes, 1);
});

Deno.test("reader isClosed is true after closeReader", () => {
  const r = manualReader();
  r.body.closeReader();
  assert.equal(r.body.isClosed(), true);
});

Deno.test("a callback answered inside scheduleRead throws to its caller", () => {
  const r = syncReader([bytes("x")]);
  const boom = new Error("boom");
  assert.throws(
    () =>
      r.body.scheduleRead({
        onRead: () => {
          throw boom;
        },
        onEof() {},
      }),
    (e) => e === boom,
  );
  assert.deepEqual(r.callbackErrors, []);
});

Deno.test("a read scheduled before its callback threw is still answered", async () => {
  const r = syncReader([bytes("x"), bytes("y")]);
  const log: string[] = [];
  assert.throws(() =>
    r.body.scheduleRead({
      onRead: () => {
        r.body.scheduleRead(recorder(log));
        throw new Error("boom");
      },
      onEof() {},
    })
  );
  await settle();
  assert.deepEqual(log, ["read y"]);
});

Deno.test("a callback the channel triggered that throws goes to callbackError", () => {
  const r = manualReader();
  const boom = new Error("boom");
  r.body.scheduleRead({
    onRead: () => {
      throw boom;
    },
    onEof() {},
  });
  deliverInput(r.body, bytes("x"));
  assert.deepEqual(r.callbackErrors, [boom]);
});

// ---------------------------------------------------------------------
// Writer fixtures
// ---------------------------------------------------------------------

interface ScriptedWriter {
  body: Body<"write">;
  wakes: number;
  aborted: unknown[];
  callbackErrors: unknown[];
}

function writer(
  bufferSize?: number,
  contentLength?: number,
): ScriptedWriter {
  const w: ScriptedWriter = {
    body: undefined as unknown as Body<"write">,
    wakes: 0,
    aborted: [],
    callbackErrors: [],
  };
  w.body = createWriter({
    wake: () => void w.wakes++,
    abort: (reason) => void w.aborted.push(reason),
    callbackError: (error) => void w.callbackErrors.push(error),
  }, { bufferSize, contentLength });
  return w;
}

/** Takes every pending chunk. */
function drain(body: Body<"write">): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 1_000_000; i++) {
    const next = nextOutput(body);
    if (typeof next === "string") return out;
    out.push(next);
  }
  throw new Error("drain: runaway");
}

function flushLog(body: Body<"write">, log: string[], name: string): void {
  body.flush((r: FlushResult) => void log.push(`${name} ${r}`));
}

// ---------------------------------------------------------------------
// Write side
// ---------------------------------------------------------------------

Deno.test("copied writes coalesce into one chunk, not one per write", () => {
  const w = writer();
  for (let i = 0; i < 1000; i++) w.body.writeString("0123456789");
  w.body.writeChar("!");
  w.body.writeBigstring(bytes("end"));
  const chunks = drain(w.body);
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0]!.length, 10_004);
});

Deno.test("copied writes leave chunks of at most bufferSize", () => {
  const w = writer(1024);
  const data = crypto.getRandomValues(new Uint8Array(10_000));
  w.body.writeBigstring(data);
  for (let i = 0; i < 500; i++) w.body.writeString("abcdefghij\u00e9\u{1f600}");
  const chunks = drain(w.body);
  assert.ok(
    chunks.every((c) => c.length <= 1024),
    "a chunk exceeds bufferSize",
  );
  const expected = concat([
    data,
    bytes("abcdefghij\u00e9\u{1f600}".repeat(500)),
  ]);
  assert.deepEqual(concat(chunks), expected);
});

Deno.test("scheduleBigstring hands over the very same memory, in order with copies", () => {
  const w = writer();
  const big = bytes("BIG");
  const backing = bytes("..sub..");
  w.body.writeString("a");
  w.body.scheduleBigstring(big);
  w.body.writeString("b");
  w.body.scheduleBigstring(backing, 2, 3);
  w.body.writeString("c");
  const chunks = drain(w.body);
  assert.deepEqual(chunks.map((c) => dec.decode(c)), [
    "a",
    "BIG",
    "b",
    "sub",
    "c",
  ]);
  assert.equal(chunks[1], big);
  assert.equal(chunks[3]!.buffer, backing.buffer);
  assert.equal(chunks[3]!.byteOffset, 2);
});

Deno.test("a chunk handed to the channel is never written again", () => {
  const w = writer();
  w.body.writeString("first");
  const [first] = drain(w.body);
  const copyOfFirst = first!.slice();
  w.body.writeString("second");
  w.body.scheduleBigstring(bytes("zero-copy"));
  w.body.writeString("third".repeat(1000));
  const rest = drain(w.body);
  assert.deepEqual(first, copyOfFirst);
  assert.equal(
    dec.decode(concat(rest)),
    "secondzero-copy" + "third".repeat(1000),
  );
});

Deno.test("writeBigstring copies: the caller may reuse its array at once", () => {
  const w = writer();
  const data = bytes("hello");
  w.body.writeBigstring(data, 1, 3);
  data.fill(0);
  assert.equal(dec.decode(concat(drain(w.body))), "ell");
});

Deno.test("writeChar writes one code point as 1 to 4 bytes of UTF-8", () => {
  const w = writer();
  for (const c of ["A", "\u00e9", "\u20ac", "\u{1f600}"]) w.body.writeChar(c);
  assert.deepEqual(
    [...concat(drain(w.body))],
    [0x41, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80],
  );
});

Deno.test("writeChar rejects anything but one code point with TypeError", () => {
  const w = writer();
  for (
    const bad of [
      "",
      "ab",
      "\ud800",
      "\udc00",
      "\u{1f600}x",
      65,
      null,
      undefined,
    ]
  ) {
    assert.throws(
      () => w.body.writeChar(bad as string),
      { name: "TypeError", message: /^Body\.writeChar: / },
      `accepted ${String(bad)}`,
    );
  }
  assert.equal(w.body.pendingBytes, 0);
});

Deno.test("writeString off/len are UTF-16 positions and the text is written as UTF-8", () => {
  const w = writer();
  w.body.writeString("h\u00e9llo w\u00f6rld", 1, 4);
  w.body.writeString("\u{1f600}\u{1f601}", 2);
  w.body.writeString("abc", 3);
  w.body.writeString("xyz", 0, 0);
  assert.equal(dec.decode(concat(drain(w.body))), "\u00e9llo\u{1f601}");
});

Deno.test("writeString cutting a surrogate pair writes U+FFFD", () => {
  const w = writer();
  w.body.writeString("\u{1f600}", 0, 1);
  assert.deepEqual([...concat(drain(w.body))], [0xef, 0xbf, 0xbd]);
});

Deno.test("writes reject wrong types with TypeError naming the method", () => {
  const w = writer();
  const b = w.body as unknown as Record<string, (...a: unknown[]) => void>;
  const cases: [string, unknown[]][] = [
    ["writeString", [42]],
    ["writeString", ["abc", "1"]],
    ["writeString", ["abc", 0, null]],
    ["writeBigstring", ["abc"]],
    ["writeBigstring", [new Uint16Array(2)]],
    ["writeBigstring", [new ArrayBuffer(2)]],
    ["scheduleBigstring", [[1, 2]]],
    ["scheduleBigstring", [new Uint8Array(2), 0n]],
  ];
  for (const [method, args] of cases) {
    assert.throws(() => b[method]!.apply(w.body, args), {
      name: "TypeError",
      message: new RegExp(`^Body\\.${method}: `),
    });
  }
  assert.equal(w.body.pendingBytes, 0);
});

Deno.test("writes reject negative, fractional or past-the-end off/len with RangeError", () => {
  const w = writer();
  w.body.writeString("keep");
  const b = w.body as unknown as Record<string, (...a: unknown[]) => void>;
  const six = new Uint8Array(6);
  const cases: [string, unknown[]][] = [
    ["writeString", ["abc", -1]],
    ["writeString", ["abc", 1.5]],
    ["writeString", ["abc", 4]],
    ["writeString", ["abc", 1, 3]],
    ["writeString", ["abc", 0, NaN]],
    ["writeBigstring", [six, 7]],
    ["writeBigstring", [six, 2, 5]],
    ["writeBigstring", [six, 0, -1]],
    ["scheduleBigstring", [six, 0.5]],
    ["scheduleBigstring", [six, 6, 1]],
    ["scheduleBigstring", [six, 0, Infinity]],
  ];
  for (const [method, args] of cases) {
    assert.throws(() => b[method]!.apply(w.body, args), {
      name: "RangeError",
      message: new RegExp(`^Body\\.${method}: `),
    });
  }
  assert.equal(w.body.pendingBytes, 4, "nothing half-written");
  assert.equal(dec.decode(concat(drain(w.body))), "keep");
});

Deno.test("pendingBytes counts bytes written and not yet handed to the channel", () => {
  const w = writer();
  assert.equal(w.body.pendingBytes, 0);
  w.body.writeString("abc");
  w.body.scheduleBigstring(new Uint8Array(10));
  assert.equal(w.body.pendingBytes, 13);
  nextOutput(w.body);
  assert.equal(w.body.pendingBytes, 10);
  nextOutput(w.body);
  assert.equal(w.body.pendingBytes, 0);
});

Deno.test("flush never answers inside flush, even with nothing pending", async () => {
  const w = writer();
  const log: string[] = [];
  flushLog(w.body, log, "f");
  log.push("returned");
  await settle();
  assert.deepEqual(log, ["returned", "f written"]);
});

Deno.test("flush answers written only once every byte before it reached the channel", async () => {
  const w = writer();
  const log: string[] = [];
  w.body.writeString("abcd");
  flushLog(w.body, log, "f");
  const [chunk] = drain(w.body);
  await settle();
  assert.deepEqual(log, [], "taken is not written");
  outputWritten(w.body, 2);
  assert.deepEqual(log, []);
  outputWritten(w.body, chunk!.length - 2);
  assert.deepEqual(log, ["f written"]);
});

Deno.test("flushes are answered exactly once each, in order", async () => {
  const w = writer();
  const log: string[] = [];
  w.body.writeString("a");
  flushLog(w.body, log, "1");
  flushLog(w.body, log, "2");
  w.body.writeString("b");
  flushLog(w.body, log, "3");
  drain(w.body);
  outputWritten(w.body, 2);
  flushLog(w.body, log, "4");
  await settle();
  outputWritten(w.body, 0);
  await settle();
  assert.deepEqual(log, ["1 written", "2 written", "3 written", "4 written"]);
});

Deno.test("flush without a callback returns a promise of the result", async () => {
  const w = writer();
  w.body.writeString("x");
  const p = w.body.flush();
  assert.ok(p instanceof Promise);
  drain(w.body);
  outputWritten(w.body, 1);
  assert.equal(await p, "written");
});

Deno.test("flush rejects a callback that is not a function with TypeError", () => {
  const w = writer();
  assert.throws(() => w.body.flush(42 as unknown as () => void), {
    name: "TypeError",
    message: /^Body\.flush: /,
  });
});

Deno.test("a closed channel answers pending flushes closed and drops later writes", async () => {
  const w = writer();
  const log: string[] = [];
  w.body.writeString("lost");
  flushLog(w.body, log, "pending");
  outputClosed(w.body);
  assert.deepEqual(log, ["pending closed"]);
  assert.equal(w.body.isClosed(), true);
  w.body.writeString("dropped");
  w.body.writeBigstring(new Uint8Array(3));
  w.body.scheduleBigstring(new Uint8Array(3));
  w.body.writeChar("x");
  assert.equal(w.body.pendingBytes, 0);
  flushLog(w.body, log, "later");
  await settle();
  assert.deepEqual(log, ["pending closed", "later closed"]);
});

Deno.test("a write-flush loop ends when the channel closes", async () => {
  const w = writer();
  let rounds = 0;
  let result: FlushResult = "written";
  const done = (async () => {
    while (result === "written" && rounds < 1000) {
      rounds++;
      w.body.writeString("tick");
      result = await w.body.flush();
    }
  })();
  for (let i = 0; i < 3; i++) {
    await settle();
    outputWritten(w.body, drain(w.body).reduce((n, c) => n + c.length, 0));
  }
  outputClosed(w.body);
  await done;
  assert.equal(result, "closed");
  assert.ok(rounds < 10);
});

Deno.test("closeWriter makes later writes throw Error naming the method", () => {
  const w = writer();
  w.body.closeWriter();
  const b = w.body as unknown as Record<string, (...a: unknown[]) => void>;
  const calls: [string, unknown[]][] = [
    ["writeChar", ["a"]],
    ["writeString", ["a"]],
    ["writeBigstring", [new Uint8Array(1)]],
    ["scheduleBigstring", [new Uint8Array(1)]],
  ];
  for (const [method, args] of calls) {
    assert.throws(
      () => b[method]!.apply(w.body, args),
      (e) =>
        e instanceof Error && !(e instanceof TypeError) &&
        e.message === `Body.${method}: body is closed`,
    );
  }
});

Deno.test("closeWriter delivers pending output, then end-of-stream", () => {
  const w = writer();
  w.body.writeString("tail");
  w.body.closeWriter();
  w.body.closeWriter();
  assert.equal(w.body.isClosed(), true);
  assert.equal(w.body.pendingBytes, 4);
  const first = nextOutput(w.body);
  assert.equal(dec.decode(first as Uint8Array), "tail");
  assert.equal(nextOutput(w.body), "close");
});

Deno.test("flush still works after closeWriter", async () => {
  const w = writer();
  w.body.writeString("z");
  w.body.closeWriter();
  const p = w.body.flush();
  drain(w.body);
  outputWritten(w.body, 1);
  assert.equal(await p, "written");
});

Deno.test("the channel is woken once per burst of writes, from a microtask", async () => {
  const w = writer();
  assert.equal(nextOutput(w.body), "yield");
  for (let i = 0; i < 100; i++) w.body.writeString("x");
  assert.equal(w.wakes, 0, "not inside the write");
  await settle();
  assert.equal(w.wakes, 1);
});

Deno.test("closeWriter wakes a waiting channel so it sees end-of-stream", async () => {
  const w = writer();
  assert.equal(nextOutput(w.body), "yield");
  w.body.closeWriter();
  await settle();
  assert.equal(w.wakes, 1);
  assert.equal(nextOutput(w.body), "close");
});

Deno.test("a throwing flush callback does not stop the others; its error goes to the channel", () => {
  const w = writer();
  const boom = new Error("boom");
  const log: string[] = [];
  w.body.writeString("a");
  w.body.flush(() => {
    throw boom;
  });
  flushLog(w.body, log, "next");
  drain(w.body);
  outputWritten(w.body, 1);
  assert.deepEqual(log, ["next written"]);
  assert.deepEqual(w.callbackErrors, [boom]);
});

Deno.test("abortOutput tells the channel to abort and answers flushes closed", async () => {
  const w = writer();
  const log: string[] = [];
  const reason = new Error("handler failed");
  w.body.writeString("x");
  flushLog(w.body, log, "f");
  abortOutput(w.body, reason);
  await settle();
  assert.deepEqual(w.aborted, [reason]);
  assert.deepEqual(log, ["f closed"]);
  assert.throws(() => w.body.writeString("y"), {
    message: "Body.writeString: body is closed",
  });
});

Deno.test("abortOutput after a clean end-of-stream does not abort the channel", () => {
  const w = writer();
  w.body.closeWriter();
  assert.equal(nextOutput(w.body), "close");
  abortOutput(w.body, new Error("late"));
  assert.deepEqual(w.aborted, []);
});

Deno.test("bufferSize outside [64, 2^30] is a RangeError, a non-number a TypeError", () => {
  for (const size of [0, 63, 1.5, 2 ** 31]) {
    assert.throws(() => writer(size), RangeError);
  }
  assert.throws(() => writer("64" as unknown as number), TypeError);
});

Deno.test("Body cannot be constructed directly", () => {
  const { constructor } = writer().body as unknown as {
    constructor: new (...a: unknown[]) => unknown;
  };
  assert.throws(() => new constructor(Symbol("x"), "write", {}), TypeError);
});

Deno.test("a write past the declared contentLength throws RangeError and writes nothing", () => {
  const w = writer(undefined, 5);
  w.body.writeString("h\u00e9l"); // 4 bytes
  const b = w.body as unknown as Record<string, (...a: unknown[]) => void>;
  const cases: [string, unknown[]][] = [
    ["writeString", ["\u00e9"]],
    ["writeString", ["xy"]],
    ["writeChar", ["\u20ac"]],
    ["writeBigstring", [new Uint8Array(2)]],
    ["scheduleBigstring", [new Uint8Array(2)]],
  ];
  for (const [method, args] of cases) {
    assert.throws(() => b[method]!.apply(w.body, args), {
      name: "RangeError",
      message: new RegExp(`^Body\\.${method}: .*declared length of 5 bytes`),
    });
  }
  assert.equal(w.body.pendingBytes, 4);
  w.body.writeChar("!");
  w.body.closeWriter();
  assert.equal(dec.decode(concat(drain(w.body))), "h\u00e9l!");
  assert.equal(nextOutput(w.body), "close");
  assert.deepEqual(w.aborted, []);
});

Deno.test("closeWriter short of the declared contentLength aborts the output", async () => {
  const w = writer(undefined, 10);
  const log: string[] = [];
  w.body.writeString("short");
  flushLog(w.body, log, "f");
  w.body.closeWriter();
  await settle();
  assert.equal(w.aborted.length, 1);
  assert.ok(w.aborted[0] instanceof Error);
  assert.match(
    (w.aborted[0] as Error).message,
    /^Body\.closeWriter: closed after 5 of the 10/,
  );
  assert.deepEqual(log, ["f closed"]);
  assert.equal(w.body.isClosed(), true);
});

Deno.test("surrogate halves written by two writeString calls stay two U+FFFD", () => {
  const w = writer();
  w.body.writeString("\u{1f600}", 0, 1);
  w.body.writeString("\u{1f600}", 1, 1);
  assert.deepEqual(
    [...concat(drain(w.body))],
    [0xef, 0xbf, 0xbd, 0xef, 0xbf, 0xbd],
  );
});

Deno.test("batched writeString text keeps its place among the other writes", () => {
  const w = writer();
  const d = bytes("d");
  w.body.writeString("a");
  w.body.writeBigstring(bytes("b"));
  w.body.writeString("c");
  w.body.scheduleBigstring(d);
  w.body.writeString("e");
  w.body.writeChar("f");
  w.body.writeString("g");
  assert.equal(w.body.pendingBytes, 7);
  const chunks = drain(w.body);
  assert.equal(dec.decode(concat(chunks)), "abcdefg");
  assert.ok(chunks.includes(d), "the scheduled memory itself");
});

// ---------------------------------------------------------------------
// Boundaries and transitions that each rule above rests on
// ---------------------------------------------------------------------

Deno.test("reader isClosed is false while a read waits on the source", () => {
  const r = manualReader();
  r.body.scheduleRead(recorder([]));
  assert.equal(r.requests, 1);
  assert.equal(r.body.isClosed(), false);
});

Deno.test("failInput drops a chunk held unread: the next read answers onEof(error)", () => {
  const r = manualReader();
  deliverInput(r.body, bytes("held"));
  assert.equal(r.body.pendingBytes, 4);
  failInput(r.body, new Error("cut"));
  assert.equal(r.body.pendingBytes, 0);
  const log: string[] = [];
  r.body.scheduleRead(recorder(log));
  assert.deepEqual(log, ["eof(cut)"]);
});

Deno.test("writeChar counts each code point's UTF-8 size against the declared contentLength", () => {
  const table: [string, number][] = [
    ["\x7f", 1],
    ["\x80", 2],
    ["\u07ff", 2],
    ["\u0800", 3],
    ["\uffff", 3],
    ["\u{10000}", 4],
  ];
  for (const [char, size] of table) {
    const short = writer(undefined, size - 1);
    assert.throws(() => short.body.writeChar(char), {
      name: "RangeError",
      message:
        `Body.writeChar: ${size} more bytes would exceed the declared length of ${
          size - 1
        } bytes (0 written)`,
    });
    assert.equal(short.body.pendingBytes, 0);
    const exact = writer(undefined, size);
    exact.body.writeChar(char);
    assert.equal(exact.body.pendingBytes, size);
  }
});

Deno.test("a declared contentLength of 0 refuses any text and ends cleanly when closed", () => {
  const w = writer(undefined, 0);
  assert.throws(() => w.body.writeString("x"), {
    name: "RangeError",
    message:
      "Body.writeString: 1 more bytes would exceed the declared length of 0 bytes (0 written)",
  });
  w.body.writeString("");
  w.body.closeWriter();
  assert.equal(nextOutput(w.body), "close");
  assert.deepEqual(w.aborted, []);
});

Deno.test("after endOutput a dropped write's flush answers closed once end-of-stream is taken", async () => {
  const w = writer();
  const log: string[] = [];
  w.body.writeString("last");
  endOutput(w.body);
  w.body.writeString("dropped");
  flushLog(w.body, log, "f");
  await settle();
  assert.deepEqual(log, [], "end-of-stream not taken yet");
  assert.equal(dec.decode(concat(drain(w.body))), "last");
  assert.equal(nextOutput(w.body), "close");
  await settle();
  assert.deepEqual(log, ["f closed"]);
});

Deno.test("every throwing flush callback's exception goes to the channel, in order", () => {
  const w = writer();
  const one = new Error("one");
  const two = new Error("two");
  w.body.writeString("a");
  w.body.flush(() => {
    throw one;
  });
  w.body.flush(() => {
    throw two;
  });
  drain(w.body);
  outputWritten(w.body, 1);
  assert.deepEqual(w.callbackErrors, [one, two]);
});

Deno.test("a declared contentLength counts a surrogate half cut at the end of the range as U+FFFD, 3 bytes", () => {
  const w = writer(undefined, 3);
  w.body.writeString("\u{1f600}", 0, 1);
  assert.equal(w.body.pendingBytes, 3);
  w.body.closeWriter();
  assert.deepEqual([...concat(drain(w.body))], [0xef, 0xbf, 0xbd]);
  assert.equal(nextOutput(w.body), "close");
  assert.deepEqual(w.aborted, []);
});
