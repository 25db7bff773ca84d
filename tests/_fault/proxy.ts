// The parts of the proxy's fault run (tests/proxy_fault_test.ts): a seeded
// plan per exchange (the client's request and fault, the upstream's
// behaviour), a raw HTTP/1.1 upstream that does exactly what the plan
// says, and a raw client that records what it saw. Both ends check the
// bytes they got against the plan, so a truncated body delivered as
// complete shows up on the side that received it. Not a test file.
import { Rng } from "./rng.ts";
import { parseResponse } from "../_harness/raw_http.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What the upstream does with one request. */
export type Upstream =
  | "ok" // reads the whole upload, sends the whole body
  | "slow" // the same, the body in small pieces with pauses
  | "early" // answers 413 before reading the upload, then closes
  | "cut" // declares a content-length, sends part of it, closes
  | "unterminated" // chunked, closes without the last chunk
  | "silent"; // never answers (the proxy's headersTimeout: 504)

/** What the client does. */
export type ClientFault =
  | "none"
  | "vanish-upload" // leaves after part of its upload
  | "vanish-response"; // leaves after part of the response

export interface ProxyPlan {
  index: number;
  method: "GET" | "POST";
  upload: number; // bytes the client means to send (POST)
  framing: "length" | "chunked";
  fault: ClientFault;
  cutAt: number; // where the client's fault happens (bytes)
  upstream: Upstream;
  body: number; // bytes of the upstream's whole response body
  sent: number; // bytes of it the upstream sends ("cut", "unterminated")
  chunked: boolean; // the upstream's framing when not forced by its kind
}

/** The plan of exchange `index` of the run seeded `seed`. */
export function planProxy(seed: number, index: number): ProxyPlan {
  const rng = Rng.for(seed, index);
  const method = rng.chance(0.5) ? "POST" : "GET";
  const upload = method === "POST" ? rng.int(0, 200_000) : 0;
  const upstream = rng.pick<Upstream>({
    ok: 3,
    slow: 1,
    early: 1,
    cut: 1,
    unterminated: 1,
    silent: 1,
  });
  const body = rng.int(1, 300_000);
  let fault = rng.pick<ClientFault>({
    none: 2,
    "vanish-upload": 0,
    "vanish-response": 1,
  });
  if (method === "POST" && upload > 10 && rng.chance(0.3)) {
    fault = "vanish-upload";
  }
  return {
    index,
    method,
    upload,
    framing: rng.chance(0.5) ? "length" : "chunked",
    fault,
    cutAt: rng.int(1, Math.max(1, fault === "vanish-upload" ? upload : body)),
    upstream,
    body,
    sent: rng.int(0, body - 1),
    chunked: rng.chance(0.5),
  };
}

/** Byte `i` of a body made for exchange `index` (upload or response). */
export const byteOf = (index: number, i: number, salt: number) =>
  (i * 31 + index * 7 + salt) & 0xff;

function bytes(index: number, n: number, salt: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = byteOf(index, i, salt);
  return out;
}

/** What the upstream saw of one upload. */
export interface UpstreamSeen {
  index: number;
  complete: boolean; // the upload's framing ended as declared
  bytes: number;
  intact: boolean; // every byte it got matches the plan
}

/** Reads a connection incrementally (the upstream's side). */
class Reader {
  #data = new Uint8Array(0);
  constructor(readonly conn: Deno.Conn) {}

  async #more(): Promise<boolean> {
    const buffer = new Uint8Array(64 * 1024);
    const n = await this.conn.read(buffer);
    if (n === null) return false;
    const data = new Uint8Array(this.#data.length + n);
    data.set(this.#data);
    data.set(buffer.subarray(0, n), this.#data.length);
    this.#data = data;
    return true;
  }

  /** Bytes up to and including `pattern`, or null at EOF. */
  async until(pattern: string): Promise<Uint8Array | null> {
    const p = encoder.encode(pattern);
    for (;;) {
      const at = find(this.#data, p);
      if (at >= 0) {
        const out = this.#data.subarray(0, at + p.length);
        this.#data = this.#data.subarray(at + p.length);
        return out;
      }
      if (!await this.#more()) return null;
    }
  }

  /** Exactly `n` bytes, or what came before EOF. */
  async take(n: number): Promise<Uint8Array> {
    while (this.#data.length < n) if (!await this.#more()) break;
    const out = this.#data.subarray(0, n);
    this.#data = this.#data.subarray(out.length);
    return out;
  }
}

function find(data: Uint8Array, p: Uint8Array): number {
  outer: for (
    let i = data.indexOf(p[0]!);
    i >= 0;
    i = data.indexOf(p[0]!, i + 1)
  ) {
    if (i + p.length > data.length) return -1;
    for (let k = 1; k < p.length; k++) if (data[i + k] !== p[k]) continue outer;
    return i;
  }
  return -1;
}

/**
 * A raw upstream that serves every request by its plan (the path says
 * which: `/p/<index>`), records what it saw of each upload, and never
 * throws: a connection the proxy drops ends its exchange.
 */
export function faultUpstream(seed: number, seen: UpstreamSeen[]) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const serveConn = async (conn: Deno.Conn) => {
    const reader = new Reader(conn);
    for (;;) {
      const head = await reader.until("\r\n\r\n");
      if (head === null) return;
      const text = decoder.decode(head);
      const index = Number(/^\w+ \/p\/(\d+)/.exec(text)?.[1] ?? -1);
      if (index < 0) return;
      const plan = planProxy(seed, index);
      if (plan.upstream === "silent") return await reader.take(Infinity);
      if (plan.upstream === "early") {
        await conn.write(encoder.encode(
          "HTTP/1.1 413 Payload Too Large\r\ncontent-length: 9\r\nconnection: close\r\n\r\ntoo large",
        ));
        return conn.close();
      }
      seen.push(await readUpload(reader, text, plan));
      if (!await respond(conn, plan)) return conn.close();
    }
  };
  (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      serveConn(conn).catch(() => {}).finally(() => {
        conns.delete(conn);
        try {
          conn.close();
        } catch {
          // closed already: by the plan, or by the proxy
        }
      });
    }
  })().catch(() => {}); // the listener closed: the run is over
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed already
        }
      }
    },
  };
}

