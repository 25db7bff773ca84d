// A raw HTTP/2 client for the h2 suite: hand-written frames over one TCP
// (h2c, prior knowledge) or TLS (ALPN h2) connection, for the faults that
// `fetch` cannot express — a reset with a chosen code, a reset mid-upload
// with a declared content-length, frames that must arrive in one write.
// Not a test file (no `_test` suffix).
//
// What it speaks (RFC 9113): the preface and SETTINGS; HEADERS with HPACK
// literals without indexing and without Huffman (the server must decode
// them, nothing more); DATA split into 16 KiB frames within the server's
// flow-control windows; RST_STREAM; PING and SETTINGS acks. What it
// reads: every frame, recorded per stream (GOAWAY codes per connection).
// Response heads are decoded only as far as a statically indexed
// `:status` (hyper sends 200, 204, 206, 304, 400, 404 and 500 that way);
// anything else reads as `null`.

import assert from "node:assert/strict";
import { concat } from "./util.ts";

const encoder = new TextEncoder();
const PREFACE = encoder.encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const MAX_FRAME = 16384; // the default SETTINGS_MAX_FRAME_SIZE
const WINDOW = 1 << 24; // what this client lets the server send ahead

/** Frame types (RFC 9113 §6). */
export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
} as const;

/** Error codes (RFC 9113 §7). */
export const ErrorCode = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  STREAM_CLOSED: 5,
  REFUSED_STREAM: 7,
  CANCEL: 8,
} as const;

const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const STATIC_STATUS: Record<number, number> = {
  0x88: 200,
  0x89: 204,
  0x8a: 206,
  0x8b: 304,
  0x8c: 400,
  0x8d: 404,
  0x8e: 500,
};

/** One frame as it goes on the wire. */
export function frame(
  type: number,
  flags: number,
  stream: number,
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const out = new Uint8Array(9 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, (payload.length << 8) | type);
  out[4] = flags;
  view.setUint32(5, stream & 0x7fffffff);
  out.set(payload, 9);
  return out;
}

// A header block of literals without indexing, new names, no Huffman.
function headerBlock(fields: [string, string][]): Uint8Array {
  const out: number[] = [];
  for (const [name, value] of fields) {
    out.push(0x00);
    for (const text of [name, value]) {
      const bytes = encoder.encode(text);
      assert.ok(bytes.length < 127, `header field too long: ${text}`);
      out.push(bytes.length, ...bytes);
    }
  }
  return new Uint8Array(out);
}

function words(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((value, i) => view.setUint32(i * 4, value));
  return out;
}

/** A request head: HEADERS with END_HEADERS (and END_STREAM if asked). */
export interface RequestHead {
  method?: string;
  path?: string;
  headers?: [string, string][];
  endStream?: boolean;
}

/** What the client saw of one stream. */
export interface StreamView {
  /** `:status` when statically indexed, else `null` (also before HEADERS). */
  status: number | null;
  headersSeen: boolean;
  /** DATA payloads received, in order. */
  chunks: Uint8Array[];
  /** END_STREAM received from the server. */
  ended: boolean;
  /** The server's RST_STREAM error code, if it reset the stream. */
  reset: number | null;
}

/** One raw HTTP/2 connection to a local server. */
export class H2Connection implements Disposable {
  readonly #conn: Deno.Conn;
  readonly #scheme: string;
  readonly #streams = new Map<number, StreamView>();
  #input: Uint8Array = new Uint8Array(0); // unparsed bytes
  #writing: Promise<void> = Promise.resolve(); // every write, in order
  #wake: (() => void)[] = [];
  #connWindow = 65535; // what we may still send on the connection
  #streamInitial = 65535; // the server's SETTINGS_INITIAL_WINDOW_SIZE
  #streamWindows = new Map<number, number>();
  #state: "open" | "closed" = "open";
  /** GOAWAY error codes received. */
  readonly goaways: number[] = [];
  /** Resolves when the server closed the connection (or it failed). */
  readonly closed: Promise<void>;

  private constructor(conn: Deno.Conn, scheme: string, deadline: AbortSignal) {
    this.#conn = conn;
    this.#scheme = scheme;
    deadline.addEventListener("abort", () => this.close(), { once: true });
    this.closed = this.#readLoop();
  }

