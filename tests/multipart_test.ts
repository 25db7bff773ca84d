/**
 * Tests for `adapters/multipart.ts`: `multipart` (a reader body →
 * parts, each a reader body) and `multipartWriter` (fields and part
 * bodies → a writer body), held to the module's own documentation and to
 * the "Reader bodies" guarantees of README.md.
 *
 * Sources of truth: bodies serialised by Deno's own `FormData`, bodies
 * built by hand byte by byte, `Request.formData()`, and an independent
 * parser (`npm:busboy`, fed a Buffer). Callback order is recorded in an
 * `events` array and asserted whole. Inputs come from a scripted reader
 * body that answers each `request()` with the next chunk — at once
 * (inside `request()`, the case where the core delays the part's answers)
 * or from a microtask — optionally in one reused buffer that is scribbled
 * over before each refill, so a view kept too long shows it.
 *
 * Bounds: every test runs under a deadline (`deadlineTest`), every wait
 * is `within` it, loops are bounded by counts, network tests stay on
 * 127.0.0.1. The fuzz prints its seed; `MULTIPART_FUZZ_SEED=<n>` replays
 * one.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
// An independent parser, pinned here and in tests/deno.lock.
// deno-lint-ignore no-import-prefix
import busboy from "npm:busboy@1.6.0";
import { concat, failsWith, randomBytes, turns } from "./_harness/util.ts";
import { RawClient } from "./_harness/raw_http.ts";
import {
  deadlineTest as test,
  type H2Served,
  HTTP1,
  serveOver,
  within,
} from "./_harness/serve.ts";
import type { BodyHandler, WithBodyOptions } from "../adapters/serve.ts";
import {
  type Body,
  chunks,
  type FlushResult,
  streamingBody,
  toText,
} from "../mod.ts";
import { createReader, deliverInput, endInput, failInput } from "../body.ts";
import {
  multipart,
  type MultipartOptions,
  type MultipartPart,
  multipartWriter,
} from "../adapters/multipart.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const KiB = 1024;

const bytes = (text: string): Uint8Array => encoder.encode(text);
const text = (data: Uint8Array): string => decoder.decode(data);
const CT = (boundary: string) => `multipart/form-data; boundary=${boundary}`;

// ---------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------

interface SourceOptions {
  /** Answer inside `request()` (default: from a microtask). */
  sync?: boolean;
  /** Deliver every chunk in one reused buffer, scribbled over first. */
  reuse?: boolean;
  /** End with `failInput(error)` instead of a clean end. */
  fail?: unknown;
}

/** A reader body that answers each request with the next of `chunks`. */
function source(chunks: Uint8Array[], options: SourceOptions = {}) {
  const { sync = false, reuse = false, fail } = options;
  const longest = Math.max(1, ...chunks.map((c) => c.length));
  const shared = reuse ? new Uint8Array(longest + 7) : null;
  let next = 0;
  let requests = 0;
  let released = false;
  const answer = () => {
    const chunk = chunks[next];
    if (chunk !== undefined) {
      next++;
      if (shared === null) return deliverInput(body, chunk);
      shared.fill(0xee); // a view kept past its time would see this
      shared.set(chunk, 3);
      deliverInput(body, shared, 3, chunk.length);
    } else if (fail !== undefined) failInput(body, fail);
    else endInput(body);
  };
  const body: Body<"read"> = createReader({
    request() {
      requests++;
      if (sync) answer();
      else queueMicrotask(answer);
    },
    release() {
      released = true;
    },
    callbackError(error) {
      // Rethrown from the microtask: the test's unhandled error.
      queueMicrotask(() => {
        throw error;
      });
    },
  });
  return {
    body,
    requests: () => requests,
    released: () => released,
    delivered: () => next,
  };
}

/** `data` cut at `cuts` (ascending offsets). */
function split(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const cut of [...cuts, data.length]) {
    if (cut > at) chunks.push(data.slice(at, cut));
    at = Math.max(at, cut);
  }
  return chunks;
}

/** `data` in chunks of `size` bytes. */
function every(data: Uint8Array, size: number): Uint8Array[] {
  const chunks = [];
  for (let at = 0; at < data.length; at += size) {
    chunks.push(data.slice(at, at + size));
  }
  return chunks;
}

/** A hand-built body: parts `[headers, content]` between `boundary`s. */
function handBuilt(
  boundary: string,
  parts: [string, string | Uint8Array][],
  { preamble = "", epilogue = "" } = {},
): Uint8Array {
  const pieces: (string | Uint8Array)[] = [preamble];
  for (const [head, content] of parts) {
    pieces.push(`${preamble === "" && pieces.length === 1 ? "" : "\r\n"}`);
    pieces.push(`--${boundary}\r\n${head}\r\n\r\n`, content);
  }
  pieces.push(`\r\n--${boundary}--${epilogue}`);
  return concat(pieces.map((p) => typeof p === "string" ? bytes(p) : p));
}

/** Deno's own serialisation of `form`: its bytes and content type. */
async function denoFormData(form: FormData) {
  const request = new Request("http://localhost/", {
    method: "POST",
    body: form,
  });
  return {
    data: new Uint8Array(await request.arrayBuffer()),
    contentType: request.headers.get("content-type")!,
  };
}

// ---------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------

interface Parsed {
  name: string;
  filename: string | undefined;
  contentType: string | undefined;
  headers: [string, string][];
  data: Uint8Array;
}

interface Outcome {
  parts: Parsed[];
  /** `part:<name>`, `eof:<name>[:<error class>]`, `end[:<error class>]`. */
  events: string[];
  partErrors: unknown[];
  error: unknown;
  /** Arguments onEnd received. */
  endArgs: number;
}

interface ReadOptions {
  /** Close a part instead of reading it (after `after` reads). */
  close?: (part: MultipartPart, index: number) => number | null;
  /** Await `turns()` between each onRead and the next scheduleRead. */
  slow?: boolean;
  /** When to schedule each read: inside the callbacks (default), or later. */
  pace?: (typeof PACES)[number];
  /** Check each onRead's bytes once more after the await (with `slow`). */
  recheck?: boolean;
}

const kind = (error: unknown) =>
  error instanceof Error ? error.constructor.name : String(error);

/** Runs `multipart` on `input`, reading every part; resolves at onEnd. */
function parse(
  input: Body<"read">,
  contentType: string,
  options?: MultipartOptions,
  read: ReadOptions = {},
): Promise<Outcome> {
  const outcome: Outcome = {
    parts: [],
    events: [],
    partErrors: [],
    error: undefined,
    endArgs: -1,
  };
  const { promise, resolve } = Promise.withResolvers<Outcome>();
  multipart(input, contentType, {
    onPart(part) {
      const index = outcome.parts.length;
      outcome.events.push(`part:${part.name}`);
      const chunks: Uint8Array[] = [];
      const parsed: Parsed = {
        name: part.name,
        filename: part.filename,
        contentType: part.contentType,
        headers: [...part.headers],
        data: new Uint8Array(0),
      };
      outcome.parts.push(parsed);
      const closeAfter = read.close?.(part, index) ?? null;
      let reads = 0;
      const schedule = () => {
        if (closeAfter !== null && reads >= closeAfter) {
          outcome.events.push(`close:${part.name}`);
          part.body.closeReader();
          return;
        }
        part.body.scheduleRead({ onRead, onEof });
      };
      const later = (): void => {
        if (read.pace === "from a microtask") queueMicrotask(schedule);
        else if (read.pace === "after a macrotask") setTimeout(schedule, 0);
        else schedule();
      };
      const onRead = (buffer: Uint8Array, off: number, len: number) => {
        reads++;
        assert.ok(len > 0, "onRead with no bytes");
        const copy = buffer.slice(off, off + len);
        chunks.push(copy);
        parsed.data = concat(chunks);
        if (!read.slow) return later();
        turns(2).then(() => {
          if (read.recheck) {
            assert.deepEqual(
              buffer.subarray(off, off + len),
              copy,
              "borrowed bytes changed before the next scheduleRead",
            );
          }
          schedule();
        });
      };
      const onEof = (error?: unknown) => {
        outcome.events.push(
          error === undefined
            ? `eof:${part.name}`
            : `eof:${part.name}:${kind(error)}`,
        );
        if (error !== undefined) outcome.partErrors.push(error);
      };
      later();
    },
    onEnd(...args: unknown[]) {
      outcome.endArgs = args.length;
      outcome.error = args[0];
      outcome.events.push(args.length === 0 ? "end" : `end:${kind(args[0])}`);
      resolve(outcome);
    },
  }, options);
  return promise;
}

/** `parse` over `chunks` from a scripted source, within the deadline. */
function parseChunks(
  deadline: AbortSignal,
  chunks: Uint8Array[],
  contentType: string,
  sourceOptions: SourceOptions = {},
  options?: MultipartOptions,
  read?: ReadOptions,
): Promise<Outcome> {
  const { body } = source(chunks, sourceOptions);
  return within(
    deadline,
    parse(body, contentType, options, read),
    "multipart's onEnd",
  );
}

/** The parts as comparable plain values (no headers). */
function summary(parts: Parsed[]) {
  return parts.map(({ name, filename, contentType, data }) => ({
    name,
    filename,
    contentType,
    data: [...data].join(","),
  }));
}

// =====================================================================
// Parsing what Deno's FormData sends
// =====================================================================

test("multipart parses Deno's FormData: names, filenames, content types and bytes", async (deadline) => {
  const binary = new Uint8Array(3000).map((_, i) => (i * 37) & 0xff);
  const form = new FormData();
  form.append("title", "holiday photos");
  form.append("photo", new File([binary], "beach.jpg", { type: "image/jpeg" }));
  form.append("notes", new File(["a,b\r\n1,2\n"], "notes.csv"));
  form.append("empty", "");
  const { data, contentType } = await denoFormData(form);
  const { parts, events, endArgs } = await parseChunks(
    deadline,
    every(data, 1000),
    contentType,
  );
  assert.deepEqual(summary(parts), [
    {
      name: "title",
      filename: undefined,
      contentType: undefined,
      data: [...bytes("holiday photos")].join(","),
    },
    {
      name: "photo",
      filename: "beach.jpg",
      contentType: "image/jpeg",
      data: [...binary].join(","),
    },
    {
      name: "notes",
      filename: "notes.csv",
      contentType: "application/octet-stream",
      data: [...bytes("a,b\r\n1,2\n")].join(","),
    },
    { name: "empty", filename: undefined, contentType: undefined, data: "" },
  ]);
  assert.deepEqual(events, [
    "part:title",
    "eof:title",
    "part:photo",
    "eof:photo",
    "part:notes",
    "eof:notes",
    "part:empty",
    "eof:empty",
    "end",
  ]);
  assert.equal(
    endArgs,
    0,
    "onEnd() with no argument after the closing delimiter",
  );
});

