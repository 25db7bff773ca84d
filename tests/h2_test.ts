/**
 * The `Deno.serve` guarantees of `withBody` over HTTP/2, held to the
 * "HTTP/2 and TLS" section of README.md: every test runs twice, over h2c
 * (prior knowledge) and over TLS with ALPN h2 (the certificate in
 * `tests/fixtures/`), driven by Deno's `fetch`. Faults `fetch` cannot
 * express — a reset with a chosen code, a reset mid-upload with a declared
 * content-length, frames that must arrive together — come from the
 * raw-frame client in `_harness/h2frames.ts` and from Node.js's `node:http2`
 * (`tests/fixtures/h2_upload.mjs`).
 *
 * Deno 2.9.6 reports a request stream reset with `CANCEL` or `NO_ERROR` as
 * a clean end of the body (hyperium/hyper#3681), and checks a declared
 * content-length only when END_STREAM arrives, so only withBody can tell a
 * truncated upload from a complete one.
 *
 * Bounds: see `_harness/serve.ts` (deadline per test, bounded loops, no sleeps but
 * `quiescent` where "nothing more happens" is the event).
 */

import assert from "node:assert/strict";
import { concat, randomBytes } from "./_harness/util.ts";
import type { Body, FlushResult, Reqd } from "../mod.ts";
import {
  describe,
  echo,
  firstDifference,
  type H2Test,
  h2test,
  quiescent,
  readBody,
  runNode,
  tlsFixture,
  within,
} from "./_harness/serve.ts";
import {
  dataFrame,
  ErrorCode,
  type H2Connection,
} from "./_harness/h2frames.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const KiB = 1024;
const MiB = 1024 * KiB;

// ---------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------

// How an upload ended, as the handler saw it.
interface Upload {
  total: number;
  /** onEof's argument: `undefined` for a clean end. */
  error: unknown;
  clean: boolean;
  output: Body<"write">;
}

// Reads the request body to its end; once `headAfter` bytes arrived it
// starts a streaming response (its head tells the client the bytes got
// here). Resolves when onEof is called.
function upload(reqd: Reqd, headAfter: number): Promise<Upload> {
  const ended = Promise.withResolvers<Upload>();
  const input = reqd.requestBody;
  let output: Body<"write"> | null = null;
  let total = 0;
  const head = () => output ??= reqd.respondWithStreaming({ status: 200 });
  const onRead = (_: Uint8Array, __: number, len: number) => {
    total += len;
    if (total >= headAfter) head();
    input.scheduleRead({ onRead, onEof });
  };
  const onEof = (...args: unknown[]) => {
    ended.resolve({
      total,
      error: args[0],
      clean: args.length === 0,
      output: head(),
    });
  };
  if (headAfter === 0) head();
  input.scheduleRead({ onRead, onEof });
  return ended.promise;
}

// A flush-paced producer of fresh 64 KiB chunks (scheduleBigstring: no
// copy), `limit` bytes at most. `result` resolves with the first flush
// answered "closed" (or "written" at the limit).
function producer(output: Body<"write">, limit: number) {
  const state = {
    sent: 0,
    flushPending: false,
    result: Promise.withResolvers<FlushResult>(),
  };
  const step = (): void => {
    if (state.sent >= limit) {
      output.closeWriter();
      return state.result.resolve("written");
    }
    output.scheduleBigstring(new Uint8Array(64 * KiB).fill(state.sent >> 16));
    state.sent += 64 * KiB;
    state.flushPending = true;
    output.flush((result) => {
      state.flushPending = false;
      if (result === "written") step();
      else state.result.resolve(result);
    });
  };
  step();
  return state;
}

// A request body stream whose chunks are sent when `push` is called, and
// that ends at `end()`.
function heldUpload() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
  });
  return {
    stream,
    push: (chunk: Uint8Array) => controller.enqueue(chunk),
    end: () => controller.close(),
  };
}

// How a response transfer ended for the client: "end", or the error fetch
// or a body read rejected with. Over HTTP/2 a stream reset may overtake the
// response head, so fetch itself may reject.
async function transfer(
  h: H2Test,
  fetching: Promise<Response>,
  chunks: Uint8Array[],
): Promise<"end" | Error> {
  let response: Response;
  try {
    response = await fetching;
  } catch (error) {
    if (h.deadline.aborted) throw h.deadline.reason;
    return error as Error;
  }
  return readBody(h.deadline, response, chunks);
}

// The upload's end as one string: "clean end" or the error's class.
function ending(result: Upload): string {
  if (result.clean) return "clean end";
  return result.error instanceof Error
    ? "error"
    : `non-error: ${String(result.error)}`;
}

