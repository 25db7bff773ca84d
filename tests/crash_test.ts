// "Nothing a client or a handler does takes the process down" (README.md),
// one known way to crash it per test, over real loopback. The seeded
// fault-injection suite (fault_test.ts) searches for more; these pin the
// ones found by hand. The harness (serveOver) fails a test on any
// unhandled rejection; uncaught errors are recorded here too.
import assert from "node:assert/strict";
import { type Body, bodyFromReadable, streamingBody } from "../mod.ts";
import {
  deadlineTest as test,
  HTTP1,
  serveOver,
  within,
} from "./_harness/serve.ts";
import type { BodyHandler, WithBodyOptions } from "../adapters/serve.ts";
import { withBody } from "../adapters/serve.ts";

function serve(
  deadline: AbortSignal,
  handler: BodyHandler,
  options: WithBodyOptions = {},
) {
  return serveOver(HTTP1, deadline, handler, options);
}

// Records uncaught errors (what would end the process) while `fn` runs.
async function noUncaught(fn: () => Promise<void>): Promise<unknown[]> {
  const uncaught: unknown[] = [];
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    uncaught.push(event.error);
  };
  globalThis.addEventListener("error", onError);
  try {
    await fn();
  } finally {
    globalThis.removeEventListener("error", onError);
  }
  return uncaught;
}

// How a reader body ends: "eof" for a clean end, else the error's class
// and message.
function ending(body: Body<"read">): Promise<string> {
  return new Promise((resolve) => {
    const onRead = () => body.scheduleRead({ onRead, onEof });
    const onEof = (error?: unknown) =>
      resolve(
        error === undefined
          ? "eof"
          : `${(error as Error).constructor.name}: ${(error as Error).message}`,
      );
    body.scheduleRead({ onRead, onEof });
  });
}

// Resolves after `ms`, a timer the handler under test uses itself.
const later = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("an async handler that throws after responding is logged, never uncaught", async (deadline) => {
  const thrown = Promise.withResolvers<void>();
  const uncaught = await noUncaught(async () => {
    await using server = serve(deadline, async (reqd) => {
      reqd.respondWithString({}, "ok");
      await later(20);
      thrown.resolve();
      throw new Error("after the response");
    });
    const response = await server.fetch("/");
    assert.equal(await response.text(), "ok");
    await within(deadline, thrown.promise, "the throw");
    await later(20); // the rejection's turn
    assert.ok(
      server.logs.some((args) =>
        String(args[0]).startsWith(
          "withBody: a request failed after its response",
        )
      ),
      JSON.stringify(server.logs.map(String)),
    );
  });
  assert.deepEqual(uncaught, []);
});

test("reportException from a timer after the response finished does not throw", async (deadline) => {
  const reported = Promise.withResolvers<string>();
  await using server = serve(deadline, (reqd) => {
    reqd.respondWithString({}, "ok");
    setTimeout(() => {
      try {
        reqd.reportException(new Error("late failure"));
        reported.resolve("no throw");
      } catch (error) {
        reported.resolve(`threw ${error}`);
      }
    }, 30);
  });
  assert.equal(await (await server.fetch("/")).text(), "ok");
  assert.equal(
    await within(deadline, reported.promise, "the report"),
    "no throw",
  );
});

test("requestBody first touched after the response finished answers onEof(TypeError), never throws", async (deadline) => {
  const end = Promise.withResolvers<string>();
  await using server = serve(deadline, (reqd) => {
    reqd.respondWithString({}, "ok");
    setTimeout(() => {
      try {
        ending(reqd.requestBody).then(end.resolve);
      } catch (error) {
        end.resolve(`threw ${error}`);
      }
    }, 30);
  });
  const response = await server.fetch("/", { method: "POST", body: "abc" });
  assert.equal(await response.text(), "ok");
  const result = await within(deadline, end.promise, "the read");
  assert.match(
    result,
    /^TypeError: Reqd\.requestBody: the request body is gone/,
  );
});

// Read whole with text(), or locked by a reader that read nothing: either
// way the body is the request's, not ours.
const takenThroughRequest: [string, (request: Request) => Promise<unknown>][] =
  [
    ["consumed", (request) => request.text()],
    ["locked", (request) => Promise.resolve(request.body!.getReader())],
  ];