test("multipart gives part.headers every header line, lowercased names, values as byte strings", async (deadline) => {
  const body = handBuilt("b", [[
    'Content-Disposition: form-data; name="f"; filename="é.txt"\r\nContent-Type:  text/plain; charset=utf-8 \r\nX-Extra: one\r\nx-extra: two',
    "x",
  ]]);
  const { parts } = await parseChunks(deadline, [body], CT("b"));
  assert.deepEqual(parts[0]!.headers, [
    ["content-disposition", 'form-data; name="f"; filename="\xc3\xa9.txt"'],
    ["content-type", "text/plain; charset=utf-8"],
    ["x-extra", "one, two"],
  ]);
  assert.equal(parts[0]!.filename, "é.txt");
  assert.equal(parts[0]!.contentType, "text/plain; charset=utf-8");
});

test("multipart parses an empty form (no parts) as onEnd() alone", async (deadline) => {
  const { data, contentType } = await denoFormData(new FormData());
  const { events } = await parseChunks(deadline, [data], contentType);
  assert.deepEqual(events, ["end"]);
});

// =====================================================================
// Order
// =====================================================================

const PACES = ["at once", "from a microtask", "after a macrotask"] as const;

for (const sync of [true, false]) {
  test(`multipart calls a part's onEof, then the next onPart, then onEnd (source answering ${sync ? "inside request()" : "from a microtask"})`, async (deadline) => {
    const body = handBuilt("xyz", [
      ['content-disposition: form-data; name="a"', "first"],
      ['content-disposition: form-data; name="b"', ""],
      ['content-disposition: form-data; name="c"; filename="c.bin"', "third"],
    ]);
    for (const pace of PACES) {
      for (const chunks of [[body], every(body, 1), every(body, 7)]) {
        const { events } = await parseChunks(
          deadline,
          chunks,
          CT("xyz"),
          { sync },
          undefined,
          { pace },
        );
        assert.deepEqual(events, [
          "part:a",
          "eof:a",
          "part:b",
          "eof:b",
          "part:c",
          "eof:c",
          "end",
        ], `${pace}, ${chunks.length} chunks`);
      }
    }
  });
}

test("multipart waits for a part's end before the next onPart, however long the part's reader takes", async (deadline) => {
  const body = handBuilt("q", [
    ['content-disposition: form-data; name="slow"', "x".repeat(5000)],
    ['content-disposition: form-data; name="next"', "y"],
  ]);
  const { events, parts } = await parseChunks(
    deadline,
    every(body, 1024),
    CT("q"),
    { reuse: true },
    undefined,
    { slow: true },
  );
  assert.deepEqual(events, [
    "part:slow",
    "eof:slow",
    "part:next",
    "eof:next",
    "end",
  ]);
  assert.equal(text(parts[0]!.data), "x".repeat(5000));
});

// =====================================================================
// Splits
// =====================================================================

const SMALL = handBuilt("bound", [
  ['Content-Disposition: form-data; name="a"', "\r\n--boun\r\n-\r"],
  [
    'content-disposition: form-data; name="f"; filename="f.txt"\r\ncontent-type: text/plain',
    "--bound\r\r\n-bound\n--bound\r--bound",
  ],
], { preamble: "pre\r\n--boun\r\n", epilogue: "\r\nepilogue" });

const SMALL_PARTS = [
  {
    name: "a",
    filename: undefined,
    contentType: undefined,
    data: [...bytes("\r\n--boun\r\n-\r")].join(","),
  },
  {
    name: "f",
    filename: "f.txt",
    contentType: "text/plain",
    data: [...bytes("--bound\r\r\n-bound\n--bound\r--bound")].join(","),
  },
];

test("multipart finds every delimiter whatever single split the input has", async (deadline) => {
  for (let cut = 1; cut < SMALL.length; cut++) {
    for (const sync of [true, false]) {
      const { parts, events } = await parseChunks(
        deadline,
        split(SMALL, [cut]),
        CT("bound"),
        { sync, reuse: true },
      );
      assert.deepEqual(summary(parts), SMALL_PARTS, `split at ${cut}`);
      assert.equal(events.at(-1), "end", `split at ${cut}`);
    }
  }
});

test("multipart finds every delimiter whatever two splits the input has", async (deadline) => {
  for (let a = 1; a < SMALL.length; a++) {
    for (let b = a + 1; b < SMALL.length; b += 3) {
      const { parts } = await parseChunks(
        deadline,
        split(SMALL, [a, b]),
        CT("bound"),
        { sync: (a + b) % 2 === 0 },
      );
      assert.deepEqual(summary(parts), SMALL_PARTS, `split at ${a}, ${b}`);
    }
  }
});

test("multipart reads an input arriving one byte at a time", async (deadline) => {
  for (const sync of [true, false]) {
    const { parts, events } = await parseChunks(
      deadline,
      every(SMALL, 1),
      CT("bound"),
      { sync, reuse: true },
    );
    assert.deepEqual(summary(parts), SMALL_PARTS);
    assert.deepEqual(events, ["part:a", "eof:a", "part:f", "eof:f", "end"]);
  }
});

// =====================================================================
// Zero copy, borrowed bytes, bounded memory
// =====================================================================

test("multipart delivers part bytes as views of the input's own read buffer", async (deadline) => {
  const body = handBuilt("b", [[
    'content-disposition: form-data; name="f"',
    "0123456789",
  ]]);
  const { body: input } = source([body]);
  const buffers: Uint8Array[] = [];
  const ended = Promise.withResolvers<void>();
  multipart(input, CT("b"), {
    onPart(part) {
      const onRead = (buffer: Uint8Array, off: number, len: number) => {
        buffers.push(buffer);
        assert.equal(text(buffer.subarray(off, off + len)), "0123456789");
        part.body.scheduleRead({ onRead, onEof: () => {} });
      };
      part.body.scheduleRead({ onRead, onEof: () => {} });
    },
    onEnd: () => ended.resolve(),
  });
  await within(deadline, ended.promise, "onEnd");
  assert.equal(buffers.length, 1);
  assert.equal(
    buffers[0],
    body,
    "the very buffer the input delivered: no copy",
  );
});

test("multipart part bytes stay unchanged until the part's next scheduleRead, an await in between", async (deadline) => {
  const content = randomBytes(20 * KiB);
  const body = handBuilt("b0", [
    ['content-disposition: form-data; name="file"; filename="r.bin"', content],
    ['content-disposition: form-data; name="after"', "tail"],
  ]);
  // One reused input buffer, scribbled over before each refill.
  const { parts } = await parseChunks(
    deadline,
    every(body, 4096),
    CT("b0"),
    { reuse: true },
    undefined,
    { slow: true, recheck: true },
  );
  assert.deepEqual(parts[0]!.data, content);
  assert.equal(text(parts[1]!.data), "tail");
});

test("multipart does not read the input while a part holds its read", async (deadline) => {
  const body = handBuilt("b", [[
    'content-disposition: form-data; name="f"',
    "x".repeat(4000),
  ]]);
  const input = source(every(body, 100));
  let part: MultipartPart | null = null;
  let reads = 0;
  multipart(input.body, CT("b"), {
    onPart(p) {
      part = p;
      p.body.scheduleRead({ onRead: () => reads++, onEof() {} });
    },
    onEnd() {},
  });
  await turns(5);
  assert.equal(reads, 1);
  const requested = input.requests();
  await turns(10);
  assert.equal(
    input.requests(),
    requested,
    "no read of the input while the part holds",
  );
  assert.equal(input.delivered(), requested, "nothing beyond what was asked");
  (part as MultipartPart | null)!.body.closeReader();
  await within(deadline, waitFor(() => input.released()), "the input closed");
});

// Waits (bounded turns) until `condition` holds.
async function waitFor(condition: () => boolean, limit = 200): Promise<void> {
  for (let i = 0; i < limit && !condition(); i++) await turns(1);
  assert.ok(condition(), "condition never held");
}

test("multipart skips the rest of a closed part; its pending read answers onEof() first", async (deadline) => {
  const body = handBuilt("b", [
    [
      'content-disposition: form-data; name="big"; filename="big"',
      "z".repeat(50_000),
    ],
    ['content-disposition: form-data; name="small"', "ok"],
  ]);
  const { parts, events } = await parseChunks(
    deadline,
    every(body, 1000),
    CT("b"),
    { reuse: true },
    undefined,
    { close: (part) => part.name === "big" ? 2 : null },
  );
  assert.deepEqual(events, [
    "part:big",
    "close:big",
    "part:small",
    "eof:small",
    "end",
  ]);
  assert.equal(parts[0]!.data.length > 0 && parts[0]!.data.length < 3000, true);
  assert.equal(text(parts[1]!.data), "ok");
});

test("multipart answers a part closed while its read is pending with onEof(), then moves on", async (deadline) => {
  const body = handBuilt("b", [
    ['content-disposition: form-data; name="a"', "aaaa"],
    ['content-disposition: form-data; name="b"', "bb"],
  ]);
  const events: string[] = [];
  const ended = Promise.withResolvers<void>();
  const input = source(every(body, 3)); // answers from microtasks
  multipart(input.body, CT("b"), {
    onPart(part) {
      events.push(`part:${part.name}`);
      const onRead = () => part.body.scheduleRead({ onRead, onEof });
      const onEof = (error?: unknown) =>
        events.push(`eof:${part.name}:${error ?? "clean"}`);
      part.body.scheduleRead({ onRead, onEof });
      if (part.name === "a") part.body.closeReader(); // its read is pending
    },
    onEnd: (error) => {
      events.push(`end:${error ?? "clean"}`);
      ended.resolve();
    },
  });
  await within(deadline, ended.promise, "onEnd");
  assert.deepEqual(events, [
    "part:a",
    "eof:a:clean",
    "part:b",
    "eof:b:clean",
    "end:clean",
  ]);
});

test("multipart never starts the next part inside a part's closeReader()", async (deadline) => {
  const body = handBuilt("b", [
    ['content-disposition: form-data; name="a"', "a".repeat(100)],
    ['content-disposition: form-data; name="b"', "b"],
  ]);
  const events: string[] = [];
  const ended = Promise.withResolvers<void>();
  let first: MultipartPart | null = null;
  multipart(source([body]).body, CT("b"), {
    onPart(part) {
      events.push(`part:${part.name}`);
      if (part.name === "a") {
        first = part;
        part.body.scheduleRead({
          onRead: () => events.push("read:a"),
          onEof() {},
        });
        return;
      }
      const onRead = () => part.body.scheduleRead({ onRead, onEof() {} });
      part.body.scheduleRead({ onRead, onEof() {} });
    },
    onEnd: () => ended.resolve(),
  });
  await waitFor(() => events.includes("read:a"));
  (first as MultipartPart | null)!.body.closeReader(); // the rest of "a" is in the chunk at hand
  events.push("closeReader returned");
  await within(deadline, ended.promise, "onEnd");
  assert.deepEqual(events, [
    "part:a",
    "read:a",
    "closeReader returned",
    "part:b",
  ]);
});

