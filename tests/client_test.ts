/**
 * Tests for `adapters/client.ts` — `request()`, httpaf's client over
 * Deno's `fetch` — against servers the tests control: `Deno.serve` for
 * ordinary ones (over HTTP/1.1, h2c and TLS, one registration per
 * protocol), raw `Deno.listen` servers that write HTTP/1.1 or HTTP/2
 * frames by hand for exact faults (a short content-length, an unterminated
 * chunked body, a reset, a stall, a server that never reads), and
 * Node.js (`tests/fixtures/client_server.mjs`) as an independent server.
 * Held to the module documentation of `adapters/client.ts`.
 *
 * Bounds: every test runs under a deadline signal (several times its
 * timeouts, which stay in the 100–400 ms range) threaded through every
 * wait (`within`); raw servers and Node are closed or killed when a test
 * ends; loops are bounded by a count. The only timed waits are the
 * timeouts under test themselves, a server pacing its chunks, and
 * `quiescent` ("nothing more happens" has no event). Deno's sanitizers
 * stay on: a test that leaves a connection, a body or a timer open fails.
 */

import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { type Body, type FlushResult, toBytes } from "../mod.ts";
import { request, type RequestOptions } from "../adapters/client.ts";
import { CLOCK } from "../adapters/_client/timers.ts";
import { concat, randomBytes, turns } from "./_harness/util.ts";
import {
  deadlineTest as test,
  describe,
  h2Client,
  HTTP1,
  listenOptions,
  type Protocol,
  PROTOCOLS,
  quiescent,
  within,
} from "./_harness/serve.ts";
import { dataFrame, ErrorCode, frame, FrameType } from "./_harness/h2frames.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const KiB = 1024;
const MiB = 1024 * KiB;
const ALL: readonly Protocol[] = [HTTP1, ...PROTOCOLS];
const H2C = PROTOCOLS[0]!;

// ---------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------

/** Registers `name [protocol]` for HTTP/1.1, h2c and h2 over TLS. */
function everyProtocol(
  name: string,
  fn: (protocol: Protocol, deadline: AbortSignal) => Promise<void>,
  ms = 5000,
): void {
  for (const protocol of ALL) {
    test(
      `${name} [${protocol.name}]`,
      (deadline) => fn(protocol, deadline),
      ms,
    );
  }
}

/** A `Deno.serve` server over `protocol`, with a client that speaks it. */
function serve(
  protocol: Protocol,
  deadline: AbortSignal,
  handler: (request: Request) => Response | Promise<Response>,
) {
  const cut = new AbortController();
  const onDeadline = () => cut.abort(deadline.reason);
  deadline.addEventListener("abort", onDeadline, { once: true });
  const server = Deno.serve({
    ...listenOptions(protocol),
    signal: cut.signal,
    // A client that leaves mid-transfer is part of some tests.
    onError: () => new Response("server error", { status: 500 }),
  }, handler);
  const client = h2Client(protocol);
  const scheme = protocol.tls ? "https" : "http";
  return {
    url: `${scheme}://127.0.0.1:${server.addr.port}`,
    client,
    async [Symbol.asyncDispose]() {
      deadline.removeEventListener("abort", onDeadline);
      try {
        await within(deadline, server.shutdown(), "the server's shutdown");
      } finally {
        client.close();
      }
    },
  };
}

/**
 * A raw TCP server on 127.0.0.1: `handle` gets each connection (closed
 * for it afterwards) and a signal that aborts when the server closes.
 * Disposing closes the listener and every connection, and fails the test
 * if a handler failed.
 */
function rawServer(
  deadline: AbortSignal,
  handle: (conn: Deno.Conn, closed: AbortSignal) => Promise<void>,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const errors: unknown[] = [];
  const closed = new AbortController();
  let closing = false;
  const closeConn = (conn: Deno.Conn) => {
    if (!conns.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // Closed already by the handler: nothing left to release.
    }
  };
  const handlers: Promise<void>[] = [];
  const accepting = (async () => {
    for (let i = 0; i < 1000; i++) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // the listener was closed
      }
      conns.add(conn);
      handlers.push(
        handle(conn, closed.signal).catch((error) => {
          if (!closing) errors.push(error);
        }).finally(() => closeConn(conn)),
      );
    }
  })();
  const close = () => {
    closing = true;
    closed.abort();
    for (const conn of [...conns]) closeConn(conn);
  };
  deadline.addEventListener("abort", close, { once: true });
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    /** How many connections were accepted so far. */
    get accepted() {
      return handlers.length;
    },
    async [Symbol.asyncDispose]() {
      deadline.removeEventListener("abort", close);
      listener.close();
      close();
      await accepting;
      await Promise.all(handlers);
      assert.deepEqual(errors, [], "a raw server's handler failed");
    },
  };
}

/** Resolves once `signal` aborts (a raw server closing). */
const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) =>
    signal.aborted
      ? resolve()
      : signal.addEventListener("abort", () => resolve(), { once: true })
  );

/** Reads from `conn` until the end of a request head; returns the head. */
async function readHead(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(1);
  let text = "";
  // One byte at a time: nothing past the head is consumed.
  for (let i = 0; i < 64 * KiB && !text.endsWith("\r\n\r\n"); i++) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`EOF inside a request head: ${text}`);
    text += String.fromCharCode(buffer[0]!);
  }
  return text;
}

/** Reads `conn` until it ends; resolves with how it ended. */
async function readUntilGone(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(64 * KiB);
  for (let i = 0; i < 1_000_000; i++) {
    try {
      if (await conn.read(buffer) === null) return "EOF";
    } catch (error) {
      return (error as Error).name;
    }
  }
  throw new Error("readUntilGone: no end after 1,000,000 reads");
}

const writeAll = async (conn: Deno.Conn, data: string | Uint8Array) => {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  for (let off = 0; off < bytes.length;) {
    off += await conn.write(bytes.subarray(off));
  }
};

/** What a request did: its callbacks in order, the bytes, the end. */
interface Outcome {
  events: string[];
  response: Response | undefined;
  bytes: Uint8Array;
  /** The onError or onEof error; undefined for a clean end. */
  error: unknown;
}

/**
 * Calls `request(url, options)` and reads the response body to its end
 * (a copy of each chunk kept); `upload` gets the request body right after
 * `request()` returned. Events are recorded in order: "returned",
 * "onResponse <status>", "onEof()" / "onEof(<error>)", "onError(<error>)".
 */
function exchange(
  url: string,
  options: Partial<RequestOptions> = {},
  upload?: (body: Body<"write">) => void,
) {
  const events: string[] = [];
  const chunks: Uint8Array[] = [];
  const done = Promise.withResolvers<void>();
  let response: Response | undefined;
  let error: unknown;
  let responseBody: Body<"read"> | undefined;
  const body = request(url, {
    onResponse(r, b) {
      response = r;
      responseBody = b;
      events.push(`onResponse ${r.status}`);
      const onRead = (buffer: Uint8Array, off: number, len: number) => {
        chunks.push(buffer.slice(off, off + len));
        b.scheduleRead({ onRead, onEof });
      };
      const onEof = (e?: unknown) => {
        error = e;
        events.push(e === undefined ? "onEof()" : `onEof(${describe(e)})`);
        done.resolve();
      };
      b.scheduleRead({ onRead, onEof });
    },
    onError(e) {
      error = e;
      events.push(`onError(${describe(e)})`);
      done.resolve();
    },
    ...options,
  });
  events.push("returned");
  upload?.(body);
  return {
    body,
    events,
    get responseBody() {
      return responseBody;
    },
    outcome: (deadline: AbortSignal): Promise<Outcome> =>
      within(deadline, done.promise, "the request's end").then(() => ({
        events,
        response,
        bytes: concat(chunks),
        error,
      })),
  };
}

/**
 * Writes `data` through `body` in `chunk`-byte writes, each followed by a
 * flush whose answer is awaited, then closes it; resolves with every
 * flush's answer in order.
 */
async function uploadPaced(
  body: Body<"write">,
  data: Uint8Array,
  chunk = 64 * KiB,
): Promise<FlushResult[]> {
  const answers: FlushResult[] = [];
  for (let at = 0; at < data.length; at += chunk) {
    body.writeBigstring(data, at, Math.min(chunk, data.length - at));
    const answer = await body.flush();
    answers.push(answer);
    if (answer === "closed") return answers;
  }
  body.closeWriter();
  answers.push(await body.flush());
  return answers;
}

/** A deterministic pattern: byte i is `(i * 7 + seed) & 255`. */
function pattern(n: number, seed = 0): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = (i * 7 + seed) & 255;
  return bytes;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** A response stream that counts what the consumer pulled. */
