/**
 * The load clients of the HTTP benchmark (private to `bench/`): raw
 * HTTP/1.1 clients over `Deno.connect` for downloads, uploads and the
 * keep-alive hello load (the default: they cost the client little, so the
 * server is what is measured), `fetch` versions of download and upload
 * (`--client fetch`), and a client that sends a request, then reads
 * nothing.
 *
 * Every client is bounded in time (an `AbortSignal.timeout` or a deadline
 * that closes its sockets) and in count (bytes expected, requests per
 * connection).
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Time in seconds and bytes moved by one transfer. */
export interface Transfer {
  seconds: number;
  bytes: number;
}

/**
 * GETs `url` and reads the whole body through a BYOB reader into one
 * reused 64 KiB buffer (so the client allocates little per chunk).
 *
 * @throws {Error} when the status is not 200 or the length is not `expected`.
 */
export async function download(
  url: string,
  expected: number,
  timeoutMs: number,
): Promise<Transfer> {
  const start = performance.now();
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (response.status !== 200 || response.body === null) {
    await response.body?.cancel();
    throw new Error(`GET ${url}: status ${response.status}`);
  }
  let bytes = 0;
  const reader = response.body.getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(65536);
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (value !== undefined) buffer = value.buffer as ArrayBuffer;
    if (done) break;
    bytes += value.length;
  }
  const seconds = (performance.now() - start) / 1000;
  if (bytes !== expected) {
    throw new Error(`GET ${url}: ${bytes} bytes, expected ${expected}`);
  }
  return { seconds, bytes };
}

/** What the upload servers answer. */
export interface UploadReply {
  /** Bytes the server counted. */
  bytes: number;
  /** The server's `performance.now()` when it began and ended reading. */
  start: number;
  end: number;
  /** V8 heap bytes the server allocated while reading the body. */
  allocated: number;
}

/**
 * POSTs `bytes` as a streamed (chunked) body of 64 KiB chunks. The chunks
 * are one read-only buffer sent again and again: the servers only count.
 *
 * @throws {Error} when the server did not count exactly `bytes`.
 */
export async function upload(
  url: string,
  bytes: number,
  timeoutMs: number,
): Promise<Transfer & { reply: UploadReply }> {
  const chunk = new Uint8Array(65536).fill(0x61);
  let left = bytes;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const n = Math.min(chunk.length, left);
      if (n > 0) {
        controller.enqueue(n === chunk.length ? chunk : chunk.slice(0, n));
      }
      left -= n;
      if (left <= 0) controller.close();
    },
  });
  const start = performance.now();
  const response = await fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/octet-stream" },
    signal: AbortSignal.timeout(timeoutMs),
    duplex: "half",
  } as RequestInit);
  const text = await response.text();
  const seconds = (performance.now() - start) / 1000;
  const reply = JSON.parse(text) as UploadReply;
  if (response.status !== 200 || reply.bytes !== bytes) {
    throw new Error(`POST ${url}: ${response.status} ${text}`);
  }
  return { seconds, bytes, reply };
}

/**
 * GETs 127.0.0.1:`port``path` on a fresh connection with a raw HTTP/1.1
 * client: reads into one reused 256 KiB buffer and decodes the framing
 * (`content-length` or chunked) without copying a byte, so even a body
 * of 100-byte chunks costs the client little. `fetch` would deliver each
 * HTTP chunk as its own read, and become the bottleneck (measured: a
 * server of 100-byte chunks looked 2–4× slower through `fetch` than
 * through curl).
 *
 * @throws {Error} on a status other than 200, a framing error, or a body
 *   length other than `expected`.
 */
export async function rawDownload(
  port: number,
  path: string,
  expected: number,
  timeoutMs: number,
): Promise<Transfer> {
  const start = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => closeQuietly(conn), timeoutMs);
  try {
    conn.setNoDelay(true);
    await writeAll(
      conn,
      encoder.encode(
        `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n`,
      ),
    );
    const buffer = new Uint8Array(256 * 1024);
    let have = 0;
    let end = -1;
    while (end < 0) {
      if (have === buffer.length) throw new Error("response head too large");
      const n = await conn.read(buffer.subarray(have));
      if (n === null) throw new Error("connection closed before the head");
      have += n;
      end = headEnd(buffer, have);
    }
    const head = decoder.decode(buffer.subarray(0, end));
    if (!head.startsWith("HTTP/1.1 200")) {
      throw new Error(`GET ${path}: ${head.split("\r\n")[0]}`);
    }
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const body = length !== null
      ? new LengthBody(Number(length[1]))
      : /\r\ntransfer-encoding:\s*chunked/i.test(head)
      ? new ChunkedBody()
      : null;
    if (body === null) throw new Error(`GET ${path}: no framing in ${head}`);
    body.feed(buffer, end, have);
    // Bounded: by the expected length, and by the timer closing the socket.
    while (!body.done) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error(`GET ${path}: body cut short`);
      body.feed(buffer, 0, n);
      if (body.bytes > expected) {
        throw new Error(`GET ${path}: more than the ${expected} bytes asked`);
      }
    }
    const seconds = (performance.now() - start) / 1000;
    if (body.bytes !== expected) {
      throw new Error(`GET ${path}: ${body.bytes} bytes, expected ${expected}`);
    }
    return { seconds, bytes: body.bytes };
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

