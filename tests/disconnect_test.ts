/**
 * A client leaving, as `withBody` sees it, held to README.md ("`withBody`",
 * "A client that left settles its exchange"): the exchange is settled
 * whatever the handler does (a shutdown never waits for it), the leaving
 * is not logged as a failure (no stack trace), `onDisconnect` hears of it
 * once, and real handler failures keep their log line. Raw HTTP/1.1
 * clients and raw h2 frames make the exact faults; the shared harness
 * bounds every test and captures `console.error`.
 */
import assert from "node:assert/strict";
import { RawClient } from "./_harness/raw_http.ts";
import { ErrorCode } from "./_harness/h2frames.ts";
import { randomBytes } from "./_harness/util.ts";
import {
  type Body,
  chunks,
  type FlushResult,
  type Reqd,
  streamingBody,
  withBody,
  writableFromBody,
} from "../mod.ts";
import type { BodyHandler, WithBodyOptions } from "../adapters/serve.ts";
import {
  deadlineTest as test,
  HTTP1,
  PROTOCOLS,
  serveOver,
  within,
} from "./_harness/serve.ts";

const KiB = 1024;
const h2c = PROTOCOLS.find((p) => p.name === "h2c")!;

function serve(
  deadline: AbortSignal,
  handler: BodyHandler,
  options: WithBodyOptions = {},
) {
  // Deno.serve keeps its own signal: the shutdown under test is withBody's
  // and server.shutdown()'s, not a forced close.
  return serveOver(HTTP1, deadline, handler, options, { shareSignal: false });
}

// The handler of the reproduction: it reads the upload and responds only
// on a clean end; on a failure it does nothing at all.
function respondsOnlyWhenComplete(reading: PromiseWithResolvers<void>) {
  return (reqd: Reqd) => {
    const body = reqd.requestBody;
    let total = 0;
    const onRead = (_: Uint8Array, __: number, len: number) => {
      total += len;
      reading.resolve();
      body.scheduleRead({ onRead, onEof });
    };
    const onEof = (error?: unknown) => {
      if (error === undefined) {
        reqd.respondWithString({ status: 200 }, `${total}\n`);
      }
    };
    body.scheduleRead({ onRead, onEof });
  };
}

// Sends the head and 100 KB of a chunked upload, then vanishes.
async function cutUpload(
  port: number,
  deadline: AbortSignal,
  reading: Promise<void>,
) {
  const client = await RawClient.open(port, deadline);
  await client.send(
    "POST /upload HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
  );
  for (let i = 0; i < 10; i++) {
    await client.send(`2800\r\n`);
    await client.send(randomBytes(10 * KiB));
    await client.send(`\r\n`);
  }
  await reading;
  client.close();
}

test("a handler that ignores a failed upload no longer holds the shutdown: the client's leaving settles it", async (deadline) => {
  const reading = Promise.withResolvers<void>();
  const left: unknown[] = [];
  const heard = Promise.withResolvers<void>();
  await using server = serve(deadline, respondsOnlyWhenComplete(reading), {
    onDisconnect: (error) => {
      left.push(error);
      heard.resolve();
    },
  });
  await cutUpload(server.port, deadline, reading.promise);
  await within(deadline, heard.promise, "onDisconnect");
  assert.equal(left.length, 1);
  await server.shutdown(3000); // hung forever before
  assert.ok(left[0] instanceof Error, String(left[0]));
  assert.deepEqual(server.logs, []);
});

test("a client that leaves mid-upload logs nothing when the handler reports the error as the README shows", async (deadline) => {
  const failed = Promise.withResolvers<unknown>();
  await using server = serve(deadline, (reqd) => {
    const body = reqd.requestBody;
    const onRead = () => body.scheduleRead({ onRead, onEof });
    const onEof = (error?: unknown) => {
      if (error === undefined) return reqd.respondWithString({}, "ok");
      failed.resolve(error);
      reqd.reportException(error);
    };
    body.scheduleRead({ onRead, onEof });
  });
  const reading = Promise.withResolvers<void>();
  setTimeout(() => reading.resolve(), 0);
  await cutUpload(server.port, deadline, reading.promise);
  const error = await within(deadline, failed.promise, "onEof(error)");
  assert.ok(error instanceof Error);
  await server.shutdown();
  assert.deepEqual(server.logs, []);
});

test("a client that leaves mid-upload is heard of once by onDisconnect, with the upload's error", async (deadline) => {
  const failed = Promise.withResolvers<unknown>();
  const left: unknown[] = [];
  await using server = serve(deadline, (reqd) => {
    (async () => {
      for await (const _ of chunks(reqd.requestBody));
    })().catch((error) => {
      failed.resolve(error);
      reqd.reportException(error);
    });
  }, { onDisconnect: (error) => void left.push(error) });
  const reading = Promise.withResolvers<void>();
  setTimeout(() => reading.resolve(), 0);
  await cutUpload(server.port, deadline, reading.promise);
  const error = await within(deadline, failed.promise, "the loop's error");
  await server.shutdown();
  assert.deepEqual(left, [error]);
  assert.deepEqual(server.logs, []);
});