function countedStream(chunk: Uint8Array, total = Infinity) {
  const state = { pulled: 0, cancelled: Promise.withResolvers<unknown>() };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled >= total) return controller.close();
      controller.enqueue(chunk);
      state.pulled += chunk.length;
    },
    cancel(reason) {
      state.cancelled.resolve(reason);
    },
  }, { highWaterMark: 0 });
  return { stream, state };
}

/** Sleeps `ms` (a server pacing its output, a stall to outlast). */
const sleep = (ms: number, deadline: AbortSignal) =>
  within(
    deadline,
    new Promise<void>((resolve) => setTimeout(resolve, ms)),
    "a pause",
  );

// ---------------------------------------------------------------------
// Arguments: synchronous errors in request's words
// ---------------------------------------------------------------------

const callbacks = { onResponse() {}, onError() {} };

/** `fn` throws exactly `cls` with `message` (the whole of it). */
function throwsExactly(
  fn: () => unknown,
  cls: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor,
  message: string | RegExp,
): void {
  assert.throws(fn, (error: unknown) => {
    assert.equal(Object.getPrototypeOf(error), cls.prototype, String(error));
    if (typeof message === "string") {
      assert.equal((error as Error).message, message);
    } else assert.match((error as Error).message, message);
    return true;
  });
}

Deno.test("request: an unknown option is a TypeError naming it and the accepted options", () => {
  throwsExactly(
    () =>
      request("http://127.0.0.1:9/", {
        ...callbacks,
        readTimout: 5,
      } as unknown as RequestOptions),
    TypeError,
    'request: unknown option "readTimout" (accepted: method, headers, redirect, onResponse, onError, headersTimeout, readTimeout, writeTimeout, maxResponseBytes, signal, client, bufferSize, maxPendingBytes, onCallbackError)',
  );
});

Deno.test("request: an invalid URL or a scheme other than http/https is a synchronous TypeError", () => {
  throwsExactly(
    () => request("not a url", callbacks),
    TypeError,
    'request: invalid URL "not a url"',
  );
  throwsExactly(
    () => request("ftp://127.0.0.1/", callbacks),
    TypeError,
    'request: the URL\'s scheme must be http: or https:, received "ftp:"',
  );
  throwsExactly(
    () => request(42 as unknown as string, callbacks),
    TypeError,
    "request: expected a URL or a string, received number 42",
  );
});

Deno.test("request: onResponse and onError are required functions", () => {
  throwsExactly(
    () =>
      request("http://127.0.0.1:9/", undefined as unknown as RequestOptions),
    TypeError,
    "request: expected options with onResponse and onError, received undefined",
  );
  throwsExactly(
    () =>
      request(
        "http://127.0.0.1:9/",
        { onResponse() {} } as unknown as RequestOptions,
      ),
    TypeError,
    "request: onError must be a function, received undefined",
  );
  throwsExactly(
    () =>
      request("http://127.0.0.1:9/", {
        onError() {},
        onResponse: "yes",
      } as unknown as RequestOptions),
    TypeError,
    "request: onResponse must be a function, received a string of length 3",
  );
});

Deno.test("request: timeouts, limits and sizes out of range are RangeErrors; wrong types are TypeErrors", () => {
  const url = "http://127.0.0.1:9/";
  for (const name of ["headersTimeout", "readTimeout", "writeTimeout"]) {
    for (const bad of [0, -1, 1.5, NaN]) {
      throwsExactly(
        () => request(url, { ...callbacks, [name]: bad }),
        RangeError,
        `request: ${name} must be a positive integer of milliseconds or Infinity, received ${bad}`,
      );
    }
    throwsExactly(
      () => request(url, { ...callbacks, [name]: "100" }),
      TypeError,
      `request: ${name} must be a number of milliseconds, received a string of length 3`,
    );
  }
  throwsExactly(
    () => request(url, { ...callbacks, maxResponseBytes: -1 }),
    RangeError,
    "request: maxResponseBytes must be a non-negative integer, received -1",
  );
  throwsExactly(
    () => request(url, { ...callbacks, maxPendingBytes: 0.5 }),
    RangeError,
    "request: maxPendingBytes must be a non-negative integer, received 0.5",
  );
  throwsExactly(
    () => request(url, { ...callbacks, bufferSize: 8 }),
    RangeError,
    "request: bufferSize must be an integer in [64, 2^30], received 8",
  );
  throwsExactly(
    () => request(url, { ...callbacks, signal: {} as AbortSignal }),
    TypeError,
    "request: signal must be an AbortSignal, received Object",
  );
  throwsExactly(
    () => request(url, { ...callbacks, client: {} as Deno.HttpClient }),
    TypeError,
    "request: client must be a Deno.HttpClient, received Object",
  );
  throwsExactly(
    () => request(url, { ...callbacks, onCallbackError: 1 as never }),
    TypeError,
    "request: onCallbackError must be a function, received number 1",
  );
});

Deno.test("request: a method or header that fetch refuses is a synchronous TypeError in request's words", () => {
  const url = "http://127.0.0.1:9/";
  throwsExactly(
    () => request(url, { ...callbacks, method: "CONNECT" }),
    TypeError,
    'request: Method is forbidden (method "CONNECT")',
  );
  throwsExactly(
    () => request(url, { ...callbacks, method: "bad method" }),
    TypeError,
    'request: Method is not valid (method "bad method")',
  );
  throwsExactly(
    () => request(url, { ...callbacks, headers: { "bad name": "x" } }),
    TypeError,
    'request: Invalid header name: "bad name" (method "GET")',
  );
  throwsExactly(
    () => request(url, { ...callbacks, method: 7 as unknown as string }),
    TypeError,
    "request: method must be a string, received number 7",
  );
});

// ---------------------------------------------------------------------
// Exactly one of onResponse and onError, never inside request()
// ---------------------------------------------------------------------

test("onResponse is called once, after request() returned, and the body ends cleanly", async (deadline) => {
  await using server = serve(HTTP1, deadline, () => new Response("hello"));
  const run = exchange(server.url + "/", { client: server.client });
  const { events, bytes, error } = await run.outcome(deadline);
  await turns(3); // room for a second callback that must not come
  assert.deepEqual(events, ["returned", "onResponse 200", "onEof()"]);
  assert.equal(decoder.decode(bytes), "hello");
  assert.equal(error, undefined);
});

test("a refused connection calls onError once, after request() returned, never onResponse", async (deadline) => {
  // A port with nobody listening: bind one, note it, close it.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const run = exchange(`http://127.0.0.1:${port}/`, { method: "PUT" });
  // More than fetch takes ahead of a connection (it reads the first
  // chunks before it connects: those flush "written").
  run.body.writeBigstring(new Uint8Array(4 * MiB));
  const flushed = run.body.flush();
  const { events, error } = await run.outcome(deadline);
  await turns(3);
  assert.deepEqual(events, [
    "returned",
    "onError(TypeError: fetch failed)",
  ]);
  assert.ok(error instanceof TypeError);
  assert.equal(await within(deadline, flushed, "the flush"), "closed");
  assert.equal(run.body.isClosed(), true);
  run.body.writeString("dropped, not thrown");
  assert.equal(await within(deadline, run.body.flush(), "a flush"), "closed");
});

test("GET and HEAD return a closed body: writes throw 'body is closed', a flush answers written", async (deadline) => {
  await using server = serve(HTTP1, deadline, () => new Response("x"));
  for (const method of ["GET", "head", undefined]) {
    const run = exchange(server.url + "/", { method, client: server.client });
    const body = run.body;
    assert.equal(body.isClosed(), true);
    assert.throws(
      () => body.writeString("x"),
      (e: unknown) =>
        e instanceof Error &&
        e.message === "Body.writeString: body is closed",
    );
    assert.equal(await within(deadline, body.flush(), "a flush"), "written");
    assert.equal(body.signal.aborted, false, "a closed body is no failure");
    await run.outcome(deadline);
  }
});

test("HEAD, 204 and 304 responses end cleanly with no bytes, whatever content-length they declare", async (deadline) => {
  await using server = serve(HTTP1, deadline, (req) => {
    const status = Number(new URL(req.url).searchParams.get("status"));
    return status === 200
      ? new Response("twelve bytes", { headers: { "content-length": "12" } })
      : new Response(null, { status });
  });
  const seen: string[][] = [];
  for (const [method, status] of [["HEAD", 200], ["GET", 204], ["GET", 304]]) {
    const run = exchange(`${server.url}/?status=${status}`, {
      method: method as string,
      client: server.client,
    });
    const { events, bytes } = await run.outcome(deadline);
    seen.push([...events, `${bytes.length} bytes`]);
  }
  assert.deepEqual(seen, [
    ["returned", "onResponse 200", "onEof()", "0 bytes"],
    ["returned", "onResponse 204", "onEof()", "0 bytes"],
    ["returned", "onResponse 304", "onEof()", "0 bytes"],
  ]);
});

