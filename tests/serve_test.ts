/**
 * Tests for `adapters/serve.ts` over real loopback: `Deno.serve` on
 * 127.0.0.1 with `withBody(handler, options)`, driven by `fetch` and, for
 * faults (disconnects, stalls, partial uploads), by a raw `Deno.connect`
 * client that writes HTTP/1.1 by hand. Held to the "`withBody`" section
 * of README.md and the docs of `Reqd`; test names follow its rules.
 *
 * Bounds: every test runs under `test(name, fn, ms)`, whose deadline
 * signal is threaded through everything that waits — `fetch`, raw reads
 * (the socket is closed on abort), `within` (a promise raced against the
 * deadline) and `withBody`/`Deno.serve` themselves (their `signal`: on a
 * timeout, pending requests get 503 and the server shuts down). Loops are
 * bounded by a count. The only timed waits are `quiescent` (memory test:
 * "no more progress" has no event) and the hard bound on `shutdown()`.
 *
 * Hygiene: `serve()` (the shared harness in `_harness/serve.ts`, also behind the
 * HTTP/2, timeout and crash suites) returns an async-disposable server
 * that shuts Deno's server down (bounded), restores `console.error`
 * (captured into `logs` for the duration of a test: withBody logs handler
 * errors by design) and fails the test on an unhandled rejection. Every
 * fetch body is consumed or cancelled, every raw connection closed.
 */

import assert from "node:assert/strict";
import { concat, randomBytes } from "./_harness/util.ts";
import { latin1, RawClient } from "./_harness/raw_http.ts";
import {
  type Body,
  type FlushResult,
  type Reqd,
  toText,
  withBody,
} from "../mod.ts";
import type { BodyHandler, WithBodyOptions } from "../adapters/serve.ts";
import {
  deadlineTest as test,
  describe,
  echo,
  firstDifference,
  type H2Served,
  HTTP1,
  quiescent,
  readBody,
  serveOver,
  type ServeSetup,
  within,
} from "./_harness/serve.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const KiB = 1024;
const MiB = 1024 * KiB;

// Serves `handler` through withBody over HTTP/1.1 on 127.0.0.1 (the
// shared harness, `_harness/serve.ts`); Deno.serve gets withBody's signal too unless
// `shareSignal` is false.
function serve(
  deadline: AbortSignal,
  handler: BodyHandler,
  options: WithBodyOptions = {},
  { shareSignal = true }: ServeSetup = {},
): H2Served {
  return serveOver(HTTP1, deadline, handler, options, { shareSignal });
}

// How fetch reports a transfer cut short in Deno 2.9.6: the body read
// rejects with this TypeError (a clean end would be "end").
function assertBroken(end: "end" | Error): void {
  assert.equal(
    end === "end" ? "a clean end" : describe(end),
    "TypeError: error reading a body from connection",
  );
}

// Reads a request body to its end; resolves with the byte count, or the
// onEof error.
function drain(body: Body<"read">): Promise<number> {
  return new Promise((resolve, reject) => {
    let total = 0;
    const onRead = (_: Uint8Array, __: number, len: number) => {
      total += len;
      body.scheduleRead({ onRead, onEof });
    };
    const onEof = (error?: unknown) =>
      error === undefined ? resolve(total) : reject(error);
    body.scheduleRead({ onRead, onEof });
  });
}

// A streamed upload (chunked on the wire): `chunks` are sent as they are
// pulled; after them the stream stays open until `finish()` (if `hold`).
function upload(chunks: Uint8Array[], hold = false) {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let sent = 0;
  let done = false;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    pull(c) {
      const chunk = chunks[sent];
      if (chunk !== undefined) {
        sent++;
        c.enqueue(chunk);
      } else if (!hold && !done) {
        done = true;
        c.close();
      }
    },
    cancel() {
      done = true;
    },
  }, { highWaterMark: 0 });
  return {
    stream,
    finish() {
      if (done) return;
      done = true;
      controller.close();
    },
  };
}

// A flush-paced producer of fresh 64 KiB chunks (scheduleBigstring: no
// copy), `limit` bytes at most. `result` resolves with the first flush
// answered "closed" (or "written" at the limit).
function producer(output: Body<"write">, limit: number) {
  const state = {
    sent: 0,
    flushPending: false,
    thrown: [] as unknown[],
    result: Promise.withResolvers<FlushResult>(),
  };
  const step = (): void => {
    try {
      if (state.sent >= limit) {
        output.closeWriter();
        return state.result.resolve("written");
      }
      const chunk = new Uint8Array(64 * KiB).fill(state.sent / (64 * KiB));
      output.scheduleBigstring(chunk);
      state.sent += chunk.length;
      state.flushPending = true;
      output.flush((result) => {
        state.flushPending = false;
        if (result === "written") step();
        else state.result.resolve(result);
      });
    } catch (error) {
      state.thrown.push(error);
      state.result.resolve("closed");
    }
  };
  step();
  return state;
}

// A raw GET on `client`.
function get(client: RawClient, path: string): Promise<void> {
  return client.send(`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`);
}

// =====================================================================
// Echo and timing of the response
// =====================================================================

test("a streamed echo of 4 MiB of random bytes is byte-exact (BYOB reads into the body's own views)", async (deadline) => {
  const chunks: [number, number][] = [];
  // bufferSize 16 KiB: BYOB views are 16 KiB, where the default reader of
  // a byte stream would hand over 64 KiB chunks.
  await using server = serve(deadline, (reqd) => echo(reqd, chunks), {
    bufferSize: 16 * KiB,
  });
  const sent = randomBytes(4 * MiB);
  const response = await fetch(server.url, {
    method: "POST",
    body: sent,
    signal: deadline,
  });
  const got = new Uint8Array(await response.arrayBuffer());
  assert.equal(response.status, 200);
  assert.equal(got.length, sent.length);
  assert.equal(firstDifference(got, sent), -1);
  assert.ok(chunks.length >= 4 * MiB / (16 * KiB), `${chunks.length} reads`);
  assert.deepEqual(
    new Set(chunks.map(([len, size]) => len <= 16 * KiB && size === 16 * KiB)),
    new Set([true]),
    "every read landed in a 16 KiB BYOB view",
  );
});

