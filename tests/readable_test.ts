/**
 * Tests for `adapters/readable.ts`: `bodyFromReadable` (stream → reader
 * body) and `readableFromBody` (reader body → stream), held to the
 * "Stream adapters" and "Reader bodies" sections of README.md.
 *
 * Callback order is recorded in an `events` array and asserted whole. Where
 * the event loop must turn, `until` waits a bounded number of turns for a
 * condition and `turns` lets it run a few times to show that something did
 * not happen; neither stands in for an event.
 */

import assert from "node:assert/strict";
import { failsWith, turns, until } from "./_harness/util.ts";
import {
  type Body,
  bodyFromReadable,
  readableFromBody,
  streamingBody,
} from "../mod.ts";
import { createReader, deliverInput, endInput } from "../body.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

function text(buffer: Uint8Array, off = 0, len = buffer.length - off): string {
  return decoder.decode(buffer.subarray(off, off + len));
}

// Schedules one read and records its answer in `events`: "read:<text>",
// "eof", or "eof:error" (the error itself is kept in `errors`).
function readOnce(
  body: Body<"read">,
  events: string[],
  errors: unknown[] = [],
): Promise<void> {
  return new Promise((resolve) => {
    body.scheduleRead({
      onRead(buffer, off, len) {
        events.push(`read:${text(buffer, off, len)}`);
        resolve();
      },
      onEof(error) {
        if (error === undefined) events.push("eof");
        else {
          events.push("eof:error");
          errors.push(error);
        }
        resolve();
      },
    });
  });
}