for (const [how, take] of takenThroughRequest) {
  test(`a request body ${how} through reqd.request answers onEof(TypeError), never a clean end`, async (deadline) => {
    const end = Promise.withResolvers<string>();
    await using server = serve(deadline, async (reqd) => {
      const taken = await take(reqd.request);
      end.resolve(await ending(reqd.requestBody));
      if (taken instanceof ReadableStreamDefaultReader) await taken.cancel();
      reqd.respondWithString({}, "ok");
    });
    await (await server.fetch("/", { method: "POST", body: "abc" })).text();
    assert.equal(
      await within(deadline, end.promise, "the read"),
      "TypeError: Reqd.requestBody: the request body was already consumed through reqd.request",
    );
  });
}

test("a request body first touched after reportException answers onEof with that error", async (deadline) => {
  const failure = new Error("upstream failed");
  const end = Promise.withResolvers<string>();
  await using server = serve(deadline, (reqd) => {
    reqd.reportException(failure);
    ending(reqd.requestBody).then(end.resolve);
  });
  const response = await server.fetch("/", { method: "POST", body: "abc" });
  assert.equal(response.status, 500);
  await response.body?.cancel();
  assert.equal(
    await within(deadline, end.promise, "the read"),
    "Error: upstream failed",
  );
});

test("the README read loop reporting maxBodyBytes' RangeError gets 413 naming the limit", async (deadline) => {
  const seen = Promise.withResolvers<string>();
  await using server = serve(deadline, (reqd) => {
    const body = reqd.requestBody;
    const onRead = () => body.scheduleRead({ onRead, onEof });
    const onEof = (error?: unknown) => {
      if (error === undefined) return reqd.respondWithString({}, "complete");
      seen.resolve(
        `${(error as Error).constructor.name}: ${(error as Error).message}`,
      );
      reqd.reportException(error);
    };
    body.scheduleRead({ onRead, onEof });
  }, { maxBodyBytes: 10 });
  const chunks = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array(8));
      c.enqueue(new Uint8Array(8));
      c.close();
    },
  });
  const response = await server.fetch("/", { method: "POST", body: chunks });
  assert.equal(response.status, 413);
  await response.body?.cancel();
  assert.equal(
    await within(deadline, seen.promise, "onEof"),
    "RangeError: withBody: the request body is larger than maxBodyBytes (10 bytes)",
  );
  assert.deepEqual(server.logs, []);
});

test("withBody's signal reaches a request body still being read after its response was sent", async (deadline) => {
  const stop = new AbortController();
  const reason = new Error("shutting down");
  const end = Promise.withResolvers<unknown>();
  const reading = Promise.withResolvers<void>();
  await using server = serve(deadline, (reqd) => {
    reqd.respondWithString({}, "early answer");
    const body = reqd.requestBody;
    const onRead = () => {
      reading.resolve();
      body.scheduleRead({ onRead, onEof });
    };
    const onEof = (error?: unknown) => end.resolve(error);
    body.scheduleRead({ onRead, onEof });
  }, { signal: stop.signal });
  let upload!: ReadableStreamDefaultController<Uint8Array>;
  const stalled = new ReadableStream<Uint8Array>({
    start(c) {
      upload = c;
      c.enqueue(new Uint8Array(100)); // then it stalls
    },
  });
  const response = await server.fetch("/", { method: "POST", body: stalled });
  assert.equal(await response.text(), "early answer");
  await within(deadline, reading.promise, "the first chunk");
  stop.abort(reason);
  assert.equal(await within(deadline, end.promise, "onEof"), reason);
  upload.close();
});

test("reportException(undefined) still closes the request body with an error", async (deadline) => {
  const end = Promise.withResolvers<string>();
  await using server = serve(deadline, (reqd) => {
    const body = reqd.requestBody;
    reqd.reportException(undefined);
    ending(body).then(end.resolve);
  });
  const response = await server.fetch("/", { method: "POST", body: "abc" });
  assert.equal(response.status, 500);
  await response.body?.cancel();
  assert.match(
    await within(deadline, end.promise, "onEof"),
    /^Error: Reqd\.reportException: a failure reported without an error/,
  );
});