test("a small body that Deno hands over as one chunk is echoed whole", async (deadline) => {
  const chunks: [number, number][] = [];
  await using server = serve(deadline, (reqd) => echo(reqd, chunks));
  const response = await fetch(server.url, {
    method: "POST",
    body: "ping",
    signal: deadline,
  });
  assert.equal(await response.text(), "ping");
  assert.deepEqual(chunks, [[4, 4]]); // one read of the 4-byte chunk itself
});

test("the response promise resolves when the handler responds later, from a callback", async (deadline) => {
  const events: string[] = [];
  await using server = serve(deadline, (reqd) => {
    drain(reqd.requestBody).then((total) => {
      events.push(`respond:${total}`);
      reqd.respondWithString({ status: 200 }, `read ${total} bytes`);
    });
    events.push("handler returned");
  });
  const { stream } = upload([new Uint8Array(1000), new Uint8Array(2000)]);
  const response = await fetch(server.url, {
    method: "POST",
    body: stream,
    signal: deadline,
  });
  assert.equal(await response.text(), "read 3000 bytes");
  assert.deepEqual(events, ["handler returned", "respond:3000"]);
});

test("requestBody of a GET is an already-ended body: onEof() with no argument, synchronously", async (deadline) => {
  await using server = serve(deadline, (reqd) => {
    const events: string[] = [];
    const body = reqd.requestBody;
    events.push(`isClosed:${body.isClosed()}`);
    body.scheduleRead({
      onRead: () => events.push("onRead"),
      onEof: (...args: unknown[]) => events.push(`onEof(${args.length} args)`),
    });
    events.push("scheduleRead returned");
    reqd.respondWithString({}, JSON.stringify(events));
  });
  const response = await fetch(server.url, { signal: deadline });
  assert.deepEqual(await response.json(), [
    "isClosed:true",
    "onEof(0 args)",
    "scheduleRead returned",
  ]);
});

// =====================================================================
// Whole responses
// =====================================================================

test("respondWithString sends the UTF-8 bytes with the status and headers given", async (deadline) => {
  await using server = serve(deadline, (reqd) => {
    reqd.respondWithString({
      status: 201,
      headers: {
        "x-token": "abc",
        "content-type": "text/plain; charset=utf-8",
      },
    }, "héllo ✓");
  });
  const response = await fetch(server.url, { signal: deadline });
  const body = new Uint8Array(await response.arrayBuffer());
  assert.equal(response.status, 201);
  assert.equal(response.headers.get("x-token"), "abc");
  assert.equal(
    response.headers.get("content-type"),
    "text/plain; charset=utf-8",
  );
  assert.equal(response.headers.get("content-length"), "10");
  assert.deepEqual(body, encoder.encode("héllo ✓"));
});

test("respondWithBigstring sends exactly the bytes, which the caller may reuse at once", async (deadline) => {
  const sent = randomBytes(100 * KiB);
  const expected = sent.slice();
  await using server = serve(deadline, (reqd) => {
    reqd.respondWithBigstring({
      status: 200,
      headers: { "content-type": "application/octet-stream" },
    }, sent);
    sent.fill(0); // the Response took a copy
  });
  const response = await fetch(server.url, { signal: deadline });
  const body = new Uint8Array(await response.arrayBuffer());
  assert.equal(response.status, 200);
  assert.equal(
    response.headers.get("content-type"),
    "application/octet-stream",
  );
  assert.equal(response.headers.get("content-length"), String(100 * KiB));
  assert.equal(firstDifference(body, expected), -1);
});

// Responds through `method` with `text` (as bytes for respondWithBigstring).
function respondWhole(
  reqd: Reqd,
  method: "respondWithString" | "respondWithBigstring",
  init: ResponseInit,
  text: string,
): void {
  if (method === "respondWithString") reqd.respondWithString(init, text);
  else reqd.respondWithBigstring(init, encoder.encode(text));
}

// Sends `requests` ("METHOD /path") pipelined on one connection, then a
// GET /end that the handler answers "end", and returns the raw text split
// on "\r\n\r\n": with no body bytes before /end's, that is one head per
// request, /end's head, and "end".
async function pipelined(
  client: RawClient,
  requests: string[],
): Promise<string[]> {
  await client.send(
    [...requests, "GET /end"].map((r) => `${r} HTTP/1.1\r\nhost: x\r\n\r\n`)
      .join(""),
  );
  const data = await client.readUntil(
    (data) => latin1(data).endsWith("\r\n\r\nend"),
    "the /end response",
  );
  return latin1(data).split("\r\n\r\n");
}

Deno.test("respondWithString counts a content-length in UTF-8 bytes, a lone surrogate as the 3 of U+FFFD", async () => {
  const text = "\u00e9\ud800x"; // 2 + 3 + 1 bytes
  const events: string[] = [];
  const app = withBody((reqd) => {
    for (const length of ["3", "5", "6"]) {
      try {
        reqd.respondWithString({ headers: { "content-length": length } }, text);
        events.push(`${length}: sent`);
      } catch (error) {
        events.push(`${length}: ${describe(error)}`);
      }
    }
  });
  const response = await app(new Request("http://127.0.0.1/"));
  assert.deepEqual(
    new Uint8Array(await response.arrayBuffer()),
    new Uint8Array([0xc3, 0xa9, 0xef, 0xbf, 0xbd, 0x78]),
  );
  assert.deepEqual(events, [
    "3: TypeError: Reqd.respondWithString: content-length 3 disagrees with the 6-byte body",
    "5: TypeError: Reqd.respondWithString: content-length 5 disagrees with the 6-byte body",
    "6: sent",
  ]);
});

