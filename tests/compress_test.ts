/**
 * Tests for `adapters/compress.ts`: `compressBody` (a writer body whose
 * bytes are compressed into another writer body) and `negotiateEncoding`,
 * held to README.md, "Compression", and the module doc of `compress.ts`.
 *
 * The oracle (`_harness/compress.ts`) is `node:zlib`'s public decompression: a
 * streaming decompressor fed the compressed bytes as they arrive (never
 * finished) for "decodes at each flush", and strict decoders for complete
 * streams, with the web `DecompressionStream` as a second implementation
 * for gzip and deflate. Callback order is recorded in an array and
 * asserted whole; `turns` only gives room for something that must not
 * happen, and every other wait is bounded.
 */

import assert from "node:assert/strict";
import fc from "./_harness/fc.ts";
import {
  concat,
  failsWith,
  randomBytes,
  turns,
  until,
} from "./_harness/util.ts";
import {
  assertBytes,
  bounded,
  decodeComplete,
  decoder,
  encoder,
  ENCODINGS,
  KiB,
  readAll,
  recordingOutput,
  StreamDecoder,
  TIMEOUT_MS,
} from "./_harness/compress.ts";
import { type Body, type FlushResult, streamingBody } from "../mod.ts";
import { abortOutput, endOutput } from "../body.ts";
import {
  compressBody,
  type Encoding,
  negotiateEncoding,
} from "../adapters/compress.ts";

// A failing property shrinks for at most 20 s, then reports what it
// has: a run that never answers is a failure, not a hang.
fc.configureGlobal({ interruptAfterTimeLimit: 20_000 });

// ---------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------

type Step =
  | { op: "string"; text: string }
  | { op: "bytes"; bytes: Uint8Array; off: number; len: number }
  | { op: "schedule"; bytes: Uint8Array; off: number; len: number }
  | { op: "char"; char: string }
  | { op: "flush" };

const charArb = fc.integer({ min: 0, max: 0x10ffff })
  .filter((cp) => cp < 0xd800 || cp > 0xdfff)
  .map((cp) => String.fromCodePoint(cp));
const bytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.integer({ min: 1, max: 200 * KiB }).map(randomBytes),
  fc.integer({ min: 1, max: 200 * KiB }).map((n) => new Uint8Array(n)),
);
const sliceArb = bytesArb.chain((bytes) =>
  fc.tuple(
    fc.constant(bytes),
    fc.nat(bytes.length),
    fc.nat(bytes.length),
  ).map(([b, x, y]) => ({
    bytes: b,
    off: Math.min(x, y),
    len: Math.abs(x - y),
  }))
);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.oneof(
    fc.string({ unit: "binary", maxLength: 100 }),
    fc.string({ unit: "grapheme-ascii", maxLength: 400 }),
  ).map((text) => ({ op: "string" as const, text })),
  sliceArb.map((s) => ({ op: "bytes" as const, ...s })),
  sliceArb.map((s) => ({ op: "schedule" as const, ...s })),
  charArb.map((char) => ({ op: "char" as const, char })),
  fc.constant({ op: "flush" as const }),
);
const scriptArb = fc.record({
  steps: fc.array(stepArb, { maxLength: 25 }),
  bufferSize: fc.constantFrom(undefined, 64, 1000, 16 * KiB),
});

/** What `step` writes, as the body must write it, or null for a flush. */
function perform(body: Body<"write">, step: Step): Uint8Array | null {
  switch (step.op) {
    case "string":
      body.writeString(step.text);
      return encoder.encode(step.text);
    case "bytes":
      body.writeBigstring(step.bytes, step.off, step.len);
      return step.bytes.slice(step.off, step.off + step.len);
    case "schedule":
      body.scheduleBigstring(step.bytes, step.off, step.len);
      return step.bytes.slice(step.off, step.off + step.len);
    case "char":
      body.writeChar(step.char);
      return encoder.encode(step.char);
    case "flush":
      return null;
  }
}