// =====================================================================
// Grammar
// =====================================================================

test("multipart part content may hold CR, LF, NUL and --boundary not preceded by CRLF", async (deadline) => {
  const content = concat([
    bytes("\0\r\0\n\r\r\n\n--b0und--b0und\r\n-b0und\r\n--b0un\r\n--"),
    new Uint8Array(256).map((_, i) => i),
    bytes("x--b0und--\r\r\n--b0un"),
  ]);
  const body = handBuilt("b0und", [
    ['content-disposition: form-data; name="bin"; filename="bin"', content],
  ]);
  for (const size of [1, 2, 3, 5, 8, 13, body.length]) {
    const { parts, events } = await parseChunks(
      deadline,
      every(body, size),
      CT("b0und"),
      { reuse: true },
    );
    assert.deepEqual(parts[0]!.data, content, `chunks of ${size}`);
    assert.deepEqual(events, ["part:bin", "eof:bin", "end"]);
  }
});

test("multipart ignores the preamble and the epilogue", async (deadline) => {
  const body = handBuilt(
    "b",
    [['content-disposition: form-data; name="x"', "1"]],
    {
      preamble: "This is the preamble.\r\n-b\r\n--c\r\n b--b\r",
      epilogue:
        '\r\nand an epilogue\r\n--b\r\ncontent-disposition: form-data; name="no"\r\n\r\n',
    },
  );
  const { parts, events } = await parseChunks(
    deadline,
    every(body, 4),
    CT("b"),
  );
  assert.deepEqual(summary(parts).map((p) => p.name), ["x"]);
  assert.deepEqual(events, ["part:x", "eof:x", "end"]);
});

test("multipart closes the input once the closing delimiter was seen", async (deadline) => {
  const body = handBuilt("b", [[
    'content-disposition: form-data; name="x"',
    "1",
  ]]);
  const input = source([body, bytes("epilogue that is never read")]);
  await within(deadline, parse(input.body, CT("b")), "onEnd");
  assert.equal(input.released(), true);
  assert.equal(
    input.delivered(),
    1,
    "the epilogue's chunk was never asked for",
  );
});

test("multipart accepts spaces and tabs after a boundary, before its CRLF", async (deadline) => {
  const body = bytes(
    '--b \t \r\ncontent-disposition: form-data; name="x"\r\n\r\nv\r\n--b\t\r\ncontent-disposition: form-data; name="y"\r\n\r\nw\r\n--b--',
  );
  const { parts } = await parseChunks(deadline, every(body, 3), CT("b"));
  assert.deepEqual(parts.map((p) => [p.name, text(p.data)]), [["x", "v"], [
    "y",
    "w",
  ]]);
});

// One part's content-disposition parameters, as multipart reads them.
async function disposition(deadline: AbortSignal, value: string) {
  const body = concat([
    bytes(`--b\r\ncontent-disposition: ${value}\r\n\r\nv\r\n--b--`),
  ]);
  const { parts, error } = await parseChunks(deadline, [body], CT("b"));
  assert.equal(error, undefined, `${value}: ${error}`);
  return { name: parts[0]!.name, filename: parts[0]!.filename };
}

test("multipart reads tokens and quoted strings: a backslash escapes only a quote and a backslash", async (deadline) => {
  const cases: [string, string, string | undefined][] = [
    ["form-data; name=token; filename=a.txt", "token", "a.txt"],
    ['form-data; name="a\\"b"; filename="c:\\\\d"', 'a"b', "c:\\d"],
    [
      'form-data; name="a\\b"; filename="C:\\temp\\x.txt"',
      "a\\b",
      "C:\\temp\\x.txt",
    ],
    [
      'form-data; name="semi;colon=equals"; filename="x; filename=y"',
      "semi;colon=equals",
      "x; filename=y",
    ],
    ['form-data;name="tight";filename="t"', "tight", "t"],
    ['form-data ;  name = "spaced" ;\tfilename= "s" ', "spaced", "s"],
    ['form-data; name=""', "", undefined],
    ['form-data; name="f"; filename=""', "f", ""],
    ['form-data; name="f";', "f", undefined],
  ];
  for (const [value, name, filename] of cases) {
    assert.deepEqual(
      await disposition(deadline, value),
      { name, filename },
      value,
    );
  }
});

test("multipart leaves %22, %0D and %0A in names and filenames as sent", async (deadline) => {
  assert.deepEqual(
    await disposition(
      deadline,
      'form-data; name="a%22b%0D%0Ac"; filename="q%22.txt%0A"',
    ),
    { name: "a%22b%0D%0Ac", filename: "q%22.txt%0A" },
  );
  // As Request.formData() leaves them.
  const form = new FormData();
  form.append('a"b\r\nc', new File(["x"], 'q".txt'));
  const { data, contentType } = await denoFormData(form);
  const { parts } = await parseChunks(deadline, [data], contentType);
  const back = await new Request("http://localhost/", {
    method: "POST",
    body: data,
    headers: { "content-type": contentType },
  }).formData();
  const [name, file] = [...back][0] as [string, File];
  assert.deepEqual([parts[0]!.name, parts[0]!.filename], [name, file.name]);
  assert.deepEqual([name, file.name], ["a%22b%0D%0Ac", "q%22.txt"]);
});

test("multipart prefers filename* (RFC 5987) to filename, before or after it", async (deadline) => {
  const cases: [string, string][] = [
    [
      "form-data; name=f; filename=\"plain.txt\"; filename*=UTF-8''%E2%82%AC%20rates.txt",
      "€ rates.txt",
    ],
    [
      "form-data; name=f; filename*=utf-8'en'%E2%82%AC.txt; filename=\"plain.txt\"",
      "€.txt",
    ],
    ["form-data; name=f; filename*=ISO-8859-1''caf%E9", "café"],
    ["form-data; name=f; filename*=UTF-8''a.txt", "a.txt"],
  ];
  for (const [value, filename] of cases) {
    assert.equal(
      (await disposition(deadline, value)).filename,
      filename,
      value,
    );
  }
});

test("multipart decodes name, filename and contentType as UTF-8", async (deadline) => {
  const body = bytes(
    '--b\r\nContent-Disposition: form-data; name="日本"; filename="€ é.txt"\r\nContent-Type: text/plain; name="ü"\r\n\r\nv\r\n--b--',
  );
  const { parts } = await parseChunks(deadline, every(body, 5), CT("b"));
  assert.deepEqual(
    [parts[0]!.name, parts[0]!.filename, parts[0]!.contentType],
    ["日本", "€ é.txt", 'text/plain; name="ü"'],
  );
});

test("multipart reads header names, the disposition type and parameter names case-insensitively", async (deadline) => {
  const body = bytes(
    '--b\r\nCONTENT-DISPOSITION: Form-Data; NAME="n"; FileName="f"\r\ncOnTeNt-TyPe: Image/PNG\r\n\r\nv\r\n--b--',
  );
  const { parts } = await parseChunks(deadline, [body], CT("b"));
  assert.deepEqual(
    [parts[0]!.name, parts[0]!.filename, parts[0]!.contentType],
    ["n", "f", "Image/PNG"],
  );
});

test("multipart gives a field filename undefined and no content type as undefined", async (deadline) => {
  const body = handBuilt("b", [
    ['content-disposition: form-data; name="field"', "v"],
    ['content-disposition: form-data; name="file"; filename=""', ""],
  ]);
  const { parts } = await parseChunks(deadline, [body], CT("b"));
  assert.deepEqual(
    parts.map((p) => [p.name, p.filename, p.contentType]),
    [["field", undefined, undefined], ["file", "", undefined]],
  );
});

test("multipart reads the boundary of a content type as a token or a quoted string, case-insensitively", async (deadline) => {
  const types: [string, string][] = [
    ["multipart/form-data; boundary=abc", "abc"],
    ['Multipart/Form-Data; charset=utf-8; BOUNDARY="a b:c?"', "a b:c?"],
    ["multipart/form-data;boundary=" + "x".repeat(70), "x".repeat(70)],
  ];
  for (const [contentType, boundary] of types) {
    const body = handBuilt(boundary, [[
      'content-disposition: form-data; name="n"',
      "v",
    ]]);
    const { parts, error } = await parseChunks(deadline, [body], contentType);
    assert.equal(error, undefined, contentType);
    assert.equal(text(parts[0]!.data), "v", contentType);
  }
});

// =====================================================================
// Truncation
// =====================================================================

const FULL = handBuilt("bb", [
  ['content-disposition: form-data; name="a"', "alpha"],
  ['content-disposition: form-data; name="f"; filename="f"', "file content"],
], { preamble: "preamble\r\n" });

/** Where FULL is cut, what the events are, and what the message says. */
const CUTS: [string, string, string[], string][] = [
  [
    "in the preamble",
    "preamble\r\n-",
    ["end:TypeError"],
    "before any boundary",
  ],
  [
    "in a header block",
    "preamble\r\n--bb\r\ncontent-disp",
    ["end:TypeError"],
    "in the header block of part 1",
  ],
  [
    "right after a delimiter",
    "preamble\r\n--bb",
    ["end:TypeError"],
    "right after a boundary",
  ],
  [
    "in part content",
    'preamble\r\n--bb\r\ncontent-disposition: form-data; name="a"\r\n\r\nalp',
    ["part:a", "eof:a:TypeError", "end:TypeError"],
    "in the content of part 1",
  ],
  [
    "in a split delimiter",
    'preamble\r\n--bb\r\ncontent-disposition: form-data; name="a"\r\n\r\nalpha\r\n--b',
    ["part:a", "eof:a:TypeError", "end:TypeError"],
    "in the content of part 1",
  ],
  [
    "after a part's delimiter",
    'preamble\r\n--bb\r\ncontent-disposition: form-data; name="a"\r\n\r\nalpha\r\n--bb',
    ["part:a", "eof:a:TypeError", "end:TypeError"],
    "right after a boundary",
  ],
  [
    "in a file's content",
    text(FULL).slice(0, text(FULL).indexOf("file content") + 4),
    ["part:a", "eof:a", "part:f", "eof:f:TypeError", "end:TypeError"],
    "in the content of part 2",
  ],
  ["before the closing --", text(FULL).slice(0, -2), [
    "part:a",
    "eof:a",
    "part:f",
    "eof:f:TypeError",
    "end:TypeError",
  ], "right after a boundary"],
  ["between the closing dashes", text(FULL).slice(0, -1), [
    "part:a",
    "eof:a",
    "part:f",
    "eof:f:TypeError",
    "end:TypeError",
  ], "right after a boundary"],
];