for (const method of ["respondWithString", "respondWithBigstring"] as const) {
  test(`${method} with a content-length that disagrees throws TypeError; the handler can then respond`, async (deadline) => {
    const events: string[] = [];
    await using server = serve(deadline, (reqd) => {
      try {
        respondWhole(
          reqd,
          method,
          { headers: { "content-length": "3" } },
          "hello",
        );
        events.push("no throw");
      } catch (error) {
        events.push(describe(error));
      }
      respondWhole(
        reqd,
        method,
        { headers: { "content-length": "5" } },
        "hello",
      );
      events.push("responded");
    });
    const response = await fetch(server.url, { signal: deadline });
    assert.equal(await response.text(), "hello");
    assert.equal(response.headers.get("content-length"), "5");
    assert.deepEqual(events, [
      `TypeError: Reqd.${method}: content-length 3 disagrees with the 5-byte body`,
      "responded",
    ]);
  });
}

test("204 and 304 responses with an empty body send no body", async (deadline) => {
  await using server = serve(deadline, (reqd) => {
    const [, status, method] = new URL(reqd.request.url).pathname.split("/");
    if (status === "end") return reqd.respondWithString({}, "end");
    respondWhole(
      reqd,
      method as "respondWithString" | "respondWithBigstring",
      { status: Number(status) },
      "",
    );
  });
  using client = await RawClient.open(server.port, deadline);
  const parts = await pipelined(client, [
    "GET /204/respondWithString",
    "GET /204/respondWithBigstring",
    "GET /304/respondWithString",
    "GET /304/respondWithBigstring",
  ]);
  assert.deepEqual(
    parts.map((part) => part.split("\r\n")[0]),
    [
      "HTTP/1.1 204 No Content",
      "HTTP/1.1 204 No Content",
      "HTTP/1.1 304 Not Modified",
      "HTTP/1.1 304 Not Modified",
      "HTTP/1.1 200 OK",
      "end",
    ],
  );
});

test("204 and 304 responses with a body throw TypeError to the handler", async (deadline) => {
  const events: string[] = [];
  await using server = serve(deadline, (reqd) => {
    const status = Number(new URL(reqd.request.url).pathname.slice(1));
    for (
      const method of ["respondWithString", "respondWithBigstring"] as const
    ) {
      try {
        respondWhole(reqd, method, { status }, "x");
        events.push(`${method}: no throw`);
      } catch (error) {
        events.push(describe(error));
      }
    }
    reqd.respondWithString({ status }, "");
  });
  for (const status of [204, 304]) {
    const response = await fetch(`${server.url}/${status}`, {
      signal: deadline,
    });
    assert.equal(response.status, status);
    assert.equal(await response.text(), "");
  }
  assert.deepEqual(events, [
    "TypeError: Reqd.respondWithString: a 204 response cannot have a body",
    "TypeError: Reqd.respondWithBigstring: a 204 response cannot have a body",
    "TypeError: Reqd.respondWithString: a 304 response cannot have a body",
    "TypeError: Reqd.respondWithBigstring: a 304 response cannot have a body",
  ]);
});

test("respondWithStreaming for a 204 returns an already-closed body", async (deadline) => {
  const events: string[] = [];
  const finished = Promise.withResolvers<void>();
  await using server = serve(deadline, async (reqd) => {
    const body = reqd.respondWithStreaming({ status: 204 });
    events.push(`isClosed:${body.isClosed()}`);
    try {
      body.writeString("x");
      events.push("write: no throw");
    } catch (error) {
      events.push(describe(error));
    }
    events.push(`flush:${await body.flush()}`);
    finished.resolve();
  });
  const response = await fetch(server.url, { signal: deadline });
  assert.equal(response.status, 204);
  assert.equal(response.body, null);
  await within(deadline, finished.promise, "the handler's flush");
  assert.deepEqual(events, [
    "isClosed:true",
    "Error: Body.writeString: body is closed",
    "flush:closed",
  ]);
});

test("respondWithStreaming for a 204 leaves the upload readable and is not a client leaving", async (deadline) => {
  const read = Promise.withResolvers<string>();
  const left: unknown[] = [];
  await using server = serve(deadline, async (reqd) => {
    reqd.respondWithStreaming({ status: 204 });
    read.resolve(await toText(reqd.requestBody).catch(describe));
  }, { onDisconnect: (error) => void left.push(error) });
  const response = await fetch(server.url, {
    method: "POST",
    body: "the whole upload",
    signal: deadline,
  });
  assert.equal(response.status, 204);
  assert.equal(
    await within(deadline, read.promise, "the upload"),
    "the whole upload",
  );
  assert.deepEqual(left, []);
});

test("HEAD: bodies are accepted and discarded, content-length is not enforced", async (deadline) => {
  const events: string[] = [];
  await using server = serve(deadline, (reqd) => {
    const path = new URL(reqd.request.url).pathname;
    try {
      if (path === "/string") {
        reqd.respondWithString(
          { headers: { "content-length": "100" } },
          "hello",
        );
      } else if (path === "/streaming") {
        const body = reqd.respondWithStreaming({
          headers: { "content-length": "3" },
        });
        body.writeString("more than three bytes");
        body.closeWriter();
      } else {
        return reqd.respondWithString({}, "end");
      }
      events.push(`${path}: ok`);
    } catch (error) {
      events.push(`${path}: ${describe(error)}`);
    }
  });
  using client = await RawClient.open(server.port, deadline);
  const parts = await pipelined(client, ["HEAD /string", "HEAD /streaming"]);
  assert.deepEqual(events, ["/string: ok", "/streaming: ok"]);
  // Three heads and the /end body: not one body byte after a HEAD head.
  assert.deepEqual(parts.map((part) => part.split("\r\n")[0]), [
    "HTTP/1.1 200 OK",
    "HTTP/1.1 200 OK",
    "HTTP/1.1 200 OK",
    "end",
  ]);
  assert.match(parts[0]!, /\r\ncontent-length: 100(\r\n|$)/);
});