  /**
   * Connects to 127.0.0.1:`port` — over TLS with ALPN h2 when `ca` (the PEM
   * of the CA to trust) is given — and sends the preface, SETTINGS with a
   * 16 MiB stream window and a connection WINDOW_UPDATE to match.
   */
  static async open(
    port: number,
    deadline: AbortSignal,
    ca?: string,
  ): Promise<H2Connection> {
    const hostname = "127.0.0.1";
    let conn: Deno.Conn;
    if (ca === undefined) {
      conn = await Deno.connect({ hostname, port });
    } else {
      const tls = await Deno.connectTls({
        hostname,
        port,
        caCerts: [ca],
        alpnProtocols: ["h2"],
      });
      const { alpnProtocol } = await tls.handshake();
      assert.equal(alpnProtocol, "h2", "ALPN did not select h2");
      conn = tls;
    }
    const client = new H2Connection(conn, ca ? "https" : "http", deadline);
    const settings = new Uint8Array(6);
    new DataView(settings.buffer).setUint16(0, 0x4); // INITIAL_WINDOW_SIZE
    new DataView(settings.buffer).setUint32(2, WINDOW);
    await client.write(
      PREFACE,
      frame(FrameType.SETTINGS, 0, 0, settings),
      frame(FrameType.WINDOW_UPDATE, 0, 0, words(WINDOW - 65535)),
    );
    return client;
  }

  /** What the client saw of `stream` so far. */
  stream(id: number): StreamView {
    let view = this.#streams.get(id);
    if (view === undefined) {
      view = {
        status: null,
        headersSeen: false,
        chunks: [],
        ended: false,
        reset: null,
      };
      this.#streams.set(id, view);
    }
    return view;
  }

