/**
 * The load clients of the HTTP benchmark (private to `bench/`): raw
 * HTTP/1.1 clients over `Deno.connect` for downloads, uploads and the
 * keep-alive hello load (the default: they cost the client little, so the
 * server is what is measured), `fetch` versions of download and upload
 * (`--client fetch`), and a client that sends a request, then reads
 * nothing.
 *
 * Every client is bounded in time (an `AbortSignal.timeout`, or a timer
 * that closes its sockets) and in count (bytes expected, requests per
 * connection).
 *
 * @module
 */

import {
  ChunkedBody,
  connected,
  LengthBody,
  readHead,
  readResponse,
  request,
  writeAll,
} from "./_http1.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CHUNK = 65536;

/** Time in seconds and bytes moved by one transfer. */
export interface Transfer {
  seconds: number;
  bytes: number;
}

/** What the upload servers answer (and print, as `reply <json>`). */
export interface UploadReply {
  /** Bytes the server counted. */
  bytes: number;
  /** In how many chunks (`onRead` calls, reads) they came. */
  reads: number;
  /** The server's `performance.now()` when it began and ended reading. */
  start: number;
  end: number;
  /** V8 heap bytes the server allocated while reading the body. */
  allocated: number;
}

/** A transfer that was checked: `got` bytes where `expected` were due. */
function checked(what: string, start: number, got: number, expected: number) {
  if (got !== expected) {
    throw new Error(`${what}: ${got} bytes, not ${expected}`);
  }
  return { seconds: (performance.now() - start) / 1000, bytes: got };
}

/**
 * GETs `url` with `fetch` and reads the body through a BYOB reader into
 * one reused 64 KiB buffer (so the client allocates little per chunk).
 *
 * @throws {Error} when the status is not 200 or the length not `expected`.
 */
export async function download(
  url: string,
  expected: number,
  timeoutMs: number,
  client?: Deno.HttpClient,
): Promise<Transfer> {
  const start = performance.now();
  const signal = AbortSignal.timeout(timeoutMs);
  const response = await fetch(url, { signal, client });
  if (response.status !== 200 || response.body === null) {
    await response.body?.cancel();
    throw new Error(`GET ${url}: status ${response.status}`);
  }
  const reader = response.body.getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(CHUNK);
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (done) break;
    buffer = value.buffer as ArrayBuffer;
    bytes += value.length;
  }
  return checked(`GET ${url}`, start, bytes, expected);
}

/**
 * POSTs `bytes` with `fetch` as a streamed body of 64 KiB chunks: one
 * read-only buffer sent again and again (the servers only count).
 *
 * @throws {Error} when the server did not count exactly `bytes`.
 */
export async function upload(
  url: string,
  bytes: number,
  timeoutMs: number,
  client?: Deno.HttpClient,
): Promise<Transfer & { reply: UploadReply }> {
  const chunk = new Uint8Array(CHUNK).fill(0x61);
  let left = bytes;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const n = Math.min(chunk.length, left);
      if (n > 0) controller.enqueue(chunk.subarray(0, n));
      left -= n;
      if (left <= 0) controller.close();
    },
  });
  const start = performance.now();
  const response = await fetch(url, {
    method: "POST",
    body,
    signal: AbortSignal.timeout(timeoutMs),
    duplex: "half",
    client,
  } as RequestInit);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`POST ${url}: ${text}`);
  const reply = JSON.parse(text) as UploadReply;
  return { ...checked(`POST ${url}`, start, reply.bytes, bytes), reply };
}

/** A response read to its end by {@linkcode rawGet}. */
export interface RawResponse extends Transfer {
  /** The response head. */
  head: string;
  /** Every byte read: head, framing and body (what the wire carried). */
  wire: number;
}

/**
 * GETs 127.0.0.1:`port``path` (with `headers`, CRLF-ended lines) on a fresh
 * connection with a raw HTTP/1.1 client: reads into one reused 256 KiB
 * buffer and decodes the framing (`content-length` or chunked) without
 * copying a byte, so even a body of 100-byte chunks costs the client
 * little. `fetch` would deliver each HTTP chunk as its own read, and become
 * the bottleneck (measured: a server of 100-byte chunks looked 2–4× slower
 * through `fetch` than through curl). `bytes` counts the body alone.
 *
 * @throws {Error} on a status other than 200, a framing error, or a body
 *   longer than `limit`.
 */