for (const [where, cut, events, message] of CUTS) {
  test(`multipart: an input cut ${where} fails the current part's read, then onEnd, with a TypeError`, async (deadline) => {
    const data = bytes(cut);
    for (const chunks of [[data], every(data, 1), every(data, 6)]) {
      const outcome = await parseChunks(deadline, chunks, CT("bb"));
      assert.deepEqual(outcome.events, events, `${chunks.length} chunks`);
      failsWith(
        TypeError,
        `multipart: the input ended at byte ${data.length} ${message}`,
      )(outcome.error);
      for (const error of outcome.partErrors) {
        assert.equal(error, outcome.error);
      }
    }
  });
}

test("multipart hands the input's own failure to the part's read and to onEnd (a client gone)", async (deadline) => {
  const gone = new Deno.errors.BadResource("client gone");
  const cut = every(bytes(CUTS[6]![1]), 10);
  for (const sync of [true, false]) {
    const outcome = await parseChunks(deadline, cut, CT("bb"), {
      fail: gone,
      sync,
    });
    assert.deepEqual(outcome.events, [
      "part:a",
      "eof:a",
      "part:f",
      "eof:f:BadResource",
      "end:BadResource",
    ]);
    assert.equal(outcome.partErrors[0], gone);
    assert.equal(outcome.error, gone);
  }
});

test("multipart: a part nobody reads holds the upload; the input's failure reaches it when it reads", async (deadline) => {
  const gone = new Error("gone");
  const input = source(every(bytes(CUTS[3]![1]), 8), { fail: gone });
  let part: MultipartPart | null = null;
  const events: string[] = [];
  const ended = Promise.withResolvers<void>();
  multipart(input.body, CT("bb"), {
    onPart: (p) => void (part = p),
    onEnd: (error) => {
      events.push(`end:${(error as Error).message}`);
      ended.resolve();
    },
  });
  await waitFor(() => part !== null);
  await turns(5);
  assert.equal(events.length, 0, "no onEnd while the part is held");
  const requested = input.requests();
  await turns(5);
  assert.equal(input.requests(), requested);
  const read = (): void =>
    part!.body.scheduleRead({
      onRead: read,
      onEof: (error) => events.push(`eof:${(error as Error).message}`),
    });
  read();
  await within(deadline, ended.promise, "onEnd");
  assert.deepEqual(events, ["eof:gone", "end:gone"]);
});

// =====================================================================
// Malformed input
// =====================================================================

/** A body, what is wrong, the message and the byte it names. */
const MALFORMED: [string, string, string, number][] = [
  [
    "a header line without a colon",
    '--b\r\ncontent-disposition form-data; name="x"\r\n\r\nv\r\n--b--',
    "a header line without a colon",
    5,
  ],
  [
    "a header name that is not a token",
    '--b\r\ncontent disposition: form-data; name="x"\r\n\r\nv\r\n--b--',
    "a header name that is not a token",
    5,
  ],
  [
    "a header line ending in a bare LF",
    '--b\r\ncontent-disposition: form-data; name="x"\n\r\nv\r\n--b--',
    "a header line ending in a bare LF",
    45,
  ],
  [
    "a blank line that is a bare LF",
    '--b\r\ncontent-disposition: form-data; name="x"\r\n\nv\r\n--b--',
    "a header line ending in a bare LF",
    47,
  ],
  [
    "a bare CR inside a header line",
    '--b\r\ncontent-disposition: form-data;\r name="x"\r\n\r\nv\r\n--b--',
    "a bare CR in a header line",
    36,
  ],
  [
    "a boundary line ending in a bare LF",
    '--b\ncontent-disposition: form-data; name="x"\r\n\r\nv\r\n--b--',
    "expected CRLF or -- after a boundary",
    3,
  ],
  [
    "a boundary line with a CR and no LF",
    '--b\r-content-disposition: form-data; name="x"\r\n\r\nv\r\n--b--',
    "a CR without LF after a boundary",
    4,
  ],
  [
    "a boundary followed by other characters",
    '--b\r\ncontent-disposition: form-data; name="x"\r\n\r\nv\r\n--bx\r\n',
    "expected CRLF or -- after a boundary",
    55,
  ],
  [
    "a boundary followed by a single dash",
    '--b-\r\ncontent-disposition: form-data; name="x"\r\n\r\nv\r\n--b--',
    "a boundary followed by a single -",
    4,
  ],
  [
    "a part without content-disposition",
    "--b\r\ncontent-type: text/plain\r\n\r\nv\r\n--b--",
    "part 1 has no content-disposition header (its header block ends at byte 33)",
    33,
  ],
  [
    "a part without headers",
    "--b\r\n\r\nv\r\n--b--",
    "part 1 has no content-disposition header (its header block ends at byte 7)",
    7,
  ],
  [
    "a disposition that is not form-data",
    '--b\r\ncontent-disposition: attachment; name="x"\r\n\r\nv\r\n--b--',
    "part 1: the content-disposition is not form-data",
    5,
  ],
  [
    "a disposition without a name",
    '--b\r\ncontent-disposition: form-data; filename="x"\r\n\r\nv\r\n--b--',
    "part 1: the content-disposition has no name parameter",
    5,
  ],
  [
    "a repeated content-disposition",
    '--b\r\ncontent-disposition: form-data; name="x"\r\ncontent-disposition: form-data; name="y"\r\n\r\nv\r\n--b--',
    "a second content-disposition header",
    47,
  ],
  [
    "a repeated parameter",
    '--b\r\ncontent-disposition: form-data; name="x"; name="y"\r\n\r\nv\r\n--b--',
    "part 1: content-disposition: the parameter name is repeated",
    5,
  ],
  [
    "an unterminated quoted string",
    '--b\r\ncontent-disposition: form-data; name="x\r\n\r\nv\r\n--b--',
    "part 1: content-disposition: parameter name: unterminated quoted string",
    5,
  ],
  [
    "a parameter without =",
    "--b\r\ncontent-disposition: form-data; name\r\n\r\nv\r\n--b--",
    'part 1: content-disposition: parameter name has no "="',
    5,
  ],
  [
    "a folded header line",
    '--b\r\ncontent-disposition: form-data;\r\n name="x"\r\n\r\nv\r\n--b--',
    "a folded header line (obsolete line folding)",
    38,
  ],
  [
    "a NUL in a header value",
    '--b\r\ncontent-disposition: form-data; name="\0"\r\n\r\nv\r\n--b--',
    "a NUL in a header value",
    43,
  ],
  [
    "a bad filename*",
    "--b\r\ncontent-disposition: form-data; name=x; filename*=UTF-8''%E2%8\r\n\r\nv\r\n--b--",
    "part 1: content-disposition: filename*: a bad percent-encoding",
    5,
  ],
  [
    "a filename* in an unknown charset",
    "--b\r\ncontent-disposition: form-data; name=x; filename*=koi8-r''abc\r\n\r\nv\r\n--b--",
    'part 1: content-disposition: filename*: unsupported charset "koi8-r"',
    5,
  ],
  [
    "a second part that is malformed",
    '--b\r\ncontent-disposition: form-data; name="x"\r\n\r\nv\r\n--b\r\nbroken\r\n\r\n--b--',
    "a header line without a colon",
    57,
  ],
];

for (const [what, body, message, at] of MALFORMED) {
  test(`multipart: ${what} is malformed: onEnd(TypeError) saying so, with the byte`, async (deadline) => {
    const data = bytes(body);
    for (const chunks of [[data], every(data, 1), every(data, 4)]) {
      const outcome = await parseChunks(deadline, chunks, CT("b"));
      failsWith(TypeError, `multipart: ${message}`)(outcome.error);
      assert.match(
        (outcome.error as Error).message,
        new RegExp(`at byte ${at}\\b`),
      );
      assert.equal(outcome.events.at(-1), "end:TypeError");
      for (const event of outcome.events.slice(0, -1)) {
        assert.ok(!event.startsWith("end"), "onEnd exactly once");
      }
    }
  });
}

test("multipart: a malformed boundary line fails the part before it, never ends it cleanly", async (deadline) => {
  const data = bytes(
    '--b\r\ncontent-disposition: form-data; name="x"\r\n\r\nv\r\n--bx',
  );
  const { events } = await parseChunks(deadline, [data], CT("b"));
  assert.deepEqual(events, ["part:x", "eof:x:TypeError", "end:TypeError"]);
});

Deno.test("multipart refuses a content type that is not multipart/form-data with a 1–70 character boundary", () => {
  const { body } = source([]);
  const refused: [unknown, string][] = [
    [null, "multipart: expected the request's content-type"],
    ["text/plain", "multipart: the content-type is not multipart/form-data"],
    [
      "multipart/mixed; boundary=b",
      "multipart: the content-type is not multipart/form-data",
    ],
    ["multipart/form-data", "multipart: the content-type has no boundary"],
    ["multipart/form-data; boundary=", "multipart: malformed content-type"],
    [
      "multipart/form-data; boundary=" + "x".repeat(71),
      "multipart: the boundary must be 1–70 characters",
    ],
    [
      'multipart/form-data; boundary=""',
      "multipart: the boundary must be 1–70 characters",
    ],
    [
      'multipart/form-data; boundary="ends with space "',
      "multipart: the boundary must be 1–70 characters",
    ],
    [
      'multipart/form-data; boundary="a\\"b"',
      "multipart: the boundary must be 1–70 characters",
    ],
    [
      "multipart/form-data; boundary=a; boundary=b",
      "multipart: malformed content-type",
    ],
  ];
  for (const [contentType, message] of refused) {
    assert.throws(
      () => multipart(body, contentType as string, { onPart() {}, onEnd() {} }),
      failsWith(TypeError, message),
      String(contentType),
    );
  }
});