// A pull-counting source of `chunks`, as a default or a byte stream, both
// with a high-water mark of 0 so that the stream itself reads nothing ahead.
function countingStream(
  kind: "default" | "bytes",
  chunks: string[],
): { stream: ReadableStream<Uint8Array>; pulls: () => number } {
  let pulls = 0;
  const next = (): Uint8Array | null => {
    const chunk = chunks[pulls - 1];
    return chunk === undefined ? null : bytes(chunk);
  };
  const stream = kind === "default"
    ? new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        const chunk = next();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 })
    : new ReadableStream({
      type: "bytes",
      pull(controller) {
        pulls++;
        const chunk = next();
        if (chunk === null) {
          controller.close();
          controller.byobRequest?.respond(0);
        } else controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
  return { stream, pulls: () => pulls };
}

// ---------------------------------------------------------------------
// bodyFromReadable
// ---------------------------------------------------------------------

Deno.test("bodyFromReadable reads the stream only while a read is scheduled", async () => {
  for (const kind of ["default", "bytes"] as const) {
    const { stream, pulls } = countingStream(kind, ["a", "b", "c"]);
    const body = bodyFromReadable(stream);
    await turns();
    assert.ok(pulls() <= 1, `${kind}: a body never read pulled ${pulls()}`);
    const events: string[] = [];
    for (let reads = 1; reads <= 2; reads++) {
      await readOnce(body, events);
      await turns();
      assert.ok(
        pulls() <= reads + 1,
        `${kind}: ${pulls()} pulls after ${reads} reads`,
      );
    }
    assert.deepEqual(events, ["read:a", "read:b"], kind);
  }
});

Deno.test("bodyFromReadable reads a byte stream with BYOB views of at most 64 KiB into one reused buffer", async () => {
  // What the source sees of each BYOB request.
  const seen: {
    offset: number;
    length: number;
    bufferLength: number;
    head: string;
    marker: number;
  }[] = [];
  let n = 0;
  const stream = new ReadableStream({
    type: "bytes",
    pull(controller) {
      const request = controller.byobRequest;
      if (request === null || request.view === null) {
        controller.error(new Error("pull without a BYOB request"));
        return;
      }
      const view = request.view;
      const memory = new Uint8Array(view.buffer, view.byteOffset, 8);
      seen.push({
        offset: view.byteOffset,
        length: view.byteLength,
        bufferLength: view.buffer.byteLength,
        head: decoder.decode(memory.subarray(0, 6)),
        marker: new Uint8Array(view.buffer, view.byteOffset)[100]!,
      });
      n++;
      // A marker past the bytes handed back: if the next request's memory
      // still carries it, the body reused the same buffer.
      new Uint8Array(view.buffer, view.byteOffset)[100] = 0xab;
      const payload = bytes(`chunk${n}`);
      memory.set(payload);
      request.respond(payload.length);
    },
  });
  const body = bodyFromReadable(stream, { bufferSize: 1 << 20 });
  const events: string[] = [];
  const buffers: Uint8Array[] = [];
  const readKeeping = () =>
    new Promise<void>((resolve) => {
      body.scheduleRead({
        onRead(buffer, off, len) {
          events.push(`read:${text(buffer, off, len)}`);
          events.push(`memory:${buffer.buffer.byteLength}`);
          buffers.push(buffer);
          resolve();
        },
        onEof() {
          events.push("eof");
          resolve();
        },
      });
    });
  await readKeeping();
  await readKeeping();
  await readKeeping();
  assert.deepEqual(events, [
    "read:chunk1",
    "memory:65536",
    "read:chunk2",
    "memory:65536",
    "read:chunk3",
    "memory:65536",
  ]);
  assert.deepEqual(seen, [
    {
      offset: 0,
      length: 65536,
      bufferLength: 65536,
      head: "\0".repeat(6),
      marker: 0,
    },
    {
      offset: 0,
      length: 65536,
      bufferLength: 65536,
      head: "chunk1",
      marker: 0xab,
    },
    {
      offset: 0,
      length: 65536,
      bufferLength: 65536,
      head: "chunk2",
      marker: 0xab,
    },
  ]);
  // The memory of an earlier onRead went back into the stream for the next
  // read (transferred, so detached here): one buffer, not one per read.
  assert.equal(buffers[0]!.buffer.byteLength, 0);
  assert.equal(buffers[1]!.buffer.byteLength, 0);
});

Deno.test("bodyFromReadable honours the byteOffset of the chunks it is given", async () => {
  // A payload in the middle of a larger buffer, surrounded by sentinels.
  const memory = bytes("XXXXXpayloadYYYYY");
  const payload = memory.subarray(5, 12);
  // Default stream: the chunk itself reaches onRead, at its own offset.
  {
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(payload);
        controller.close();
      },
    }, { highWaterMark: 0 });
    const body = bodyFromReadable(stream);
    const got: [Uint8Array, number, number][] = [];
    body.scheduleRead({
      onRead: (buffer, off, len) => got.push([buffer, off, len]),
      onEof: () => assert.fail("onEof before the bytes"),
    });
    await until(() => got.length === 1, "onRead");
    const [buffer, off, len] = got[0]!;
    assert.equal(text(buffer, off, len), "payload");
    assert.equal(buffer.buffer, memory.buffer);
    assert.equal(buffer.byteOffset + off, 5);
    assert.equal(len, 7);
  }
  // Byte stream: the bytes are copied into the BYOB view, and only they are
  // identified by buffer/off/len.
  {
    const stream = new ReadableStream({
      type: "bytes",
      pull(controller) {
        controller.enqueue(payload.slice());
        controller.close();
      },
    });
    const body = bodyFromReadable(stream, { bufferSize: 64 });
    const events: string[] = [];
    await readOnce(body, events);
    await readOnce(body, events);
    assert.deepEqual(events, ["read:payload", "eof"]);
  }
});