export function rawGet(
  port: number,
  path: string,
  headers: string,
  limit: number,
  timeoutMs: number,
): Promise<RawResponse> {
  const start = performance.now();
  return connected(port, timeoutMs, async (conn) => {
    const what = `GET ${path}`;
    const close = "connection: close\r\n";
    await writeAll(conn, request("GET", path, close + headers));
    const buffer = new Uint8Array(256 * 1024);
    const { head, end, have } = await readHead(conn, buffer);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const body = length !== null
      ? new LengthBody(Number(length[1]))
      : /\r\ntransfer-encoding:\s*chunked/i.test(head)
      ? new ChunkedBody()
      : null;
    if (body === null) throw new Error(`${what}: no framing in ${head}`);
    body.feed(buffer, end, have);
    let wire = have;
    // Bounded: by the limit, and by the timer closing the socket.
    while (!body.done && body.bytes <= limit) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error(`${what}: body cut short`);
      wire += n;
      body.feed(buffer, 0, n);
    }
    const seconds = (performance.now() - start) / 1000;
    return { head, wire, bytes: body.bytes, seconds };
  });
}

/**
 * GETs `path` with {@linkcode rawGet}, a body of `expected` bytes.
 *
 * @throws {Error} as `rawGet` does, and for a length other than `expected`.
 */
export async function rawDownload(
  port: number,
  path: string,
  expected: number,
  timeoutMs: number,
): Promise<Transfer> {
  const start = performance.now();
  const { bytes } = await rawGet(port, path, "", expected, timeoutMs);
  return checked(`GET ${path}`, start, bytes, expected);
}

/**
 * POSTs `bytes` with a raw HTTP/1.1 client as a chunked body of 64 KiB
 * chunks, written from one reused, pre-framed buffer (the servers only
 * count), while reading the response concurrently.
 *
 * @throws {Error} on a status other than 200 or a count other than `bytes`.
 */
export function rawUpload(
  port: number,
  bytes: number,
  timeoutMs: number,
): Promise<Transfer & { reply: UploadReply }> {
  const frame = new Uint8Array(CHUNK + 9); // "10000\r\n" + data + "\r\n"
  frame.set(encoder.encode("10000\r\n"));
  frame.fill(0x61, 7, 7 + CHUNK);
  frame.set(encoder.encode("\r\n"), 7 + CHUNK);
  const start = performance.now();
  return connected(port, timeoutMs, async (conn) => {
    const buffer = new Uint8Array(CHUNK);
    const response = readResponse(conn, buffer);
    response.catch(() => {}); // awaited below; a write error may come first
    await writeAll(
      conn,
      request("POST", "/", "transfer-encoding: chunked\r\n"),
    );
    let left = bytes;
    for (; left >= CHUNK; left -= CHUNK) await writeAll(conn, frame);
    if (left > 0) {
      await writeAll(conn, encoder.encode(`${left.toString(16)}\r\n`));
      await writeAll(conn, frame.subarray(7, 7 + left));
      await writeAll(conn, encoder.encode("\r\n"));
    }
    await writeAll(conn, encoder.encode("0\r\n\r\n"));
    const [from, to] = await response;
    const text = decoder.decode(buffer.subarray(from, to));
    const reply = JSON.parse(text) as UploadReply;
    return { ...checked("POST", start, reply.bytes, bytes), reply };
  });
}

/** Requests completed by a keep-alive load. */
export interface Load {
  requests: number;
  seconds: number;
}

/**
 * Loads `GET /` on 127.0.0.1:`port` from `connections` keep-alive HTTP/1.1
 * connections for `durationMs`: each connection sends a request, reads the
 * whole response (`content-length` framing), and sends the next. Only
 * responses completed before the deadline count.
 *
 * @throws {Error} on a non-200 response, a response without
 *   `content-length`, or a connection closed by the server.
 */
export async function keepAliveLoad(
  port: number,
  connections: number,
  durationMs: number,
): Promise<Load> {
  const get = request("GET", "/", "accept: */*\r\n");
  const deadline = performance.now() + durationMs;
  let requests = 0;
  // A connection stuck past the deadline (a hung server) is closed.
  await Promise.all(
    Array.from(
      { length: connections },
      () =>
        connected(port, durationMs + 5000, async (conn) => {
          const buffer = new Uint8Array(CHUNK);
          // Bounded by count too: no loop runs unbounded if time misbehaves.
          for (let i = 0; i < 10_000_000; i++) {
            if (performance.now() >= deadline) break;
            await writeAll(conn, get);
            await readResponse(conn, buffer);
            if (performance.now() <= deadline) requests++;
          }
        }),
    ),
  );
  return { requests, seconds: durationMs / 1000 };
}

/**
 * Opens a connection, sends `GET path` and reads nothing: the response
 * backs up into the server. Close the returned connection to end it.
 */
export async function stalledRequest(
  port: number,
  path: string,
): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, request("GET", path, ""));
  return conn;
}