// =====================================================================
// Echo, streaming, server-sent events
// =====================================================================

h2test("a streamed echo of 4 MiB of random bytes is byte-exact", async (h) => {
  await using server = h.serve(echo);
  const body = randomBytes(4 * MiB);
  const response = await server.fetch("/", { method: "POST", body });
  const echoed = new Uint8Array(await response.arrayBuffer());
  assert.equal(response.status, 200);
  assert.equal(echoed.length, body.length);
  assert.equal(firstDifference(echoed, body), -1);
}, 10_000);

h2test(
  'a streamed response of 64 flushed chunks arrives byte-exact, every flush "written"',
  async (h) => {
    const payload = randomBytes(64 * 16 * KiB);
    const results = Promise.withResolvers<FlushResult[]>();
    await using server = h.serve((reqd) => {
      const output = reqd.respondWithStreaming({});
      const answers: FlushResult[] = [];
      const write = (i: number) => {
        if (i === 64) {
          output.closeWriter();
          return results.resolve(answers);
        }
        output.writeBigstring(payload, i * 16 * KiB, 16 * KiB);
        output.flush((result) => {
          answers.push(result);
          write(i + 1);
        });
      };
      write(0);
    });
    const response = await server.fetch("/");
    const received = new Uint8Array(await response.arrayBuffer());
    assert.equal(firstDifference(received, payload), -1);
    const answers = await within(h.deadline, results.promise, "the flushes");
    assert.deepEqual(answers, Array(64).fill("written"));
  },
);

h2test(
  "server-sent events arrive one by one, each before the next is written",
  async (h) => {
    const opened = Promise.withResolvers<Body<"write">>();
    await using server = h.serve((reqd) => {
      opened.resolve(reqd.respondWithStreaming({
        headers: { "content-type": "text/event-stream" },
      }));
    });
    const response = await server.fetch("/events");
    const events = [`head: ${response.headers.get("content-type")}`];
    const output = await within(h.deadline, opened.promise, "the handler");
    const reader = response.body!.getReader();
    for (let i = 0; i < 3; i++) {
      events.push(`write ${i}`);
      output.writeString(`data: ${i}\n\n`);
      const { value } = await reader.read();
      events.push(`read ${JSON.stringify(decoder.decode(value))}`);
    }
    output.closeWriter();
    events.push(`done: ${(await reader.read()).done}`);
    assert.deepEqual(events, [
      "head: text/event-stream",
      "write 0",
      'read "data: 0\\n\\n"',
      "write 1",
      'read "data: 1\\n\\n"',
      "write 2",
      'read "data: 2\\n\\n"',
      "done: true",
    ]);
  },
);

// =====================================================================
// Backpressure and resets
// =====================================================================

h2test(
  'a client that stops reading stops the producer: a flush stays unanswered, memory stays bounded, and a cancel answers "closed"',
  async (h) => {
    // 256 MiB offered, flush-paced: in flight are the client's flow window
    // (fetch's: ~2 MiB), Deno's ring (~64 KiB) and the kernel's socket
    // buffers. Measured (Deno 2.9.6): 2.2 MiB sent, RSS +6–8 MiB (client included).
    const bound = 16 * MiB;
    const opened = Promise.withResolvers<
      [Body<"write">, ReturnType<typeof producer>]
    >();
    await using server = h.serve((reqd) => {
      const output = reqd.respondWithStreaming({});
      opened.resolve([output, producer(output, 256 * MiB)]);
    });
    const rssBefore = Deno.memoryUsage().rss;
    const response = await server.fetch("/"); // and never read
    const [output, state] = await within(h.deadline, opened.promise, "handler");
    await quiescent(h.deadline, () => state.sent);
    const growth = Deno.memoryUsage().rss - rssBefore;
    const report = `sent ${state.sent / MiB} MiB, RSS grew ${
      (growth / MiB).toFixed(1)
    } MiB`;
    assert.ok(state.flushPending, `no flush pending: ${report}`);
    assert.ok(state.sent < bound, report);
    assert.ok(growth < 4 * bound, report);
    await response.body!.cancel(); // RST_STREAM(CANCEL)
    assert.equal(
      await within(h.deadline, state.result.promise, "the flush"),
      "closed",
    );
    assert.equal(output.isClosed(), true);
  },
  10_000,
);

