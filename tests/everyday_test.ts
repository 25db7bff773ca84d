/**
 * The everyday helpers and the writer's application-end endings, held to
 * README.md ("Everyday patterns", "Reader bodies", "Writer bodies"):
 * `chunks`, `toBytes`, `toText`, `pipeBody`, `Body.abort`, `Body.signal`,
 * and borrowed bytes that stay valid until the next read. Scripted
 * channels (`createReader`/`createWriter`) where callback order matters,
 * web streams where a real source is the point.
 */
import assert from "node:assert/strict";
import { failsWith, macrotask, turns, until } from "./_harness/util.ts";
import {
  bodyFromReadable,
  chunks,
  compressBody,
  pipeBody,
  streamingBody,
  toBytes,
  toText,
} from "../mod.ts";
import {
  type Body,
  createReader,
  createWriter,
  deliverInput,
  endInput,
  endOutput,
  failInput,
  nextOutput,
  outputWritten,
} from "../body.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A reader fed by hand: `requests` counts asks, `released` its releases. */
function manualReader() {
  const r = {
    body: undefined as unknown as Body<"read">,
    requests: 0,
    released: [] as unknown[],
  };
  r.body = createReader({
    request: () => void r.requests++,
    release: (reason) => void r.released.push(reason),
    callbackError: (error) => {
      throw error;
    },
  });
  return r;
}

/** A byte stream of `chunks`, each enqueued when pulled; records cancel. */
function byteStream(chunks: Uint8Array[]) {
  const events: string[] = [];
  let i = 0;
  const stream = new ReadableStream({
    type: "bytes",
    pull(controller) {
      const chunk = chunks[i++];
      if (chunk === undefined) {
        controller.close();
        controller.byobRequest?.respond(0);
        return;
      }
      const request = controller.byobRequest;
      if (request !== null) {
        const view = request.view as Uint8Array;
        view.set(chunk);
        request.respond(chunk.length);
      } else controller.enqueue(chunk.slice());
      events.push(`pull ${chunk.length}`);
    },
    cancel(reason) {
      events.push(`cancel ${reason === undefined ? "" : String(reason)}`);
    },
  });
  return { stream, events };
}

/** A default (non-byte) stream of `chunks`; records pulls and cancel. */
function plainStream(chunks: Uint8Array[]) {
  const events: string[] = [];
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[i++];
      if (chunk === undefined) return controller.close();
      events.push(`pull ${chunk.length}`);
      controller.enqueue(chunk);
    },
    cancel() {
      events.push("cancel");
    },
  }, { highWaterMark: 0 });
  return { stream, events };
}

// ---------------------------------------------------------------------
// Borrowed bytes live until the next read
// ---------------------------------------------------------------------

for (
  const [name, make] of [
    ["a BYOB stream", (c: Uint8Array[]) => byteStream(c).stream],
    ["a default stream", (c: Uint8Array[]) => plainStream(c).stream],
  ] as const
) {
  Deno.test(`onRead bytes from ${name} stay unchanged across an await until the next read`, async () => {
    const body = bodyFromReadable(
      make([enc.encode("first"), enc.encode("second")]),
    );
    const held: { view: Uint8Array; copy: string }[] = [];
    const done = Promise.withResolvers<void>();
    const onRead = async (b: Uint8Array, off: number, len: number) => {
      const view = b.subarray(off, off + len);
      const copy = dec.decode(view);
      await macrotask(); // an async sink: a file write, say
      await macrotask();
      held.push({ view, copy });
      assert.equal(
        dec.decode(view),
        copy,
        "the bytes changed before the next read",
      );
      body.scheduleRead({ onRead, onEof });
    };
    const onEof = (error?: unknown) =>
      error === undefined ? done.resolve() : done.reject(error);
    body.scheduleRead({ onRead, onEof });
    await done.promise;
    assert.deepEqual(held.map((h) => h.copy), ["first", "second"]);
  });
}

// ---------------------------------------------------------------------
// chunks()
// ---------------------------------------------------------------------

