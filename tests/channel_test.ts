// The channel end of body.ts: side checks, argument checks, the optional
// flush hook, maxPendingBytes, and the naming of errors. Held to the
// module doc of body.ts (channel-end functions check the side) and
// README.md, "Errors and failures" (bad arguments; the message convention).
import assert from "node:assert/strict";
import { failsWith } from "./_harness/util.ts";
import {
  abortOutput,
  Body,
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
  type WriteChannel,
} from "../body.ts";
import {
  bodyFromReadable,
  bodyFromWritable,
  readableFromBody,
  streamingBody,
  writableFromBody,
} from "../mod.ts";

const noRead = { request() {}, release() {}, callbackError() {} };
const noWrite = { wake() {}, abort() {}, callbackError() {} };

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

Deno.test("every channel-end function of the reader side rejects a writer body with TypeError at the call", () => {
  const writer = createWriter(noWrite) as unknown as Body<"read">;
  const calls: [string, () => void][] = [
    ["deliverInput", () => deliverInput(writer, new Uint8Array(1))],
    ["endInput", () => endInput(writer)],
    ["failInput", () => failInput(writer, new Error("x"))],
  ];
  for (const [name, call] of calls) {
    assert.throws(
      call,
      failsWith(
        TypeError,
        `${name}: expected a reader body, received a write body`,
      ),
    );
  }
});

Deno.test("every channel-end function of the writer side rejects a reader body with TypeError at the call", async () => {
  const reader = createReader(noRead) as unknown as Body<"write">;
  const calls: [string, () => void][] = [
    ["nextOutput", () => nextOutput(reader)],
    ["outputWritten", () => outputWritten(reader, 0)],
    ["outputClosed", () => outputClosed(reader)],
    ["endOutput", () => endOutput(reader)],
    ["abortOutput", () => abortOutput(reader, new Error("x"))],
  ];
  const uncaught: unknown[] = [];
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    uncaught.push(event.error);
  };
  globalThis.addEventListener("error", onError);
  try {
    for (const [name, call] of calls) {
      assert.throws(
        call,
        failsWith(
          TypeError,
          `${name}: expected a writer body, received a read body`,
        ),
      );
    }
    await settle(); // nothing fails later, in a microtask
  } finally {
    globalThis.removeEventListener("error", onError);
  }
  assert.deepEqual(uncaught, []);
});

Deno.test("channel-end functions reject a non-body with TypeError naming what was received", () => {
  assert.throws(
    () => endInput({} as unknown as Body<"read">),
    failsWith(TypeError, "endInput: expected a reader body, received Object"),
  );
  assert.throws(
    () => nextOutput(null as unknown as Body<"write">),
    failsWith(TypeError, "nextOutput: expected a writer body, received null"),
  );
});

Deno.test("deliverInput checks its bytes and range like the write methods", () => {
  const body = createReader(noRead);
  assert.throws(
    () => deliverInput(body, "ab" as unknown as Uint8Array),
    failsWith(
      TypeError,
      "deliverInput: expected a Uint8Array, received a string",
    ),
  );
  assert.throws(
    () => deliverInput(body, new Uint8Array(4), 1, 4),
    failsWith(RangeError, "deliverInput: len must be an integer in [0, 3]"),
  );
  assert.equal(body.pendingBytes, 0);
});

Deno.test("outputWritten refuses to count more bytes than the channel took", () => {
  const body = createWriter(noWrite);
  body.writeString("abc");
  const chunk = nextOutput(body) as Uint8Array;
  assert.equal(chunk.length, 3);
  assert.throws(
    () => outputWritten(body, 4),
    failsWith(RangeError, "outputWritten: n must be an integer in [0, 3]"),
  );
  outputWritten(body, 3);
  assert.throws(() => outputWritten(body, 1), RangeError);
});

Deno.test("createReader and createWriter refuse a channel without its methods", () => {
  assert.throws(
    () => createReader({ request() {} } as unknown as typeof noRead),
    failsWith(
      TypeError,
      "createReader: expected a channel with request, release, callbackError",
    ),
  );
  assert.throws(
    () => createWriter(undefined as unknown as WriteChannel),
    failsWith(
      TypeError,
      "createWriter: expected a channel with wake, abort, callbackError",
    ),
  );
});

Deno.test("new Body() is a TypeError: bodies come from the adapters", () => {
  const Abstract = Body as unknown as new () => unknown;
  assert.throws(
    () => new Abstract(),
    failsWith(TypeError, "Body: bodies are made"),
  );
});