// ---------------------------------------------------------------------
// Round trips: HTTP/1.1, h2c, TLS; Node.js as an independent server
// ---------------------------------------------------------------------

everyProtocol(
  "an upload round-trips byte-exact; every flush answers written, once",
  async (protocol, deadline) => {
    await using server = serve(protocol, deadline, async (req) => {
      const bytes = new Uint8Array(await req.arrayBuffer());
      return new Response(bytes, {
        headers: { "x-method": req.method, "x-sha256": await sha256(bytes) },
      });
    });
    const data = randomBytes(MiB + 123);
    let answers: Promise<FlushResult[]> | undefined;
    const run = exchange(server.url + "/", {
      method: "POST",
      client: server.client,
    }, (body) => answers = uploadPaced(body, data, 100_000));
    const { events, bytes, response } = await run.outcome(deadline);
    assert.deepEqual(events, ["returned", "onResponse 200", "onEof()"]);
    assert.equal(response!.headers.get("x-method"), "POST");
    assert.equal(response!.headers.get("x-sha256"), await sha256(data));
    assert.equal(bytes.length, data.length);
    assert.ok(bytes.every((b, i) => b === data[i]), "the bytes differ");
    const all = await within(deadline, answers!, "the upload");
    assert.equal(all.length, Math.ceil(data.length / 100_000) + 1);
    assert.ok(all.every((a) => a === "written"), all.join());
  },
);

everyProtocol(
  "full duplex: an echo streams each chunk back while the upload is still open",
  async (protocol, deadline) => {
    await using server = serve(
      protocol,
      deadline,
      (req) => new Response(req.body),
    );
    const got = Promise.withResolvers<Body<"read">>();
    const upload = request(server.url + "/", {
      method: "POST",
      client: server.client,
      onResponse: (_r, body) => got.resolve(body),
      onError: got.reject,
    });
    const readOne = (body: Body<"read">) =>
      new Promise<string>((resolve) =>
        body.scheduleRead({
          onRead: (b, off, len) =>
            resolve(decoder.decode(b.subarray(off, off + len))),
          onEof: (e) => resolve(`eof ${describe(e)}`),
        })
      );
    const log: string[] = [];
    upload.writeString("ping 1");
    log.push(await within(deadline, upload.flush(), "a flush"));
    const body = await within(deadline, got.promise, "the response head");
    for (let i = 2; i <= 4; i++) {
      log.push(await within(deadline, readOne(body), "an echoed chunk"));
      upload.writeString(`ping ${i}`);
      log.push(await within(deadline, upload.flush(), "a flush"));
    }
    log.push(await within(deadline, readOne(body), "an echoed chunk"));
    upload.closeWriter();
    log.push(await within(deadline, readOne(body), "the end"));
    assert.deepEqual(log, [
      "written",
      "ping 1",
      "written",
      "ping 2",
      "written",
      "ping 3",
      "written",
      "ping 4",
      "eof non-error: undefined",
    ]);
  },
);

// Node.js serves the upload and the response (independent of Deno's
// server): HTTP/1.1 through node:http, h2c through node:http2.
for (const mode of ["http1", "h2c"] as const) {
  test(
    `an upload to a Node.js server (${mode}) and its response round-trip byte-exact; Deno sends it chunked`,
    async (deadline) => {
      await using node = await startNode(deadline, mode);
      const client = h2Client(mode === "h2c" ? H2C : HTTP1);
      try {
        // Node's HTTP/2 server grants Deno's client its window slowly (~50 ms
        // a 64 KiB window, plain fetch alike, measured): a smaller upload.
        const data = pattern(mode === "h2c" ? 256 * KiB + 7 : 3 * MiB + 7, 3);
        const digest = exchange(node.url + "/digest", {
          method: "PUT",
          client,
        }, (body) => void uploadPaced(body, data, 50_000));
        const { events, bytes } = await digest.outcome(deadline);
        assert.deepEqual(events, ["returned", "onResponse 200", "onEof()"]);
        assert.deepEqual(JSON.parse(decoder.decode(bytes)), {
          method: "PUT",
          bytes: data.length,
          sha256: await sha256(data),
          // HTTP/1.1: chunked, no content-length (denoland/deno#20274).
          chunked: mode === "http1",
        });
        const n = 2 * MiB + 5;
        const download = exchange(`${node.url}/bytes?n=${n}`, { client });
        const got = await download.outcome(deadline);
        assert.deepEqual(got.events, ["returned", "onResponse 200", "onEof()"]);
        assert.equal(got.bytes.length, n);
        assert.ok(got.bytes.every((b, i) => b === i % 251), "bytes differ");
        const echo = exchange(node.url + "/echo", { method: "POST", client }, (
          body,
        ) => void uploadPaced(body, data, 64 * KiB));
        const echoed = await echo.outcome(deadline);
        assert.deepEqual(echoed.events, [
          "returned",
          "onResponse 200",
          "onEof()",
        ]);
        assert.equal(
          await sha256(echoed.bytes as Uint8Array<ArrayBuffer>),
          await sha256(data),
        );
      } finally {
        client.close();
      }
    },
    15_000,
  );
}

/** `node tests/fixtures/client_server.mjs <mode>`, killed on dispose. */
async function startNode(deadline: AbortSignal, mode: "http1" | "h2c") {
  const path = new URL("./fixtures/client_server.mjs", import.meta.url)
    .pathname;
  const child = new Deno.Command("node", {
    args: [path, mode],
    stdout: "piped",
    stderr: "piped",
    signal: deadline,
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let line = "";
  for (let i = 0; i < 100 && !line.includes("\n"); i++) {
    const { done, value } = await within(deadline, reader.read(), "node");
    if (done) break;
    line += value;
  }
  const match = /^ready (\d+)\n/.exec(line);
  if (match === null) {
    child.kill();
    await child.status;
    throw new Error(`node did not start: ${line} ${await stderr}`);
  }
  return {
    url: `http://127.0.0.1:${match[1]}`,
    async [Symbol.asyncDispose]() {
      child.kill();
      await reader.cancel();
      await child.status;
      await stderr;
    },
  };
}

// ---------------------------------------------------------------------
// The response body: every reader guarantee
// ---------------------------------------------------------------------

everyProtocol(
  "borrowed bytes stay valid until the next scheduleRead, with an await in between",
  async (protocol, deadline) => {
    const data = pattern(2 * MiB + 11, 5);
    await using server = serve(protocol, deadline, () => new Response(data));
    const got = Promise.withResolvers<Body<"read">>();
    request(server.url + "/", {
      client: server.client,
      onResponse: (_r, body) => got.resolve(body),
      onError: got.reject,
    });
    const body = await within(deadline, got.promise, "the response head");
    let at = 0;
    let reads = 0;
    for (let i = 0; i < 10_000; i++) {
      const read = await within(
        deadline,
        new Promise<[Uint8Array, number, number] | "eof">((resolve, reject) =>
          body.scheduleRead({
            onRead: (b, off, len) => resolve([b, off, len]),
            onEof: (e) => e === undefined ? resolve("eof") : reject(e),
          })
        ),
        "a read",
      );
      if (read === "eof") break;
      const [buffer, off, len] = read;
      const before = buffer.slice(off, off + len);
      // Time passes, other reads' chunks arrive at the network: the
      // borrowed bytes must not change until we schedule again.
      await new Promise((resolve) => setTimeout(resolve, 0));
      assert.deepEqual(buffer.subarray(off, off + len), before);
      assert.deepEqual(before, data.subarray(at, at + len), `at ${at}`);
      at += len;
      reads++;
    }
    assert.equal(at, data.length);
    assert.ok(reads > 1, "one read cannot show reuse");
  },
);

test("one read at a time: a second scheduleRead while one waits throws", async (deadline) => {
  const gate = Promise.withResolvers<void>();
  await using server = serve(HTTP1, deadline, () => {
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await gate.promise; // no byte until the test says so
        controller.enqueue(encoder.encode("late"));
        controller.close();
      },
    });
    return new Response(stream);
  });
  const got = Promise.withResolvers<Body<"read">>();
  request(server.url + "/", {
    client: server.client,
    onResponse: (_r, body) => got.resolve(body),
    onError: got.reject,
  });
  const body = await within(deadline, got.promise, "the head");
  const answers: string[] = [];
  const done = Promise.withResolvers<void>();
  body.scheduleRead({
    onRead: (b, off, len) => {
      answers.push(decoder.decode(b.subarray(off, off + len)));
      body.scheduleRead({
        onRead: () => answers.push("more?"),
        onEof: (e) => {
          answers.push(e === undefined ? "eof" : describe(e));
          done.resolve();
        },
      });
    },
    onEof: () => answers.push("early eof"),
  });
  assert.throws(
    () => body.scheduleRead({ onRead() {}, onEof() {} }),
    (e: unknown) =>
      e instanceof Error &&
      e.message ===
        "Body.scheduleRead: a read is already scheduled on this body",
  );
  gate.resolve();
  await within(deadline, done.promise, "the end");
  assert.deepEqual(answers, ["late", "eof"]);
});

