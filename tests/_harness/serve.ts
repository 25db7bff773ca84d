// The h2 harness: `withBody` served by `Deno.serve` on 127.0.0.1, port 0,
// over HTTP/2 — h2c (prior knowledge, plain TCP) or TLS with ALPN h2 and
// the test certificate in `tests/fixtures/` — with a matching `fetch`
// client, a raw-frame client and a Node.js `node:http2` client. Not a test
// file (no `_test` suffix).
//
// Re-running a loopback test over HTTP/2 takes one line: `h2test(name, fn)`
// registers it once per protocol, and `fn` gets `h.serve(handler,
// options)` whose `fetch(path, init)` speaks that protocol:
//
//   h2test("echo is byte-exact", async (h) => {
//     await using server = h.serve((reqd) => echo(reqd));
//     const response = await server.fetch("/", { method: "POST", body });
//   });
//
// Bounds as in serve_test.ts: every test has a deadline signal (default
// 5 s) that `fetch`, the raw client, `within` and both servers' signals
// obey; the server is async-disposable (bounded shutdown, client closed,
// console.error restored, no unhandled rejection allowed).

import assert from "node:assert/strict";
import type { BodyHandler, WithBodyOptions } from "../../adapters/serve.ts";
import { type Reqd, withBody } from "../../mod.ts";
import { H2Connection } from "./h2frames.ts";

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`../fixtures/${name}`, import.meta.url));

/** The test certificate (127.0.0.1 and localhost), its key and its CA. */
export const tlsFixture = {
  cert: fixture("cert.pem"),
  key: fixture("key.pem"),
  ca: fixture("ca.pem"),
  caPath: new URL("../fixtures/ca.pem", import.meta.url).pathname,
};

/** A protocol the suites run over. */
export interface Protocol {
  readonly name: "http/1.1" | "h2c" | "h2 over TLS";
  readonly tls: boolean;
}

/** Plain HTTP/1.1, for suites that run over every protocol. */
export const HTTP1: Protocol = { name: "http/1.1", tls: false };

/** h2c with prior knowledge, then TLS with ALPN h2. */
export const PROTOCOLS: readonly Protocol[] = [
  { name: "h2c", tls: false },
  { name: "h2 over TLS", tls: true },
];

/** What an `h2test` body gets. */
export interface H2Test {
  readonly protocol: Protocol;
  /** Aborts when the test's time is up. */
  readonly deadline: AbortSignal;
  /** {@linkcode serveOver} for this protocol and deadline. */
  serve(
    handler: BodyHandler,
    options?: WithBodyOptions,
    setup?: ServeSetup,
  ): H2Served;
}

/** A Deno.test whose body gets a deadline signal aborting after `ms`. */
export function deadlineTest(
  name: string,
  fn: (deadline: AbortSignal) => Promise<void>,
  ms = 5000,
): void {
  Deno.test(name, async () => {
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new Error(`"${name}" timed out after ${ms} ms`)),
      ms,
    );
    try {
      await fn(deadline.signal);
    } finally {
      clearTimeout(timer);
    }
  });
}

/** Registers `name [h2c]` and `name [h2 over TLS]`. */
export function h2test(
  name: string,
  fn: (h: H2Test) => Promise<void>,
  ms = 5000,
): void {
  for (const protocol of PROTOCOLS) {
    deadlineTest(`${name} [${protocol.name}]`, (deadline) =>
      fn({
        protocol,
        deadline,
        serve: (handler, options, setup) =>
          serveOver(protocol, deadline, handler, options, setup),
      }), ms);
  }
}

/** A server under test, with clients that speak its protocol. */
export interface H2Served extends AsyncDisposable {
  readonly protocol: Protocol;
  readonly port: number;
  /** The origin, `http://127.0.0.1:<port>` or `https://…`. */
  readonly url: string;
  /** Arguments of every console.error call while serving. */
  readonly logs: unknown[][];
  /** Errors Deno.serve's own onError received (e.g. an errored stream). */
  readonly serveErrors: unknown[];
  /** `fetch(url + path)` over this protocol, bounded by the deadline. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** A raw-frame connection to this server (closed by the deadline). */
  connect(): Promise<H2Connection>;
  /** server.shutdown(), failing if it does not finish within `ms`. */
  shutdown(ms?: number): Promise<void>;
}