Deno.test("multipart checks its arguments: a reader body, callbacks that are functions, known options", () => {
  const { body } = source([]);
  const callbacks = { onPart() {}, onEnd() {} };
  const { body: writer } = streamingBody();
  assert.throws(
    () => multipart(writer as never, CT("b"), callbacks),
    failsWith(
      TypeError,
      "multipart: expected a reader body, received a write body",
    ),
  );
  assert.throws(
    () => multipart({} as never, CT("b"), callbacks),
    failsWith(TypeError, "multipart: expected a reader body, received Object"),
  );
  assert.throws(
    () => multipart(body, CT("b"), { onPart() {} } as never),
    failsWith(TypeError, "multipart: expected { onPart, onEnd } functions"),
  );
  assert.throws(
    () => multipart(body, CT("b"), callbacks, { maxPart: 1 } as never),
    failsWith(
      TypeError,
      'multipart: unknown option "maxPart" (accepted: maxParts, maxHeaderBytes, maxPartBytes, maxFieldBytes)',
    ),
  );
  assert.throws(
    () => multipart(body, CT("b"), callbacks, { maxParts: "1" } as never),
    failsWith(TypeError, "multipart: maxParts must be a number"),
  );
  assert.throws(
    () => multipart(body, CT("b"), callbacks, { maxPartBytes: -1 }),
    failsWith(
      RangeError,
      "multipart: maxPartBytes must be a non-negative integer",
    ),
  );
  assert.throws(
    () => multipart(body, CT("b"), callbacks, { maxFieldBytes: 1.5 }),
    failsWith(
      RangeError,
      "multipart: maxFieldBytes must be a non-negative integer",
    ),
  );
});

// =====================================================================
// Limits
// =====================================================================

const LIMITED = handBuilt("lim", [
  ['content-disposition: form-data; name="f1"', "12345"],
  [
    'content-disposition: form-data; name="file"; filename="x.bin"',
    "0123456789",
  ],
  ['content-disposition: form-data; name="f2"', "abc"],
]);

// The RangeError of a limit: its class, its message, and withBody's mark.
function isLimit(error: unknown, message: string): void {
  failsWith(RangeError, message)(error);
  assert.equal(
    (error as Record<symbol, unknown>)[
      Symbol.for("@httpaf/body/client-status")
    ],
    413,
    "marked for withBody's 413",
  );
}

test("multipart: maxParts lets that many parts through; one more is a RangeError at onEnd", async (deadline) => {
  const ok = await parseChunks(deadline, every(LIMITED, 5), CT("lim"), {}, {
    maxParts: 3,
  });
  assert.equal(ok.events.at(-1), "end");
  const over = await parseChunks(deadline, every(LIMITED, 5), CT("lim"), {}, {
    maxParts: 2,
  });
  assert.deepEqual(over.events, [
    "part:f1",
    "eof:f1",
    "part:file",
    "eof:file",
    "end:RangeError",
  ]);
  isLimit(over.error, "multipart: more than maxParts (2) parts");
});

test("multipart: maxFieldBytes fails a field's read, then onEnd, with the same RangeError", async (deadline) => {
  const ok = await parseChunks(deadline, every(LIMITED, 3), CT("lim"), {}, {
    maxFieldBytes: 5,
  });
  assert.equal(
    ok.events.at(-1),
    "end",
    "a field of exactly maxFieldBytes, files not counted",
  );
  const over = await parseChunks(deadline, every(LIMITED, 3), CT("lim"), {}, {
    maxFieldBytes: 4,
  });
  assert.deepEqual(over.events, [
    "part:f1",
    "eof:f1:RangeError",
    "end:RangeError",
  ]);
  isLimit(
    over.error,
    "multipart: field part 1 is larger than maxFieldBytes (4 bytes)",
  );
  assert.equal(over.partErrors[0], over.error);
});

test("multipart: maxPartBytes fails a file's read, then onEnd, with the same RangeError", async (deadline) => {
  const ok = await parseChunks(deadline, every(LIMITED, 3), CT("lim"), {}, {
    maxPartBytes: 10,
  });
  assert.equal(
    ok.events.at(-1),
    "end",
    "a file of exactly maxPartBytes, fields not counted",
  );
  for (const chunks of [[LIMITED], every(LIMITED, 1)]) {
    const over = await parseChunks(deadline, chunks, CT("lim"), {}, {
      maxPartBytes: 9,
    });
    assert.deepEqual(over.events, [
      "part:f1",
      "eof:f1",
      "part:file",
      "eof:file:RangeError",
      "end:RangeError",
    ]);
    isLimit(
      over.error,
      "multipart: file part 2 is larger than maxPartBytes (9 bytes)",
    );
    assert.equal(over.partErrors[0], over.error);
    assert.ok(
      over.parts[1]!.data.length <= 9,
      "nothing past the limit delivered",
    );
  }
});

test("multipart: maxPartBytes counts the bytes of a part the application closed", async (deadline) => {
  const over = await parseChunks(
    deadline,
    every(LIMITED, 2),
    CT("lim"),
    {},
    { maxPartBytes: 9 },
    { close: (part) => part.name === "file" ? 0 : null },
  );
  assert.deepEqual(over.events, [
    "part:f1",
    "eof:f1",
    "part:file",
    "close:file",
    "end:RangeError",
  ]);
  isLimit(
    over.error,
    "multipart: file part 2 is larger than maxPartBytes (9 bytes)",
  );
});

test("multipart: maxHeaderBytes bounds one header block, from the boundary's CRLF to the blank line", async (deadline) => {
  // "\r\n" + 'content-disposition: form-data; name="f1"' (41) + "\r\n" + "\r\n"
  const exact = 2 + 41 + 2 + 2;
  const largest = 2 +
    'content-disposition: form-data; name="file"; filename="x.bin"'.length + 4;
  const ok = await parseChunks(deadline, [LIMITED], CT("lim"), {}, {
    maxHeaderBytes: largest,
  });
  assert.equal(ok.events.at(-1), "end");
  const short = await parseChunks(deadline, [LIMITED], CT("lim"), {}, {
    maxHeaderBytes: largest - 1,
  });
  assert.equal(short.events.at(-1), "end:RangeError");
  const first = await parseChunks(deadline, every(LIMITED, 7), CT("lim"), {}, {
    maxHeaderBytes: exact - 1,
  });
  assert.deepEqual(first.events, ["end:RangeError"]);
  isLimit(
    first.error,
    "multipart: the header block of part 1 is larger than maxHeaderBytes (46 bytes)",
  );
  const second = await parseChunks(deadline, every(LIMITED, 7), CT("lim"), {}, {
    maxHeaderBytes: exact,
  });
  assert.deepEqual(second.events, ["part:f1", "eof:f1", "end:RangeError"]);
  isLimit(
    second.error,
    "multipart: the header block of part 2 is larger than maxHeaderBytes (47 bytes)",
  );
});

test("multipart: maxHeaderBytes bounds the padding after a boundary too", async (deadline) => {
  const body = bytes(
    `--b${
      " ".repeat(100)
    }\r\ncontent-disposition: form-data; name=x\r\n\r\nv\r\n--b--`,
  );
  const { events, error } = await parseChunks(
    deadline,
    every(body, 16),
    CT("b"),
    {},
    { maxHeaderBytes: 50 },
  );
  assert.deepEqual(events, ["end:RangeError"]);
  isLimit(
    error,
    "multipart: the header block of part 1 is larger than maxHeaderBytes (50 bytes)",
  );
});

test("multipart: a limit closes the input (the rest of the upload is not read)", async (deadline) => {
  const input = source(every(LIMITED, 4));
  const outcome = await within(
    deadline,
    parse(input.body, CT("lim"), { maxFieldBytes: 2 }),
    "onEnd",
  );
  assert.equal(outcome.events.at(-1), "end:RangeError");
  assert.equal(input.released(), true);
  assert.ok(input.delivered() < every(LIMITED, 4).length);
});

// =====================================================================
// Exceptions thrown by the application's callbacks
// =====================================================================

test("multipart: an exception thrown by onPart ends the parse: onEnd gets it, the input is closed", async (deadline) => {
  const input = source(every(LIMITED, 9));
  const boom = new Error("onPart failed");
  const events: string[] = [];
  const ended = Promise.withResolvers<void>();
  multipart(input.body, CT("lim"), {
    onPart(part) {
      events.push(`part:${part.name}`);
      part.body.scheduleRead({
        onRead() {},
        onEof: (error) => events.push(`eof:${error === boom ? "boom" : error}`),
      });
      throw boom;
    },
    onEnd(error) {
      events.push(`end:${error === boom ? "boom" : error}`);
      ended.resolve();
    },
  });
  await within(deadline, ended.promise, "onEnd");
  assert.deepEqual(events, ["part:f1", "eof:boom", "end:boom"]);
  assert.equal(input.released(), true);
});

test("multipart: an async onPart that rejects ends the parse: onEnd gets the rejection", async (deadline) => {
  const input = source(every(LIMITED, 9));
  const boom = new Error("async onPart failed");
  const events: string[] = [];
  const ended = Promise.withResolvers<void>();
  multipart(input.body, CT("lim"), {
    async onPart(part) {
      events.push(`part:${part.name}`);
      await toText(part.body);
      throw boom;
    },
    onEnd(error) {
      events.push(`end:${error === boom ? "boom" : error}`);
      ended.resolve();
    },
  });
  await within(deadline, ended.promise, "onEnd");
  assert.deepEqual(events, ["part:f1", "end:boom"]);
  assert.equal(input.released(), true);
});

test("multipart: an async onPart reads each part in turn (the next part waits for the body, not the promise)", async (deadline) => {
  const events: string[] = [];
  const ended = Promise.withResolvers<void>();
  multipart(source(every(LIMITED, 4)).body, CT("lim"), {
    async onPart(part) {
      events.push(`part:${part.name}`);
      for await (const bytes of chunks(part.body)) {
        await turns(1); // borrowed bytes outlive an await until the next step
        events.push(`${part.name}:${text(bytes)}`);
      }
      events.push(`done:${part.name}`);
    },
    onEnd: (error) => {
      events.push(`end:${error ?? "clean"}`);
      ended.resolve();
    },
  });
  await within(deadline, ended.promise, "onEnd");
  const joined = events.filter((e) =>
    !e.startsWith("part") && !e.startsWith("done") && !e.startsWith("end")
  );
  assert.equal(
    joined.map((e) => e.split(":")[1]).join(""),
    "12345" + "0123456789" + "abc",
  );
  assert.deepEqual(
    events.filter((e) => e.startsWith("part") || e.startsWith("end")),
    ["part:f1", "part:file", "part:f2", "end:clean"],
  );
});

test("multipart: an exception thrown by a part's onRead, when the parser answered it, reaches onEnd", async (deadline) => {
  const input = source(every(LIMITED, 9));
  const boom = new Error("onRead failed");
  const events: string[] = [];
  const ended = Promise.withResolvers<void>();
  multipart(input.body, CT("lim"), {
    onPart(part) {
      events.push(`part:${part.name}`);
      part.body.scheduleRead({
        onRead() {
          events.push("read");
          throw boom;
        },
        onEof: (error) => events.push(`eof:${error}`),
      });
    },
    onEnd(error) {
      events.push(`end:${error === boom ? "boom" : error}`);
      ended.resolve();
    },
  });
  await within(deadline, ended.promise, "onEnd");
  assert.deepEqual(events, ["part:f1", "read", "end:boom"]);
  assert.equal(input.released(), true);
});