Deno.test("chunks yields each chunk's bytes in order, then ends", async () => {
  const body = bodyFromReadable(
    plainStream([enc.encode("a"), enc.encode("bc"), enc.encode("def")]).stream,
  );
  const got: string[] = [];
  for await (const bytes of chunks(body)) got.push(dec.decode(bytes));
  assert.deepEqual(got, ["a", "bc", "def"]);
});

Deno.test("chunks hands out the delivered memory itself, not a copy", async () => {
  const r = manualReader();
  const source = enc.encode("[payload]");
  const iterator = chunks(r.body);
  const step = iterator.next();
  deliverInput(r.body, source, 1, 7);
  const { value } = await step;
  assert.equal(value!.buffer, source.buffer);
  assert.equal(value!.byteOffset, 1);
  assert.equal(dec.decode(value), "payload");
  await iterator.return!();
});

Deno.test("chunks reuses one BYOB buffer: a view is valid until the next step", async () => {
  const { stream } = byteStream([enc.encode("one"), enc.encode("two")]);
  const iterator = chunks(bodyFromReadable(stream));
  const first = (await iterator.next()).value!;
  await macrotask();
  assert.equal(dec.decode(first), "one"); // unchanged until the next step
  const second = (await iterator.next()).value!;
  // The next read took the first view's memory (transferred, not copied).
  assert.equal(first.length, 0, "the first view's memory was not reused");
  assert.equal(dec.decode(second), "two");
  assert.equal((await iterator.next()).done, true);
});

Deno.test("chunks throws the input's error from the loop: a truncated body never ends cleanly", async () => {
  const r = manualReader();
  const cut = new Error("client gone");
  const got: string[] = [];
  const loop = (async () => {
    for await (const bytes of chunks(r.body)) {
      got.push(dec.decode(bytes));
      if (got.length === 1) queueMicrotask(() => failInput(r.body, cut));
    }
  })();
  await until(() => r.requests === 1, "the first request");
  deliverInput(r.body, enc.encode("part"));
  await assert.rejects(loop, (error) => error === cut);
  assert.deepEqual(got, ["part"]);
});

Deno.test("break in a chunks loop closes the reader and cancels its stream", async () => {
  const { stream, events } = plainStream([
    enc.encode("a"),
    enc.encode("b"),
    enc.encode("c"),
  ]);
  const body = bodyFromReadable(stream);
  for await (const bytes of chunks(body)) {
    if (dec.decode(bytes) === "a") break;
  }
  assert.equal(body.isClosed(), true);
  await until(() => events.includes("cancel"), "the stream's cancel");
  assert.deepEqual(events, ["pull 1", "cancel"]);
});

Deno.test("a throw inside a chunks loop closes the reader", async () => {
  const r = manualReader();
  const loop = (async () => {
    for await (const _ of chunks(r.body)) throw new Error("handler bug");
  })();
  await until(() => r.requests === 1, "the first request");
  deliverInput(r.body, enc.encode("x"));
  await assert.rejects(loop, failsWith(Error, "handler bug"));
  assert.deepEqual(r.released, [undefined]);
});

Deno.test("chunks reads the next chunk only when the loop asks for it", async () => {
  const r = manualReader();
  const iterator = chunks(r.body);
  assert.equal(r.requests, 0);
  const step = iterator.next();
  assert.equal(r.requests, 1);
  deliverInput(r.body, enc.encode("x"));
  await step;
  await turns(3);
  assert.equal(r.requests, 1, "read ahead of the loop");
  await iterator.return!();
});

Deno.test("chunks refuses a writer body with TypeError", () => {
  const writer = streamingBody().body;
  assert.throws(
    () => chunks(writer as unknown as Body<"read">),
    failsWith(
      TypeError,
      "chunks: expected a reader body, received a write body",
    ),
  );
});

Deno.test("chunks on a body with a read already scheduled rejects its step with the body's error", async () => {
  const r = manualReader();
  r.body.scheduleRead({ onRead() {}, onEof() {} });
  await assert.rejects(
    chunks(r.body).next(),
    failsWith(Error, "Body.scheduleRead: a read is already scheduled"),
  );
});