// A body framed by content-length: counts bytes up to the length.
class LengthBody {
  bytes = 0;
  done: boolean;
  #left: number;

  constructor(length: number) {
    this.#left = length;
    this.done = length === 0;
  }

  feed(_buffer: Uint8Array, from: number, to: number): void {
    const n = Math.min(this.#left, to - from);
    this.#left -= n;
    this.bytes += n;
    if (this.#left === 0) this.done = true;
    if (n < to - from) throw new Error("bytes after the body");
  }
}

// States of the chunked decoder.
const SIZE = 0; // hex digits of a chunk size
const EXTENSION = 1; // ";..." after the size, up to LF
const SIZE_LF = 2; // LF after the size line's CR
const DATA = 3; // chunk bytes
const DATA_CR = 4; // CR after the chunk bytes
const DATA_LF = 5; // LF after that CR
const TRAILER = 6; // trailer lines, up to an empty line

// A chunked body: counts data bytes; a state machine over the raw bytes.
class ChunkedBody {
  bytes = 0;
  done = false;
  #state = SIZE;
  #size = 0; // chunk size being parsed, then bytes left in the chunk
  #digits = 0;
  #lineLength = 0; // of the current trailer line

  feed(buffer: Uint8Array, from: number, to: number): void {
    let i = from;
    while (i < to) {
      if (this.done) throw new Error("bytes after the body");
      switch (this.#state) {
        case SIZE: {
          const c = buffer[i++]!;
          const digit = c >= 48 && c <= 57
            ? c - 48
            : c >= 97 && c <= 102
            ? c - 87
            : c >= 65 && c <= 70
            ? c - 55
            : -1;
          if (digit >= 0 && this.#digits < 12) {
            this.#size = this.#size * 16 + digit;
            this.#digits++;
          } else if (c === 13 && this.#digits > 0) this.#state = SIZE_LF;
          else if (c === 59 && this.#digits > 0) this.#state = EXTENSION;
          else throw new Error("bad chunk size");
          break;
        }
        case EXTENSION:
          if (buffer[i++] === 10) this.#sized();
          break;
        case SIZE_LF:
          if (buffer[i++] !== 10) throw new Error("bad chunk size line");
          this.#sized();
          break;
        case DATA: {
          const n = Math.min(this.#size, to - i);
          i += n;
          this.#size -= n;
          this.bytes += n;
          if (this.#size === 0) this.#state = DATA_CR;
          break;
        }
        case DATA_CR:
          if (buffer[i++] !== 13) throw new Error("chunk not followed by CRLF");
          this.#state = DATA_LF;
          break;
        case DATA_LF:
          if (buffer[i++] !== 10) throw new Error("chunk not followed by CRLF");
          this.#state = SIZE;
          this.#size = 0;
          this.#digits = 0;
          break;
        case TRAILER: {
          const c = buffer[i++]!;
          if (c === 10) {
            if (this.#lineLength === 0) this.done = true;
            this.#lineLength = 0;
          } else if (c !== 13) this.#lineLength++;
          break;
        }
      }
    }
  }

  #sized(): void {
    this.#state = this.#size === 0 ? TRAILER : DATA;
    this.#lineLength = 0;
  }
}

/**
 * POSTs `bytes` with a raw HTTP/1.1 client as a chunked body of 64 KiB
 * chunks, written from one reused, pre-framed buffer (the servers only
 * count), while reading the response concurrently.
 *
 * @throws {Error} on a status other than 200 or a count other than `bytes`.
 */
export async function rawUpload(
  port: number,
  bytes: number,
  timeoutMs: number,
): Promise<Transfer & { reply: UploadReply }> {
  const size = 65536;
  const frame = new Uint8Array(size + 9); // "10000\r\n" + data + "\r\n"
  frame.set(encoder.encode("10000\r\n"));
  frame.fill(0x61, 7, 7 + size);
  frame.set(encoder.encode("\r\n"), 7 + size);
  const start = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => closeQuietly(conn), timeoutMs);
  try {
    conn.setNoDelay(true);
    const buffer = new Uint8Array(65536);
    const response = readResponse(conn, buffer);
    response.catch(() => {}); // awaited below; a write error may come first
    await writeAll(
      conn,
      encoder.encode(
        "POST / HTTP/1.1\r\nhost: 127.0.0.1\r\n" +
          "content-type: application/octet-stream\r\n" +
          "transfer-encoding: chunked\r\n\r\n",
      ),
    );
    let left = bytes;
    for (; left >= size; left -= size) await writeAll(conn, frame);
    if (left > 0) {
      await writeAll(conn, encoder.encode(`${left.toString(16)}\r\n`));
      await writeAll(conn, frame.subarray(7, 7 + left));
      await writeAll(conn, encoder.encode("\r\n"));
    }
    await writeAll(conn, encoder.encode("0\r\n\r\n"));
    const [from, to] = await response;
    const seconds = (performance.now() - start) / 1000;
    const text = decoder.decode(buffer.subarray(from, to));
    const reply = JSON.parse(text) as UploadReply;
    if (reply.bytes !== bytes) {
      throw new Error(`POST: the server counted ${text}, sent ${bytes}`);
    }
    return { seconds, bytes, reply };
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

/** Requests completed by a keep-alive load. */
export interface Load {
  requests: number;
  seconds: number;
}

/**
 * Loads `GET /` on 127.0.0.1:`port` from `connections` keep-alive HTTP/1.1
 * connections for `durationMs`: each connection sends a request, reads
 * the whole response (`content-length` framing), and sends the next. Only
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
  const request = encoder.encode(
    "GET / HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: */*\r\n\r\n",
  );
  const conns = await Promise.all(
    Array.from(
      { length: connections },
      () => Deno.connect({ hostname: "127.0.0.1", port }),
    ),
  );
  const start = performance.now();
  const deadline = start + durationMs;
  // A connection stuck past the deadline (a hung server) is closed.
  const guard = setTimeout(() => {
    for (const conn of conns) closeQuietly(conn);
  }, durationMs + 5000);
  let requests = 0;
  try {
    await Promise.all(conns.map(async (conn) => {
      conn.setNoDelay(true);
      const buffer = new Uint8Array(65536);
      // Bounded by count too: no loop runs unbounded if time misbehaves.
      for (let i = 0; i < 10_000_000; i++) {
        if (performance.now() >= deadline) break;
        await writeAll(conn, request);
        await readResponse(conn, buffer);
        if (performance.now() <= deadline) requests++;
      }
    }));
  } finally {
    clearTimeout(guard);
    for (const conn of conns) closeQuietly(conn);
  }
  return { requests, seconds: durationMs / 1000 };
}

// Reads one 200 response with a content-length body into `buffer`
// (reused); returns where its body lies in `buffer`.
async function readResponse(
  conn: Deno.Conn,
  buffer: Uint8Array,
): Promise<[number, number]> {
  let have = 0;
  let end = -1;
  let need = -1;
  while (need < 0 || have < need) {
    if (have === buffer.length) throw new Error("response too large");
    const n = await conn.read(buffer.subarray(have));
    if (n === null) throw new Error("the server closed the connection");
    have += n;
    if (need < 0) {
      end = headEnd(buffer, have);
      if (end >= 0) need = end + contentLength(buffer.subarray(0, end));
    }
  }
  if (have !== need) throw new Error("unexpected bytes after the response");
  return [end, need];
}

// The index after "\r\n\r\n" in buffer[0, have), or -1.
function headEnd(buffer: Uint8Array, have: number): number {
  for (let i = 3; i < have; i++) {
    if (
      buffer[i] === 10 && buffer[i - 1] === 13 && buffer[i - 2] === 10 &&
      buffer[i - 3] === 13
    ) return i + 1;
  }
  return -1;
}

function contentLength(head: Uint8Array): number {
  const text = decoder.decode(head);
  if (!text.startsWith("HTTP/1.1 200")) {
    throw new Error(`unexpected response: ${text.split("\r\n")[0]}`);
  }
  const match = /\r\ncontent-length:\s*(\d+)/i.exec(text);
  if (match === null) throw new Error("response without content-length");
  return Number(match[1]);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) {
    off += await conn.write(bytes.subarray(off));
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
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
  await writeAll(
    conn,
    encoder.encode(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`),
  );
  return conn;
}