Deno.test("bodyFromReadable delivers the chunks of a non-byte stream as the stream produced them", async () => {
  const produced = [bytes("abc"), bytes("de"), bytes("fghij")];
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = produced[pulled++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  let pulled = 0;
  const body = bodyFromReadable(stream);
  const events: string[] = [];
  const received: Uint8Array[] = [];
  await new Promise<void>((resolve) => {
    const onRead = (buffer: Uint8Array, off: number, len: number) => {
      events.push(`read:${off}:${len}`);
      received.push(buffer);
      body.scheduleRead({ onRead, onEof });
    };
    const onEof = (error?: unknown) => {
      events.push(error === undefined ? "eof" : "eof:error");
      resolve();
    };
    body.scheduleRead({ onRead, onEof });
  });
  assert.deepEqual(events, ["read:0:3", "read:0:2", "read:0:5", "eof"]);
  assert.equal(received.length, 3);
  for (let i = 0; i < 3; i++) assert.equal(received[i], produced[i]);
});

Deno.test("bodyFromReadable turns a stream error into onEof(error) with the same error, after the earlier bytes", async () => {
  for (const kind of ["default", "bytes"] as const) {
    const failure = new Error(`${kind} source failed`);
    let pulls = 0;
    const pull = (
      controller:
        | ReadableStreamDefaultController<Uint8Array>
        | ReadableByteStreamController,
    ) => {
      if (pulls++ === 0) controller.enqueue(bytes("ab"));
      else controller.error(failure);
    };
    const stream = kind === "default"
      ? new ReadableStream<Uint8Array>({ pull }, { highWaterMark: 0 })
      : new ReadableStream({ type: "bytes", pull });
    const body = bodyFromReadable(stream);
    const events: string[] = [];
    const errors: unknown[] = [];
    await readOnce(body, events, errors);
    await readOnce(body, events, errors);
    assert.equal(body.isClosed(), true, kind);
    // Scheduled after the end: answered again, at once, with the error.
    await readOnce(body, events, errors);
    assert.deepEqual(events, ["read:ab", "eof:error", "eof:error"], kind);
    assert.equal(errors[0], failure, kind);
    assert.equal(errors[1], failure, kind);
  }
});

Deno.test("bodyFromReadable answers onEof(TypeError) for a chunk that is not a Uint8Array", async () => {
  const cancels: unknown[] = [];
  const stream = new ReadableStream<unknown>({
    pull(controller) {
      controller.enqueue("not bytes");
    },
    cancel(reason) {
      cancels.push(reason);
    },
  }, { highWaterMark: 0 });
  const body = bodyFromReadable(stream as ReadableStream<Uint8Array>);
  const events: string[] = [];
  const errors: unknown[] = [];
  await readOnce(body, events, errors);
  assert.deepEqual(events, ["eof:error"]);
  failsWith(TypeError, "bodyFromReadable:")(errors[0]);
  assert.equal(body.isClosed(), true);
  // The stream is released with that error.
  await until(() => cancels.length === 1, "the source's cancel");
  assert.equal(cancels[0], errors[0]);
});

Deno.test("closeReader cancels the stream, answers a pending read onEof() and discards later input", async () => {
  const events: string[] = [];
  let pulls = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull() {
      pulls++;
      events.push("pull");
      // Never answers: the read stays pending until the body cancels it.
      return new Promise(() => {});
    },
    cancel(reason) {
      events.push(`cancel:${String(reason)}`);
    },
  }, { highWaterMark: 0 });
  const body = bodyFromReadable(stream);
  const pending = readOnce(body, events);
  await until(() => pulls === 1, "the first pull");
  body.closeReader();
  events.push("closeReader returned");
  await pending;
  assert.equal(body.isClosed(), true);
  body.closeReader(); // idempotent: no second cancel
  await readOnce(body, events); // after the close: onEof() at once
  await turns();
  assert.equal(pulls, 1);
  assert.deepEqual(events, [
    "pull",
    "cancel:undefined",
    "eof",
    "closeReader returned",
    "eof",
  ]);
});

Deno.test("closeReader leaves bytes already buffered readable, then onEof()", async () => {
  // A push channel: it delivers a chunk before any read asked for it, so
  // the body holds bytes when the application closes the reader.
  const events: string[] = [];
  const body = createReader({
    request: () => events.push("request"),
    release: (reason) => events.push(`release:${String(reason)}`),
    callbackError: (error) => {
      throw error;
    },
  });
  deliverInput(body, bytes("buffered"));
  assert.equal(body.pendingBytes, 8);
  body.closeReader();
  assert.equal(body.isClosed(), true);
  deliverInput(body, bytes("late")); // discarded
  await readOnce(body, events);
  await readOnce(body, events);
  assert.deepEqual(events, ["release:undefined", "read:buffered", "eof"]);
});