test(
  "backpressure: the network is read only while a read is scheduled; an unread response holds the server",
  async (deadline) => {
    const { stream, state } = countedStream(new Uint8Array(64 * KiB));
    await using server = serve(HTTP1, deadline, () => new Response(stream));
    const got = Promise.withResolvers<Body<"read">>();
    request(server.url + "/", {
      client: server.client,
      onResponse: (_r, body) => got.resolve(body),
      onError: got.reject,
    });
    const body = await within(deadline, got.promise, "the head");
    const first = await within(
      deadline,
      new Promise<number>((resolve) =>
        body.scheduleRead({ onRead: (_b, _o, len) => resolve(len), onEof() {} })
      ),
      "one read",
    );
    assert.ok(first > 0);
    // No read scheduled now: the server's production stops once Deno's and
    // the kernel's buffers are full.
    await quiescent(deadline, () => state.pulled);
    const held = state.pulled;
    assert.ok(
      held < 32 * MiB,
      `${held} bytes pulled for a reader that stopped`,
    );
    body.closeReader();
    assert.equal(
      await within(deadline, state.cancelled.promise, "the server's cancel"),
      "resource closed",
    );
  },
  10_000,
);

// ---------------------------------------------------------------------
// Truncations never end cleanly (raw servers write the faults by hand)
// ---------------------------------------------------------------------

/** A raw HTTP/1.1 server answering each request with `reply` then closing. */
function rawReply(
  deadline: AbortSignal,
  reply: (conn: Deno.Conn) => Promise<void>,
) {
  return rawServer(deadline, async (conn) => {
    await readHead(conn);
    await reply(conn);
  });
}

for (
  const [name, head, body] of [
    ["a response short of its content-length", "content-length: 100", "hello"],
    [
      "an unterminated chunked response",
      "transfer-encoding: chunked",
      "5\r\nhello\r\n",
    ],
    [
      "a chunked response cut inside a chunk",
      "transfer-encoding: chunked",
      "10\r\nhello",
    ],
  ]
) {
  test(`${name} ends onEof(error), never onEof()`, async (deadline) => {
    await using server = rawReply(deadline, async (conn) => {
      await writeAll(conn, `HTTP/1.1 200 OK\r\n${head}\r\n\r\n${body}`);
    });
    const { events, bytes, error } = await exchange(server.url + "/")
      .outcome(deadline);
    assert.deepEqual(events, [
      "returned",
      "onResponse 200",
      "onEof(TypeError: error reading a body from connection)",
    ]);
    assert.equal(decoder.decode(bytes), "hello");
    assert.ok(error instanceof TypeError);
  });
}

test("a connection reset mid-response ends onEof(error), never onEof()", async (deadline) => {
  await using server = rawServer(deadline, async (conn) => {
    // Read only part of the request head: closing a socket with unread
    // bytes makes the kernel send a reset (RST), not a FIN.
    await conn.read(new Uint8Array(8));
    await writeAll(
      conn,
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
    );
    await sleep(50, deadline); // the head reaches the client first
    conn.close();
  });
  const { events, bytes } = await exchange(server.url + "/").outcome(deadline);
  assert.deepEqual(events, [
    "returned",
    "onResponse 200",
    "onEof(TypeError: error reading a body from connection)",
  ]);
  assert.equal(decoder.decode(bytes), "hello");
});

test("a response that ends by closing the connection reads as complete (Deno cannot tell; documented)", async (deadline) => {
  await using server = rawReply(deadline, async (conn) => {
    await writeAll(conn, "HTTP/1.1 200 OK\r\n\r\nhel"); // no length, no chunks
  });
  const { events, bytes } = await exchange(server.url + "/").outcome(deadline);
  assert.deepEqual(events, ["returned", "onResponse 200", "onEof()"]);
  assert.equal(decoder.decode(bytes), "hel");
});

test("a response longer than its content-length is cut at the length (hyper's framing), not an error", async (deadline) => {
  await using server = rawReply(deadline, async (conn) => {
    await writeAll(conn, "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nhello");
  });
  const { events, bytes } = await exchange(server.url + "/").outcome(deadline);
  assert.deepEqual(events, ["returned", "onResponse 200", "onEof()"]);
  assert.equal(decoder.decode(bytes), "hel");
});

/**
 * A raw h2c server: reads the client's preface and frames until its first
 * HEADERS, then answers stream 1 with `:status 200` (and `content-length`
 * when given), a DATA frame of "hello", and `end`: a RST_STREAM code, a
 * GOAWAY, or nothing (the connection just closes).
 */
function rawH2(
  deadline: AbortSignal,
  contentLength: string | null,
  end: keyof typeof ErrorCode | "GOAWAY" | "close",
) {
  return rawServer(deadline, async (conn) => {
    await untilHeaders(conn);
    const literal = (name: string, value: string) => [
      0x00,
      name.length,
      ...encoder.encode(name),
      value.length,
      ...encoder.encode(value),
    ];
    const block = new Uint8Array([
      0x88, // :status 200 (static table)
      ...(contentLength === null
        ? []
        : literal("content-length", contentLength)),
    ]);
    const frames = [
      frame(FrameType.SETTINGS, 0, 0),
      frame(FrameType.SETTINGS, 0x1, 0), // ACK of the client's
      frame(FrameType.HEADERS, 0x4, 1, block), // END_HEADERS
      dataFrame(1, encoder.encode("hello")),
    ];
    if (end === "GOAWAY") {
      frames.push(
        frame(FrameType.GOAWAY, 0, 0, new Uint8Array([0, 0, 0, 1, 0, 0, 0, 2])),
      );
    } else if (end !== "close") {
      frames.push(
        frame(
          FrameType.RST_STREAM,
          0,
          1,
          new Uint8Array([0, 0, 0, ErrorCode[end]]),
        ),
      );
    }
    await writeAll(conn, concat(frames));
    // A reset stream leaves the connection to the client, which closes it
    // when done; after a GOAWAY (or for "close") the server closes it.
    if (end === "GOAWAY" || end === "close") conn.close();
    else await readUntilGone(conn);
  });
}

// Reads the client preface and frames until a HEADERS frame.
async function untilHeaders(conn: Deno.Conn): Promise<void> {
  let data: Uint8Array = new Uint8Array(0);
  const buffer = new Uint8Array(16 * KiB);
  for (let i = 0; i < 1000; i++) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("EOF before the request's HEADERS");
    data = concat([data, buffer.subarray(0, n)]);
    for (let at = 24; at + 9 <= data.length;) {
      const length = (data[at]! << 16) | (data[at + 1]! << 8) | data[at + 2]!;
      if (at + 9 + length > data.length) break;
      if (data[at + 3] === FrameType.HEADERS) return;
      at += 9 + length;
    }
  }
  throw new Error("no HEADERS after 1000 reads");
}

for (
  const [end, contentLength, expected] of [
    ["NO_ERROR", "100", "short"],
    ["CANCEL", "100", "short"],
    ["INTERNAL_ERROR", null, "fetch"],
    ["GOAWAY", null, "fetch"],
    ["close", null, "fetch"],
  ] as const
) {
  const declared = contentLength === null
    ? "no content-length"
    : `content-length ${contentLength}`;
  const what = end === "GOAWAY"
    ? "GOAWAY(INTERNAL_ERROR) and a close"
    : end === "close"
    ? "a closed connection"
    : `RST_STREAM(${end})`;
  test(`HTTP/2: ${what} after 5 bytes (${declared}) ends onEof(error), never onEof()`, async (deadline) => {
    await using server = rawH2(deadline, contentLength, end);
    const client = h2Client(H2C);
    try {
      const { events, bytes } = await exchange(server.url + "/", { client })
        .outcome(deadline);
      assert.deepEqual(events, [
        "returned",
        "onResponse 200",
        expected === "short"
          ? "onEof(Error: request: the body ended after 5 of 100 bytes)"
          : "onEof(TypeError: error reading a body from connection)",
      ]);
      assert.equal(decoder.decode(bytes), "hello");
    } finally {
      client.close();
    }
  });
}

test("HTTP/2: a NO_ERROR or CANCEL reset without content-length reads as complete (Deno cannot tell; documented)", async (deadline) => {
  for (const end of ["NO_ERROR", "CANCEL"] as const) {
    await using server = rawH2(deadline, null, end);
    const client = h2Client(H2C);
    try {
      const { events } = await exchange(server.url + "/", { client })
        .outcome(deadline);
      assert.deepEqual(events, ["returned", "onResponse 200", "onEof()"]);
    } finally {
      client.close();
    }
  }
});