for (const encoding of ENCODINGS) {
  Deno.test(`compressBody(${encoding}): at each flush answered "written", the bytes so far decode to exactly what was written; closeWriter completes the stream`, async () => {
    await fc.assert(
      fc.asyncProperty(scriptArb, async ({ steps, bufferSize }) => {
        const { output, chunks, closed } = recordingOutput();
        const body = compressBody(output, encoding, { bufferSize });
        const client = new StreamDecoder(encoding);
        const written: Uint8Array[] = [];
        let seen = 0;
        try {
          for (const step of [...steps, { op: "flush" } as const]) {
            const bytes = perform(body, step);
            if (bytes !== null) {
              written.push(bytes);
              continue;
            }
            assert.equal(await bounded(body.flush(), "flush"), "written");
            const decoded = await client.push(concat(chunks.slice(seen)));
            seen = chunks.length;
            assertBytes(decoded, concat(written), "decoded at the flush");
          }
          body.closeWriter();
          assert.equal(await bounded(body.flush(), "flush"), "written");
          await until(closed, "output closed");
          assertBytes(
            await decodeComplete(encoding, concat(chunks)),
            concat(written),
            "the complete stream",
          );
        } finally {
          client.close();
        }
      }),
      { numRuns: 40, timeout: TIMEOUT_MS },
    );
  });
}

for (const encoding of ["gzip", "deflate"] as const) {
  Deno.test(`compressBody(${encoding}): DecompressionStream decodes the stream as well`, async () => {
    const { body: output, readable } = streamingBody();
    const body = compressBody(output, encoding);
    const text = "event: x\ndata: ünïcödé 🚀\n\n".repeat(500);
    body.writeString(text);
    body.flush();
    body.writeBigstring(randomBytes(100 * KiB).fill(65));
    body.closeWriter();
    // The cast: our chunks view plain ArrayBuffers, as BufferSource wants.
    const bytes = readable as ReadableStream<Uint8Array<ArrayBuffer>>;
    const decoded = await readAll(
      bytes.pipeThrough(new DecompressionStream(encoding)),
    );
    assertBytes(
      decoded,
      concat([encoder.encode(text), new Uint8Array(100 * KiB).fill(65)]),
      "decoded",
    );
  });
}

for (const encoding of ENCODINGS) {
  Deno.test(`compressBody(${encoding}): each event decodes before the next is written, over streamingBody`, async () => {
    const { body: output, readable } = streamingBody();
    const body = compressBody(output, encoding);
    const reader = readable.getReader();
    const client = new StreamDecoder(encoding);
    const events = ["data: one\n\n", "data: two\n\n", "data: three\n\n"];
    try {
      let sofar = "";
      for (const event of events) {
        body.writeString(event);
        const answer = body.flush();
        // The consumer reads until the event's bytes decode; the flush
        // cannot answer before it has taken them.
        let decoded = "";
        while (decoded !== sofar + event) {
          const { value } = await bounded(reader.read(), "read");
          assert.ok(value, "the stream ended before the event decoded");
          decoded = decoder.decode(await client.push(value));
        }
        assert.equal(await bounded(answer, "flush"), "written");
        sofar = decoded;
      }
      body.closeWriter();
      const rest = await bounded(reader.read(), "read");
      assert.ok(!rest.done, "no trailer before the end");
      assert.deepEqual(await bounded(reader.read(), "read"), {
        done: true,
        value: undefined,
      });
      assert.equal(output.isClosed(), true);
    } finally {
      client.close();
    }
  });
}

Deno.test("compressBody: scheduleBigstring sub-views compress exactly the viewed bytes", async () => {
  const { output, chunks, closed } = recordingOutput();
  const body = compressBody(output, "gzip");
  const memory = encoder.encode("XXXXhello, YYYYworldZZZZ");
  body.scheduleBigstring(memory.subarray(4, 10)); // a view with an offset
  body.scheduleBigstring(memory, 15, 5);
  body.closeWriter();
  assert.equal(await bounded(body.flush(), "flush"), "written");
  await until(closed, "output closed");
  assert.equal(
    decoder.decode(await decodeComplete("gzip", concat(chunks))),
    "hello,world",
  );
});

// ---------------------------------------------------------------------
// Ends: closeWriter, endOutput, output closed, abort, failures
// ---------------------------------------------------------------------