// ---------------------------------------------------------------------
// toBytes / toText
// ---------------------------------------------------------------------

Deno.test("toBytes collects every chunk into one array of exactly the body's length", async () => {
  const body = bodyFromReadable(
    plainStream([enc.encode("ab"), enc.encode("c".repeat(3000))]).stream,
  );
  const bytes = await toBytes(body);
  assert.equal(bytes.length, 3002);
  assert.equal(bytes.buffer.byteLength, 3002);
  assert.equal(dec.decode(bytes), "ab" + "c".repeat(3000));
});

Deno.test("toBytes accepts a body of exactly maxBytes", async () => {
  const body = bodyFromReadable(plainStream([enc.encode("12345")]).stream);
  assert.equal((await toBytes(body, { maxBytes: 5 })).length, 5);
});

Deno.test("toBytes past maxBytes rejects with a RangeError naming maxBytes and cancels the source", async () => {
  const { stream, events } = plainStream([
    enc.encode("1234"),
    enc.encode("56"),
  ]);
  await assert.rejects(
    toBytes(bodyFromReadable(stream), { maxBytes: 5 }),
    failsWith(
      RangeError,
      "toBytes: the body is larger than maxBytes (5 bytes)",
    ),
  );
  await until(() => events.includes("cancel"), "the cancel");
});

Deno.test("toBytes rejects with the input's own error", async () => {
  const r = manualReader();
  const cut = new Error("truncated");
  const result = toBytes(r.body);
  deliverInput(r.body, enc.encode("half"));
  failInput(r.body, cut);
  await assert.rejects(result, (error) => error === cut);
});

Deno.test("toText decodes UTF-8 split across chunks", async () => {
  const euro = enc.encode("€"); // 3 bytes
  const body = bodyFromReadable(
    plainStream([euro.subarray(0, 1), euro.subarray(1), enc.encode("!")])
      .stream,
  );
  assert.equal(await toText(body), "€!");
});

Deno.test("toBytes and toText refuse an unknown option", async () => {
  const body = bodyFromReadable(plainStream([]).stream);
  assert.throws(
    () => toText(body, { maxByte: 1 } as never),
    failsWith(
      TypeError,
      'toText: unknown option "maxByte" (accepted: maxBytes)',
    ),
  );
  await toBytes(body);
});

// ---------------------------------------------------------------------
// pipeBody
// ---------------------------------------------------------------------

Deno.test("pipeBody moves every byte and closes the output after a clean end", async () => {
  const input = bodyFromReadable(
    plainStream([enc.encode("one "), enc.encode("two")]).stream,
  );
  const { body: output, readable } = streamingBody();
  const piped = pipeBody(input, output);
  assert.equal(await new Response(readable).text(), "one two");
  assert.deepEqual(await piped, { outcome: "ended", bytes: 7 });
});

Deno.test("pipeBody ends the output as failed when the input fails: never a clean end", async () => {
  const r = manualReader();
  const { body: output, readable } = streamingBody();
  const piped = pipeBody(r.body, output);
  const reader = readable.getReader();
  await until(() => r.requests === 1, "a read");
  deliverInput(r.body, enc.encode("partial"));
  assert.equal(dec.decode((await reader.read()).value), "partial");
  await until(() => r.requests === 2, "the next read");
  const cut = new Error("upstream reset");
  failInput(r.body, cut);
  await assert.rejects(reader.read(), (error) => error === cut);
  assert.deepEqual(await piped, { outcome: "failed", bytes: 7, error: cut });
});

Deno.test("pipeBody closes the input at once when the output goes away, even while a read waits", async () => {
  const r = manualReader();
  const { body: output, readable } = streamingBody();
  const piped = pipeBody(r.body, output);
  await until(() => r.requests === 1, "a read");
  await readable.cancel("client gone"); // nothing written yet
  assert.deepEqual(await piped, { outcome: "closed", bytes: 0 });
  assert.deepEqual(r.released, [undefined]);
});