test("a gzip response (decoded by fetch, longer than its content-length) is not taken for a truncation", async (deadline) => {
  const text = "all good. ".repeat(10_000);
  const zipped = new Uint8Array(gzipSync(text));
  await using server = serve(HTTP1, deadline, () =>
    new Response(zipped, {
      headers: {
        "content-encoding": "gzip",
        "content-length": String(zipped.length),
      },
    }));
  const { events, bytes, response } = await exchange(server.url + "/", {
    client: server.client,
  }).outcome(deadline);
  assert.deepEqual(events, ["returned", "onResponse 200", "onEof()"]);
  assert.equal(response!.headers.get("content-length"), String(zipped.length));
  assert.equal(decoder.decode(bytes), text);
});

// ---------------------------------------------------------------------
// maxResponseBytes
// ---------------------------------------------------------------------

test("maxResponseBytes: a larger response is cancelled and its read answers onEof(RangeError naming it)", async (deadline) => {
  const { stream, state } = countedStream(new Uint8Array(16 * KiB));
  await using server = serve(HTTP1, deadline, () => new Response(stream));
  const { events, bytes } = await exchange(server.url + "/", {
    client: server.client,
    maxResponseBytes: 100 * KiB,
  }).outcome(deadline);
  assert.deepEqual(events, [
    "returned",
    "onResponse 200",
    "onEof(RangeError: request: the response body is larger than maxResponseBytes (102400 bytes))",
  ]);
  assert.ok(bytes.length <= 100 * KiB, `${bytes.length} bytes delivered`);
  assert.equal(
    await within(deadline, state.cancelled.promise, "the server's cancel"),
    "resource closed",
  );
});

test("maxResponseBytes: a response of exactly the limit ends cleanly", async (deadline) => {
  await using server = serve(
    HTTP1,
    deadline,
    () => new Response(new Uint8Array(100 * KiB)),
  );
  const { events, bytes } = await exchange(server.url + "/", {
    client: server.client,
    maxResponseBytes: 100 * KiB,
  }).outcome(deadline);
  assert.deepEqual(events, ["returned", "onResponse 200", "onEof()"]);
  assert.equal(bytes.length, 100 * KiB);
});

test("maxResponseBytes counts decoded bytes: a small gzip body that inflates past it is stopped", async (deadline) => {
  // 64 MiB of zeros gzip to ~64 KiB: a small body, a big delivery.
  const bomb = gzipSync(new Uint8Array(64 * MiB));
  assert.ok(bomb.length < 100 * KiB, `${bomb.length} bytes compressed`);
  await using server = rawReply(deadline, async (conn) => {
    await writeAll(
      conn,
      `HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: ${bomb.length}\r\n\r\n`,
    );
    await writeAll(conn, bomb);
    await readUntilGone(conn);
  });
  const { events, bytes } = await exchange(server.url + "/", {
    maxResponseBytes: MiB,
  }).outcome(deadline);
  assert.deepEqual(events, [
    "returned",
    "onResponse 200",
    "onEof(RangeError: request: the response body is larger than maxResponseBytes (1048576 bytes))",
  ]);
  assert.ok(bytes.length <= MiB);
});

// ---------------------------------------------------------------------
// closeReader: the download is cancelled, the connection released
// ---------------------------------------------------------------------

everyProtocol(
  "closeReader() cancels the download: the server sees the client go, nothing is left open",
  async (protocol, deadline) => {
    const { stream, state } = countedStream(new Uint8Array(16 * KiB));
    await using server = serve(protocol, deadline, () => new Response(stream));
    const got = Promise.withResolvers<Body<"read">>();
    request(server.url + "/", {
      client: server.client,
      onResponse: (_r, body) => got.resolve(body),
      onError: got.reject,
    });
    const body = await within(deadline, got.promise, "the head");
    const events: string[] = [];
    body.scheduleRead({
      onRead: (_b, _o, len) => events.push(`onRead ${len > 0}`),
      onEof: (e) => events.push(`onEof(${describe(e)})`),
    });
    await within(
      deadline,
      (async () => {
        for (let i = 0; i < 1000 && events.length === 0; i++) await turns(1);
      })(),
      "a chunk",
    );
    body.closeReader();
    body.scheduleRead({
      onRead: () => events.push("onRead after close"),
      onEof: (e) => events.push(e === undefined ? "onEof()" : "onEof(error)"),
    });
    assert.deepEqual(events, ["onRead true", "onEof()"]);
    assert.equal(
      await within(deadline, state.cancelled.promise, "the server's cancel"),
      "resource closed",
    );
    // The sanitizers check that no fetch body or connection stayed open.
  },
);

test("closeReader() over a raw HTTP/1.1 server: the server reads the end of its connection", async (deadline) => {
  const gone = Promise.withResolvers<string>();
  await using server = rawReply(deadline, async (conn) => {
    await writeAll(
      conn,
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
    );
    gone.resolve(await readUntilGone(conn));
  });
  const got = Promise.withResolvers<Body<"read">>();
  request(server.url + "/", {
    onResponse: (_r, body) => got.resolve(body),
    onError: got.reject,
  });
  const body = await within(deadline, got.promise, "the head");
  body.closeReader();
  assert.equal(
    await within(deadline, gone.promise, "the client's close"),
    "EOF",
  );
});

test("closeReader() mid-upload aborts the upload: pending and later flushes answer closed, the signal aborts", async (deadline) => {
  const upstream = Promise.withResolvers<string>();
  await using server = serve(HTTP1, deadline, (req) => {
    // Answers at once, and reads the upload to its end (or failure).
    const reader = req.body!.getReader();
    (async () => {
      for (let i = 0; i < 100_000; i++) {
        if ((await reader.read()).done) return upstream.resolve("complete");
      }
    })().catch((error) => upstream.resolve((error as Error).name));
    return new Response("early");
  });
  const got = Promise.withResolvers<Body<"read">>();
  const upload = request(server.url + "/", {
    method: "POST",
    client: server.client,
    onResponse: (_r, body) => got.resolve(body),
    onError: got.reject,
  });
  upload.writeString("part of an upload");
  assert.equal(await within(deadline, upload.flush(), "a flush"), "written");
  const body = await within(deadline, got.promise, "the head");
  body.closeReader();
  upload.writeString("dropped");
  assert.equal(await within(deadline, upload.flush(), "a flush"), "closed");
  assert.equal(upload.isClosed(), true);
  assert.equal(upload.signal.aborted, true);
  assert.equal(
    (upload.signal.reason as Error).message,
    "request: the response body was closed before its end",
  );
  // The upload reaches the server as truncated, never complete.
  assert.notEqual(
    await within(deadline, upstream.promise, "the server's read"),
    "complete",
  );
});

// ---------------------------------------------------------------------
// Uploads: backpressure, early responses, servers that stop reading
// ---------------------------------------------------------------------

/**
 * Writes 64 KiB chunks through `body`, a flush each, until a flush answers
 * "closed" (or `limit` bytes); `written` counts the bytes whose flush
 * answered "written".
 */
function produce(body: Body<"write">, limit = 256 * MiB) {
  const state = {
    written: 0,
    answers: [] as FlushResult[],
    done: Promise.withResolvers<void>(),
  };
  const chunk = new Uint8Array(64 * KiB);
  const next = (result: FlushResult) => {
    state.answers.push(result);
    if (result === "closed" || state.written >= limit) {
      return state.done.resolve();
    }
    state.written += chunk.length;
    body.writeBigstring(chunk);
    body.flush(next);
  };
  body.writeBigstring(chunk);
  body.flush(next);
  return state;
}

test(
  "backpressure: upload output reaches fetch only as it pulls; a server that never reads holds the flushes",
  async (deadline) => {
    await using server = rawServer(deadline, async (conn, closed) => {
      await readHead(conn); // then never reads, never answers
      await aborted(closed);
    });
    const stop = new AbortController();
    const run = exchange(server.url + "/", {
      method: "PUT",
      signal: stop.signal,
      writeTimeout: Infinity,
    });
    const producer = produce(run.body);
    // Kernel and Deno buffers fill, then nothing more is taken.
    await quiescent(deadline, () => producer.written, { every: 25, still: 8 });
    assert.ok(
      producer.written < 64 * MiB,
      `${producer.written} bytes taken by a server that reads nothing`,
    );
    // The one chunk ahead waits in the stream fetch reads, not taken: its
    // flush is unanswered, and the body holds nothing more.
    assert.equal(run.body.pendingBytes, 0);
    assert.deepEqual(new Set(producer.answers), new Set(["written"]));
    const reason = new Error("enough");
    stop.abort(reason);
    await within(deadline, producer.done.promise, "the last flush");
    assert.equal(producer.answers.at(-1), "closed");
    const { events, error } = await run.outcome(deadline);
    assert.deepEqual(events, ["returned", "onError(Error: enough)"]);
    assert.equal(error, reason);
  },
  15_000,
);