Deno.test("option errors name the function the user called", () => {
  const cases: [
    () => unknown,
    ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor,
    string,
  ][] = [
    [
      () => streamingBody({ contentLength: -1 }),
      RangeError,
      "streamingBody: contentLength",
    ],
    [
      () => streamingBody({ bufferSize: 3 }),
      RangeError,
      "streamingBody: bufferSize",
    ],
    [
      () => streamingBody({ bufferSize: "64" as unknown as number }),
      TypeError,
      "streamingBody: bufferSize must be a number, received a string",
    ],
    [
      () => streamingBody({ maxPendingBytes: 1.5 }),
      RangeError,
      "streamingBody: maxPendingBytes",
    ],
    [
      () => streamingBody({ onError: 1 as unknown as () => void }),
      TypeError,
      "streamingBody: onError must be a function",
    ],
    [
      () => bodyFromWritable(new WritableStream(), { bufferSize: 3 }),
      RangeError,
      "bodyFromWritable: bufferSize",
    ],
    [
      () => bodyFromReadable(new ReadableStream(), { bufferSize: 3 }),
      RangeError,
      "bodyFromReadable: bufferSize",
    ],
    [
      () => bodyFromReadable(new ReadableStream(), { maxBytes: -1 }),
      RangeError,
      "bodyFromReadable: maxBytes",
    ],
    [
      () => createWriter(noWrite, { contentLength: -1 }),
      RangeError,
      "createWriter: contentLength",
    ],
    [
      () => createReader(noRead, { bufferSize: 3 }),
      RangeError,
      "createReader: bufferSize",
    ],
    [
      () => bodyFromWritable(42 as unknown as WritableStream),
      TypeError,
      "bodyFromWritable: expected a WritableStream, received number 42",
    ],
    [
      () => readableFromBody({} as unknown as Body<"read">),
      TypeError,
      "readableFromBody: expected a reader body, received Object",
    ],
    [
      () => writableFromBody(createReader(noRead) as unknown as Body<"write">),
      TypeError,
      "writableFromBody: expected a writer body, received Reader",
    ],
  ];
  for (const [call, cls, prefix] of cases) {
    assert.throws(call, failsWith(cls, prefix));
  }
});

// ---------------------------------------------------------------------
// WriteChannel.flush: the hook a compressor needs
// ---------------------------------------------------------------------

Deno.test("WriteChannel.flush is called once per burst of flushes, from a microtask", async () => {
  const log: string[] = [];
  const body = createWriter({ ...noWrite, flush: () => void log.push("hook") });
  body.writeString("a");
  body.flush(() => log.push("flush 1"));
  body.flush(() => log.push("flush 2"));
  log.push("returned");
  await settle();
  body.flush(() => log.push("flush 3"));
  await settle();
  assert.deepEqual(log, ["returned", "hook", "hook"]);
});

Deno.test("WriteChannel.flush is not called once the channel closed or took its end-of-stream", async () => {
  let hooks = 0;
  const channel = { ...noWrite, flush: () => void hooks++ };
  const gone = createWriter(channel);
  outputClosed(gone);
  gone.flush(() => {});
  const ended = createWriter(channel);
  ended.closeWriter();
  assert.equal(nextOutput(ended), "close");
  ended.flush(() => {});
  await settle();
  assert.equal(hooks, 0);
});

// ---------------------------------------------------------------------
// maxPendingBytes
// ---------------------------------------------------------------------

function limitedWriter(max: number) {
  const aborted: unknown[] = [];
  const body = createWriter({
    ...noWrite,
    abort: (reason) => void aborted.push(reason),
  }, { maxPendingBytes: max });
  return { body, aborted };
}

Deno.test("maxPendingBytes: the write that makes pendingBytes exceed it cuts the output and aborts the channel", async () => {
  const { body, aborted } = limitedWriter(10);
  const results: FlushResult[] = [];
  body.writeString("12345");
  body.flush((r) => results.push(r));
  body.writeBigstring(new Uint8Array(5)); // 10 pending: at the limit, not past it
  assert.deepEqual(aborted, []);
  assert.equal(body.isClosed(), false);
  body.writeChar("x"); // 11
  assert.equal(aborted.length, 1);
  failsWith(
    RangeError,
    "Body.writeChar: 11 pending bytes exceed maxPendingBytes (10)",
  )(aborted[0]);
  assert.equal(body.isClosed(), true);
  assert.equal(body.pendingBytes, 0);
  await settle();
  assert.deepEqual(results, ["closed"]);
});

Deno.test("maxPendingBytes: writes after the cut are dropped without throwing and flushes answer closed", async () => {
  const { body, aborted } = limitedWriter(4);
  body.writeString("too long");
  body.writeString("dropped");
  body.scheduleBigstring(new Uint8Array(100));
  assert.equal(body.pendingBytes, 0);
  assert.equal(await body.flush(), "closed");
  assert.equal(aborted.length, 1);
});

Deno.test("maxPendingBytes counts pending text in UTF-8 bytes, not code units", () => {
  const { body, aborted } = limitedWriter(6);
  body.writeString("\u00e9\u00e9\u00e9"); // 3 code units, 6 bytes: at the limit
  assert.deepEqual(aborted, []);
  body.writeString("\u00e9"); // 8 bytes
  assert.equal(aborted.length, 1);
});

Deno.test("maxPendingBytes: bytes the channel took no longer count", () => {
  const { body, aborted } = limitedWriter(8);
  body.writeString("12345678");
  assert.equal((nextOutput(body) as Uint8Array).length, 8);
  body.writeString("abcdefgh");
  assert.deepEqual(aborted, []);
  assert.equal(body.pendingBytes, 8);
});