Deno.test("pipeBody reads ahead of a consumer that does not read by two chunks at most", async () => {
  const r = manualReader();
  const { body: output } = streamingBody();
  const piped = pipeBody(r.body, output);
  for (let i = 0; i < 10; i++) {
    await turns(2);
    if (r.requests > i) deliverInput(r.body, enc.encode(`chunk ${i}`));
  }
  assert.ok(r.requests <= 3, `${r.requests} reads with nothing consumed`);
  output.abort(); // end the test: the pipe sees its output gone
  assert.equal((await piped).outcome, "closed");
});

Deno.test("pipeBody ends as failed when the output refuses a write", async () => {
  const input = bodyFromReadable(plainStream([enc.encode("abc")]).stream);
  const output = createWriter({ wake() {}, abort() {}, callbackError() {} }, {
    contentLength: 2,
  });
  const result = await pipeBody(input, output);
  assert.equal(result.outcome, "failed");
  assert.ok(result.error instanceof RangeError);
  assert.equal(input.isClosed(), true);
});

Deno.test("pipeBody refuses bodies of the wrong sides with TypeError", () => {
  const { body } = streamingBody();
  assert.throws(
    () => pipeBody(body as never, body),
    failsWith(
      TypeError,
      "pipeBody: expected a reader body, received a write body",
    ),
  );
});

// ---------------------------------------------------------------------
// Body.abort and Body.signal
// ---------------------------------------------------------------------

Deno.test("abort ends a writer as failed: the stream errors, flushes answer closed, writes then throw", async () => {
  const { body, readable } = streamingBody();
  body.writeString("pending");
  const flushed = body.flush();
  const reason = new Error("producer failed");
  body.abort(reason);
  assert.equal(await flushed, "closed");
  await assert.rejects(
    readable.getReader().read(),
    (error) => error === reason,
  );
  assert.throws(
    () => body.writeString("x"),
    failsWith(Error, "Body.writeString: body is closed"),
  );
  assert.equal(body.signal.reason, reason);
});

Deno.test("abort without a reason aborts with an Error saying so", () => {
  const { body } = streamingBody();
  body.abort();
  assert.ok(body.signal.aborted);
  assert.equal(
    (body.signal.reason as Error).message,
    "Body.abort: the body was aborted",
  );
});

Deno.test("abort after a clean end changes nothing", async () => {
  const { body, readable } = streamingBody();
  body.writeString("done");
  body.closeWriter();
  assert.equal(await new Response(readable).text(), "done");
  body.abort(new Error("late"));
  assert.equal(body.signal.aborted, false);
});

Deno.test("signal is made once, on first use, and aborts when the consumer cancels", async () => {
  const { body, readable } = streamingBody();
  const signal = body.signal;
  assert.equal(body.signal, signal);
  assert.equal(signal.aborted, false);
  await readable.cancel("client gone");
  assert.equal(signal.aborted, true);
  assert.equal((signal.reason as Error).cause, "client gone");
});

Deno.test("signal read after the output was lost is already aborted with the same reason", () => {
  const body = createWriter({ wake() {}, abort() {}, callbackError() {} }, {
    maxPendingBytes: 4,
  });
  body.writeString("too much");
  const signal = body.signal;
  assert.equal(signal.aborted, true);
  assert.ok(signal.reason instanceof RangeError);
  assert.match((signal.reason as Error).message, /maxPendingBytes \(4\)/);
});

Deno.test("signal aborts when the channel ends the body (a shutdown), not after a clean end", async () => {
  const ended = createWriter({ wake() {}, abort() {}, callbackError() {} });
  const signal = ended.signal;
  endOutput(ended);
  assert.equal(signal.aborted, true);

  const clean = createWriter({ wake() {}, abort() {}, callbackError() {} });
  const cleanSignal = clean.signal;
  clean.writeString("x");
  clean.closeWriter();
  const chunk = nextOutput(clean);
  assert.ok(typeof chunk !== "string");
  outputWritten(clean, chunk.length);
  assert.equal(nextOutput(clean), "close");
  await macrotask();
  assert.equal(cleanSignal.aborted, false);
});