for (const encoding of ENCODINGS) {
  Deno.test(`compressBody(${encoding}): closeWriter writes a complete stream and closes output`, async () => {
    const { body: output, readable } = streamingBody();
    const body = compressBody(output, encoding);
    const all = readAll(readable);
    body.writeString("the last words");
    body.closeWriter();
    assert.throws(
      () => body.writeString("more"),
      failsWith(Error, "Body.writeString: body is closed"),
    );
    assert.equal(await bounded(body.flush(), "flush"), "written");
    assert.equal(output.isClosed(), true);
    assert.equal(
      decoder.decode(await decodeComplete(encoding, await all)),
      "the last words",
    );
  });
}

Deno.test("compressBody: a stream cut short of its trailer is told apart from a complete one", async () => {
  for (const encoding of ENCODINGS) {
    const { body: output, readable } = streamingBody();
    const body = compressBody(output, encoding);
    body.writeString("some text, ".repeat(100));
    body.closeWriter();
    const whole = await readAll(readable);
    assert.equal(
      decoder.decode(await decodeComplete(encoding, whole)),
      "some text, ".repeat(100),
    );
    await assert.rejects(
      decodeComplete(encoding, whole.subarray(0, whole.length - 1)),
      `${encoding}: a truncated stream decoded as complete`,
    );
  }
});

Deno.test("compressBody: an empty body is a complete, empty stream", async () => {
  for (const encoding of ENCODINGS) {
    const { body: output, readable } = streamingBody();
    compressBody(output, encoding).closeWriter();
    const bytes = await readAll(readable);
    assert.ok(bytes.length > 0, `${encoding}: no header and trailer`);
    assertBytes(
      await decodeComplete(encoding, bytes),
      new Uint8Array(0),
      encoding,
    );
  }
});

Deno.test("compressBody: endOutput ends the compressed stream cleanly and drops later writes", async () => {
  const { body: output, readable } = streamingBody();
  const body = compressBody(output, "gzip");
  const all = readAll(readable);
  const order: string[] = [];
  body.writeString("before the shutdown");
  body.flush((r) => order.push(`before: ${r}`));
  endOutput(body);
  body.writeString("dropped"); // no throw: a producer loop just ends
  body.flush((r) => order.push(`after: ${r}`));
  assert.equal(
    decoder.decode(await decodeComplete("gzip", await all)),
    "before the shutdown",
  );
  await until(() => order.length === 2, "both flushes answered");
  assert.deepEqual(order, ["before: written", "after: closed"]);
  assert.equal(output.isClosed(), true);
});

Deno.test("compressBody: a cancelled consumer answers pending flushes closed; later writes are dropped", async () => {
  const { body: output, readable } = streamingBody();
  const body = compressBody(output, "br");
  const order: string[] = [];
  const reader = readable.getReader();
  body.writeBigstring(randomBytes(256 * KiB)); // more than the stream takes
  body.flush((r) => order.push(`first: ${r}`));
  body.writeString("second");
  body.flush((r) => order.push(`second: ${r}`));
  await bounded(reader.read(), "read"); // the consumer took one chunk, then leaves
  await reader.cancel("gone");
  await until(() => order.length === 2, "pending flushes answered");
  assert.deepEqual(order, ["first: closed", "second: closed"]);
  assert.equal(body.isClosed(), true);
  body.writeString("dropped"); // no throw
  assert.equal(await bounded(body.flush(), "flush"), "closed");
});

Deno.test("compressBody: an output that closed while idle is noticed at the next flush", async () => {
  const { body: output, readable } = streamingBody();
  const body = compressBody(output, "zstd");
  await readable.cancel("gone");
  body.writeString("into the void");
  assert.equal(await bounded(body.flush(), "flush"), "closed");
  assert.equal(body.isClosed(), true);
});

Deno.test("compressBody: an output already closed gives a closed body", async () => {
  const { body: output } = streamingBody();
  output.closeWriter();
  const body = compressBody(output, "gzip");
  assert.equal(body.isClosed(), true);
  body.writeString("dropped");
  assert.equal(await bounded(body.flush(), "flush"), "closed");
});