Deno.test("isClosed turns true once the input ended or closeReader was called", async () => {
  const { stream } = countingStream("default", ["ab"]);
  const body = bodyFromReadable(stream);
  const states: boolean[] = [body.isClosed()];
  const events: string[] = [];
  await readOnce(body, events);
  states.push(body.isClosed());
  await readOnce(body, events);
  states.push(body.isClosed());
  assert.deepEqual(events, ["read:ab", "eof"]);
  assert.deepEqual(states, [false, false, true]);

  const other = bodyFromReadable(countingStream("bytes", ["cd"]).stream);
  assert.equal(other.isClosed(), false);
  other.closeReader();
  assert.equal(other.isClosed(), true);
});

Deno.test("a second scheduleRead while one is pending throws Error 'Body.scheduleRead:' and the first is answered once", async () => {
  const { stream } = countingStream("default", ["ab"]);
  const body = bodyFromReadable(stream);
  const events: string[] = [];
  const first = readOnce(body, events);
  assert.throws(
    () => body.scheduleRead({ onRead: () => {}, onEof: () => {} }),
    (error: unknown) => {
      failsWith(Error, "Body.scheduleRead:")(error);
      assert.match((error as Error).message, /already scheduled/);
      return true;
    },
  );
  await first;
  await turns();
  assert.deepEqual(events, ["read:ab"]);
});

Deno.test("an exception from onRead answered asynchronously cancels the stream with it, closes the body and reaches options.onError", async () => {
  const events: string[] = [];
  const failure = new Error("onRead failed");
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(bytes("ab"));
    },
    cancel(reason) {
      events.push(reason === failure ? "cancel:failure" : `cancel:${reason}`);
    },
  }, { highWaterMark: 0 });
  const body = bodyFromReadable(stream, {
    onError(error) {
      events.push(error === failure ? "onError:failure" : "onError:other");
    },
  });
  let eofError: unknown;
  const onEof = (error?: unknown) => {
    eofError = error;
    events.push("onEof");
  };
  body.scheduleRead({
    onRead(buffer, off, len) {
      events.push(`onRead:${text(buffer, off, len)}`);
      // A read scheduled before the throw is answered, not stranded.
      body.scheduleRead({ onRead: () => events.push("onRead again"), onEof });
      throw failure;
    },
    onEof: () => events.push("first onEof"),
  });
  await until(() => events.includes("onError:failure"), "options.onError");
  await turns();
  assert.deepEqual(events, [
    "onRead:ab",
    "cancel:failure",
    "onEof",
    "onError:failure",
  ]);
  assert.equal(eofError, failure);
  assert.equal(body.isClosed(), true);
});

Deno.test("an exception from onEof answered synchronously inside scheduleRead throws to the caller", async () => {
  const errors: unknown[] = [];
  const { stream } = countingStream("default", []);
  const body = bodyFromReadable(stream, { onError: (e) => errors.push(e) });
  const events: string[] = [];
  await readOnce(body, events); // the stream ends: the body knows EOF now
  const failure = new Error("onEof failed");
  assert.throws(
    () =>
      body.scheduleRead({
        onRead: () => assert.fail("no bytes after EOF"),
        onEof() {
          throw failure;
        },
      }),
    (error: unknown) => error === failure,
  );
  await turns();
  assert.deepEqual(events, ["eof"]);
  assert.deepEqual(errors, []); // thrown to the caller, not reported
  await readOnce(body, events); // the body still answers
  assert.deepEqual(events, ["eof", "eof"]);
});

Deno.test("an exception from onRead answered synchronously inside scheduleRead throws to the caller", async () => {
  const events: string[] = [];
  const chunks = ["a", "b"];
  const body: Body<"read"> = createReader({
    request() {
      const chunk = chunks.shift();
      if (chunk === undefined) endInput(body);
      else deliverInput(body, bytes(chunk));
    },
    release: () => events.push("release"),
    callbackError: () => events.push("callbackError"),
  });
  const failure = new Error("onRead failed");
  assert.throws(
    () =>
      body.scheduleRead({
        onRead(buffer, off, len) {
          events.push(`onRead:${text(buffer, off, len)}`);
          throw failure;
        },
        onEof: () => events.push("onEof"),
      }),
    (error: unknown) => error === failure,
  );
  assert.equal(body.isClosed(), false);
  await readOnce(body, events);
  await readOnce(body, events);
  assert.deepEqual(events, ["onRead:a", "read:b", "eof"]);
});