test(
  "an early 413 with connection: close mid-upload is delivered; pending and later flushes answer closed",
  async (deadline) => {
    const gone = Promise.withResolvers<string>();
    await using server = rawServer(deadline, async (conn) => {
      await readHead(conn);
      const buffer = new Uint8Array(64 * KiB);
      for (let n = 0; n < 200_000;) {
        const k = await conn.read(buffer);
        if (k === null) return;
        n += k;
      }
      await writeAll(
        conn,
        "HTTP/1.1 413 Payload Too Large\r\ncontent-length: 9\r\nconnection: close\r\n\r\ntoo large",
      );
      // A graceful close: the response is complete, the rest is drained.
      conn.closeWrite();
      gone.resolve(await readUntilGone(conn));
    });
    const run = exchange(server.url + "/", { method: "POST" });
    const producer = produce(run.body);
    const { events, bytes } = await run.outcome(deadline);
    assert.deepEqual(events, ["returned", "onResponse 413", "onEof()"]);
    assert.equal(decoder.decode(bytes), "too large");
    await within(deadline, producer.done.promise, "a closed flush");
    assert.equal(producer.answers.at(-1), "closed");
    run.body.writeString("dropped, not thrown");
    assert.equal(await within(deadline, run.body.flush(), "a flush"), "closed");
    assert.equal(run.body.isClosed(), true);
    // fetch stopped the upload and closed the connection.
    assert.equal(
      await within(deadline, gone.promise, "the client's close"),
      "EOF",
    );
  },
  15_000,
);

test("a server that resets mid-upload: exactly one of onError or the response, never a hang; flushes end closed", async (deadline) => {
  await using server = rawServer(deadline, async (conn) => {
    await readHead(conn);
    await conn.read(new Uint8Array(64 * KiB));
    await writeAll(
      conn,
      "HTTP/1.1 413 Payload Too Large\r\ncontent-length: 9\r\nconnection: close\r\n\r\ntoo large",
    );
    conn.close(); // with upload bytes unread: a reset
  });
  const run = exchange(server.url + "/", { method: "POST" });
  const producer = produce(run.body);
  const { events } = await run.outcome(deadline);
  await turns(3);
  // Measured: the reset usually loses the response inside fetch.
  assert.ok(
    events.length === 2 && events[1]!.startsWith("onError(") ||
      events.length === 3 && events[1] === "onResponse 413",
    events.join(" | "),
  );
  await within(deadline, producer.done.promise, "a closed flush");
  assert.equal(producer.answers.at(-1), "closed");
});

test("an early complete response on a keep-alive connection: fetch keeps sending the upload, flushes answer written", async (deadline) => {
  await using server = serve(HTTP1, deadline, () => new Response("early"));
  const run = exchange(server.url + "/", {
    method: "POST",
    client: server.client,
  });
  const answers = uploadPaced(run.body, new Uint8Array(4 * MiB));
  const { events, bytes } = await run.outcome(deadline);
  assert.deepEqual(events, ["returned", "onResponse 200", "onEof()"]);
  assert.equal(decoder.decode(bytes), "early");
  const all = await within(deadline, answers, "the upload");
  assert.ok(all.every((a) => a === "written"), all.join());
});

test("body.abort(reason) before the response head: onError(reason), the very object", async (deadline) => {
  await using server = rawServer(deadline, async (conn) => {
    await readHead(conn);
    await readUntilGone(conn); // never answers
  });
  const run = exchange(server.url + "/", { method: "PUT" });
  run.body.writeString("some");
  assert.equal(await within(deadline, run.body.flush(), "a flush"), "written");
  const reason = new Error("changed my mind");
  run.body.abort(reason);
  const { events, error } = await run.outcome(deadline);
  assert.deepEqual(events, ["returned", "onError(Error: changed my mind)"]);
  assert.equal(error, reason);
});

test("body.abort(reason) after the response head: the response body answers onEof(reason)", async (deadline) => {
  await using server = serve(HTTP1, deadline, (req) => new Response(req.body));
  const got = Promise.withResolvers<void>();
  const run = exchange(server.url + "/", {
    method: "POST",
    client: server.client,
  });
  run.body.writeString("echo me");
  await within(deadline, run.body.flush(), "a flush");
  // The echo's first chunk arrives: the head is in.
  for (let i = 0; i < 1000 && run.events.length < 2; i++) await turns(1);
  got.resolve();
  const reason = new Error("abandoned");
  run.body.abort(reason);
  const { events, error } = await run.outcome(deadline);
  assert.deepEqual(events, [
    "returned",
    "onResponse 200",
    "onEof(Error: abandoned)",
  ]);
  assert.equal(error, reason);
});

test("maxPendingBytes: the write that crosses it aborts the request (onError(RangeError naming it))", async (deadline) => {
  await using server = rawServer(deadline, async (conn) => {
    await readHead(conn);
    await readUntilGone(conn);
  });
  const run = exchange(server.url + "/", {
    method: "PUT",
    maxPendingBytes: MiB,
  });
  run.body.writeBigstring(new Uint8Array(MiB)); // at the limit: fine
  assert.equal(run.body.isClosed(), false);
  run.body.writeBigstring(new Uint8Array(1)); // past it
  assert.equal(run.body.isClosed(), true);
  const { events } = await run.outcome(deadline);
  assert.deepEqual(events, [
    "returned",
    "onError(RangeError: Body.writeBigstring: 1048577 pending bytes exceed maxPendingBytes (1048576))",
  ]);
});

// ---------------------------------------------------------------------
// Timeouts, each a Deno.errors.TimedOut naming its option
// ---------------------------------------------------------------------

test("headersTimeout: a server that never answers gets onError(TimedOut naming headersTimeout); flushes answer closed", async (deadline) => {
  await using server = rawServer(deadline, async (conn, closed) => {
    await readHead(conn); // reads nothing more, never answers
    await aborted(closed);
  });
  const started = performance.now();
  const run = exchange(server.url + "/", {
    method: "POST",
    headersTimeout: 200,
  });
  run.body.writeBigstring(new Uint8Array(8 * MiB)); // more than fetch takes
  const flushed = run.body.flush();
  const { events, error } = await run.outcome(deadline);
  const elapsed = performance.now() - started;
  assert.deepEqual(events, [
    "returned",
    "onError(TimedOut: request: headersTimeout (200 ms) expired: no response head arrived for that long)",
  ]);
  assert.ok(error instanceof Deno.errors.TimedOut);
  assert.ok(elapsed >= 200, `expired after ${elapsed.toFixed(0)} ms`);
  assert.equal(await within(deadline, flushed, "the flush"), "closed");
});

everyProtocol(
  "readTimeout: a stall after the head ends the read onEof(TimedOut naming readTimeout); the server sees the client go",
  async (protocol, deadline) => {
    const cancelled = Promise.withResolvers<unknown>();
    await using server = serve(protocol, deadline, () => {
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(encoder.encode("first"));
        }, // then nothing: the server stalls
        cancel: (reason) => cancelled.resolve(reason),
      });
      return new Response(stream);
    });
    const run = exchange(server.url + "/", {
      client: server.client,
      readTimeout: 250,
    });
    const { events, bytes } = await run.outcome(deadline);
    assert.deepEqual(events, [
      "returned",
      "onResponse 200",
      "onEof(TimedOut: request: readTimeout (250 ms) expired: the server sent no response bytes for that long)",
    ]);
    assert.equal(decoder.decode(bytes), "first");
    assert.equal(
      await within(deadline, cancelled.promise, "the server's cancel"),
      "resource closed",
    );
  },
);

test("readTimeout restarts with every chunk: a slow but steady response completes", async (deadline) => {
  await using server = serve(HTTP1, deadline, () => {
    let n = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (n === 6) return controller.close();
        // A server pacing its output is the test: 6 × 100 ms > 250 ms.
        if (n > 0) await new Promise((resolve) => setTimeout(resolve, 100));
        controller.enqueue(encoder.encode(`${++n};`));
      },
    }, { highWaterMark: 0 });
    return new Response(stream);
  });
  const { events, bytes } = await exchange(server.url + "/", {
    client: server.client,
    readTimeout: 250,
  }).outcome(deadline);
  assert.deepEqual(events, ["returned", "onResponse 200", "onEof()"]);
  assert.equal(decoder.decode(bytes), "1;2;3;4;5;6;");
});