Deno.test("a compressed body's signal aborts when its output's consumer leaves, with nothing written", async () => {
  const { body: output, readable } = streamingBody();
  const zipped = compressBody(output, "gzip");
  const signal = zipped.signal;
  await readable.cancel("client gone");
  await until(() => signal.aborted, "the compressed body's signal");
});

Deno.test("reading signal on a reader body is a TypeError", () => {
  const r = manualReader();
  assert.throws(
    () => (r.body as unknown as { signal: AbortSignal }).signal,
    failsWith(TypeError, "Body.signal: not available on a read body"),
  );
  endInput(r.body);
});

Deno.test("pipeBody aborts an output its channel ends early: a shutdown never ends a pipe cleanly", async () => {
  const r = manualReader();
  const aborted: unknown[] = [];
  const output = createWriter({
    wake() {},
    abort: (reason) => void aborted.push(reason),
    callbackError() {},
  });
  const piped = pipeBody(r.body, output);
  await until(() => r.requests === 1, "a read");
  endOutput(output); // what a shutdown does to a streaming response
  assert.equal((await piped).outcome, "closed");
  assert.equal(aborted.length, 1);
  assert.deepEqual(r.released, [undefined]);
});

// A writer whose chunks are taken as soon as they are ready, and kept (as
// Deno's server keeps them until the kernel has them).
function keepingWriter() {
  const taken: Uint8Array[] = [];
  const output = createWriter({
    wake() {
      for (
        let c = nextOutput(output);
        typeof c !== "string";
        c = nextOutput(output)
      ) {
        taken.push(c);
        outputWritten(output, c.length);
      }
    },
    abort() {},
    callbackError() {},
  });
  nextOutput(output); // registers for wake
  return { output, taken };
}

Deno.test("pipeBody hands over a stream source's memory itself, without a copy, and the source reads on into new memory", async () => {
  const first = new Uint8Array(64).fill(0x61); // half the buffer
  const second = new Uint8Array(128).fill(0x62);
  const { stream } = byteStream([first, second]);
  const { output, taken } = keepingWriter();
  const input = bodyFromReadable(stream, { bufferSize: 128 });
  const piped = await pipeBody(input, output);
  assert.equal(piped.outcome, "ended");
  assert.deepEqual(taken, [first, second]);
  // Each chunk is the whole 128-byte BYOB buffer it was read into: kept,
  // never reused.
  assert.deepEqual(taken.map((c) => c.buffer.byteLength), [128, 128]);
  assert.notEqual(taken[0]!.buffer, taken[1]!.buffer);
});

Deno.test("pipeBody copies a chunk that fills less than half of a stream source's memory: the source reuses it", async () => {
  const small = [enc.encode("first"), enc.encode("second"), enc.encode("!")];
  const { stream } = byteStream(small);
  const { output, taken } = keepingWriter();
  const input = bodyFromReadable(stream, { bufferSize: 128 });
  const piped = await pipeBody(input, output);
  assert.equal(piped.outcome, "ended");
  assert.equal(taken.map((c) => dec.decode(c)).join(""), "firstsecond!");
  // Copies: no taken chunk is a view of a 128-byte BYOB buffer.
  assert.deepEqual(
    taken.filter((c) => c.buffer.byteLength === 128),
    [],
  );
});

Deno.test("pipeBody copies what a lending source delivers: its memory is reused after the next read", async () => {
  const r = manualReader(); // a channel without keep(): it only lends
  const shared = enc.encode("aaaa");
  const { output, taken } = keepingWriter();
  const piped = pipeBody(r.body, output);
  await until(() => r.requests === 1, "a read");
  deliverInput(r.body, shared);
  await until(() => r.requests === 2, "the next read");
  shared.fill(0x62); // "bbbb": the source reuses its memory
  deliverInput(r.body, shared);
  await until(() => r.requests === 3, "the third read");
  endInput(r.body);
  assert.equal((await piped).outcome, "ended");
  assert.deepEqual(taken.map((c) => dec.decode(c)).join(""), "aaaabbbb");
});