h2test(
  'a stream the client cancels mid-response answers its flushes "closed" while sibling echoes on the same connection finish byte-exact',
  async (h) => {
    const ports: number[] = [];
    const allThree = Promise.withResolvers<void>();
    const streamed = Promise.withResolvers<ReturnType<typeof producer>>();
    await using server = h.serve((reqd) => {
      ports.push((reqd.info!.remoteAddr as Deno.NetAddr).port);
      if (ports.length === 3) allThree.resolve();
      if (reqd.request.url.endsWith("/stream")) {
        streamed.resolve(producer(reqd.respondWithStreaming({}), 256 * MiB));
      } else echo(reqd);
    });
    const download = (await server.fetch("/stream")).body!.getReader();
    await download.read();
    const bodies = [randomBytes(512 * KiB), randomBytes(512 * KiB)];
    const uploads = bodies.map(() => heldUpload());
    const echoes = uploads.map(async ({ stream }) => {
      const response = await server.fetch("/echo", {
        method: "POST",
        body: stream,
      });
      return new Uint8Array(await response.arrayBuffer());
    });
    uploads.forEach((u, i) => u.push(bodies[i]!.slice(0, 256 * KiB)));
    // The siblings are open on both sides when the download is reset.
    await within(h.deadline, allThree.promise, "three requests");
    const state = await streamed.promise;
    await download.cancel(); // RST_STREAM(CANCEL)
    assert.equal(
      await within(h.deadline, state.result.promise, "the flush"),
      "closed",
    );
    uploads.forEach((u, i) => (u.push(bodies[i]!.slice(256 * KiB)), u.end()));
    const echoed = await within(h.deadline, Promise.all(echoes), "the echoes");
    assert.deepEqual(echoed.map((e, i) => firstDifference(e, bodies[i]!)), [
      -1,
      -1,
    ]);
    assert.equal(new Set(ports).size, 1, `one connection: ports ${ports}`);
  },
);

h2test(
  'a stream reset mid-upload gets onEof(error) and "closed" while a sibling upload on the same connection echoes byte-exact',
  async (h) => {
    const reset = Promise.withResolvers<string[]>();
    await using server = h.serve(async (reqd) => {
      if (!reqd.request.url.endsWith("/reset")) return echo(reqd);
      const result = await upload(reqd, 0);
      result.output.writeString("late"); // after the reset: nothing takes it
      const late = result.output.flush();
      reset.resolve([
        `total ${result.total}`,
        ending(result),
        `flush ${await late}`,
      ]);
    });
    using conn = await server.connect();
    const sibling = randomBytes(256 * KiB);
    await conn.request(1, {
      path: "/echo",
      headers: [["content-length", String(sibling.length)]],
    });
    await conn.data(1, sibling.subarray(0, 128 * KiB));
    await conn.request(3, {
      path: "/reset",
      headers: [["content-length", "100000"]],
    });
    await conn.data(3, new Uint8Array(3 * 16 * KiB));
    await conn.until(() => conn.stream(3).headersSeen, "the head of stream 3");
    await conn.reset(3, ErrorCode.CANCEL);
    await conn.data(1, sibling.subarray(128 * KiB), { endStream: true });
    await conn.until(() => conn.stream(1).ended, "the end of the echo");
    assert.equal(conn.stream(1).status, 200);
    assert.equal(firstDifference(concat(conn.stream(1).chunks), sibling), -1);
    assert.deepEqual(await within(h.deadline, reset.promise, "onEof"), [
      "total 49152",
      "error",
      "flush closed",
    ]);
  },
);

// =====================================================================
// Declared content-length of a request (truncated uploads)
// =====================================================================

// Serves `upload(reqd, headAfter)` and resolves with the first result.
function serveUpload(h: H2Test, headAfter: number) {
  const result = Promise.withResolvers<Upload>();
  const server = h.serve(async (reqd) =>
    result.resolve(await upload(reqd, headAfter))
  );
  return { server, result: () => within(h.deadline, result.promise, "onEof") };
}

// Opens stream 1 with a declared content-length and `sent` bytes of DATA.
async function partialUpload(
  conn: H2Connection,
  declared: number,
  sent: number,
) {
  await conn.request(1, { headers: [["content-length", String(declared)]] });
  await conn.data(1, new Uint8Array(sent));
}

// The upload's byte count and how it ended.
function assertEnded(result: Upload, total: number, end: string) {
  assert.deepEqual([result.total, ending(result)], [total, end]);
}

// The library's own verdict on a truncated body: an Error naming both counts.
function assertTruncated(result: Upload, received: number, declared: number) {
  assert.deepEqual([result.total, ending(result)], [received, "error"]);
  assert.match(
    (result.error as Error).message,
    new RegExp(`\\b${received}\\b.*\\b${declared}\\b`),
    describe(result.error),
  );
}