test("readTimeout never runs while no read is scheduled: a reader slow to ask again is not timed out", async (deadline) => {
  await using server = serve(
    HTTP1,
    deadline,
    () => new Response(pattern(3 * 64 * KiB)),
  );
  const got = Promise.withResolvers<Body<"read">>();
  request(server.url + "/", {
    client: server.client,
    readTimeout: 150,
    onResponse: (_r, body) => got.resolve(body),
    onError: got.reject,
  });
  const body = await within(deadline, got.promise, "the head");
  const first = await within(
    deadline,
    new Promise<number>((resolve) =>
      body.scheduleRead({ onRead: (_b, _o, len) => resolve(len), onEof() {} })
    ),
    "a read",
  );
  await sleep(600, deadline); // four timeouts without a scheduled read
  const rest = await within(deadline, toBytes(body), "the rest");
  assert.equal(first + rest.length, 3 * 64 * KiB);
});

test(
  "writeTimeout before the head: a server that stops reading gets onError(TimedOut naming writeTimeout)",
  async (deadline) => {
    await using server = rawServer(deadline, async (conn, closed) => {
      await readHead(conn); // then never reads, never answers
      await aborted(closed);
    });
    const run = exchange(server.url + "/", {
      method: "PUT",
      writeTimeout: 300,
    });
    const producer = produce(run.body);
    const { events, error } = await run.outcome(deadline);
    assert.deepEqual(events, [
      "returned",
      "onError(TimedOut: request: writeTimeout (300 ms) expired: the server took no upload bytes for that long)",
    ]);
    assert.ok(error instanceof Deno.errors.TimedOut);
    await within(deadline, producer.done.promise, "a closed flush");
    assert.equal(producer.answers.at(-1), "closed");
    assert.equal(run.body.signal.reason, error);
  },
  10_000,
);

test(
  "writeTimeout after the head: the upload is aborted and the response body answers onEof(TimedOut)",
  async (deadline) => {
    await using server = rawServer(deadline, async (conn, closed) => {
      await readHead(conn);
      // Answers with a head and a first chunk, then reads nothing more.
      await writeAll(
        conn,
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n",
      );
      await aborted(closed);
    });
    const run = exchange(server.url + "/", {
      method: "PUT",
      writeTimeout: 300,
    });
    const producer = produce(run.body);
    const { events, bytes } = await run.outcome(deadline);
    assert.deepEqual(events, [
      "returned",
      "onResponse 200",
      "onEof(TimedOut: request: writeTimeout (300 ms) expired: the server took no upload bytes for that long)",
    ]);
    assert.equal(decoder.decode(bytes), "first");
    await within(deadline, producer.done.promise, "a closed flush");
    assert.equal(producer.answers.at(-1), "closed");
  },
  10_000,
);

test("writeTimeout never runs while the upload has nothing pending: an idle upload outlasts it", async (deadline) => {
  await using server = serve(
    HTTP1,
    deadline,
    async (req) => new Response(`${(await req.arrayBuffer()).byteLength}`),
  );
  const run = exchange(server.url + "/", {
    method: "PUT",
    client: server.client,
    writeTimeout: 150,
  });
  run.body.writeString("before");
  assert.equal(await within(deadline, run.body.flush(), "a flush"), "written");
  await sleep(600, deadline); // four timeouts with nothing to send
  run.body.writeString(" after");
  run.body.closeWriter();
  const { events, bytes } = await run.outcome(deadline);
  assert.deepEqual(events, ["returned", "onResponse 200", "onEof()"]);
  assert.equal(decoder.decode(bytes), "12");
});

// ---------------------------------------------------------------------
// The signal: aborts whatever is in flight, once, with its own reason
// ---------------------------------------------------------------------

test("signal before the head: onError(the signal's reason itself), once; flushes answer closed", async (deadline) => {
  const arrived = Promise.withResolvers<void>();
  await using server = rawServer(deadline, async (conn, closed) => {
    await readHead(conn);
    arrived.resolve();
    await aborted(closed);
  });
  const stop = new AbortController();
  const run = exchange(server.url + "/", {
    method: "POST",
    signal: stop.signal,
  });
  run.body.writeBigstring(new Uint8Array(8 * MiB));
  const flushed = run.body.flush();
  await within(deadline, arrived.promise, "the request");
  const reason = { why: "not an Error, still the very reason" };
  stop.abort(reason);
  stop.abort(new Error("a second abort changes nothing"));
  const { events, error } = await run.outcome(deadline);
  await turns(3);
  assert.deepEqual(events, ["returned", "onError(non-error: [object Object])"]);
  assert.equal(error, reason);
  assert.equal(await within(deadline, flushed, "the flush"), "closed");
  assert.equal(run.body.signal.reason, reason);
});

test("signal after the head: the response body answers onEof(the reason itself); the upload's flushes answer closed", async (deadline) => {
  const cancelled = Promise.withResolvers<unknown>();
  await using server = serve(HTTP1, deadline, () => {
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(encoder.encode("first")),
      cancel: (reason) => cancelled.resolve(reason),
    });
    return new Response(stream);
  });
  const stop = new AbortController();
  const run = exchange(server.url + "/", {
    method: "POST",
    client: server.client,
    signal: stop.signal,
  });
  run.body.writeString("up");
  assert.equal(await within(deadline, run.body.flush(), "a flush"), "written");
  for (let i = 0; i < 1000 && run.events.length < 2; i++) await turns(1);
  const reason = new Error("user cancelled");
  stop.abort(reason);
  const { events, error, bytes } = await run.outcome(deadline);
  assert.deepEqual(events, [
    "returned",
    "onResponse 200",
    "onEof(Error: user cancelled)",
  ]);
  assert.equal(error, reason);
  assert.equal(decoder.decode(bytes), "first");
  run.body.writeString("dropped");
  assert.equal(await within(deadline, run.body.flush(), "a flush"), "closed");
  assert.equal(
    await within(deadline, cancelled.promise, "the server's cancel"),
    "resource closed",
  );
});

test("an already-aborted signal: onError(reason) after request() returned, and nothing is sent", async (deadline) => {
  await using server = rawServer(deadline, async (conn) => {
    await readHead(conn);
  });
  const reason = new Error("too late");
  const run = exchange(server.url + "/", {
    method: "PUT",
    signal: AbortSignal.abort(reason),
  });
  assert.equal(run.body.isClosed(), true);
  const { events, error } = await run.outcome(deadline);
  assert.deepEqual(events, ["returned", "onError(Error: too late)"]);
  assert.equal(error, reason);
  await turns(5);
  assert.equal(server.accepted, 0);
});

test("once the exchange ended it stops watching the signal: a later abort changes nothing", async (deadline) => {
  await using server = serve(HTTP1, deadline, () => new Response("done"));
  const stop = new AbortController();
  const watching = new Set<unknown>();
  const { addEventListener: add, removeEventListener: remove } = stop.signal;
  stop.signal.addEventListener = (type: string, listener: unknown) => {
    watching.add(listener);
    add.call(stop.signal, type, listener as EventListener, { once: true });
  };
  stop.signal.removeEventListener = (type: string, listener: unknown) => {
    watching.delete(listener);
    remove.call(stop.signal, type, listener as EventListener);
  };
  const run = exchange(server.url + "/", {
    method: "PUT",
    client: server.client,
    signal: stop.signal,
  });
  run.body.writeString("x");
  run.body.closeWriter();
  assert.equal(await within(deadline, run.body.flush(), "a flush"), "written");
  const { events } = await run.outcome(deadline);
  assert.equal(watching.size, 0, "the signal is still watched");
  stop.abort(new Error("after the end"));
  await turns(3);
  assert.deepEqual(events, ["returned", "onResponse 200", "onEof()"]);
  assert.equal(run.body.signal.aborted, false, "a clean end stays clean");
});

// ---------------------------------------------------------------------
// Exceptions thrown by callbacks: reported, never uncaught; request aborted
// ---------------------------------------------------------------------