test("multipart: an exception thrown by onEnd is logged, never thrown to the input", async (deadline) => {
  const logged: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void logged.push(args);
  try {
    const boom = new Error("onEnd failed");
    const input = source([LIMITED]);
    const called = Promise.withResolvers<void>();
    multipart(input.body, CT("lim"), {
      onPart(part) {
        const onRead = () => part.body.scheduleRead({ onRead, onEof() {} });
        part.body.scheduleRead({ onRead, onEof() {} });
      },
      onEnd() {
        called.resolve();
        throw boom;
      },
    });
    await within(deadline, called.promise, "onEnd");
    await turns(2);
    assert.deepEqual(logged, [["multipart: a callback threw:", boom]]);
  } finally {
    console.error = original;
  }
});

test("multipart: an input that is already being read ends the parse with its error", async (deadline) => {
  const input = source([LIMITED]);
  input.body.scheduleRead({ onRead() {}, onEof() {} });
  const outcome = await within(deadline, parse(input.body, CT("lim")), "onEnd");
  assert.deepEqual(outcome.events, ["end:Error"]);
  failsWith(Error, "Body.scheduleRead: a read is already scheduled")(
    outcome.error,
  );
});

// =====================================================================
// multipartWriter
// =====================================================================

/** A writer body whose output is collected; `flushes` answer when taken. */
function collected() {
  const { body, readable } = streamingBody();
  const done = new Response(readable).bytes();
  return { body, done };
}

Deno.test("multipartWriter writes exactly the bytes of RFC 7578, as browsers lay them out", async () => {
  const { body, done } = collected();
  const form = multipartWriter(body, "BOUNDARY");
  assert.equal(form.boundary, "BOUNDARY");
  assert.equal(form.contentType, "multipart/form-data; boundary=BOUNDARY");
  form.field("title", "héllo");
  form.field("raw", new Uint8Array([0, 13, 10, 255]));
  const part = form.part({
    name: "doc",
    filename: "a.txt",
    contentType: "text/plain",
    headers: { "x-note": "n" },
  });
  part.writeString("line 1\r\n");
  part.closeWriter();
  const file = form.part({ name: "blob", filename: "b.bin" });
  file.closeWriter();
  form.close();
  const expected = concat([
    bytes(
      '--BOUNDARY\r\nContent-Disposition: form-data; name="title"\r\n\r\nhéllo',
    ),
    bytes(
      '\r\n--BOUNDARY\r\nContent-Disposition: form-data; name="raw"\r\n\r\n',
    ),
    new Uint8Array([0, 13, 10, 255]),
    bytes(
      '\r\n--BOUNDARY\r\nContent-Disposition: form-data; name="doc"; filename="a.txt"\r\nContent-Type: text/plain\r\nx-note: n\r\n\r\nline 1\r\n',
    ),
    bytes(
      '\r\n--BOUNDARY\r\nContent-Disposition: form-data; name="blob"; filename="b.bin"\r\nContent-Type: application/octet-stream\r\n\r\n',
    ),
    bytes("\r\n--BOUNDARY--\r\n"),
  ]);
  assert.deepEqual(await done, expected);
});

Deno.test('multipartWriter escapes names and filenames as browsers do: ", CR, LF as %22, %0D, %0A', async () => {
  const { body, done } = collected();
  const form = multipartWriter(body, "b");
  form.field('a"b\r\nc', "v");
  form.part({ name: "f", filename: 'x"\ry\n.txt' }).closeWriter();
  form.close();
  const written = text(await done);
  assert.ok(written.includes('name="a%22b%0D%0Ac"'), written);
  assert.ok(written.includes('filename="x%22%0Dy%0A.txt"'), written);
});

test("multipartWriter's output reads back through Request.formData()", async (deadline) => {
  const { body, readable } = streamingBody();
  const form = multipartWriter(body);
  const parsed = new Request("http://localhost/", {
    method: "POST",
    body: readable,
    headers: { "content-type": form.contentType },
  }).formData();
  const binary = randomBytes(100 * KiB);
  form.field("name", "value ü");
  const file = form.part({
    name: "upload",
    filename: "r.bin",
    contentType: "application/x-test",
  });
  for (let at = 0; at < binary.length; at += 7000) {
    file.writeBigstring(binary, at, Math.min(7000, binary.length - at));
  }
  file.closeWriter();
  form.field("after", "x");
  form.close();
  const data = await within(deadline, parsed, "formData()");
  assert.equal(data.get("name"), "value ü");
  assert.equal(data.get("after"), "x");
  const upload = data.get("upload") as File;
  assert.deepEqual([upload.name, upload.type], ["r.bin", "application/x-test"]);
  assert.deepEqual(new Uint8Array(await upload.arrayBuffer()), binary);
});

test("multipartWriter makes a random 128-bit boundary per form, and quotes one that needs it", async () => {
  const a = multipartWriter(streamingBody().body);
  const b = multipartWriter(streamingBody().body);
  assert.match(a.boundary, /^----[0-9a-f]{32}$/);
  assert.notEqual(a.boundary, b.boundary);
  const quoted = multipartWriter(streamingBody().body, "a b/c");
  assert.equal(quoted.contentType, 'multipart/form-data; boundary="a b/c"');
  await Promise.resolve();
});

Deno.test("multipartWriter throws a clear Error when a field, a part or close comes while a part is open", () => {
  const { body } = streamingBody();
  const form = multipartWriter(body, "b");
  const part = form.part({ name: "open" });
  part.writeString("x");
  const open = 'part "open" is still open: end it with closeWriter() first';
  assert.throws(
    () => form.field("f", "v"),
    failsWith(Error, `form.field: ${open}`),
  );
  assert.throws(
    () => form.part({ name: "g" }),
    failsWith(Error, `form.part: ${open}`),
  );
  assert.throws(() => form.close(), failsWith(Error, `form.close: ${open}`));
  part.closeWriter();
  form.field("f", "v"); // the part's bytes went first
  form.close();
  form.close(); // idempotent
  assert.throws(
    () => form.field("g", "v"),
    failsWith(Error, "form.field: the form is closed"),
  );
});

Deno.test("multipartWriter writes a closed part's pending bytes before the next field", async () => {
  const { body, done } = collected();
  const form = multipartWriter(body, "b");
  const part = form.part({ name: "p" });
  part.writeString("pending"); // not taken yet: the wake is a microtask away
  part.closeWriter();
  form.field("next", "n");
  form.close();
  assert.equal(
    text(await done),
    '--b\r\nContent-Disposition: form-data; name="p"\r\n\r\npending' +
      '\r\n--b\r\nContent-Disposition: form-data; name="next"\r\n\r\nn\r\n--b--\r\n',
  );
});

test("multipartWriter: a part's flush answers with output's (backpressure travels through)", async (deadline) => {
  const { body, readable } = streamingBody();
  const form = multipartWriter(body, "b");
  const part = form.part({ name: "p", filename: "p" });
  part.writeBigstring(new Uint8Array(64 * KiB));
  const answers: FlushResult[] = [];
  part.flush((result) => answers.push(result));
  await turns(5);
  assert.deepEqual(answers, [], "nobody read the output: no answer");
  const reader = readable.getReader();
  for (let i = 0; i < 50 && answers.length === 0; i++) {
    await within(deadline, reader.read(), "a chunk");
  }
  assert.deepEqual(answers, ["written"]);
  await reader.cancel();
  part.writeString("x");
  assert.equal(await within(deadline, part.flush(), "flush"), "closed");
});

test("multipartWriter: aborting a part aborts output: the form never ends cleanly", async (deadline) => {
  const { body, readable } = streamingBody();
  const form = multipartWriter(body, "b");
  const reading = new Response(readable).bytes();
  const part = form.part({ name: "p" });
  part.writeString("half");
  const cause = new Error("producer failed");
  part.abort(cause);
  await assert.rejects(
    within(deadline, reading, "the output's end"),
    (error) => error === cause,
  );
  assert.throws(
    () => form.field("f", "v"),
    failsWith(Error, "form.field: the form was aborted"),
  );
  form.close(); // nothing to do any more
});

test("multipartWriter: a part's signal aborts when output goes away", async (deadline) => {
  const { body, readable } = streamingBody();
  const form = multipartWriter(body, "b");
  const part = form.part({ name: "p" });
  const aborted = new Promise<void>((resolve) =>
    part.signal.addEventListener("abort", () => resolve(), { once: true })
  );
  await readable.cancel("consumer left");
  await within(deadline, aborted, "the part's signal");
  assert.equal(part.isClosed(), true);
});

Deno.test("multipartWriter checks its arguments in its convention", () => {
  const { body } = streamingBody();
  assert.throws(
    () => multipartWriter(source([]).body as never),
    failsWith(
      TypeError,
      "multipartWriter: expected a writer body as output, received a read body",
    ),
  );
  assert.throws(
    () => multipartWriter(body, 42 as never),
    failsWith(TypeError, "multipartWriter: boundary must be a string"),
  );
  assert.throws(
    () => multipartWriter(body, ""),
    failsWith(
      RangeError,
      "multipartWriter: boundary must be 1–70 characters long, received 0",
    ),
  );
  assert.throws(
    () => multipartWriter(body, "x".repeat(71)),
    failsWith(
      RangeError,
      "multipartWriter: boundary must be 1–70 characters long, received 71",
    ),
  );
  assert.throws(
    () => multipartWriter(body, 'a"b'),
    failsWith(TypeError, "multipartWriter: boundary may hold only"),
  );
  assert.throws(
    () => multipartWriter(body, "ends "),
    failsWith(TypeError, "multipartWriter: boundary may hold only"),
  );
  const form = multipartWriter(body, "b");
  assert.throws(
    () => form.field(1 as never, "v"),
    failsWith(TypeError, "form.field: name must be a string"),
  );
  assert.throws(
    () => form.field("f", 1 as never),
    failsWith(TypeError, "form.field: value must be a string or a Uint8Array"),
  );
  assert.throws(
    () => form.part(null as never),
    failsWith(
      TypeError,
      "form.part: expected { name, filename?, contentType?, headers? }",
    ),
  );
  assert.throws(
    () => form.part({ name: "n", fileName: "x" } as never),
    failsWith(TypeError, 'form.part: unknown init key "fileName"'),
  );
  assert.throws(
    () => form.part({ name: "n", filename: 1 } as never),
    failsWith(TypeError, "form.part: filename must be a string"),
  );
  assert.throws(
    () => form.part({ name: "n", contentType: "a\r\nb" }),
    failsWith(TypeError, "form.part: contentType must not hold CR, LF or NUL"),
  );
  assert.throws(
    () => form.part({ name: "n", headers: { "content-disposition": "x" } }),
    failsWith(TypeError, "form.part: headers must not set content-disposition"),
  );
  assert.throws(
    () =>
      form.part({
        name: "n",
        contentType: "a/b",
        headers: { "content-type": "c/d" },
      }),
    failsWith(TypeError, "form.part: content-type given both"),
  );
  assert.throws(
    () => form.part({ name: "n", headers: { "bad name": "x" } }),
    failsWith(TypeError, "form.part: headers: "),
  );
  form.close();
});