for (const code of ["CANCEL", "NO_ERROR"] as const) {
  h2test(
    `an upload reset with RST_STREAM(${code}) short of its declared content-length gets onEof(error), never onEof()`,
    async (h) => {
      const { server, result } = serveUpload(h, 49152);
      await using _ = server;
      using conn = await server.connect();
      await partialUpload(conn, 100_000, 49152);
      await conn.until(() => conn.stream(1).headersSeen, "the response head");
      await conn.reset(1, ErrorCode[code]);
      assertTruncated(await result(), 49152, 100_000);
    },
  );
}

h2test(
  "an upload whose last DATA (END_STREAM) and RST_STREAM(CANCEL) arrive together, short of its content-length, gets onEof(error)",
  async (h) => {
    // Node's stream.close(code) sends exactly this. Deno 2.9.6 drops the DATA frame
    // that fails its length check and then reports the reset as a clean end.
    const { server, result } = serveUpload(h, Infinity);
    await using _ = server;
    using conn = await server.connect();
    await partialUpload(conn, 100_000, 32768);
    await conn.write(
      dataFrame(1, new Uint8Array(16384), true),
      conn.resetFrame(1, ErrorCode.CANCEL),
    );
    const ended = await result();
    assert.equal(ending(ended), "error", `${ended.total} bytes, then onEof()`);
    assert.ok(ended.total <= 49152, `${ended.total} bytes`);
  },
);

h2test(
  "an upload ending (END_STREAM) short of its declared content-length gets onEof(error)",
  async (h) => {
    const { server, result } = serveUpload(h, Infinity);
    await using _ = server;
    using conn = await server.connect();
    await partialUpload(conn, 100_000, 32768);
    await conn.data(1, new Uint8Array(16384), { endStream: true });
    const ended = await result();
    assert.equal(ending(ended), "error");
    assert.ok(ended.total <= 49152, `${ended.total} bytes`);
  },
);

h2test(
  "an upload longer than its declared content-length never delivers more than declared: onEof(error)",
  async (h) => {
    const { server, result } = serveUpload(h, Infinity);
    await using _ = server;
    using conn = await server.connect();
    await partialUpload(conn, 32768, 32768);
    await conn.data(1, new Uint8Array(16384), { endStream: true });
    const ended = await result();
    assert.equal(ending(ended), "error");
    assert.ok(ended.total <= 32768, `${ended.total} bytes delivered`);
  },
);

h2test(
  "an upload whose connection closes mid-body gets onEof(error)",
  async (h) => {
    const { server, result } = serveUpload(h, 49152);
    await using _ = server;
    const conn = await server.connect();
    await partialUpload(conn, 100_000, 49152);
    await conn.until(() => conn.stream(1).headersSeen, "the response head");
    conn.close();
    assertEnded(await result(), 49152, "error");
  },
);

h2test(
  "an upload reset with RST_STREAM(CANCEL) after its whole declared content-length ends cleanly",
  async (h) => {
    const { server, result } = serveUpload(h, 49152);
    await using _ = server;
    using conn = await server.connect();
    await partialUpload(conn, 49152, 49152);
    await conn.until(() => conn.stream(1).headersSeen, "the response head");
    await conn.reset(1, ErrorCode.CANCEL);
    assertEnded(await result(), 49152, "clean end");
  },
);

h2test(
  "Node's http2 client destroying an upload short of its declared content-length: onEof(error)",
  async (h) => {
    const { server, result } = serveUpload(h, 49152);
    await using _ = server;
    const ca = h.protocol.tls ? tlsFixture.caPath : "-";
    const node = await runNode(h.deadline, "h2_upload.mjs", [
      server.url,
      ca,
      "100000",
      "49152",
      "destroy",
    ]);
    assert.deepEqual([node.code, ...node.events], [
      0,
      { event: "response", status: 200 },
      { event: "close", rstCode: ErrorCode.NO_ERROR },
    ], node.stderr);
    assertTruncated(await result(), 49152, 100_000);
  },
);

// =====================================================================
// Failures after streaming began; declared content-length of a response
// =====================================================================