test("responding twice throws Error 'Reqd.<method>: response already started'", async (deadline) => {
  const events: string[] = [];
  await using server = serve(deadline, (reqd) => {
    const method = new URL(reqd.request.url).pathname.slice(1);
    reqd.respondWithString({}, "first");
    try {
      if (method === "respondWithStreaming") reqd.respondWithStreaming({});
      else respondWhole(reqd, method as "respondWithString", {}, "second");
      events.push("no throw");
    } catch (error) {
      events.push(describe(error));
    }
  });
  const methods = [
    "respondWithString",
    "respondWithBigstring",
    "respondWithStreaming",
  ];
  for (const method of methods) {
    const response = await fetch(`${server.url}/${method}`, {
      signal: deadline,
    });
    assert.equal(await response.text(), "first");
  }
  assert.deepEqual(
    events,
    methods.map((m) => `Error: Reqd.${m}: response already started`),
  );
});

// =====================================================================
// Streaming responses
// =====================================================================

test("respondWithStreaming: the head goes out at once, before any body byte (SSE)", async (deadline) => {
  const events: string[] = [];
  const opened = Promise.withResolvers<Body<"write">>();
  await using server = serve(deadline, (reqd) => {
    opened.resolve(reqd.respondWithStreaming({
      headers: { "content-type": "text/event-stream" },
    }));
  });
  const response = await fetch(server.url, { signal: deadline });
  events.push(`fetch resolved: ${response.status}`);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const output = await within(deadline, opened.promise, "the handler");
  assert.equal(output.pendingBytes, 0);
  const reader = response.body!.getReader();
  events.push("write");
  output.writeString("data: hi\n\n");
  const first = await reader.read();
  events.push(`read: ${decoder.decode(first.value)}`);
  output.closeWriter();
  events.push(`done: ${(await reader.read()).done}`);
  assert.deepEqual(events, [
    "fetch resolved: 200",
    "write",
    "read: data: hi\n\n",
    "done: true",
  ]);
});

test('respondWithStreaming: flush answers "written" once Deno\'s server took the bytes, before the client reads', async (deadline) => {
  const flushed = Promise.withResolvers<FlushResult>();
  const opened = Promise.withResolvers<Body<"write">>();
  const payload = "x".repeat(1024);
  await using server = serve(deadline, (reqd) => {
    const output = reqd.respondWithStreaming({});
    output.writeString(payload);
    output.flush(flushed.resolve);
    opened.resolve(output);
  });
  using client = await RawClient.open(server.port, deadline);
  await get(client, "/");
  // The client has read nothing yet: the bytes sit in Deno's and the
  // kernel's buffers, and that is "written".
  assert.equal(await within(deadline, flushed.promise, "the flush"), "written");
  assert.equal(client.received.length, 0);
  (await opened.promise).closeWriter();
  const response = await client.response();
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("transfer-encoding"), "chunked");
  assert.equal(latin1(response.body), payload);
});

test('client gone mid-response: pending flushes answer "closed", the body reports closed, nothing throws', async (deadline) => {
  const done = Promise.withResolvers<string[]>();
  const onError: unknown[] = [];
  await using server = serve(deadline, (reqd) => {
    const output = reqd.respondWithStreaming({});
    const state = producer(output, 256 * MiB);
    state.result.promise.then(async (result) => {
      const events = [`result:${result}`, `isClosed:${output.isClosed()}`];
      try {
        output.writeString("dropped"); // dropped without throwing
        events.push(`later flush:${await output.flush()}`);
      } catch (error) {
        events.push(describe(error));
      }
      events.push(`thrown:${state.thrown.map(describe)}`);
      events.push(`sent<limit:${state.sent < 256 * MiB}`);
      done.resolve(events);
    });
  }, { onError: (error) => (onError.push(error), new Response()) });
  using client = await RawClient.open(server.port, deadline);
  await get(client, "/");
  await client.readUntil((data) => data.length > 1 * MiB, "1 MiB of body");
  client.close();
  assert.deepEqual(await within(deadline, done.promise, "the producer"), [
    "result:closed",
    "isClosed:true",
    "later flush:closed",
    "thrown:",
    "sent<limit:true",
  ]);
  assert.deepEqual(onError, []);
  assert.deepEqual(server.logs, []);
});

test("client gone mid-upload: the request body's onEof receives an error", async (deadline) => {
  const firstRead = Promise.withResolvers<void>();
  const ended = Promise.withResolvers<[number, unknown]>();
  await using server = serve(deadline, (reqd) => {
    const body = reqd.requestBody;
    let total = 0;
    const onRead = (_: Uint8Array, __: number, len: number) => {
      total += len;
      firstRead.resolve();
      body.scheduleRead({ onRead, onEof });
    };
    const onEof = (...args: unknown[]) => {
      ended.resolve([total, args.length === 0 ? "clean end" : args[0]]);
      reqd.respondWithString({ status: 400 }, "incomplete");
    };
    body.scheduleRead({ onRead, onEof });
  });
  using client = await RawClient.open(server.port, deadline);
  await client.send(
    `POST / HTTP/1.1\r\nhost: x\r\ncontent-length: ${1 * MiB}\r\n\r\n`,
  );
  await client.send(new Uint8Array(64 * KiB));
  await within(deadline, firstRead.promise, "the first read");
  client.close();
  const [total, error] = await within(deadline, ended.promise, "onEof");
  assert.ok(total <= 64 * KiB, `${total} bytes read`);
  assert.ok(error instanceof Error, `onEof got ${String(error)}`);
  assert.ok(
    error instanceof Deno.errors.BadResource,
    `expected Deno.errors.BadResource, got ${describe(error)}`,
  );
});

// =====================================================================
// Failures: handler exceptions, reportException
// =====================================================================