/** Captures console.error and unhandled rejections while `fn` runs. */
async function capturing(fn: () => Promise<void>) {
  const logs: unknown[][] = [];
  const rejections: unknown[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void logs.push(args);
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    rejections.push(event.reason);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  try {
    await fn();
    await turns(3);
  } finally {
    console.error = consoleError;
    globalThis.removeEventListener("unhandledrejection", onRejection);
  }
  assert.deepEqual(rejections, [], "unhandled rejections");
  return logs;
}

test("onResponse throwing: reported to onCallbackError, the request aborted (a read it scheduled answers onEof(error))", async (deadline) => {
  const { stream, state } = countedStream(new Uint8Array(KiB));
  await using server = serve(HTTP1, deadline, () => new Response(stream));
  const reported: unknown[] = [];
  const ended = Promise.withResolvers<unknown>();
  const failure = new Error("handler bug");
  const logs = await capturing(async () => {
    request(server.url + "/", {
      client: server.client,
      onCallbackError: (error) => reported.push(error),
      onResponse(_r, body) {
        body.scheduleRead({
          onRead: () => ended.resolve("onRead"),
          onEof: (error) => ended.resolve(error),
        });
        throw failure;
      },
      onError: (error) => ended.resolve(`onError ${error}`),
    });
    assert.equal(await within(deadline, ended.promise, "onEof"), failure);
    assert.equal(
      await within(deadline, state.cancelled.promise, "the cancel"),
      "resource closed",
    );
  });
  assert.deepEqual(reported, [failure]);
  assert.deepEqual(logs, []);
});

test("onRead throwing (answered from the network): reported to console.error by default, the request aborted", async (deadline) => {
  const { stream, state } = countedStream(new Uint8Array(KiB));
  await using server = serve(HTTP1, deadline, () => new Response(stream));
  const failure = new Error("onRead bug");
  const logs = await capturing(async () => {
    request(server.url + "/", {
      client: server.client,
      onResponse(_r, body) {
        // Nothing buffered yet: answered later, from fetch's read.
        body.scheduleRead({
          onRead() {
            throw failure;
          },
          onEof() {},
        });
      },
      onError() {},
    });
    assert.equal(
      await within(deadline, state.cancelled.promise, "the cancel"),
      "resource closed",
    );
  });
  assert.deepEqual(logs, [["request: a callback threw:", failure]]);
});

test("a flush callback throwing: reported, the request aborted (the response body answers onEof(error))", async (deadline) => {
  await using server = serve(HTTP1, deadline, (req) => new Response(req.body));
  const reported: unknown[] = [];
  const failure = new Error("flush callback bug");
  let run!: ReturnType<typeof exchange>;
  const logs = await capturing(async () => {
    run = exchange(server.url + "/", {
      method: "POST",
      client: server.client,
      onCallbackError: (error) => reported.push(error),
    });
    run.body.writeString("x");
    await within(deadline, run.body.flush(), "a flush");
    for (let i = 0; i < 1000 && run.events.length < 2; i++) await turns(1);
    run.body.writeString("y");
    run.body.flush(() => {
      throw failure;
    });
    await run.outcome(deadline);
  });
  assert.deepEqual(run.events, [
    "returned",
    "onResponse 200",
    "onEof(Error: flush callback bug)",
  ]);
  assert.deepEqual(reported, [failure]);
  assert.deepEqual(logs, []);
});

test("onError throwing: reported (console.error by default), nothing uncaught", async (deadline) => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const failure = new Error("onError bug");
  const called = Promise.withResolvers<void>();
  const logs = await capturing(async () => {
    request(`http://127.0.0.1:${port}/`, {
      onResponse() {},
      onError() {
        called.resolve();
        throw failure;
      },
    });
    await within(deadline, called.promise, "onError");
  });
  assert.deepEqual(logs, [["request: a callback threw:", failure]]);
});

test("onCallbackError throwing: logged, nothing uncaught", async (deadline) => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const failure = new Error("onError bug");
  const second = new Error("onCallbackError bug");
  const called = Promise.withResolvers<void>();
  const logs = await capturing(async () => {
    request(`http://127.0.0.1:${port}/`, {
      onResponse() {},
      onError() {
        throw failure;
      },
      onCallbackError() {
        called.resolve();
        throw second;
      },
    });
    await within(deadline, called.promise, "onCallbackError");
  });
  assert.deepEqual(logs, [["request: options.onCallbackError threw:", second]]);
});

// ---------------------------------------------------------------------
// The one coarse clock
// ---------------------------------------------------------------------

// Counts setInterval, setTimeout and clearInterval calls while `fn` runs.
async function timersDuring(
  fn: () => Promise<void>,
): Promise<{ intervals: number; timeouts: number; cleared: number }> {
  const { setInterval: interval, setTimeout: timeout, clearInterval: clear } =
    globalThis;
  const count = { intervals: 0, timeouts: 0, cleared: 0 };
  globalThis.setInterval = ((...a: Parameters<typeof interval>) => {
    count.intervals++;
    return interval(...a);
  }) as typeof interval;
  globalThis.setTimeout = ((...a: Parameters<typeof timeout>) => {
    count.timeouts++;
    return timeout(...a);
  }) as typeof timeout;
  globalThis.clearInterval = ((id: number) => {
    count.cleared++;
    return clear(id);
  }) as typeof clear;
  try {
    await fn();
  } finally {
    globalThis.setInterval = interval;
    globalThis.setTimeout = timeout;
    globalThis.clearInterval = clear;
  }
  return count;
}

test("the clock: requests waiting for their heads share one interval; it stops once nothing waits, and idle bodies start none", async (deadline) => {
  const release = Promise.withResolvers<void>();
  await using server = serve(HTTP1, deadline, async () => {
    await release.promise;
    return new Response("x".repeat(100));
  });
  const bodies: Promise<Body<"read">>[] = [];
  const waiting = await timersDuring(async () => {
    for (let i = 0; i < 50; i++) {
      const got = Promise.withResolvers<Body<"read">>();
      bodies.push(got.promise);
      request(server.url + "/", {
        client: server.client,
        headersTimeout: 800, // a tick every 100 ms while heads are awaited
        onResponse: (_r, body) => got.resolve(body),
        onError: got.reject,
      });
    }
    await turns(3);
  });
  // One interval, or none when a clock left by an earlier test already
  // ticks fast enough (the period only shrinks while it runs).
  assert.ok(waiting.intervals <= 1, `${waiting.intervals} intervals`);
  assert.equal(waiting.timeouts, 3); // turns(3)'s own
  assert.equal(CLOCK.running, true);
  const idle = await timersDuring(async () => {
    release.resolve();
    // The heads arrive; nobody reads the bodies: nothing waits.
    await within(deadline, Promise.all(bodies), "the heads");
    for (let i = 0; i < 1000 && CLOCK.running; i++) await sleep(5, deadline);
  });
  assert.equal(CLOCK.running, false, "the interval did not stop");
  assert.equal(idle.intervals, 0);
  assert.ok(idle.cleared >= 1);
  // 50 idle response bodies: no interval, no timeout but turns(20)'s own.
  const quiet = await timersDuring(() => turns(20));
  assert.deepEqual(quiet, { intervals: 0, timeouts: 20, cleared: 0 });
  for (const body of await Promise.all(bodies)) body.closeReader();
});

test("the clock: no timer per read or chunk: a download of many chunks starts at most one", async (deadline) => {
  await using server = serve(
    HTTP1,
    deadline,
    () => new Response(new Uint8Array(8 * MiB)),
  );
  let got = 0;
  const count = await timersDuring(async () => {
    const bytes = await within(
      deadline,
      new Promise<Uint8Array>((resolve, reject) =>
        request(server.url + "/", {
          client: server.client,
          headersTimeout: 5000,
          readTimeout: 5000,
          onResponse: (_r, body) => toBytes(body).then(resolve, reject),
          onError: reject,
        })
      ),
      "the download",
    );
    got = bytes.length;
  });
  assert.equal(got, 8 * MiB);
  assert.ok(
    count.intervals <= 1 && count.timeouts === 0,
    `${JSON.stringify(count)} for one download`,
  );
});

test("redirect: manual hands a 307 over; followed, a 307 cannot resend a streamed upload (onError)", async (deadline) => {
  await using server = serve(HTTP1, deadline, async (req) => {
    await req.body?.cancel();
    return new URL(req.url).pathname === "/moved"
      ? new Response(null, { status: 307, headers: { location: "/" } })
      : new Response("here");
  });
  const manual = exchange(server.url + "/moved", {
    method: "POST",
    redirect: "manual",
    client: server.client,
  }, (body) => body.closeWriter());
  assert.deepEqual((await manual.outcome(deadline)).events, [
    "returned",
    "onResponse 307",
    "onEof()",
  ]);
  const followed = exchange(server.url + "/moved", {
    method: "POST",
    client: server.client,
  }, (body) => {
    body.writeString("once");
    body.closeWriter();
  });
  assert.deepEqual((await followed.outcome(deadline)).events, [
    "returned",
    "onError(TypeError: Fetch failed: Can not redeliver a streaming request body after a redirect)",
  ]);
});

Deno.test("an async onResponse that rejects is reported and aborts the request, never uncaught", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("body"),
  );
  try {
    const reported = Promise.withResolvers<unknown>();
    const failure = new Error("async handler bug");
    request(`http://127.0.0.1:${server.addr.port}/`, {
      async onResponse(_response, body) {
        await Promise.resolve();
        body.closeReader();
        throw failure;
      },
      onError: () => reported.reject(new Error("onError after a response")),
      onCallbackError: reported.resolve,
    });
    assert.equal(await reported.promise, failure);
  } finally {
    await server.shutdown();
  }
});