test("a handler that responds after its client left is ignored quietly", async (deadline) => {
  const outcome = Promise.withResolvers<string[]>();
  await using server = serve(deadline, (reqd) => {
    const body = reqd.requestBody;
    const onRead = () => body.scheduleRead({ onRead, onEof });
    const onEof = async (error?: unknown) => {
      assert.ok(error !== undefined);
      const seen: string[] = [];
      reqd.respondWithString({ status: 200 }, "too late"); // no throw
      const late = reqd.respondWithStreaming({ status: 200 });
      seen.push(`closed ${late.isClosed()}`);
      late.writeString("dropped"); // no throw either
      seen.push(`flush ${await late.flush()}`);
      seen.push(`signal ${late.signal.aborted}`);
      outcome.resolve(seen);
    };
    body.scheduleRead({ onRead, onEof });
  });
  const reading = Promise.withResolvers<void>();
  setTimeout(() => reading.resolve(), 0);
  await cutUpload(server.port, deadline, reading.promise);
  assert.deepEqual(
    await within(deadline, outcome.promise, "the late replies"),
    [
      "closed true",
      "flush closed",
      "signal true",
    ],
  );
  await server.shutdown();
  assert.deepEqual(server.logs, []);
});

test("a real failure reported after the client left keeps its log line and stack", async (deadline) => {
  const reported = Promise.withResolvers<void>();
  const bug = new Error("database unreachable");
  await using server = serve(deadline, (reqd) => {
    const body = reqd.requestBody;
    const onRead = () => body.scheduleRead({ onRead, onEof });
    const onEof = () => {
      reqd.reportException(bug);
      reported.resolve();
    };
    body.scheduleRead({ onRead, onEof });
  });
  const reading = Promise.withResolvers<void>();
  setTimeout(() => reading.resolve(), 0);
  await cutUpload(server.port, deadline, reading.promise);
  await within(deadline, reported.promise, "the report");
  await server.shutdown();
  assert.equal(server.logs.length, 1, JSON.stringify(server.logs));
  assert.equal(server.logs[0]![1], bug);
});

test("a streaming response whose client left settles the exchange and fails the upload still being read", async (deadline) => {
  const ends = Promise.withResolvers<string[]>();
  await using server = serve(deadline, (reqd) => {
    const output = reqd.respondWithStreaming({ status: 200 });
    const seen: string[] = [];
    output.signal.addEventListener("abort", () => {
      seen.push("signal");
    });
    const body = reqd.requestBody;
    const onRead = () => {
      output.writeString("x".repeat(16 * KiB));
      output.flush((r: FlushResult) => {
        seen.push(`flush ${r}`);
        if (r === "written") body.scheduleRead({ onRead, onEof });
      });
    };
    const onEof = (error?: unknown) => {
      seen.push(error === undefined ? "eof" : "eof(error)");
      if (error !== undefined) reqd.reportException(error);
      ends.resolve(seen);
    };
    body.scheduleRead({ onRead, onEof });
  });
  const client = await RawClient.open(server.port, deadline);
  await client.send(
    "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
  );
  await client.send("5\r\nhello\r\n");
  await client.readUntil((d) => d.length > 100, "the first response bytes");
  client.close(); // mid-upload and mid-response
  const seen = await within(deadline, ends.promise, "the upload's end");
  assert.ok(seen.includes("eof(error)"), seen.join());
  assert.ok(!seen.includes("eof"), "a clean end");
  await server.shutdown();
  assert.deepEqual(server.logs, []);
});

test("a pipeTo(writableFromBody) proxy logs nothing when its client leaves", async (deadline) => {
  const piped = Promise.withResolvers<unknown>();
  await using server = serve(deadline, (reqd) => {
    const output = reqd.respondWithStreaming({ status: 200 });
    const source = new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(new Uint8Array(64 * KiB)),
    });
    source.pipeTo(writableFromBody(output)).then(
      () => piped.resolve("ended"),
      (error) => {
        piped.resolve(error);
        reqd.reportException(error);
      },
    );
  });
  const client = await RawClient.open(server.port, deadline);
  await client.send("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
  await client.readUntil((d) => d.length > 256 * KiB, "some of the body");
  client.close();
  const error = await within(deadline, piped.promise, "the pipe's end");
  assert.ok(error instanceof Error, String(error));
  await server.shutdown();
  assert.deepEqual(server.logs, []);
});

test("an error reported after a shutdown's 503 is still logged; the shutdown reason is not", async (deadline) => {
  const stop = new AbortController();
  const handlerRan = Promise.withResolvers<Reqd>();
  await using server = serve(deadline, (reqd) => {
    handlerRan.resolve(reqd);
  }, { signal: stop.signal });
  const response = server.fetch("/");
  const reqd = await within(deadline, handlerRan.promise, "the handler");
  stop.abort(new Error("shutting down"));
  assert.equal((await response).status, 503);
  reqd.reportException(stop.signal.reason); // the library's own: quiet
  const bug = new Error("a real failure after the 503");
  reqd.reportException(bug);
  await server.shutdown();
  assert.equal(server.logs.length, 1, JSON.stringify(server.logs));
  assert.equal(server.logs[0]![1], bug);
});