// =====================================================================
// Over HTTP: withBody on 127.0.0.1
// =====================================================================

function serve(
  deadline: AbortSignal,
  handler: BodyHandler,
  options: WithBodyOptions = {},
): H2Served {
  return serveOver(HTTP1, deadline, handler, options, { shareSignal: true });
}

interface Summary {
  name: string;
  filename: string | null;
  contentType: string | null;
  size: number;
  sha256: string;
}

const sha256 = (data: Uint8Array) =>
  createHash("sha256").update(data).digest("hex");

// A handler that parses the upload, hashing each part chunk by chunk, and
// answers the parts as JSON; onEnd's error goes to reportException.
function summarising(
  options?: MultipartOptions,
  seen?: (error: unknown) => void,
): BodyHandler {
  return (reqd) => {
    const parts: Summary[] = [];
    multipart(reqd.requestBody, reqd.request.headers.get("content-type"), {
      onPart(part) {
        const hash = createHash("sha256");
        const entry: Summary = {
          name: part.name,
          filename: part.filename ?? null,
          contentType: part.contentType ?? null,
          size: 0,
          sha256: "",
        };
        parts.push(entry);
        const onRead = (buffer: Uint8Array, off: number, len: number) => {
          hash.update(buffer.subarray(off, off + len));
          entry.size += len;
          part.body.scheduleRead({ onRead, onEof });
        };
        const onEof = (error?: unknown) => {
          if (error === undefined) entry.sha256 = hash.digest("hex");
        };
        part.body.scheduleRead({ onRead, onEof });
      },
      onEnd(error) {
        seen?.(error);
        if (error !== undefined) return reqd.reportException(error);
        reqd.respondWithString(
          { headers: { "content-type": "application/json" } },
          JSON.stringify(parts),
        );
      },
    }, options);
  };
}

test("multipart over HTTP: a fetch upload of FormData, parsed part by part as it arrives", async (deadline) => {
  await using server = serve(deadline, summarising());
  const big = randomBytes(3 * 1024 * KiB);
  const form = new FormData();
  form.append("title", 'über ; = "quoted"');
  form.append(
    "file",
    new File([big], "big.bin", { type: "application/x-big" }),
  );
  form.append("note", new File(["tiny"], "n.txt", { type: "text/plain" }));
  const response = await server.fetch("/", { method: "POST", body: form });
  assert.equal(response.status, 200);
  const title = bytes('über ; = "quoted"'); // values are sent as they are
  assert.deepEqual(await response.json(), [
    {
      name: "title",
      filename: null,
      contentType: null,
      size: title.length,
      sha256: sha256(title),
    },
    {
      name: "file",
      filename: "big.bin",
      contentType: "application/x-big",
      size: big.length,
      sha256: sha256(big),
    },
    {
      name: "note",
      filename: "n.txt",
      contentType: "text/plain",
      size: 4,
      sha256: sha256(bytes("tiny")),
    },
  ]);
  assert.deepEqual(server.logs, []);
});