Deno.test("compressBody: abortOutput on the compressing body aborts output", async () => {
  const { body: output, readable } = streamingBody();
  const body = compressBody(output, "deflate");
  const failure = new Error("handler failed");
  body.writeString("partial");
  const flushed = body.flush();
  abortOutput(body, failure);
  await assert.rejects(readAll(readable), (error) => error === failure);
  assert.equal(await bounded(flushed, "flush"), "closed");
  assert.equal(output.isClosed(), true);
  assert.throws(
    () => body.writeString("x"),
    failsWith(Error, "Body.writeString: body is closed"),
  );
});

Deno.test("compressBody: a throwing flush callback goes to onError, closes the body and aborts output", async () => {
  const order: string[] = [];
  const { body: output, readable } = streamingBody();
  const failure = new Error("callback failed");
  const body = compressBody(output, "gzip", {
    onError: (error) => order.push(`onError: ${(error as Error).message}`),
  });
  const consumed = readAll(readable).then(
    () => order.push("stream ended"),
    (error) => order.push(`stream errored: ${(error as Error).message}`),
  );
  body.writeString("x");
  body.flush(() => {
    order.push("callback");
    throw failure;
  });
  body.flush((r) => order.push(`next flush: ${r}`));
  await bounded(consumed, "the stream");
  await until(() => order.length === 4, "every step");
  assert.deepEqual(order, [
    "callback",
    "next flush: written",
    "onError: callback failed",
    "stream errored: callback failed",
  ]);
  assert.equal(body.isClosed(), true);
  body.writeString("dropped"); // closed by its channel: no throw
});

Deno.test("compressBody: output refusing the compressed bytes fails both bodies through onError", async () => {
  const errors: unknown[] = [];
  // A declared length far too short for any compressed stream.
  const { body: output, readable } = streamingBody({ contentLength: 4 });
  const body = compressBody(output, "gzip", {
    onError: (error) => errors.push(error),
  });
  const consumed = readAll(readable).then(() => "ended", () => "errored");
  body.writeString("a text longer than four bytes");
  assert.equal(await bounded(body.flush(), "flush"), "closed");
  assert.equal(await bounded(consumed, "the stream"), "errored");
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof RangeError, String(errors[0]));
  assert.equal(body.isClosed(), true);
});

// ---------------------------------------------------------------------
// Backpressure
// ---------------------------------------------------------------------

Deno.test("compressBody: the compressor does not run ahead of a consumer that stops reading", async () => {
  const { body: output, readable } = streamingBody();
  const body = compressBody(output, "gzip", { level: 1 });
  const order: FlushResult[] = [];
  const data = randomBytes(4 << 20); // incompressible: compressed ≈ input
  for (let at = 0; at < data.length; at += 64 * KiB) {
    body.writeBigstring(data, at, 64 * KiB);
    body.flush((r) => order.push(r));
    await turns(1); // the compressor gets every chance to run
  }
  await turns(20);
  const taken = data.length - body.pendingBytes;
  assert.ok(taken <= 256 * KiB, `the compressor took ${taken} bytes`);
  assert.ok(
    output.pendingBytes <= 128 * KiB,
    `output holds ${output.pendingBytes}`,
  );
  assert.deepEqual(order, []);
  // A reader drains it all; every flush answers, in order.
  body.closeWriter();
  const decoded = await decodeComplete("gzip", await readAll(readable));
  assertBytes(decoded, data, "decoded");
  await until(() => order.length === 64, "every flush answered");
  assert.deepEqual(order, new Array(64).fill("written"));
});

Deno.test("compressBody: a flush answers only once the consumer has read its compressed bytes", async () => {
  const { body: output, readable } = streamingBody();
  const body = compressBody(output, "zstd");
  const order: string[] = [];
  body.writeBigstring(randomBytes(300 * KiB));
  body.flush((r) => order.push(`flush: ${r}`));
  await turns(20);
  assert.deepEqual(order, []); // nobody read
  const reader = readable.getReader();
  const client = new StreamDecoder("zstd");
  let decoded = 0;
  try {
    while (order.length === 0) {
      const { value } = await bounded(reader.read(), "read");
      assert.ok(value);
      decoded = (await client.push(value)).length;
    }
  } finally {
    client.close();
  }
  assert.deepEqual(order, ["flush: written"]);
  assert.equal(decoded, 300 * KiB);
  await reader.cancel();
});