// Captures console.error while `fn` runs.
async function logsOf(fn: () => Promise<void>): Promise<unknown[][]> {
  const logged: unknown[][] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void logged.push(args);
  try {
    await fn();
  } finally {
    console.error = consoleError;
  }
  return logged;
}

Deno.test("outside withBody, a throwing flush callback with no onError is logged with console.error", async () => {
  const failure = new Error("flush callback failed");
  const logged = await logsOf(async () => {
    const { body, readable } = streamingBody();
    const reader = readable.getReader();
    body.writeString("x");
    body.flush(() => {
      throw failure;
    });
    await reader.read();
    await reader.read().catch(() => {}); // the readable errors with it
  });
  assert.deepEqual(logged, [["streamingBody: a callback threw:", failure]]);
});

Deno.test("outside withBody, a throwing onRead answered from the stream with no onError is logged with console.error", async () => {
  const failure = new Error("onRead failed");
  const logged = await logsOf(async () => {
    let deliver!: () => void;
    const stream = new ReadableStream<Uint8Array>({
      pull: (c) =>
        new Promise<void>((resolve) =>
          deliver = () => {
            c.enqueue(new Uint8Array([1]));
            resolve();
          }
        ),
    });
    const body = bodyFromReadable(stream);
    const threw = Promise.withResolvers<void>();
    body.scheduleRead({
      onRead: () => {
        threw.resolve();
        throw failure;
      },
      onEof: () => {},
    });
    await new Promise((r) => setTimeout(r, 0)); // the stream's pull runs
    deliver(); // answered later, by the stream: not to scheduleRead's caller
    await threw.promise;
    // The body was closed with the exception.
    let after: unknown;
    body.scheduleRead({ onRead() {}, onEof: (error) => after = error });
    assert.equal(after, failure);
  });
  assert.deepEqual(logged, [["bodyFromReadable: a callback threw:", failure]]);
});

Deno.test("an onError that returns something other than a Response is logged, and the client gets the default 500", async () => {
  const failure = new Error("handler failed");
  let response!: Response;
  const logged = await logsOf(async () => {
    const app = withBody(() => {
      throw failure;
    }, { onError: () => "not a response" as unknown as Response });
    response = await app(new Request("http://127.0.0.1/"));
  });
  assert.equal(response.status, 500);
  assert.equal(await response.text(), "Internal Server Error");
  assert.equal(logged.length, 2);
  assert.equal(logged[0]![0], "withBody: onError failed:");
  assert.ok(logged[0]![1] instanceof TypeError);
  assert.equal(
    (logged[0]![1] as TypeError).message,
    "withBody: onError returned a string of length 14, not a Response",
  );
  assert.deepEqual(logged[1], ["withBody: request handler failed:", failure]);
});

Deno.test("outside withBody, an options.onError that throws is logged with console.error, never escapes", async () => {
  const failure = new Error("flush callback failed");
  const second = new Error("onError failed");
  const logged = await logsOf(async () => {
    const { body, readable } = streamingBody({
      onError: () => {
        throw second;
      },
    });
    const reader = readable.getReader();
    body.writeString("x");
    body.flush(() => {
      throw failure;
    });
    await reader.read();
    await reader.read().catch(() => {}); // the readable errors with it
  });
  assert.deepEqual(logged, [["streamingBody: options.onError threw:", second]]);
});

Deno.test("outside withBody, an async options.onError that rejects is logged with console.error, never left unhandled", async () => {
  const failure = new Error("flush callback failed");
  const second = new Error("onError failed");
  const answer = Promise.withResolvers<void>();
  const logged = await logsOf(async () => {
    const { body, readable } = streamingBody({ onError: () => answer.promise });
    const reader = readable.getReader();
    body.writeString("x");
    body.flush(() => {
      throw failure;
    });
    await reader.read();
    await reader.read().catch(() => {}); // the readable errors with it
    answer.reject(second);
    // Reactions run in the order they were attached: the library's first.
    await answer.promise.catch(() => {});
  });
  assert.deepEqual(logged, [[
    "streamingBody: options.onError rejected:",
    second,
  ]]);
});