test("over h2c, a client that resets a stream short of its declared length settles the exchange", async (deadline) => {
  const reading = Promise.withResolvers<void>();
  const left: unknown[] = [];
  const heard = Promise.withResolvers<void>();
  await using server = serveOver(
    h2c,
    deadline,
    respondsOnlyWhenComplete(reading),
    {
      onDisconnect: (error) => {
        left.push(error);
        heard.resolve();
      },
    },
  );
  using conn = await server.connect();
  await conn.request(1, {
    method: "POST",
    path: "/upload",
    headers: [["content-length", "100000"]],
  });
  await conn.data(1, new Uint8Array(32 * KiB));
  await within(deadline, reading.promise, "the handler reading");
  await conn.reset(1, ErrorCode.CANCEL); // Deno reads this as a clean end
  await within(deadline, heard.promise, "onDisconnect");
  assert.equal(left.length, 1);
  await server.shutdown(3000);
  assert.deepEqual(server.logs, []);
});

test("a handler that responds after the library answered its request (a shutdown's 503, a 413) is ignored quietly", async (deadline) => {
  const stop = new AbortController();
  const handled = Promise.withResolvers<Reqd>();
  const overflowed = Promise.withResolvers<Reqd>();
  await using server = serve(deadline, (reqd) => {
    if (reqd.request.method === "GET") return handled.resolve(reqd);
    const body = reqd.requestBody;
    const onRead = () => body.scheduleRead({ onRead, onEof });
    const onEof = () => overflowed.resolve(reqd);
    body.scheduleRead({ onRead, onEof });
  }, { signal: stop.signal, maxBodyBytes: 10 });

  const tooLarge = server.fetch("/", {
    method: "POST",
    body: new Blob(["more than ten bytes"]).stream(),
    duplex: "half",
  } as RequestInit);
  const late413 = await within(deadline, overflowed.promise, "the overflow");
  assert.equal((await tooLarge).status, 413);
  late413.respondWithString({ status: 200 }, "too late"); // no throw

  const pending = server.fetch("/");
  const late503 = await within(deadline, handled.promise, "the handler");
  stop.abort(new Error("shutting down"));
  assert.equal((await pending).status, 503);
  const body = late503.respondWithStreaming({ status: 200 }); // no throw
  assert.equal(body.isClosed(), true);
  assert.equal(await body.flush(), "closed");
  await server.shutdown();
  assert.deepEqual(server.logs, []);
});

test("closing the reader with a read outstanding is not a client leaving: the response made afterwards is sent", async (deadline) => {
  const left: unknown[] = [];
  await using server = serve(deadline, (reqd) => {
    const body = reqd.requestBody;
    body.scheduleRead({
      onRead: () => {
        // A second read waits on the 90 bytes the client never sends.
        body.scheduleRead({ onRead: () => {}, onEof: () => {} });
        setTimeout(() => {
          body.closeReader();
          // Respond once the cancelled read has come back.
          setTimeout(() => reqd.respondWithString({ status: 200 }, "kept"));
        });
      },
      onEof: () => {},
    });
  }, { onDisconnect: (error) => void left.push(error) });
  using client = await RawClient.open(server.port, deadline);
  await client.send(
    "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n0123456789",
  );
  const response = await client.response();
  assert.equal(response.status, 200);
  assert.equal(new TextDecoder().decode(response.body), "kept");
  assert.deepEqual(left, []);
  client.close();
  await server.shutdown();
  assert.deepEqual(server.logs, []);
});

test("an async onDisconnect that rejects is logged, never left unhandled", async (deadline) => {
  const reading = Promise.withResolvers<void>();
  const heard = Promise.withResolvers<void>();
  const bug = new Error("onDisconnect failed");
  await using server = serve(deadline, respondsOnlyWhenComplete(reading), {
    // An async hook that throws: a rejected promise.
    onDisconnect: () => {
      heard.resolve();
      return Promise.reject(bug);
    },
  });
  await cutUpload(server.port, deadline, reading.promise);
  await within(deadline, heard.promise, "onDisconnect");
  await server.shutdown();
  assert.deepEqual(server.logs, [["withBody: onDisconnect rejected:", bug]]);
});

Deno.test("a response stream cancelled by its consumer names the call that made it", async () => {
  const made = Promise.withResolvers<Body<"write">>();
  const app = withBody((reqd) => made.resolve(reqd.respondWithStreaming({})));
  const response = await app(new Request("http://127.0.0.1/"));
  const output = await made.promise;
  await response.body!.cancel("bye");
  const reason = output.signal.reason as Error;
  assert.equal(
    reason.message,
    "Reqd.respondWithStreaming: the stream's consumer cancelled it",
  );
  assert.equal(reason.cause, "bye");

  const { body, readable } = streamingBody();
  await readable.cancel("bye");
  assert.equal(
    (body.signal.reason as Error).message,
    "streamingBody: the stream's consumer cancelled it",
  );
});
