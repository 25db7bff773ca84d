/**
 * The raw HTTP/1.1 pieces of the load clients (private to `bench/`): a
 * bounded loopback connection, request heads, response heads read into a
 * reused buffer, and body framings (`content-length`, chunked) that count
 * bytes in place without copying them.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Runs `use` on a fresh loopback connection, closed after it, or after
 * `timeoutMs` (which makes a pending read or write fail).
 */
export async function connected<T>(
  port: number,
  timeoutMs: number,
  use: (conn: Deno.Conn) => Promise<T>,
): Promise<T> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => closeQuietly(conn), timeoutMs);
  try {
    conn.setNoDelay(true);
    return await use(conn);
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

/** The head of a request to 127.0.0.1 with `headers` (CRLF-ended lines). */
export function request(
  method: string,
  path: string,
  headers: string,
): Uint8Array {
  return encoder.encode(
    `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${headers}\r\n`,
  );
}

/**
 * Reads into `buffer` (from its start) until a whole response head is in;
 * returns the head, where it ends and how many bytes were read.
 *
 * @throws {Error} when the status is not 200.
 */
export async function readHead(conn: Deno.Conn, buffer: Uint8Array) {
  let have = 0;
  for (let end = headEnd(buffer, have); end < 0; end = headEnd(buffer, have)) {
    if (have === buffer.length) throw new Error("response head too large");
    const n = await conn.read(buffer.subarray(have));
    if (n === null) throw new Error("the server closed the connection");
    have += n;
  }
  const end = headEnd(buffer, have);
  const head = decoder.decode(buffer.subarray(0, end));
  if (!head.startsWith("HTTP/1.1 200")) {
    throw new Error(`unexpected response: ${head.split("\r\n")[0]}`);
  }
  return { head, end, have };
}

/**
 * Reads one 200 response with a content-length body into `buffer`
 * (reused); returns where its body lies in `buffer`.
 */
export async function readResponse(
  conn: Deno.Conn,
  buffer: Uint8Array,
): Promise<[number, number]> {
  let { head, end, have } = await readHead(conn, buffer);
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length === null) throw new Error("response without content-length");
  const need = end + Number(length[1]);
  while (have < need) {
    if (have === buffer.length) throw new Error("response too large");
    const n = await conn.read(buffer.subarray(have));
    if (n === null) throw new Error("the server closed the connection");
    have += n;
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

/** Writes all of `bytes`. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  for (let off = 0; off < bytes.length;) {
    off += await conn.write(bytes.subarray(off));
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed: by the timer, or by the server
  }
}

/** A body framed by content-length: counts bytes up to the length. */
export class LengthBody {
  bytes = 0;
  #length: number;

  constructor(length: number) {
    this.#length = length;
  }

  get done(): boolean {
    return this.bytes === this.#length;
  }

  feed(_buffer: Uint8Array, from: number, to: number): void {
    this.bytes += to - from;
    if (this.bytes > this.#length) throw new Error("bytes after the body");
  }
}

/**
 * A chunked body: counts data bytes; a state machine over the raw bytes
 * that allocates nothing (servers of 100-byte chunks send millions).
 */
export class ChunkedBody {
  bytes = 0;
  done = false;
  #state: "size" | "line" | "data" | "cr" | "lf" | "trailer" = "size";
  #size = 0; // the chunk size being parsed, then data bytes left
  #digits = 0;
  #lineLength = 0; // of the current trailer line

  feed(buffer: Uint8Array, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      if (this.done) throw new Error("bytes after the body");
      const c = buffer[i]!;
      if (this.#state === "data") {
        const n = Math.min(this.#size, to - i);
        this.bytes += n;
        this.#size -= n;
        i += n - 1;
        if (this.#size === 0) this.#state = "cr";
      } else if (this.#state === "size") this.#sizeByte(c);
      else if (this.#state === "line") {
        // The rest of the size line (extensions), up to its LF.
        if (c === 10) this.#state = this.#size === 0 ? "trailer" : "data";
      } else if (this.#state === "cr" || this.#state === "lf") {
        if (c !== (this.#state === "cr" ? 13 : 10)) {
          throw new Error("chunk not followed by CRLF");
        }
        this.#state = this.#state === "cr" ? "lf" : "size";
      } else if (c === 10) { // trailer lines, up to an empty one
        this.done = this.#lineLength === 0;
        this.#lineLength = 0;
      } else if (c !== 13) this.#lineLength++;
    }
  }

  #sizeByte(c: number): void {
    const digit = c >= 48 && c <= 57
      ? c - 48
      : (c | 32) >= 97 && (c | 32) <= 102
      ? (c | 32) - 87
      : -1;
    if (digit >= 0 && this.#digits < 12) {
      this.#size = this.#size * 16 + digit; // 0 after the previous chunk
      this.#digits++;
    } else if ((c === 13 || c === 59) && this.#digits > 0) {
      this.#digits = 0;
      this.#state = "line";
    } else throw new Error("bad chunk size");
  }
}