h2test(
  "reportException after streaming began: the client sees a stream error, never a clean end",
  async (h) => {
    const failure = new Error("secret-7f3a");
    await using server = h.serve((reqd) => {
      const output = reqd.respondWithStreaming({});
      output.writeString("partial");
      output.flush(() => reqd.reportException(failure));
    });
    const chunks: Uint8Array[] = [];
    const end = await transfer(h, server.fetch("/"), chunks);
    assert.ok(end instanceof Error, `the transfer gave ${String(end)}`);
    assert.ok("partial".startsWith(decoder.decode(concat(chunks))));
    await server.shutdown();
    assert.deepEqual(server.serveErrors, [failure]);
  },
);

h2test(
  "respondWithStreaming with a content-length: writing past it throws RangeError, the client gets the declared bytes",
  async (h) => {
    const thrown: string[] = [];
    await using server = h.serve((reqd) => {
      const output = reqd.respondWithStreaming({
        headers: { "content-length": "5" },
      });
      output.writeString("hello");
      try {
        output.writeString("!");
      } catch (error) {
        thrown.push(describe(error));
      }
      output.closeWriter();
    });
    const response = await server.fetch("/");
    assert.equal(response.headers.get("content-length"), "5");
    assert.equal(await response.text(), "hello");
    assert.equal(thrown.length, 1, `thrown: ${thrown}`);
    assert.match(
      thrown[0]!,
      /^RangeError: Body\.writeString: .*declared length of 5 bytes/,
    );
  },
);

h2test(
  "respondWithStreaming with a content-length: closeWriter short of it breaks the transfer",
  async (h) => {
    await using server = h.serve((reqd) => {
      const output = reqd.respondWithStreaming({
        headers: { "content-length": "10" },
      });
      output.writeString("hello");
      output.flush(() => output.closeWriter());
    });
    const chunks: Uint8Array[] = [];
    const end = await transfer(h, server.fetch("/"), chunks);
    assert.ok(end instanceof Error, `the transfer gave ${String(end)}`);
    assert.ok("hello".startsWith(decoder.decode(concat(chunks))));
    await server.shutdown();
    assert.deepEqual(server.serveErrors.map(describe), [
      "Error: Body.closeWriter: closed after 5 of the 10 declared bytes",
    ]);
  },
);

// =====================================================================
// Shutdown: withBody's signal, then server.shutdown()
// =====================================================================

h2test(
  "withBody's signal and server.shutdown(): an open upload ends with onEof(reason) and 503, a stream ends cleanly after its pending output",
  async (h) => {
    const stop = new AbortController();
    const reason = new Error("shutting down");
    const uploaded = Promise.withResolvers<unknown[]>();
    const opened = Promise.withResolvers<Body<"write">>();
    const firstRead = Promise.withResolvers<void>();
    await using server = h.serve((reqd) => {
      if (reqd.request.url.endsWith("/stream")) {
        const output = reqd.respondWithStreaming({});
        output.writeString("before;");
        return opened.resolve(output);
      }
      const body = reqd.requestBody;
      body.scheduleRead({
        onRead: () => {
          firstRead.resolve();
          body.scheduleRead({
            onRead() {},
            onEof: (...args) => uploaded.resolve(args),
          });
        },
        onEof: () => firstRead.reject(new Error("early onEof")),
      });
    }, { signal: stop.signal });
    const stream = await server.fetch("/stream");
    const output = await within(h.deadline, opened.promise, "the stream");
    const reader = stream.body!.getReader();
    assert.equal(decoder.decode((await reader.read()).value), "before;");
    const held = heldUpload();
    const responding = server.fetch("/upload", {
      method: "POST",
      body: held.stream,
    });
    held.push(encoder.encode("first"));
    await within(h.deadline, firstRead.promise, "the first read");
    output.writeString("pending;");
    stop.abort(reason);
    const down = server.shutdown(2000);
    output.writeString("after;"); // dropped without throwing
    const flushed = output.flush();
    const events: string[] = [];
    const args = await within(h.deadline, uploaded.promise, "onEof");
    events.push(`upload onEof: ${args[0] === reason ? "the reason" : args}`);
    const response = await responding;
    events.push(`upload response: ${response.status}`);
    await response.body?.cancel();
    held.end();
    reader.releaseLock();
    const chunks: Uint8Array[] = [];
    const end = await readBody(h.deadline, stream, chunks);
    const rest = decoder.decode(concat(chunks));
    const how = end === "end" ? "clean end" : describe(end);
    events.push(`stream: ${JSON.stringify(rest)}, ${how}`);
    events.push(
      `flush after abort: ${await within(h.deadline, flushed, "flush")}`,
    );
    await down;
    assert.deepEqual(events, [
      "upload onEof: the reason",
      "upload response: 503",
      'stream: "pending;", clean end',
      "flush after abort: closed",
    ]);
  },
);