/** How Deno.serve is set up around withBody. */
export interface ServeSetup {
  /**
   * Give Deno.serve withBody's `options.signal` too (default false: it
   * gets only the deadline, so `server.shutdown()` is graceful). Either
   * way, once `shutdown()` began neither cuts connections any more.
   */
  shareSignal?: boolean;
}

/** `Deno.serve` options that make it speak `protocol` (TLS or not). */
export function listenOptions(protocol: Protocol): Deno.ServeTcpOptions {
  const tls = protocol.tls
    ? { cert: tlsFixture.cert, key: tlsFixture.key }
    : {};
  return { hostname: "127.0.0.1", port: 0, onListen() {}, ...tls };
}

/**
 * A `fetch` client that speaks only `protocol`: HTTP/1.1, or HTTP/2 with
 * prior knowledge on a plain port and ALPN h2 trusting the test CA over
 * TLS. Close it when done.
 */
export function h2Client(protocol: Protocol): Deno.HttpClient {
  const ca = protocol.tls ? { caCerts: [tlsFixture.ca] } : {};
  const h1 = protocol.name === "http/1.1";
  return Deno.createHttpClient({ http1: h1, http2: !h1, ...ca });
}

/**
 * Serves `handler` through withBody over `protocol`. withBody's signal is
 * `options.signal` joined with the deadline; Deno.serve's is aborted by the
 * deadline (and `options.signal` if `shareSignal`) unless a shutdown began.
 */
export function serveOver(
  protocol: Protocol,
  deadline: AbortSignal,
  handler: BodyHandler,
  options: WithBodyOptions = {},
  { shareSignal = false }: ServeSetup = {},
): H2Served {
  const signal = options.signal === undefined
    ? deadline
    : AbortSignal.any([options.signal, deadline]);
  const cut = cutter([deadline, shareSignal ? options.signal : undefined]);
  const capture = captureErrors();
  const serveErrors: unknown[] = [];
  const server = Deno.serve({
    ...listenOptions(protocol),
    signal: cut.signal,
    onError(error) {
      serveErrors.push(error);
      return new Response("Deno.serve onError", { status: 500 });
    },
  }, withBody(handler, { ...options, signal }));
  const client = h2Client(protocol);
  const port = server.addr.port;
  const url = `${protocol.tls ? "https" : "http"}://127.0.0.1:${port}`;
  let down: Promise<void> | null = null;
  const shutdown = (ms = 3000) => {
    if (down === null) {
      cut.drain();
      down = bounded(server.shutdown(), ms);
    }
    return down;
  };
  const ca = protocol.tls ? tlsFixture.ca : undefined;
  return {
    protocol,
    port,
    url,
    logs: capture.logs,
    serveErrors,
    fetch: (path, init) =>
      fetch(url + path, { signal: deadline, ...init, client }),
    connect: () => H2Connection.open(port, deadline, ca),
    shutdown,
    async [Symbol.asyncDispose]() {
      try {
        await shutdown();
      } finally {
        client.close();
        capture.restore();
      }
    },
  };
}

// Deno.serve's own signal cuts every connection. Once shutdown() began,
// aborting it throws an uncaught BadResource (Deno 2.9.6), so `drain()`
// stops the `from` signals from reaching it: a deadline that expires
// during a shutdown leaves the server to that shutdown.
function cutter(from: (AbortSignal | undefined)[]) {
  const cut = new AbortController();
  let draining = false;
  for (const source of from) {
    source?.addEventListener("abort", () => {
      if (!draining) cut.abort(source.reason);
    }, { once: true });
  }
  return { signal: cut.signal, drain: () => void (draining = true) };
}