const secret = "secret-7f3a";

test('a handler that throws gets 500 "Internal Server Error", revealing neither message nor stack', async (deadline) => {
  const failure = new Error(secret);
  await using server = serve(deadline, () => {
    throw failure;
  });
  const response = await fetch(server.url, { signal: deadline });
  assert.equal(response.status, 500);
  assert.equal(
    response.headers.get("content-type"),
    "text/plain; charset=utf-8",
  );
  assert.equal(await response.text(), "Internal Server Error");
  assert.ok(server.logs.some((args) => args.includes(failure)), "logged");
});

test('a handler that rejects gets 500 "Internal Server Error", revealing neither message nor stack', async (deadline) => {
  const failure = new Error(secret);
  await using server = serve(deadline, async () => {
    await Promise.resolve();
    throw failure;
  });
  const response = await fetch(server.url, { signal: deadline });
  assert.equal(response.status, 500);
  assert.equal(await response.text(), "Internal Server Error");
  assert.ok(server.logs.some((args) => args.includes(failure)), "logged");
});

for (const kind of ["a Response", "a Promise<Response>"] as const) {
  test(`options.onError(error, request) makes the response, returning ${kind}`, async (deadline) => {
    const failure = new Error(secret);
    const calls: [unknown, string][] = [];
    await using server = serve(deadline, () => {
      throw failure;
    }, {
      onError(error, request) {
        calls.push([error, new URL(request.url).pathname]);
        const response = new Response("custom", {
          status: 502,
          headers: { "x-handled": "yes" },
        });
        return kind === "a Response" ? response : Promise.resolve(response);
      },
    });
    const response = await fetch(`${server.url}/path`, { signal: deadline });
    assert.equal(response.status, 502);
    assert.equal(response.headers.get("x-handled"), "yes");
    assert.equal(await response.text(), "custom");
    assert.deepEqual(calls, [[failure, "/path"]]);
  });
}

test("an exception from an onRead answered later is reported: 500 before a response", async (deadline) => {
  const failure = new Error(secret);
  const calls: unknown[] = [];
  await using server = serve(deadline, (reqd) => {
    reqd.requestBody.scheduleRead({
      onRead() {
        throw failure;
      },
      onEof() {},
    });
  }, {
    onError(error) {
      calls.push(error);
      return new Response("Internal Server Error", { status: 500 });
    },
  });
  const response = await fetch(server.url, {
    method: "POST",
    body: "data",
    signal: deadline,
  });
  assert.equal(response.status, 500);
  assert.equal(await response.text(), "Internal Server Error");
  assert.deepEqual(calls, [failure]);
});

test("an exception from an onRead after streaming began breaks the transfer", async (deadline) => {
  const failure = new Error(secret);
  const { stream, finish } = upload([encoder.encode("a")], true);
  await using server = serve(deadline, (reqd) => {
    const output = reqd.respondWithStreaming({});
    output.writeString("partial");
    output.flush(() => {
      reqd.requestBody.scheduleRead({
        onRead() {
          throw failure;
        },
        onEof() {},
      });
    });
  });
  const response = await fetch(server.url, {
    method: "POST",
    body: stream,
    signal: deadline,
  });
  const chunks: Uint8Array[] = [];
  const end = await readBody(deadline, response, chunks);
  finish();
  assertBroken(end);
  assert.ok("partial".startsWith(decoder.decode(concat(chunks))));
  await server.shutdown();
  // The response stream was errored with the very exception.
  assert.deepEqual(server.serveErrors, [failure]);
});

test("an exception from a flush callback after streaming began breaks the transfer", async (deadline) => {
  const failure = new Error(secret);
  await using server = serve(deadline, (reqd) => {
    const output = reqd.respondWithStreaming({});
    output.writeString("partial");
    output.flush(() => {
      throw failure;
    });
  });
  const response = await fetch(server.url, { signal: deadline });
  const chunks: Uint8Array[] = [];
  const end = await readBody(deadline, response, chunks);
  assert.equal(response.status, 200);
  assertBroken(end);
  assert.ok("partial".startsWith(decoder.decode(concat(chunks))));
  await server.shutdown();
  assert.deepEqual(server.serveErrors, [failure]);
});

test("reportException after streaming began: the client's body read rejects, never a clean end", async (deadline) => {
  const failure = new Error(secret);
  await using server = serve(deadline, (reqd) => {
    const output = reqd.respondWithStreaming({});
    output.writeString("partial");
    output.flush(() => reqd.reportException(failure));
  });
  const response = await fetch(server.url, { signal: deadline });
  const chunks: Uint8Array[] = [];
  const end = await readBody(deadline, response, chunks);
  assert.equal(response.status, 200);
  assertBroken(end);
  assert.ok("partial".startsWith(decoder.decode(concat(chunks))));
  await server.shutdown();
  assert.deepEqual(server.serveErrors, [failure]);
});

test("reportException closes the request body: a pending read is answered onEof(error)", async (deadline) => {
  const failure = new Error(secret);
  const events: string[] = [];
  const ended = Promise.withResolvers<void>();
  const { stream, finish } = upload([encoder.encode("first")], true);
  await using server = serve(deadline, (reqd) => {
    const body = reqd.requestBody;
    const pending = {
      onRead: () => events.push("onRead again"),
      onEof(error?: unknown) {
        events.push(`onEof:${error === failure ? "the error" : error}`);
        ended.resolve();
      },
    };
    body.scheduleRead({
      onRead(buffer, off, len) {
        events.push(
          `onRead:${decoder.decode(buffer.subarray(off, off + len))}`,
        );
        body.scheduleRead(pending); // the client sends nothing more: it waits
        // Outside the read callback, as a handler would on another event.
        queueMicrotask(() => {
          events.push("reportException");
          reqd.reportException(failure);
        });
      },
      onEof: () => events.push("early onEof"),
    });
  });
  const response = await fetch(server.url, {
    method: "POST",
    body: stream,
    signal: deadline,
  });
  assert.equal(response.status, 500);
  assert.equal(await response.text(), "Internal Server Error");
  finish();
  await within(deadline, ended.promise, "onEof");
  assert.deepEqual(events, [
    "onRead:first",
    "reportException",
    "onEof:the error",
  ]);
});