test("multipart over HTTP: a curl -F upload", async (deadline) => {
  await using server = serve(deadline, summarising());
  const dir = await Deno.makeTempDir();
  try {
    const data = randomBytes(200 * KiB);
    await Deno.writeFile(`${dir}/photo.jpg`, data);
    await Deno.writeTextFile(`${dir}/a.txt`, "hello\r\n");
    const child = new Deno.Command("curl", {
      args: [
        "-sS",
        "--max-time",
        "10",
        "-F",
        "title=from curl",
        "-F",
        `photo=@${dir}/photo.jpg;type=image/jpeg`,
        "-F",
        `doc=@${dir}/a.txt;filename="q\\"uo;te é.txt"`,
        `${server.url}/`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = await within(deadline, child.output(), "curl");
    assert.equal(text(output.stderr), "");
    assert.deepEqual(JSON.parse(text(output.stdout)), [
      {
        name: "title",
        filename: null,
        contentType: null,
        size: 9,
        sha256: sha256(bytes("from curl")),
      },
      {
        name: "photo",
        filename: "photo.jpg",
        contentType: "image/jpeg",
        size: data.length,
        sha256: sha256(data),
      },
      {
        name: "doc",
        filename: "q%22uo;te é.txt",
        contentType: "text/plain",
        size: 7,
        sha256: sha256(bytes("hello\r\n")),
      },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("multipart over HTTP: a limit reported through reqd.reportException answers 413, quietly", async (deadline) => {
  const errors: unknown[] = [];
  await using server = serve(
    deadline,
    summarising({ maxPartBytes: 1000 }, (error) => errors.push(error)),
  );
  const form = new FormData();
  form.append("small", "ok");
  form.append("file", new File([randomBytes(100 * KiB)], "too-big.bin"));
  const response = await server.fetch("/", { method: "POST", body: form });
  assert.equal(response.status, 413);
  assert.equal(await response.text(), "Payload Too Large\n");
  isLimit(
    errors[0],
    "multipart: file part 2 is larger than maxPartBytes (1000 bytes)",
  );
  assert.deepEqual(server.logs, [], "the library's own limit is not logged");
});

test("multipart over HTTP: a malformed upload reported through reqd.reportException answers 400, quietly", async (deadline) => {
  const errors: unknown[] = [];
  await using server = serve(
    deadline,
    summarising({}, (error) => errors.push(error)),
  );
  const response = await server.fetch("/", {
    method: "POST",
    body: "--b\r\nno colon here\r\n\r\nv\r\n--b--",
    headers: { "content-type": CT("b") },
  });
  assert.equal(response.status, 400);
  assert.equal(await response.text(), "Bad Request\n");
  failsWith(TypeError, "multipart: a header line without a colon at byte 5")(
    errors[0],
  );
  assert.deepEqual(server.logs, [], "the client's fault is not logged");
});

test("multipart over HTTP: a client that leaves mid-upload fails the part and onEnd with the disconnect", async (deadline) => {
  const ended = Promise.withResolvers<unknown>();
  const partEof = Promise.withResolvers<unknown>();
  await using server = serve(deadline, (reqd) => {
    multipart(reqd.requestBody, reqd.request.headers.get("content-type"), {
      onPart(part) {
        const onRead = () => part.body.scheduleRead({ onRead, onEof });
        const onEof = (error?: unknown) => partEof.resolve(error);
        part.body.scheduleRead({ onRead, onEof });
      },
      onEnd(error) {
        ended.resolve(error);
        reqd.reportException(error);
      },
    });
  });
  using client = await RawClient.open(server.port, deadline);
  const head =
    "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: multipart/form-data; boundary=b\r\ncontent-length: 100000\r\n\r\n";
  await client.send(
    head +
      '--b\r\ncontent-disposition: form-data; name="f"; filename="f"\r\n\r\n' +
      "x".repeat(5000),
  );
  await turns(5);
  client.close();
  const error = await within(deadline, ended.promise, "onEnd");
  assert.ok(error instanceof Error, `onEnd(${error})`);
  assert.equal(
    await within(deadline, partEof.promise, "the part's onEof"),
    error,
  );
  await turns(5);
  assert.deepEqual(server.logs, [], "a client leaving is not logged");
});

test("multipart over HTTP: an upload written by multipartWriter into fetch's request body", async (deadline) => {
  await using server = serve(deadline, summarising());
  const { body, readable } = streamingBody();
  const form = multipartWriter(body);
  const response = server.fetch("/", {
    method: "POST",
    body: readable,
    headers: { "content-type": form.contentType },
  });
  const chunk = randomBytes(64 * KiB);
  const hash = createHash("sha256");
  form.field("kind", "stream");
  const part = form.part({ name: "data", filename: "d.bin" });
  for (let i = 0; i < 32; i++) {
    part.writeBigstring(chunk);
    hash.update(chunk);
    assert.equal(await within(deadline, part.flush(), "a flush"), "written");
  }
  part.closeWriter();
  form.close();
  const answer = await within(deadline, response, "the response");
  assert.deepEqual(await answer.json(), [
    {
      name: "kind",
      filename: null,
      contentType: null,
      size: 6,
      sha256: sha256(bytes("stream")),
    },
    {
      name: "data",
      filename: "d.bin",
      contentType: "application/octet-stream",
      size: 32 * 64 * KiB,
      sha256: hash.digest("hex"),
    },
  ]);
});

// =====================================================================
// Differential fuzz: multipart against the generators and busboy
// =====================================================================

/** A small seeded generator (mulberry32): the same seed, the same run. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
  };
}
type Random = ReturnType<typeof random>;

const NAME_CHARS = [
  "a",
  "b",
  "Z",
  "0",
  "-",
  "_",
  ".",
  " ",
  ";",
  "=",
  '"',
  "%",
  "\\",
  "'",
  ":",
  "é",
  "€",
  "日",
  "😀",
  "\r",
  "\n",
  "\r\n",
  "\t",
];
const BCHARS = "0123456789abcdefXYZ'()+_,-./:=? ";
const TYPES = [
  "text/plain",
  "application/octet-stream",
  "image/png",
  "application/json",
];

// A name or filename: any of NAME_CHARS, but a backslash never doubled
// nor last (under the grammar a backslash escapes `"` and `\`, which
// browsers do not know: such names cannot round-trip, see the module doc).
function randomName(r: Random): string {
  let name = "";
  for (let n = r.int(12); n > 0; n--) name += r.pick(NAME_CHARS);
  name = name.replace(/\\+/g, "\\");
  return name.endsWith("\\") ? name + "x" : name;
}

function randomBoundary(r: Random): string {
  let boundary = "";
  for (let n = 1 + r.int(r.next() < 0.2 ? 70 : 24); n > 0; n--) {
    boundary += r.pick([...BCHARS]);
  }
  return boundary.endsWith(" ") ? boundary.slice(0, -1) + "x" : boundary;
}

// Content: pieces of random bytes, text lines, NUL, and bytes that look
// like the delimiter without being it (never `\r\n--boundary` whole).
function randomContent(r: Random, boundary: string): Uint8Array {
  const size = r.pick([0, 1, r.int(10), r.int(200), r.int(3000), r.int(9000)]);
  const pieces: Uint8Array[] = [];
  let length = 0;
  while (length < size) {
    const piece = r.pick([
      () => randomBytes(1 + r.int(64)),
      () => bytes("line of text\r\n"),
      () => new Uint8Array([0, 13, 10, 13, 13, 10, 10]),
      () => bytes("--" + boundary),
      () => bytes("\r\n--" + boundary.slice(0, r.int(boundary.length))),
      () => bytes("\r\n-" + boundary),
      () => bytes("\r\n--" + boundary + "--").subarray(1),
    ])();
    pieces.push(piece);
    length += piece.length;
  }
  const content = concat(pieces).slice(0, size);
  // A sender must not start a line of content with its boundary (RFC
  // 2046): not after a CRLF inside, nor at the start, which follows the
  // blank line's CRLF.
  const delimiter = bytes(`\r\n--${boundary}`);
  for (
    let at = indexOf(content, delimiter);
    at >= 0;
    at = indexOf(content, delimiter)
  ) {
    content[at] = 0x58; // "X"
  }
  if (indexOf(content, delimiter.subarray(2)) === 0) content[0] = 0x58;
  return content;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (
    let i = haystack.indexOf(needle[0]!);
    i >= 0;
    i = haystack.indexOf(needle[0]!, i + 1)
  ) {
    for (let j = 1; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

interface Entry {
  name: string;
  filename: string | undefined;
  contentType: string | undefined;
  value: string | Uint8Array;
}

function randomEntries(r: Random, boundary: string): Entry[] {
  const entries: Entry[] = [];
  for (let n = r.int(6); n > 0; n--) {
    const file = r.next() < 0.5;
    const content = randomContent(r, boundary);
    entries.push({
      name: randomName(r),
      filename: file ? randomName(r) : undefined,
      contentType: r.next() < 0.5 ? r.pick(TYPES) : undefined,
      value: !file && r.next() < 0.4 ? randomText(r) : content,
    });
  }
  return entries;
}

function randomText(r: Random): string {
  let value = "";
  for (let n = r.int(40); n > 0; n--) value += r.pick(NAME_CHARS);
  return value;
}

/** What multipart should report of an entry: a comparable record. */
interface Record_ {
  name: string;
  filename: string | undefined;
  contentType: string | undefined;
  data: Uint8Array;
}

const escapeName = (s: string) =>
  s.replace(/["\r\n]/g, (c) => c === '"' ? "%22" : c === "\r" ? "%0D" : "%0A");
const crlf = (s: string) => s.replace(/\r\n|\r|\n/g, "\r\n");

// multipartWriter's form of `entries`: bytes, and what must be read back.
async function viaWriter(entries: Entry[], boundary: string) {
  const { body, readable } = streamingBody();
  const done = new Response(readable).bytes();
  const form = multipartWriter(body, boundary);
  const expected: Record_[] = [];
  for (const entry of entries) {
    const data = typeof entry.value === "string"
      ? bytes(entry.value)
      : entry.value;
    if (entry.filename === undefined && entry.contentType === undefined) {
      form.field(entry.name, entry.value);
    } else {
      const part = form.part({
        name: entry.name,
        filename: entry.filename,
        contentType: entry.contentType,
      });
      part.writeBigstring(data);
      part.closeWriter();
    }
    expected.push({
      name: escapeName(entry.name),
      filename: entry.filename === undefined
        ? undefined
        : escapeName(entry.filename),
      contentType: entry.contentType ??
        (entry.filename !== undefined ? "application/octet-stream" : undefined),
      data,
    });
  }
  form.close();
  return { data: await done, contentType: form.contentType, expected };
}

// Deno's FormData form of `entries`: fields as strings, files as Files.
// Deno writes names with their line breaks made CRLF, then escaped;
// string values with CRLF line breaks; file names escaped; a File's type
// lowercased, application/octet-stream when empty.
async function viaFormData(entries: Entry[]) {
  const form = new FormData();
  const expected: Record_[] = [];
  for (const entry of entries) {
    const name = escapeName(crlf(entry.name));
    if (entry.filename === undefined) {
      const value = typeof entry.value === "string"
        ? entry.value
        : decoder.decode(entry.value);
      form.append(entry.name, value);
      expected.push({
        name,
        filename: undefined,
        contentType: undefined,
        data: bytes(crlf(value)),
      });
    } else {
      const data = typeof entry.value === "string"
        ? bytes(entry.value)
        : entry.value;
      form.append(
        entry.name,
        new File([data as Uint8Array<ArrayBuffer>], entry.filename, {
          type: entry.contentType,
        }),
      );
      expected.push({
        name,
        filename: escapeName(entry.filename),
        contentType: entry.contentType ?? "application/octet-stream",
        data,
      });
    }
  }
  return { ...(await denoFormData(form)), expected };
}

// What busboy reads of `data` (fields as latin1, so their bytes survive).
function viaBusboy(
  data: Uint8Array,
  contentType: string,
): Promise<{ records: Record_[]; error?: unknown }> {
  return new Promise((resolve) => {
    const records: Record_[] = [];
    const parser = busboy({
      headers: { "content-type": contentType },
      preservePath: true,
      defParamCharset: "utf8",
      defCharset: "latin1",
      limits: { fieldSize: Infinity, fileSize: Infinity },
    });
    parser.on(
      "file",
      (
        name: string,
        stream: NodeJS.ReadableStream,
        info: { filename?: string; mimeType: string },
      ) => {
        const record: Record_ = {
          name,
          filename: info.filename,
          contentType: info.mimeType,
          data: new Uint8Array(0),
        };
        records.push(record);
        const chunks: Uint8Array[] = [];
        stream.on(
          "data",
          (chunk: Uint8Array) => chunks.push(new Uint8Array(chunk)),
        );
        stream.on("end", () => void (record.data = concat(chunks)));
      },
    );
    parser.on(
      "field",
      (name: string, value: string, info: { mimeType: string }) => {
        records.push({
          name,
          filename: undefined,
          contentType: info.mimeType,
          data: Uint8Array.from(value, (c) => c.charCodeAt(0)),
        });
      },
    );
    parser.on("close", () => resolve({ records }));
    parser.on("error", (error: unknown) => resolve({ records, error }));
    parser.end(Buffer.from(data));
  });
}

// multipart's records as busboy reports them, where busboy differs by
// design: an empty name or filename counts as none (an empty file input
// is still a file here), and no content-type is text/plain.
function asBusboy(records: Record_[]): Record_[] {
  const none = (s: string | undefined) => s === "" ? undefined : s;
  return records.map((r) => ({
    name: none(r.name)!,
    filename: none(r.filename),
    contentType: r.contentType ?? "text/plain",
    data: r.data,
  }));
}

function randomChunks(r: Random, data: Uint8Array): Uint8Array[] {
  const style = r.int(4);
  if (style === 0) return [data];
  if (style === 1) return every(data, 1 + r.int(r.next() < 0.3 ? 3 : 300));
  const cuts = Array.from(
    { length: 1 + r.int(30) },
    () => r.int(data.length + 1),
  ).sort((a, b) => a - b);
  return split(data, cuts);
}

const latin1Text = (data: Uint8Array) => String.fromCharCode(...data);

const recordsOf = (parts: Parsed[]): Record_[] =>
  parts.map(({ name, filename, contentType, data }) => ({
    name,
    filename,
    contentType,
    data,
  }));

test(
  "fuzz: multipart reads what multipartWriter and Deno's FormData write, as busboy does",
  async (deadline) => {
    const env = Deno.env.get("MULTIPART_FUZZ_SEED");
    const seed = env === undefined
      ? crypto.getRandomValues(new Uint32Array(1))[0]!
      : Number(env);
    console.log(
      `multipart fuzz seed ${seed} (replay: MULTIPART_FUZZ_SEED=${seed})`,
    );
    const r = random(seed);
    let exchanges = 0;
    for (let round = 0; round < 150; round++) {
      const boundary = randomBoundary(r);
      const entries = randomEntries(r, boundary);
      const forms = [
        { by: "multipartWriter", ...(await viaWriter(entries, boundary)) },
        { by: "FormData", ...(await viaFormData(entries)) },
      ];
      for (const { by, data, contentType, expected } of forms) {
        const what = `seed ${seed}, round ${round}, ${by}, boundary ${
          JSON.stringify(boundary)
        }`;
        const outcome = await parseChunks(
          deadline,
          randomChunks(r, data),
          contentType,
          { sync: r.next() < 0.5, reuse: r.next() < 0.5 },
          undefined,
          { pace: r.pick(PACES.slice(0, 2)) },
        );
        assert.equal(outcome.error, undefined, `${what}: ${outcome.error}`);
        assert.deepEqual(recordsOf(outcome.parts), expected, what);
        const other = await viaBusboy(data, contentType);
        if (other.error !== undefined && Deno.env.get("MULTIPART_FUZZ_DUMP")) {
          console.log(JSON.stringify(latin1Text(data)));
        }
        assert.equal(other.error, undefined, `${what}: busboy: ${other.error}`);
        assert.deepEqual(
          asBusboy(recordsOf(outcome.parts)),
          other.records,
          `${what}: busboy`,
        );
        exchanges += 2;
      }
    }
    console.log(`multipart fuzz: ${exchanges} exchanges, no difference`);
  },
  60_000,
);

test("multipart: an async onPart still busy after its part's body ended holds the next part and onEnd", async (deadline) => {
  const data = handBuilt("hold", [
    ['content-disposition: form-data; name="a"', "first"],
    ['content-disposition: form-data; name="b"', "second"],
  ]);
  const { body } = source([data]);
  const events: string[] = [];
  const ended = Promise.withResolvers<void>();
  multipart(body, CT("hold"), {
    async onPart(part) {
      events.push(`part ${part.name}`);
      for await (const _ of chunks(part.body));
      events.push(`body ${part.name} ended`);
      await new Promise((resolve) => setTimeout(resolve, 5)); // its own work
      events.push(`handler ${part.name} done`);
    },
    onEnd(error) {
      events.push(error === undefined ? "end" : `end(${error})`);
      ended.resolve();
    },
  });
  await within(deadline, ended.promise, "onEnd");
  assert.deepEqual(events, [
    "part a",
    "body a ended",
    "handler a done",
    "part b",
    "body b ended",
    "handler b done",
    "end",
  ]);
});