Deno.test("bodyFromReadable rejects a non-stream or a locked stream with TypeError", () => {
  for (const bad of [null, undefined, {}, "stream", new Uint8Array(1)]) {
    assert.throws(
      () => bodyFromReadable(bad as unknown as ReadableStream<Uint8Array>),
      failsWith(TypeError, "bodyFromReadable: expected a ReadableStream"),
    );
  }
  const stream = new ReadableStream<Uint8Array>();
  stream.getReader();
  assert.throws(
    () => bodyFromReadable(stream),
    failsWith(TypeError, "bodyFromReadable: the stream is locked"),
  );
  const free = new ReadableStream<Uint8Array>();
  assert.throws(
    () => bodyFromReadable(free, { bufferSize: 10 }),
    failsWith(RangeError, "bodyFromReadable: bufferSize"),
  );
  assert.equal(free.locked, false); // a rejected call leaves it alone
});

Deno.test("bodyFromReadable maxBytes: a stream growing past it is cancelled and the read answered onEof(RangeError)", async () => {
  for (
    const [max, expected] of [
      [9, ["read:abc", "read:def", "read:ghi", "eof"]],
      [7, ["read:abc", "read:def", "eof:error"]],
      [0, ["eof:error"]],
    ] as const
  ) {
    const cancels: unknown[] = [];
    const chunks = ["abc", "def", "ghi"];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const chunk = chunks.shift();
        if (chunk === undefined) controller.close();
        else controller.enqueue(bytes(chunk));
      },
      cancel: (reason) => void cancels.push(reason),
    }, { highWaterMark: 0 });
    const body = bodyFromReadable(stream, { maxBytes: max });
    const events: string[] = [];
    const errors: unknown[] = [];
    for (let i = 0; i < expected.length; i++) {
      await readOnce(body, events, errors);
    }
    assert.deepEqual(events, expected, `maxBytes ${max}`);
    if (errors.length > 0) {
      failsWith(RangeError, "bodyFromReadable:")(errors[0]);
      assert.match((errors[0] as Error).message, new RegExp(`\\b${max} bytes`));
      await until(() => cancels.length === 1, "the source's cancel");
      assert.equal(cancels[0], errors[0]);
    } else {
      await turns();
      assert.deepEqual(cancels, []);
    }
  }
});

Deno.test("bodyFromReadable rejects a maxBytes that is not a non-negative integer", () => {
  const cases: [unknown, TypeErrorConstructor | RangeErrorConstructor][] = [
    [-1, RangeError],
    [1.5, RangeError],
    [NaN, RangeError],
    [Infinity, RangeError],
    ["10", TypeError],
  ];
  for (const [maxBytes, cls] of cases) {
    const stream = new ReadableStream<Uint8Array>();
    assert.throws(
      () => bodyFromReadable(stream, { maxBytes: maxBytes as number }),
      failsWith(cls, "bodyFromReadable: maxBytes"),
    );
    assert.equal(stream.locked, false);
  }
});

// ---------------------------------------------------------------------
// readableFromBody
// ---------------------------------------------------------------------

Deno.test("readableFromBody schedules one read per pull", async () => {
  const { stream, pulls } = countingStream("default", ["a", "b", "c"]);
  const body = bodyFromReadable(stream);
  let scheduled = 0;
  const scheduleRead = body.scheduleRead;
  body.scheduleRead = function (callbacks) {
    scheduled++;
    return scheduleRead.call(this, callbacks);
  };
  const reader = readableFromBody(body).getReader();
  await turns();
  assert.deepEqual([scheduled, pulls()], [0, 0]); // nothing read ahead
  const got: string[] = [];
  for (let i = 1; i <= 2; i++) {
    const { value } = await reader.read();
    got.push(text(value!));
    await turns();
    assert.deepEqual([scheduled, pulls()], [i, i]);
  }
  assert.deepEqual(got, ["a", "b"]);
});