// =====================================================================
// Declared content-length of a streaming response
// =====================================================================

test("respondWithStreaming with a content-length: writing past it throws RangeError", async (deadline) => {
  const events: string[] = [];
  await using server = serve(deadline, (reqd) => {
    const output = reqd.respondWithStreaming({
      headers: { "content-length": "5" },
    });
    output.writeString("hello");
    try {
      output.writeString("!");
      events.push("no throw");
    } catch (error) {
      events.push(describe(error));
    }
    output.closeWriter();
  });
  const response = await fetch(server.url, { signal: deadline });
  assert.equal(response.headers.get("content-length"), "5");
  assert.equal(await response.text(), "hello");
  assert.equal(events.length, 1);
  assert.match(
    events[0]!,
    /^RangeError: Body\.writeString: 1 more bytes would exceed the declared length of 5 bytes/,
  );
});

test("respondWithStreaming with a content-length: closeWriter short of it breaks the transfer", async (deadline) => {
  await using server = serve(deadline, (reqd) => {
    const output = reqd.respondWithStreaming({
      headers: { "content-length": "10" },
    });
    output.writeString("hello");
    output.flush(() => output.closeWriter());
  });
  const response = await fetch(server.url, { signal: deadline });
  const chunks: Uint8Array[] = [];
  const end = await readBody(deadline, response, chunks);
  assert.equal(response.headers.get("content-length"), "10");
  assertBroken(end);
  assert.ok("hello".startsWith(decoder.decode(concat(chunks))));
  await server.shutdown();
  assert.deepEqual(server.serveErrors.map(describe), [
    "Error: Body.closeWriter: closed after 5 of the 10 declared bytes",
  ]);
});

// =====================================================================
// maxBodyBytes
// =====================================================================

test("maxBodyBytes: a declared content-length over the limit gets 413 and the handler is never called", async (deadline) => {
  let calls = 0;
  await using server = serve(deadline, (reqd) => {
    calls++;
    reqd.respondWithString({}, "handled");
  }, { maxBodyBytes: 1000 });
  const response = await fetch(server.url, {
    method: "POST",
    body: new Uint8Array(1001),
    signal: deadline,
  });
  assert.equal(response.status, 413);
  assert.match(await response.text(), /1000/);
  assert.equal(calls, 0);
});

test("maxBodyBytes: a body of exactly the limit, declared or chunked, is read whole", async (deadline) => {
  const ends: string[] = [];
  await using server = serve(deadline, (reqd) => {
    drain(reqd.requestBody).then(
      (total) => {
        ends.push(`clean end after ${total}`);
        reqd.respondWithString({}, "whole");
      },
      (error) => reqd.reportException(error),
    );
  }, { maxBodyBytes: 1000 });
  const declared = await fetch(server.url, {
    method: "POST",
    body: new Uint8Array(1000),
    signal: deadline,
  });
  assert.deepEqual([declared.status, await declared.text()], [200, "whole"]);
  const { stream } = upload([new Uint8Array(600), new Uint8Array(400)]);
  const chunked = await fetch(server.url, {
    method: "POST",
    body: stream,
    signal: deadline,
  });
  assert.deepEqual([chunked.status, await chunked.text()], [200, "whole"]);
  assert.deepEqual(ends, ["clean end after 1000", "clean end after 1000"]);
});

test("maxBodyBytes: a chunked body growing past it ends the read with onEof(RangeError) naming the limit, and 413", async (deadline) => {
  const ended = Promise.withResolvers<string>();
  await using server = serve(deadline, (reqd) => {
    drain(reqd.requestBody).then(
      (total) => ended.resolve(`clean end after ${total}`),
      (error) => ended.resolve(describe(error)),
    );
  }, { maxBodyBytes: 2500 });
  const chunks = Array.from({ length: 16 }, () => new Uint8Array(1000));
  const { stream } = upload(chunks);
  const response = await fetch(server.url, {
    method: "POST",
    body: stream,
    signal: deadline,
  });
  assert.equal(response.status, 413);
  assert.match(await response.text(), /2500/);
  const error = await within(deadline, ended.promise, "onEof");
  assert.match(error, /^RangeError: .*2500/);
});

// =====================================================================
// options.signal: shutdown
//
// Deno.serve's own `signal` is a forced close in Deno 2.9.6
// (ext/http/00_serve.ts: "The abort signal triggers a non-graceful
// shutdown", op_http_cancel(rid, false)): it cuts streaming responses
// mid-body, pending output or not. So where a response must end cleanly,
// these tests give the signal to withBody only and shut Deno's server down
// gracefully with server.shutdown() (`shareSignal: false`).
// =====================================================================

test("options.signal: aborting it ends an open request body with onEof(reason)", async (deadline) => {
  const stop = new AbortController();
  const reason = new Error("shutting down");
  const firstRead = Promise.withResolvers<void>();
  const ended = Promise.withResolvers<unknown[]>();
  const { stream, finish } = upload([encoder.encode("first")], true);
  await using server = serve(deadline, (reqd) => {
    const body = reqd.requestBody;
    body.scheduleRead({
      onRead() {
        body.scheduleRead({
          onRead() {},
          onEof: (...args) => ended.resolve(args),
        });
        firstRead.resolve();
      },
      onEof: (...args) => ended.resolve(["early", ...args]),
    });
  }, { signal: stop.signal });
  const responding = fetch(server.url, {
    method: "POST",
    body: stream,
    signal: deadline,
  });
  await within(deadline, firstRead.promise, "the first read");
  stop.abort(reason);
  const args = await within(deadline, ended.promise, "onEof");
  assert.equal(args.length, 1);
  assert.equal(args[0], reason);
  const response = await responding;
  finish();
  assert.equal(response.status, 503);
  await response.body?.cancel();
});

