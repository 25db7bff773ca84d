// A raw HTTP/1.1 client for loopback tests: requests written by hand on
// one TCP connection (so faults such as disconnects, stalls and partial
// uploads can be expressed), and a parser for the responses. Not a test
// file (no `_test` suffix).
import assert from "node:assert/strict";
import { concat } from "./util.ts";

const encoder = new TextEncoder();
const KiB = 1024;
const MiB = 1024 * KiB;

export interface RawResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
  complete: boolean; // the whole body (content-length or chunked) arrived
  size: number; // bytes of `data` this response takes, when complete
}

/**
 * Parses the first response in `data`: head, then a body framed by
 * content-length or chunked encoding (a HEAD-less, 1xx-less subset).
 * `null` while the head is incomplete. Only the head and chunk-size lines
 * are decoded, so parsing a growing buffer again after each read is cheap.
 */
export function parseResponse(data: Uint8Array): RawResponse | null {
  const end = indexOf(data, "\r\n\r\n", 0);
  if (end < 0) return null;
  const [statusLine, ...lines] = latin1(data.subarray(0, end)).split("\r\n");
  const status = Number(statusLine!.split(" ")[1]);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  let at = end + 4;
  const length = headers.get("content-length");
  if (length !== null) {
    const body = data.subarray(at, at + Number(length));
    return {
      status,
      headers,
      body,
      complete: body.length === Number(length),
      size: at + body.length,
    };
  }
  const chunks: Uint8Array[] = [];
  for (;;) {
    const lineEnd = indexOf(data, "\r\n", at);
    if (lineEnd < 0) break;
    const size = parseInt(latin1(data.subarray(at, lineEnd)), 16);
    if (Number.isNaN(size)) break; // not a chunk size: never complete
    if (size === 0) {
      return {
        status,
        headers,
        body: concat(chunks),
        complete: indexOf(data, "\r\n", lineEnd + 2) === lineEnd + 2,
        size: lineEnd + 4,
      };
    }
    if (lineEnd + 2 + size + 2 > data.length) break;
    chunks.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return {
    status,
    headers,
    body: concat(chunks),
    complete: false,
    size: at,
  };
}

// Index of the first occurrence of the ASCII `pattern` in `data` at or
// after `from`, or -1.
function indexOf(data: Uint8Array, pattern: string, from: number): number {
  const first = pattern.charCodeAt(0);
  const last = data.length - pattern.length;
  outer: for (let i = data.indexOf(first, from); i >= 0 && i <= last;) {
    for (let k = 1; k < pattern.length; k++) {
      if (data[i + k] !== pattern.charCodeAt(k)) {
        i = data.indexOf(first, i + 1);
        continue outer;
      }
    }
    return i;
  }
  return -1;
}

/**
 * A hand-written HTTP/1.1 client on one TCP connection. It closes its
 * socket when the deadline aborts, so a pending read ends.
 */
export class RawClient implements Disposable {
  readonly #conn: Deno.TcpConn;
  readonly #deadline: AbortSignal;
  #data = new Uint8Array(64 * KiB); // received bytes: #data[0, #length)
  #length = 0;
  #closed = false;

  private constructor(conn: Deno.TcpConn, deadline: AbortSignal) {
    this.#conn = conn;
    this.#deadline = deadline;
    deadline.addEventListener("abort", this.close, { once: true });
  }

  static async open(port: number, deadline: AbortSignal): Promise<RawClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    return new RawClient(conn, deadline);
  }

  /** Everything received so far. */
  get received(): Uint8Array {
    return this.#data.subarray(0, this.#length);
  }

  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    for (let off = 0; off < bytes.length;) {
      off += await this.#conn.write(bytes.subarray(off));
    }
  }

  /**
   * Reads until `done(received)` holds; fails at EOF, after `limit` bytes
   * or when the deadline aborts.
   */
  async readUntil(
    done: (received: Uint8Array) => boolean,
    what: string,
    limit = 16 * MiB,
  ): Promise<Uint8Array> {
    while (!done(this.received)) {
      assert.ok(this.#length < limit, `read ${limit} bytes, no ${what}`);
      if (this.#length === this.#data.length) {
        const grown = new Uint8Array(this.#data.length * 2);
        grown.set(this.#data);
        this.#data = grown;
      }
      let n: number | null;
      try {
        n = await this.#conn.read(this.#data.subarray(this.#length));
      } catch (error) {
        if (this.#deadline.aborted) throw this.#deadline.reason;
        throw error;
      }
      if (n === null) {
        assert.fail(
          `EOF before ${what}: ${JSON.stringify(latin1(this.received))}`,
        );
      }
      this.#length += n;
    }
    return this.received;
  }

  /** Reads the first whole response. */
  async response(): Promise<RawResponse> {
    await this.readUntil(
      (data) => parseResponse(data)?.complete === true,
      "a complete response",
    );
    return parseResponse(this.received)!;
  }

  close = (): void => {
    if (this.#closed) return;
    this.#closed = true;
    this.#deadline.removeEventListener("abort", this.close);
    this.#conn.close();
  };

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The bytes as a string, one char per byte. */
export function latin1(data: Uint8Array): string {
  let out = "";
  for (let i = 0; i < data.length; i += 8192) {
    out += String.fromCharCode(...data.subarray(i, i + 8192));
  }
  return out;
}
