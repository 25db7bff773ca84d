/**
 * What every benchmark server shares (private to `bench/servers/`).
 *
 * A server listens on 127.0.0.1 at the `PORT` environment variable (0, or
 * unset: any free port) and prints one line, `ready <port> <control port>`,
 * once both listeners are up. Its arguments are its options (see
 * {@linkcode option}): `tls` serves HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with
 * the test certificate of `tests/fixtures/`; `timeouts=off` gives `withBody`
 * servers `readTimeout: Infinity, writeTimeout: Infinity` (`timeouts=short`:
 * 2 s each); `encoding=gzip`
 * (or `br`) makes `sse_ours.ts` compress. Plain servers
 * speak HTTP/1.1 and h2c (prior knowledge) on the same port. The measured
 * handler runs alone on its port; `/quit` (exit cleanly, which flushes V8's
 * `--trace-gc` output) lives on a second, control listener so it never adds
 * work to the measured path.
 * With `--expose-gc`, a line `gc-clock <performance.now()>` comes first: the
 * end of a forced GC, to map `--trace-gc` timestamps onto
 * `performance.now()` (see {@linkcode beginSpan}).
 *
 * @module
 */

import v8 from "node:v8";
import type { WithBodyOptions } from "../../mod.ts";

/** What each option may be: `name` alone (a flag) or `name=value`. */
const OPTIONS: Record<string, readonly string[]> = {
  tls: [""],
  timeouts: ["on", "off", "short"],
  encoding: ["identity", "gzip", "br"],
  pass: [""],
};

// The server's options, from its arguments, checked. `upstream=<port>`:
// where a proxy forwards (a local server of the same run).
const ARGS = new Map(Deno.args.map((arg) => {
  const [name = "", value = ""] = arg.split("=", 2);
  const port = name === "upstream" && /^\d{1,5}$/.test(value);
  if (!port && !OPTIONS[name]?.includes(value)) {
    const known = Object.entries(OPTIONS).map(([name, values]) =>
      values[0] === "" ? name : `${name}=${values.join("|")}`
    );
    throw new TypeError(
      `bench server: options are ${known.join(", ")}, received ${arg}`,
    );
  }
  return [name, value];
}));

/** The upstream origin of a proxy server (`upstream=<port>`). */
export function upstream(): string {
  const port = option("upstream");
  if (port === undefined) throw new TypeError("bench server: upstream=<port>");
  return `http://127.0.0.1:${port}`;
}

/** The value of option `name` (`""` for a flag), or `fallback`. */
export function option(name: string, fallback?: string): string | undefined {
  return ARGS.get(name) ?? fallback;
}

/**
 * `withBody` options from the arguments: `timeouts=off` disables both,
 * `timeouts=short` sets both to {@linkcode SHORT_TIMEOUT}.
 */
export function bodyOptions(): WithBodyOptions {
  const timeouts = option("timeouts");
  if (timeouts === "off") {
    return { readTimeout: Infinity, writeTimeout: Infinity };
  }
  if (timeouts === "short") {
    return { readTimeout: SHORT_TIMEOUT, writeTimeout: SHORT_TIMEOUT };
  }
  return {};
}

/** The timeouts of `timeouts=short`, in ms. */
export const SHORT_TIMEOUT = 2000;

// The test certificate's directory; servers may read it (`_process.ts`).
const FIXTURES = new URL("../../tests/fixtures/", import.meta.url);

/** V8 heap bytes allocated since the process started. */
export function allocatedBytes(): number {
  const heap = v8.getHeapStatistics() as { total_allocated_bytes?: number };
  return heap.total_allocated_bytes ?? NaN;
}

const gc = (globalThis as { gc?: () => void }).gc;

/** A measured span of a server's work, as its reply reports it. */
export interface Span {
  /** `performance.now()` at its start and end. */
  start: number;
  end: number;
  /** V8 heap bytes allocated from start to end. */
  allocated: number;
}

/**
 * Starts a measured span: a forced full GC first when the process runs with
 * `--expose-gc` (every span starts from the same heap state), then the
 * clock and the allocation counter.
 */
export function beginSpan(): { start: number; allocated: number } {
  gc?.();
  return { start: performance.now(), allocated: allocatedBytes() };
}