async function readUpload(
  reader: Reader,
  head: string,
  plan: ProxyPlan,
): Promise<UpstreamSeen> {
  const seen = { index: plan.index, complete: false, bytes: 0, intact: true };
  const check = (chunk: Uint8Array) => {
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] !== byteOf(plan.index, seen.bytes + i, 1)) {
        seen.intact = false;
      }
    }
    seen.bytes += chunk.length;
  };
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
    for (;;) {
      const line = await reader.until("\r\n");
      if (line === null) return seen;
      const size = parseInt(decoder.decode(line), 16);
      if (Number.isNaN(size)) return seen;
      if (size === 0) {
        seen.complete = (await reader.until("\r\n")) !== null;
        return seen;
      }
      const chunk = await reader.take(size);
      check(chunk);
      if (chunk.length < size || (await reader.take(2)).length < 2) return seen;
    }
  }
  const n = length === null ? 0 : Number(length[1]);
  const body = await reader.take(n);
  check(body);
  seen.complete = body.length === n;
  return seen;
}

// Sends the response of `plan`; false when the connection must close.
async function respond(conn: Deno.Conn, plan: ProxyPlan): Promise<boolean> {
  const body = bytes(plan.index, plan.body, 2);
  const kind = plan.upstream;
  const chunked = kind === "unterminated" ||
    (kind !== "cut" && plan.chunked);
  const framing = chunked
    ? "transfer-encoding: chunked"
    : `content-length: ${body.length}`;
  await conn.write(encoder.encode(`HTTP/1.1 200 OK\r\n${framing}\r\n\r\n`));
  const end = kind === "cut" || kind === "unterminated"
    ? plan.sent
    : body.length;
  const piece = kind === "slow" ? 4096 : 65536;
  for (let at = 0; at < end; at += piece) {
    const part = body.subarray(at, Math.min(end, at + piece));
    await conn.write(
      chunked
        ? concatBytes(
          encoder.encode(`${part.length.toString(16)}\r\n`),
          part,
          encoder.encode("\r\n"),
        )
        : part,
    );
    if (kind === "slow") await new Promise((r) => setTimeout(r, 1));
  }
  if (end < body.length) return false; // cut short: the connection closes
  if (chunked) await conn.write(encoder.encode("0\r\n\r\n"));
  return true;
}

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** What the client saw of one exchange. */
export interface ClientSeen {
  index: number;
  status: number | null;
  complete: boolean; // a whole response arrived (by its framing)
  intact: boolean; // a complete 200's body is the upstream's whole body
  left: boolean; // the client left on purpose before the end
}

/** Runs the client side of `plan` against the proxy on `port`. */
export async function faultClient(
  port: number,
  plan: ProxyPlan,
  ms: number,
): Promise<ClientSeen> {
  const seen: ClientSeen = {
    index: plan.index,
    status: null,
    complete: false,
    intact: true,
    left: false,
  };
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), ms);
  try {
    const upload = bytes(plan.index, plan.upload, 1);
    let head = `${plan.method} /p/${plan.index} HTTP/1.1\r\nhost: x\r\n`;
    if (plan.method === "POST") {
      head += plan.framing === "length"
        ? `content-length: ${upload.length}\r\n`
        : "transfer-encoding: chunked\r\n";
    }
    await conn.write(encoder.encode(head + "\r\n"));
    const limit = plan.fault === "vanish-upload" ? plan.cutAt : Infinity;
    if (plan.method === "POST") {
      const wire = plan.framing === "length" ? upload : chunk(upload);
      const part = wire.subarray(0, Math.min(limit, wire.length));
      for (let at = 0; at < part.length; at += 65536) {
        await conn.write(part.subarray(at, at + 65536));
      }
      if (part.length < wire.length) {
        seen.left = true;
        return seen;
      }
    }
    let data = new Uint8Array(0);
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const response = parseResponse(data);
      if (response !== null) {
        seen.status = response.status;
        if (response.complete) {
          seen.complete = true;
          if (response.status === 200) {
            seen.intact = response.body.length === plan.body &&
              response.body.every((b, i) => b === byteOf(plan.index, i, 2));
          }
          return seen;
        }
        if (
          plan.fault === "vanish-response" && response.body.length >= plan.cutAt
        ) {
          seen.left = true;
          return seen;
        }
      }
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) return seen;
      const grown = new Uint8Array(data.length + n);
      grown.set(data);
      grown.set(buffer.subarray(0, n), data.length);
      data = grown;
    }
  } catch {
    return seen; // the connection died under the client: not complete
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer already
    }
  }
}

function chunk(body: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < body.length; at += 8192) {
    const part = body.subarray(at, at + 8192);
    parts.push(encoder.encode(`${part.length.toString(16)}\r\n`), part);
    parts.push(encoder.encode("\r\n"));
  }
  parts.push(encoder.encode("0\r\n\r\n"));
  return concatBytes(...parts);
}