Deno.test("readableFromBody chunks are copies of exactly buffer[off, off + len)", async () => {
  // The channel delivers sub-ranges of one buffer it reuses.
  const shared = bytes("__first__second__");
  const ranges: [number, number][] = [[2, 5], [9, 6]];
  const body: Body<"read"> = createReader({
    request() {
      const range = ranges.shift();
      if (range === undefined) endInput(body);
      else deliverInput(body, shared, range[0], range[1]);
    },
    release: () => {},
    callbackError: (error) => {
      throw error;
    },
  });
  const reader = readableFromBody(body).getReader();
  const first = (await reader.read()).value!;
  shared.fill(0x21); // the body's memory changes after the chunk left
  const second = (await reader.read()).value!;
  assert.equal(text(first), "first");
  assert.equal(text(second), "!!!!!!");
  assert.notEqual(first.buffer, shared.buffer);
  assert.equal(first.byteLength, first.buffer.byteLength);
  assert.deepEqual(await reader.read(), { done: true, value: undefined });
});

Deno.test("readableFromBody closes the stream at a clean EOF", async () => {
  const { stream } = countingStream("bytes", ["hello ", "world"]);
  const readable = readableFromBody(bodyFromReadable(stream));
  const chunks: string[] = [];
  for await (const chunk of readable) chunks.push(text(chunk));
  assert.deepEqual(chunks, ["hello ", "world"]);
});

Deno.test("readableFromBody errors the stream with the body's error", async () => {
  const failure = new Error("upload cut");
  let pulls = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulls++ === 0) controller.enqueue(bytes("partial"));
      else controller.error(failure);
    },
  }, { highWaterMark: 0 });
  const reader = readableFromBody(bodyFromReadable(stream)).getReader();
  assert.equal(text((await reader.read()).value!), "partial");
  await assert.rejects(reader.read(), (error: unknown) => error === failure);
});

Deno.test("readableFromBody cancel closes the reader and cancels the underlying stream", async () => {
  const events: string[] = [];
  let pulls = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulls++ === 0) controller.enqueue(bytes("first"));
      else return new Promise(() => {}); // the second chunk never comes
    },
    cancel() {
      events.push("cancel"); // the reason is not part of the contract
    },
  }, { highWaterMark: 0 });
  const body = bodyFromReadable(stream);
  const reader = readableFromBody(body).getReader();
  assert.equal(text((await reader.read()).value!), "first");
  const pending = reader.read();
  await until(() => pulls === 2, "the second pull");
  await reader.cancel(new Error("consumer gone"));
  assert.deepEqual(await pending, { done: true, value: undefined });
  assert.equal(body.isClosed(), true);
  await turns();
  assert.deepEqual(events, ["cancel"]);
});

Deno.test("readableFromBody rejects a body that is not a reader with TypeError", () => {
  const bad = [
    null,
    undefined,
    {},
    new ReadableStream(),
    streamingBody().body,
  ];
  for (const body of bad) {
    assert.throws(
      () => readableFromBody(body as unknown as Body<"read">),
      failsWith(TypeError, "readableFromBody: expected a reader body"),
    );
  }
});

// ---------------------------------------------------------------------
// Read scheduling through a synchronous channel
// ---------------------------------------------------------------------

Deno.test("a read rescheduled inside onRead serves 100k synchronous chunks in constant stack", () => {
  const total = 100_000;
  const one = bytes("x");
  let delivered = 0;
  let requests = 0;
  const body: Body<"read"> = createReader({
    request() {
      requests++;
      if (delivered === total) return endInput(body);
      delivered++;
      deliverInput(body, one);
    },
    release: () => {},
    callbackError: (error) => {
      throw error;
    },
  });
  let received = 0;
  let eofs = 0;
  let depth = 0;
  let maxDepth = 0;
  const onRead = (_buffer: Uint8Array, _off: number, len: number) => {
    received += len;
    depth++;
    maxDepth = Math.max(maxDepth, depth);
    body.scheduleRead({ onRead, onEof });
    depth--;
  };
  const onEof = (error?: unknown) => {
    assert.equal(error, undefined);
    eofs++;
  };
  body.scheduleRead({ onRead, onEof });
  assert.deepEqual([received, eofs, requests, maxDepth], [
    total,
    1,
    total + 1,
    1,
  ]);
});