test("options.signal: aborting it ends a streaming response after its pending output, cleanly", async (deadline) => {
  const stop = new AbortController();
  const opened = Promise.withResolvers<Body<"write">>();
  await using server = serve(
    deadline,
    (reqd) => {
      const output = reqd.respondWithStreaming({});
      output.writeString("before;");
      opened.resolve(output);
    },
    { signal: stop.signal },
    { shareSignal: false },
  );
  const response = await fetch(server.url, { signal: deadline });
  const output = await within(deadline, opened.promise, "the handler");
  const reader = response.body!.getReader();
  const first = await reader.read();
  assert.equal(decoder.decode(first.value), "before;");
  const events: string[] = [];
  output.writeString("pending;");
  stop.abort(new Error("shutting down"));
  const down = server.shutdown(); // graceful: lets the response finish
  try {
    output.writeString("after;");
    events.push("write after abort: no throw");
  } catch (error) {
    events.push(describe(error));
  }
  const flushed = output.flush();
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < 100; i++) {
    const { done, value } = await reader.read();
    if (done) {
      events.push("clean end");
      break;
    }
    chunks.push(value);
  }
  events.push(`flush after abort: ${await within(deadline, flushed, "flush")}`);
  await down;
  assert.equal(decoder.decode(concat(chunks)), "pending;");
  assert.deepEqual(events, [
    "write after abort: no throw",
    "clean end",
    "flush after abort: closed",
  ]);
});

test("options.signal: a handler reporting the shutdown reason gets 503 and nothing is logged", async (deadline) => {
  const stop = new AbortController();
  const reason = new Error("shutting down");
  const firstRead = Promise.withResolvers<void>();
  const { stream, finish } = upload([encoder.encode("first")], true);
  await using server = serve(deadline, (reqd) => {
    const body = reqd.requestBody;
    const onEof = (error?: unknown) => {
      if (error !== undefined) reqd.reportException(error);
    };
    body.scheduleRead({
      onRead() {
        body.scheduleRead({ onRead() {}, onEof });
        firstRead.resolve();
      },
      onEof,
    });
  }, { signal: stop.signal });
  const responding = fetch(server.url, {
    method: "POST",
    body: stream,
    signal: deadline,
  });
  await within(deadline, firstRead.promise, "the first read");
  stop.abort(reason);
  const response = await responding;
  finish();
  assert.equal(response.status, 503);
  await response.body?.cancel();
  assert.deepEqual(server.logs, []);
});

test("options.signal: aborting it answers a request not yet answered with 503", async (deadline) => {
  const stop = new AbortController();
  const called = Promise.withResolvers<void>();
  await using server = serve(deadline, () => called.resolve(), {
    signal: stop.signal,
  });
  const responding = fetch(server.url, { signal: deadline });
  await within(deadline, called.promise, "the handler");
  stop.abort(new Error("shutting down"));
  const response = await responding;
  assert.equal(response.status, 503);
  assert.match(await response.text(), /^Service Unavailable/);
});

test("options.signal: once it aborted, new requests get 503 and never reach the handler", async (deadline) => {
  const stop = new AbortController();
  let calls = 0;
  // Deno.serve keeps listening (it does not get the signal), as inside a
  // framework: withBody answers for itself.
  await using server = serve(
    deadline,
    (reqd) => {
      calls++;
      reqd.respondWithString({}, "handled");
    },
    { signal: stop.signal },
    { shareSignal: false },
  );
  stop.abort(new Error("shutting down"));
  const response = await fetch(server.url, { signal: deadline });
  assert.equal(response.status, 503);
  assert.match(await response.text(), /^Service Unavailable/);
  assert.equal(calls, 0);
});

test("options.signal, shared with Deno.serve: server.shutdown() finishes while a silent client owes its upload", async (deadline) => {
  const stop = new AbortController();
  const firstRead = Promise.withResolvers<void>();
  const ended = Promise.withResolvers<unknown>();
  await using server = serve(deadline, (reqd) => {
    const body = reqd.requestBody;
    body.scheduleRead({
      onRead() {
        firstRead.resolve();
        body.scheduleRead({ onRead() {}, onEof: ended.resolve });
      },
      onEof() {},
    });
  }, { signal: stop.signal });
  using client = await RawClient.open(server.port, deadline);
  await client.send(
    "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n0123456789",
  );
  await within(deadline, firstRead.promise, "the first read");
  const reason = new Error("shutting down");
  stop.abort(reason);
  await server.shutdown(2000); // the client stays connected and silent
  assert.equal(await within(deadline, ended.promise, "onEof"), reason);
});

test("options.signal, shared with Deno.serve: server.shutdown() finishes while a client stops reading a stream", async (deadline) => {
  const stop = new AbortController();
  const opened = Promise.withResolvers<ReturnType<typeof producer>>();
  await using server = serve(deadline, (reqd) => {
    opened.resolve(producer(reqd.respondWithStreaming({}), 256 * MiB));
  }, { signal: stop.signal });
  using client = await RawClient.open(server.port, deadline);
  await get(client, "/"); // and never read
  const state = await within(deadline, opened.promise, "the handler");
  await quiescent(deadline, () => state.sent);
  assert.ok(state.flushPending);
  stop.abort(new Error("shutting down"));
  await server.shutdown(2000); // the client stays connected, reading nothing
  assert.equal(
    await within(deadline, state.result.promise, "the flush"),
    "closed",
  );
});

// =====================================================================
// Load and memory
// =====================================================================