/** Ends a span begun by {@linkcode beginSpan} (then a forced GC again). */
export function endSpan(begun: { start: number; allocated: number }): Span {
  const end = performance.now();
  const allocated = allocatedBytes() - begun.allocated;
  gc?.();
  return { start: begun.start, end, allocated };
}

/**
 * The answer of an upload server, as JSON text: what it counted and the
 * span of the reading. Also printed, as `reply <json>`: the driver reads it
 * there when the client (h2load) does not show response bodies.
 */
export function uploadReply(
  counted: { bytes: number; reads: number },
  span: Span,
): string {
  const json = JSON.stringify({ ...counted, ...span });
  console.log(`reply ${json}`);
  return json;
}

/** The headers of an upload server's answer. */
export const JSON_HEADERS = { "content-type": "application/json" };

/**
 * The `bytes` query parameter (or another, `name`): how much a request
 * asks for.
 *
 * @throws {RangeError} when it is missing or not a non-negative integer.
 */
export function bytesParam(url: string, name = "bytes"): number {
  const value = Number(new URL(url).searchParams.get(name));
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`expected ?${name}=<integer>, received ${url}`);
  }
  return value;
}

/** 99 letters and a newline: one 100-byte write. */
export const LINE = "abcdefghijklmnopqrstuvwxyz".repeat(4).slice(0, 99) + "\n";

/**
 * 100-byte writes per flush (ours) or per pull (naive): 655 writes, 65,500
 * bytes, the most that fit one 64 KiB chunk.
 */
export const PACE = 655;

/** Chunk size of the download and upload scenarios. */
export const CHUNK = 65536;

// Made once, never modified: sending it again and again is safe even though
// Deno's server keeps references to enqueued chunks.
const PREMADE = new Uint8Array(CHUNK).fill(0x61);

/**
 * Bytes and chunks read from `stream` by a hand-written BYOB loop into one
 * reused `CHUNK`-byte buffer (a default reader when Deno hands over a small
 * body as a plain stream): the raw servers' way to consume an upload.
 */
export async function countBytes(stream: ReadableStream<Uint8Array>) {
  let bytes = 0;
  let reads = 0;
  let reader: ReadableStreamBYOBReader;
  try {
    reader = stream.getReader({ mode: "byob" });
  } catch { // not a byte stream (a small body that arrived whole)
    for await (const chunk of stream) {
      bytes += chunk.length;
      reads++;
    }
    return { bytes, reads };
  }
  let buffer = new ArrayBuffer(CHUNK);
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (value !== undefined) buffer = value.buffer as ArrayBuffer;
    if (done) return { bytes, reads };
    bytes += value.length;
    reads++;
  }
}

/**
 * The download chunk of `n` ≤ {@linkcode CHUNK} bytes: the one pre-made,
 * read-only buffer (or a view of its start), so both download servers send
 * the very same memory and allocate nothing per chunk.
 */
export function premadeChunk(n: number): Uint8Array {
  return n === CHUNK ? PREMADE : PREMADE.subarray(0, n);
}

/**
 * Serves `handler` on 127.0.0.1:`PORT` and the control routes on a free
 * port, then prints `ready <port> <control port>`.
 */
export function serve(
  handler: (request: Request) => Response | Promise<Response>,
): void {
  const port = Number(Deno.env.get("PORT") ?? "0");
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`PORT must be 0..65535, received ${port}`);
  }
  const control = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/quit") {
        // Deno.exit runs libc's exit, which flushes V8's buffered trace lines.
        setTimeout(() => Deno.exit(0), 20);
        return new Response("bye\n");
      }
      return new Response("not found\n", { status: 404 });
    },
  );
  if (gc !== undefined) {
    // Clock calibration for --trace-gc, whose lines carry V8's own clock:
    // the first "testing" GC line is this one, ended at `performance.now()`.
    gc();
    console.log(`gc-clock ${performance.now()}`);
  }
  const read = (name: string) => Deno.readTextFileSync(new URL(name, FIXTURES));
  const tls = option("tls") === undefined
    ? {}
    : { cert: read("cert.pem"), key: read("key.pem") };
  Deno.serve(
    {
      hostname: "127.0.0.1",
      port,
      ...tls,
      onListen: (addr) =>
        console.log(`ready ${addr.port} ${control.addr.port}`),
    },
    handler,
  );
}