  /** Writes `chunks` as one write, after every earlier write. */
  write(...chunks: Uint8Array[]): Promise<void> {
    const bytes = concat(chunks);
    const written = this.#writing.then(async () => {
      for (let off = 0; off < bytes.length;) {
        off += await this.#conn.write(bytes.subarray(off));
      }
    });
    this.#writing = written.catch(() => {}); // the caller sees the failure
    return written;
  }

  /** The HEADERS frame opening `stream` (not sent). */
  headersFrame(stream: number, head: RequestHead = {}): Uint8Array {
    const fields: [string, string][] = [
      [":method", head.method ?? "POST"],
      [":scheme", this.#scheme],
      [":path", head.path ?? "/"],
      [":authority", "127.0.0.1"],
      ...(head.headers ?? []),
    ];
    const flags = END_HEADERS | (head.endStream ? END_STREAM : 0);
    return frame(FrameType.HEADERS, flags, stream, headerBlock(fields));
  }

  /** Sends HEADERS opening `stream`. */
  request(stream: number, head: RequestHead = {}): Promise<void> {
    this.#streamWindows.set(stream, this.#streamInitial);
    return this.write(this.headersFrame(stream, head));
  }

  /**
   * Sends `bytes` on `stream` in DATA frames of up to 16 KiB, each only
   * once the server's windows allow it (END_STREAM on the last if asked).
   */
  async data(
    stream: number,
    bytes: Uint8Array,
    { endStream = false } = {},
  ): Promise<void> {
    let off = 0;
    do {
      const size = Math.min(MAX_FRAME, bytes.length - off);
      await this.until(() => this.#sendable(stream) >= size, "send window");
      this.#connWindow -= size;
      this.#streamWindows.set(stream, this.#sendable(stream, true) - size);
      off += size;
      const last = off === bytes.length;
      const flags = last && endStream ? END_STREAM : 0;
      await this.write(
        frame(FrameType.DATA, flags, stream, bytes.subarray(off - size, off)),
      );
    } while (off < bytes.length);
  }

  // What may be sent on `stream` now; `own` gives the stream window alone.
  #sendable(stream: number, own = false): number {
    const window = this.#streamWindows.get(stream) ?? this.#streamInitial;
    return own ? window : Math.min(window, this.#connWindow);
  }

  /** The RST_STREAM frame for `stream` (not sent). */
  resetFrame(stream: number, code: number): Uint8Array {
    return frame(FrameType.RST_STREAM, 0, stream, words(code));
  }

  /** Resets `stream` with `code`. */
  reset(stream: number, code: number): Promise<void> {
    return this.write(this.resetFrame(stream, code));
  }

  /**
   * Lets frames arrive until `condition()` holds; fails if the connection
   * closes first (the deadline closes it, so this never hangs).
   */
  async until(condition: () => boolean, what: string): Promise<void> {
    while (!condition()) {
      assert.equal(this.#state, "open", `connection closed before ${what}`);
      await new Promise<void>((resolve) => this.#wake.push(resolve));
    }
  }

  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    try {
      this.#conn.close();
    } catch {
      // Already closed by the read loop: nothing left to release.
    }
    this.#notify();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #notify(): void {
    const waiting = this.#wake;
    this.#wake = [];
    for (const wake of waiting) wake();
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.#input = concat([this.#input, buffer.subarray(0, n)]);
        this.#parse();
      }
    } catch {
      // Closed by close() or reset by the server: #state says which, and
      // waiters fail with "connection closed before …".
    }
    this.close();
  }

  #parse(): void {
    let input = this.#input;
    while (input.length >= 9) {
      const length = (input[0]! << 16) | (input[1]! << 8) | input[2]!;
      if (input.length < 9 + length) break;
      const stream = new DataView(input.buffer, input.byteOffset)
        .getUint32(5) & 0x7fffffff;
      this.#receive(input[3]!, input[4]!, stream, input.slice(9, 9 + length));
      input = input.subarray(9 + length);
    }
    this.#input = input.slice();
    this.#notify();
  }

  #receive(type: number, flags: number, id: number, payload: Uint8Array) {
    const view = new DataView(payload.buffer);
    if (type === FrameType.SETTINGS && !(flags & ACK)) {
      this.#settings(view);
      this.write(frame(FrameType.SETTINGS, ACK, 0)).catch(() => {});
    } else if (type === FrameType.PING && !(flags & ACK)) {
      this.write(frame(FrameType.PING, ACK, 0, payload)).catch(() => {});
    } else if (type === FrameType.WINDOW_UPDATE) {
      const increment = view.getUint32(0) & 0x7fffffff;
      if (id === 0) this.#connWindow += increment;
      else this.#streamWindows.set(id, this.#sendable(id, true) + increment);
    } else if (type === FrameType.HEADERS) {
      const stream = this.stream(id);
      stream.headersSeen = true;
      stream.status ??= STATIC_STATUS[payload[0]!] ?? null;
      if (flags & END_STREAM) stream.ended = true;
    } else if (type === FrameType.DATA) {
      this.#data(id, flags, payload);
    } else if (type === FrameType.RST_STREAM) {
      this.stream(id).reset = view.getUint32(0);
    } else if (type === FrameType.GOAWAY) {
      this.goaways.push(view.getUint32(4));
    }
  }

  #settings(view: DataView): void {
    for (let at = 0; at + 6 <= view.byteLength; at += 6) {
      if (view.getUint16(at) !== 0x4) continue;
      const delta = view.getUint32(at + 2) - this.#streamInitial;
      this.#streamInitial += delta;
      for (const [id, window] of this.#streamWindows) {
        this.#streamWindows.set(id, window + delta);
      }
    }
  }

  // Keeps the server's send windows open: every byte read is given back.
  #data(id: number, flags: number, payload: Uint8Array): void {
    const stream = this.stream(id);
    if (flags & END_STREAM) stream.ended = true;
    if (payload.length === 0) return;
    stream.chunks.push(payload);
    const updates = [
      frame(FrameType.WINDOW_UPDATE, 0, 0, words(payload.length)),
    ];
    if (!stream.ended) {
      updates.push(
        frame(FrameType.WINDOW_UPDATE, 0, id, words(payload.length)),
      );
    }
    // A failed write means the connection is gone: nothing to give back.
    this.write(...updates).catch(() => {});
  }
}

/** A DATA frame of `bytes` (not sent), END_STREAM if asked. */
export function dataFrame(
  stream: number,
  bytes: Uint8Array,
  endStream = false,
): Uint8Array {
  return frame(FrameType.DATA, endStream ? END_STREAM : 0, stream, bytes);
}