test("64 concurrent echoes of 256 KiB each arrive intact", async (deadline) => {
  await using server = serve(deadline, (reqd) => echo(reqd));
  const bodies = Array.from({ length: 64 }, () => randomBytes(256 * KiB));
  const echoed = await Promise.all(bodies.map(async (body) => {
    const response = await fetch(server.url, {
      method: "POST",
      body,
      signal: deadline,
    });
    return new Uint8Array(await response.arrayBuffer());
  }));
  assert.deepEqual(
    echoed.map((got, i) => firstDifference(got, bodies[i]!)),
    bodies.map(() => -1),
  );
});

test(
  "a client that stops reading keeps server memory bounded: the producer waits on a flush",
  async (deadline) => {
    // 256 MiB offered in fresh 64 KiB chunks, flush-paced. The bytes in
    // flight are bounded by Deno 2.9.6's ring (~64 KiB) and the kernel's socket
    // buffers (a few MiB on loopback), so RSS must not grow by 64 MiB.
    const offered = 256 * MiB;
    const bound = 64 * MiB;
    const opened = Promise.withResolvers<
      [Body<"write">, ReturnType<typeof producer>]
    >();
    await using server = serve(deadline, (reqd) => {
      const output = reqd.respondWithStreaming({});
      opened.resolve([output, producer(output, offered)]);
    });
    using client = await RawClient.open(server.port, deadline);
    const rssBefore = Deno.memoryUsage().rss;
    await get(client, "/"); // and never read
    const [output, state] = await within(deadline, opened.promise, "handler");
    await quiescent(deadline, () => state.sent);
    const growth = Deno.memoryUsage().rss - rssBefore;
    const report = `sent ${state.sent / MiB} MiB, RSS grew ${
      (growth / MiB).toFixed(1)
    } MiB`;
    assert.ok(state.flushPending, `no flush pending: ${report}`);
    assert.ok(state.sent < bound, report);
    assert.ok(growth < bound, report);
    assert.deepEqual(state.thrown, []);
    client.close();
    assert.equal(
      await within(deadline, state.result.promise, "the flush"),
      "closed",
    );
    assert.equal(output.isClosed(), true);
  },
  10_000,
);

Deno.test("withBody returns the Response itself when the handler responded synchronously, else a promise of it", async () => {
  const handler = withBody((reqd) => {
    if (reqd.request.url.endsWith("/now")) {
      reqd.respondWithString({ status: 200 }, "now");
    } else {
      queueMicrotask(() => reqd.respondWithString({ status: 200 }, "later"));
    }
  });
  const now = handler(new Request("http://127.0.0.1/now"));
  assert.ok(now instanceof Response);
  assert.equal(await now.text(), "now");
  const later = handler(new Request("http://127.0.0.1/later"));
  assert.ok(later instanceof Promise);
  assert.equal(await (await later).text(), "later");
});

// ---------------------------------------------------------------------
// Called as a fetch handler, without a server
// ---------------------------------------------------------------------

Deno.test("a 205 response is bodyless: text is a TypeError, respondWithStreaming returns a closed body", async () => {
  const events: string[] = [];
  const app = withBody((reqd) => {
    try {
      reqd.respondWithString({ status: 205 }, "x");
    } catch (error) {
      events.push(`${(error as Error).name}: ${(error as Error).message}`);
    }
    events.push(
      `closed=${reqd.respondWithStreaming({ status: 205 }).isClosed()}`,
    );
  });
  const response = await app(new Request("http://127.0.0.1/"));
  assert.deepEqual(events, [
    "TypeError: Reqd.respondWithString: a 205 response cannot have a body",
    "closed=true",
  ]);
  assert.equal(response.status, 205);
  assert.equal(response.body, null);
});

Deno.test("respondWithStreaming({ compress }) sets vary: accept-encoding also when it does not compress", async () => {
  const app = withBody((reqd) => {
    reqd.respondWithStreaming({}, { compress: true }).closeWriter();
  });
  for (const accept of [null, "identity", "gzip;q=0"]) {
    const headers: HeadersInit = accept === null
      ? {}
      : { "accept-encoding": accept };
    const response = await app(new Request("http://127.0.0.1/", { headers }));
    assert.deepEqual(
      [response.headers.get("vary"), response.headers.get("content-encoding")],
      ["accept-encoding", null],
      `accept-encoding: ${accept}`,
    );
    assert.equal(await response.text(), "");
  }
});

Deno.test("a request framed by transfer-encoding ignores its content-length: a shorter body ends cleanly", async () => {
  const ended = Promise.withResolvers<unknown>();
  const app = withBody((reqd) => {
    const body = reqd.requestBody;
    const onRead = () => body.scheduleRead({ onRead, onEof });
    const onEof = (error?: unknown) => {
      ended.resolve(error ?? "clean end");
      reqd.respondWithString({}, "ok");
    };
    body.scheduleRead({ onRead, onEof });
  });
  const response = await app(
    new Request("http://127.0.0.1/", {
      method: "POST",
      headers: { "transfer-encoding": "chunked", "content-length": "100" },
      body: new Blob(["abc"]).stream(),
    }),
  );
  assert.equal(await ended.promise, "clean end");
  assert.equal(await response.text(), "ok");
});

Deno.test("respondWithStreaming({ compress }) leaves alone a response with its own content-encoding or cache-control: no-transform", async () => {
  const app = withBody((reqd) => {
    const headers = JSON.parse(reqd.request.headers.get("x-init")!);
    const body = reqd.respondWithStreaming({ headers }, { compress: true });
    body.writeString("as written");
    body.closeWriter();
  });
  const cases: [Record<string, string>, string | null][] = [
    [{ "content-encoding": "br" }, "br"],
    [{ "cache-control": "public, no-transform" }, null],
  ];
  for (const [init, encoding] of cases) {
    const response = await app(
      new Request("http://127.0.0.1/", {
        headers: { "accept-encoding": "gzip", "x-init": JSON.stringify(init) },
      }),
    );
    assert.equal(response.headers.get("content-encoding"), encoding);
    assert.equal(await response.text(), "as written");
  }
});
