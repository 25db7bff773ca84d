// The bytes of a fault-suite exchange: requests as the client writes them
// (malformed where the plan says so), the response a handler sends when
// nothing goes wrong, and which exchanges are clean enough to check byte
// for byte. Not a test file.
import type { ExchangePlan, HandlerPlan } from "./plan.ts";
import { concat } from "../_harness/util.ts";

const encoder = new TextEncoder();

/** The path that tells the handler which exchange and request it serves. */
export function requestPath(index: number, r: number): string {
  return `/f/${index}/${r}`;
}

/** Exchange index and request number from a fault-run URL, or null. */
export function parsePath(url: string): [number, number] | null {
  const match = /\/f\/(\d+)\/(\d+)$/.exec(url);
  return match === null ? null : [Number(match[1]), Number(match[2])];
}

export interface Wire {
  bytes: Uint8Array; // the whole request as sent when nothing goes wrong
  headLength: number;
  // Where the request's content ends: its length for content-length, the
  // start of the terminal "0\r\n\r\n" for chunked. A client that stops at
  // or before it leaves an upload the server can never see complete.
  contentEnd: number;
}

/** Request `r` of exchange `plan` as bytes (badChunked: malformed). */
export function encodeRequest(plan: ExchangePlan, r: number): Wire {
  const request = plan.client.requests[r]!;
  const body = new Uint8Array(request.size);
  for (let j = 0; j < body.length; j++) body[j] = (j * 7 + plan.index) & 0xff;
  const framing = request.framing === "length"
    ? `content-length: ${request.size}\r\n`
    : request.framing === "chunked"
    ? "transfer-encoding: chunked\r\n"
    : "";
  const head = encoder.encode(
    `${request.method} ${requestPath(plan.index, r)} HTTP/1.1\r\nhost: x\r\n` +
      framing + (request.close ? "connection: close\r\n" : "") + "\r\n",
  );
  if (request.framing !== "chunked") {
    const bytes = concat([head, body]);
    return { bytes, headLength: head.length, contentEnd: bytes.length };
  }
  return encodeChunked(plan, head, body, request.chunks);
}

const MALFORMED = [
  "zz\r\nhello\r\n", // a chunk size that is not hex
  "5\r\nhello world\r\n", // more data than the chunk size
  "5\r\nhelloXX", // no CRLF after the chunk data
  "fffffffffffffffffffff\r\n", // a chunk size that overflows
];

function encodeChunked(
  plan: ExchangePlan,
  head: Uint8Array,
  body: Uint8Array,
  sizes: number[],
): Wire {
  const bad = plan.client.kind === "badChunked";
  const parts = [head];
  let at = 0;
  for (const size of bad ? sizes.slice(0, 2) : sizes) {
    parts.push(encoder.encode(`${size.toString(16)}\r\n`));
    parts.push(body.subarray(at, at += size), encoder.encode("\r\n"));
  }
  const tail = bad ? MALFORMED[plan.client.malformation]! : "0\r\n\r\n";
  const content = concat(parts);
  const bytes = concat([content, encoder.encode(tail)]);
  return {
    bytes,
    headLength: head.length,
    contentEnd: bad ? bytes.length : content.length,
  };
}

/** The body the handler sends for request `r` when nothing goes wrong. */
export function responseChunks(
  index: number,
  r: number,
  plan: HandlerPlan,
): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let k = 0; k < plan.chunks; k++) {
    const unit = `${index}.${r}.${k}|`;
    const text = unit.repeat(Math.ceil(plan.chunkSize / unit.length));
    chunks.push(encoder.encode(text.slice(0, plan.chunkSize)));
  }
  return chunks;
}

// ---------------------------------------------------------------------
// What the client may expect
// ---------------------------------------------------------------------

/**
 * Nothing goes wrong on either side, and the handler responds on a trigger
 * that surely fires: the client must get status 200 and exactly
 * `responseChunks` for every request, however long the server takes (up to
 * the client's deadline). Half-closing clients are left out: Deno 2.9.6
 * never answers some of them (a half-closed request whose body was partly
 * read gets no streamed response at all).
 */
export function isClean(plan: ExchangePlan): boolean {
  const kind = plan.client.kind;
  if (kind !== "good" && kind !== "pipeline" && kind !== "stall") return false;
  return plan.handlers.every((h, r) =>
    (h.respond === "string" || h.respond === "bigstring" ||
      h.respond === "streaming") &&
    (h.at === "start" || h.at === "timer" || h.read !== "none") &&
    h.fault === "none" && h.reports.length === 0 && !h.consume &&
    // A pipelined request whose body is not read to its end may make
    // Deno close the connection rather than serve the next one.
    (r === plan.handlers.length - 1 || h.read === "all" ||
      plan.client.requests[r]!.size === 0)
  );
}