// ---------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------

Deno.test("compressBody: an unknown encoding is a TypeError naming it", () => {
  const { body } = streamingBody();
  for (const bad of ["xz", "GZIP", "identity", "", 1, null]) {
    assert.throws(
      () => compressBody(body, bad as Encoding),
      failsWith(TypeError, "compressBody: unknown encoding"),
    );
  }
  assert.throws(
    () => compressBody(body, "compress" as Encoding),
    (error: Error) => error.message.includes('"compress"'),
  );
});

Deno.test("compressBody: a level out of the encoding's range is a RangeError", () => {
  const { body } = streamingBody();
  const cases: [Encoding, number, string][] = [
    ["gzip", 10, "from 0 to 9, received 10"],
    ["deflate", -1, "from 0 to 9, received -1"],
    ["br", 12, "from 0 to 11, received 12"],
    ["zstd", 0, "from 1 to 22, received 0"],
    ["zstd", 23, "from 1 to 22, received 23"],
    ["gzip", 1.5, "from 0 to 9, received 1.5"],
    ["br", NaN, "from 0 to 11, received NaN"],
  ];
  for (const [encoding, level, tail] of cases) {
    assert.throws(
      () => compressBody(body, encoding, { level }),
      failsWith(
        RangeError,
        `compressBody: level for ${encoding} must be an integer ${tail}`,
      ),
    );
  }
  assert.throws(
    () => compressBody(body, "gzip", { level: "9" as unknown as number }),
    failsWith(
      TypeError,
      "compressBody: level must be a number, received a string of length 1",
    ),
  );
  for (
    const [encoding, level] of [
      ["gzip", 0],
      ["gzip", 9],
      ["br", 0],
      ["br", 11],
      ["zstd", 1],
      ["zstd", 22],
    ] as const
  ) {
    compressBody(streamingBody().body, encoding, { level }).closeWriter();
  }
});

Deno.test("compressBody: a bad output or bufferSize is rejected, naming compressBody", () => {
  const { body } = streamingBody();
  assert.throws(
    () => compressBody(null as unknown as Body<"write">, "gzip"),
    failsWith(
      TypeError,
      "compressBody: expected a writer body as output, received null",
    ),
  );
  assert.throws(
    () => compressBody(body, "gzip", { bufferSize: 10 }),
    failsWith(RangeError, "compressBody: bufferSize"),
  );
  assert.throws(
    () =>
      compressBody(body, "gzip", { bufferSize: "big" as unknown as number }),
    failsWith(TypeError, "compressBody: bufferSize"),
  );
});

// ---------------------------------------------------------------------
// negotiateEncoding
// ---------------------------------------------------------------------

const ALL: readonly Encoding[] = ["br", "zstd", "gzip", "deflate"];