// Captures console.error (withBody logs handler errors by design) and
// unhandled rejections; `restore()` puts console.error back and fails if
// any rejection went unhandled.
function captureErrors() {
  const logs: unknown[][] = [];
  const rejections: unknown[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void logs.push(args);
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    rejections.push(event.reason);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  const restore = () => {
    console.error = consoleError;
    globalThis.removeEventListener("unhandledrejection", onRejection);
    assert.deepEqual(rejections, [], "unhandled rejections");
  };
  return { logs, restore };
}

// `shutdown`, failing if it does not finish within `ms`.
async function bounded(shutdown: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`server.shutdown() took over ${ms} ms`)),
      ms,
    );
  });
  try {
    await Promise.race([shutdown, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `promise`, or a rejection naming `what` once `signal` aborts first. */
export function within<T>(
  signal: AbortSignal,
  promise: Promise<T>,
  what: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () =>
      reject(
        new Error(`gave up waiting for ${what}: ${String(signal.reason)}`),
      );
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Reads a fetch body to its end: `"end"` for a clean end, else the error
 * its read rejected with (the deadline's abort is rethrown, so a timeout
 * never passes for a broken transfer). Chunks read go to `chunks`.
 */
export async function readBody(
  deadline: AbortSignal,
  response: Response,
  chunks: Uint8Array[] = [],
): Promise<"end" | Error> {
  const reader = response.body!.getReader();
  for (let i = 0; i < 100_000; i++) {
    try {
      const { done, value } = await reader.read();
      if (done) return "end";
      chunks.push(value);
    } catch (error) {
      if (deadline.aborted) throw deadline.reason;
      return error as Error;
    }
  }
  throw new Error("readBody: no end after 100000 chunks");
}

/**
 * Waits until `progress()` stops changing for `still` checks `every` ms
 * apart (at most `limit` checks). "Nothing more happens" has no event, so
 * this is the one place where time passing is the signal.
 */
export async function quiescent(
  deadline: AbortSignal,
  progress: () => number,
  { every = 20, still = 10, limit = 200 } = {},
): Promise<void> {
  let last = progress();
  let unchanged = 0;
  for (let i = 0; i < limit && unchanged < still; i++) {
    await within(
      deadline,
      new Promise((resolve) => setTimeout(resolve, every)),
      "a quiet moment",
    );
    const now = progress();
    unchanged = now === last ? unchanged + 1 : 0;
    last = now;
  }
  assert.ok(unchanged >= still, `still progressing after ${limit} checks`);
}

/** What a Node.js client script printed, one JSON value a line. */
export interface NodeRun {
  code: number;
  events: unknown[];
  stderr: string;
}

/**
 * Runs `node tests/fixtures/<script> <args…>` (Node.js as an independent
 * HTTP/2 client), killed when the deadline aborts.
 */
export async function runNode(
  deadline: AbortSignal,
  script: string,
  args: string[],
): Promise<NodeRun> {
  const path = new URL(`../fixtures/${script}`, import.meta.url).pathname;
  const output = await new Deno.Command("node", {
    args: [path, ...args],
    stdout: "piped",
    stderr: "piped",
    signal: deadline,
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  return {
    code: output.code,
    events: text === "" ? [] : text.split("\n").map((line) => JSON.parse(line)),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/** The error class and message of `error`, for whole-array assertions. */
export function describe(error: unknown): string {
  return error instanceof Error
    ? `${error.constructor.name}: ${error.message}`
    : `non-error: ${String(error)}`;
}

/** Index of the first byte where `a` and `b` differ, -1 if equal. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/**
 * httpaf's echo: scheduleRead → writeBigstring → flush → scheduleRead.
 * `chunks` records each onRead's length and its buffer's byteLength.
 */
export function echo(reqd: Reqd, chunks?: [number, number][]): void {
  const input = reqd.requestBody;
  const output = reqd.respondWithStreaming({ status: 200 });
  const onRead = (buffer: Uint8Array, off: number, len: number) => {
    chunks?.push([len, buffer.buffer.byteLength]);
    output.writeBigstring(buffer, off, len);
    output.flush((result) => {
      if (result === "written") input.scheduleRead({ onRead, onEof });
      else input.closeReader();
    });
  };
  const onEof = (error?: unknown) => {
    if (error === undefined) output.closeWriter();
    else reqd.reportException(error);
  };
  input.scheduleRead({ onRead, onEof });
}