// [Accept-Encoding (null: no header), offered, expected]
const TABLE: [string | null, readonly Encoding[], Encoding | null][] = [
  // No header, or an empty one: nothing asked for.
  [null, ALL, null],
  ["", ALL, null],
  [" , ,", ALL, null],
  // One coding, any case, with spaces.
  ["gzip", ALL, "gzip"],
  ["GZip", ALL, "gzip"],
  ["  br  ", ALL, "br"],
  ["x-gzip", ALL, "gzip"],
  ["deflate", ["gzip"], null],
  // Ties go to the server's order; higher weights win.
  ["gzip, deflate, br, zstd", ALL, "br"],
  ["gzip, deflate, br, zstd", ["gzip", "br"], "gzip"],
  ["gzip;q=1, br;q=0.9", ALL, "gzip"],
  ["gzip;q=0.5, br;q=0.51", ["gzip", "br"], "br"],
  ["zstd;q=0.001, gzip;q=0", ALL, "zstd"], // unlisted identity only falls back
  ["gzip;q=0.8", ALL, "gzip"],
  ["gzip; Q=0.8, deflate ;q=0.9", ALL, "deflate"],
  // q=0 excludes, also against *.
  ["br;q=0, *", ALL, "zstd"],
  ["gzip;q=0", ["gzip"], null],
  ["*;q=0", ALL, null],
  ["*;q=0, gzip", ALL, "gzip"],
  ["*", ["deflate", "gzip"], "deflate"],
  ["*;q=0.5, gzip", ["br", "gzip"], "gzip"],
  // identity: chosen (null) only when it weighs more than any offer.
  ["identity", ALL, null],
  ["identity, gzip", ALL, "gzip"],
  ["identity;q=1, gzip;q=0.5", ALL, null],
  ["identity;q=0, gzip;q=0.5", ALL, "gzip"],
  ["*;q=0.6, gzip;q=0.5", ["gzip"], null],
  ["identity;q=0.1, *;q=0.6, gzip;q=0.5", ["gzip"], "gzip"],
  // Malformed weights drop their element; other parameters are ignored.
  ["gzip;q=2", ALL, null],
  ["gzip;q=abc, br", ALL, "br"],
  ["gzip;q=0.0001", ALL, null],
  ["gzip;q=1.000", ALL, "gzip"],
  ["gzip;q=1.001", ALL, null],
  ["gzip;level=1;q=0.3, br;q=0.2", ALL, "gzip"],
  // Listed twice: the larger weight.
  ["gzip;q=0.1, gzip;q=0.9, br;q=0.5", ALL, "gzip"],
  // Unknown codings and nothing offered.
  ["compress, xz", ALL, null],
  ["gzip", [], null],
];

Deno.test("negotiateEncoding: the table of Accept-Encoding values", () => {
  const wrong = TABLE.filter(([header, offered, expected]) =>
    negotiateEncoding(header, offered) !== expected
  ).map(([header, offered, expected]) =>
    `${JSON.stringify(header)} of [${offered}]: got ${
      negotiateEncoding(header, offered)
    }, expected ${expected}`
  );
  assert.deepEqual(wrong, []);
});

Deno.test("negotiateEncoding: reads Request and Headers, and a request without the header is null", () => {
  const ask = (headers: HeadersInit) =>
    new Request("http://localhost/", { headers });
  assert.equal(negotiateEncoding(ask({ "accept-encoding": "br" }), ALL), "br");
  assert.equal(negotiateEncoding(ask({}), ALL), null);
  assert.equal(
    negotiateEncoding(
      new Headers({ "Accept-Encoding": "zstd;q=0.5, gzip" }),
      ALL,
    ),
    "gzip",
  );
  const twoLines = new Headers([["accept-encoding", "gzip;q=0.2"], [
    "accept-encoding",
    "br",
  ]]);
  assert.equal(negotiateEncoding(twoLines, ALL), "br");
});

Deno.test("negotiateEncoding: unknown offers and other request types are TypeErrors", () => {
  assert.throws(
    () => negotiateEncoding("gzip", ["gzip", "lzma" as Encoding]),
    failsWith(
      TypeError,
      'negotiateEncoding: unknown encoding "lzma" in offered',
    ),
  );
  assert.throws(
    () => negotiateEncoding({} as Headers, ALL),
    failsWith(
      TypeError,
      "negotiateEncoding: expected a Request, Headers, a header value or null, received Object",
    ),
  );
  assert.throws(
    () => negotiateEncoding("gzip", "gzip" as unknown as Encoding[]),
    failsWith(TypeError, "negotiateEncoding: offered must be an array"),
  );
});

Deno.test("negotiateEncoding: a coding listed twice weighs its larger weight, whichever comes first", () => {
  assert.equal(negotiateEncoding("gzip, gzip;q=0", ["gzip"]), "gzip");
  assert.equal(negotiateEncoding("gzip;q=0, gzip", ["gzip"]), "gzip");
  assert.equal(
    negotiateEncoding("br;q=0.9, gzip;q=0.5, br;q=0.1", ["gzip", "br"]),
    "br",
  );
});
