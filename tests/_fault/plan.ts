// What one exchange of the fault suite does, drawn from its own seeded
// stream: the client's behaviour and, for each request it sends, the
// handler's. A pure function of (seed, index): the client and the handler
// both call it, so the handler knows what its client will do (e.g. that an
// upload is truncated) without being told. Not a test file.
import { Rng } from "./rng.ts";

/** withBody's `maxBodyBytes` in the fault run. */
export const MAX_BODY = 64 * 1024;

export type ClientKind =
  | "good" // complete requests, reads every response
  | "pipeline" // two requests on one connection, sent in one write
  | "stall" // pauses mid-request, then finishes it
  | "halfClose" // complete request, then closeWrite()
  | "vanishUpload" // closes at a random byte of the request
  | "vanishResponse" // closes at a random byte of the response
  | "shortLength" // sends less than its content-length, then leaves
  | "badChunked" // a malformed chunk in a chunked body
  | "overLimit" // a body larger than MAX_BODY
  | "linger"; // part of its upload, then silence until the run ends

export interface RequestPlan {
  method: "GET" | "POST";
  framing: "none" | "length" | "chunked";
  size: number; // body bytes
  chunks: number[]; // chunk sizes on the wire, for "chunked"
  close: boolean; // sends `connection: close`
}

export interface ClientPlan {
  kind: ClientKind;
  requests: RequestPlan[];
  cut: number; // upload kinds: bytes of the request sent; else response bytes read
  stallMs: number;
  halfCloseAfterCut: boolean; // shortLength: closeWrite() rather than close()
  malformation: number; // badChunked: which malformation (0..3)
}

export type Respond = "string" | "bigstring" | "streaming" | "open" | "none";
export type Fault =
  | "none"
  | "sync" // the handler throws before returning
  | "onRead" // the n-th onRead throws
  | "onReadScheduled" // ... after scheduling the next read
  | "onEof"
  | "flush" // the n-th flush callback throws
  | "reject" // an async handler rejects after `faultAt` ms
  | "rejectAfterRespond"; // ... `faultAt` ms after it responded

export interface Report {
  at: "timer" | "onRead" | "onEof" | "flush" | "afterRespond";
  delay: number; // "timer", "afterRespond": ms
  twice: boolean; // reportException called twice in a row
}

export interface HandlerPlan {
  consume: boolean; // awaits request.text() before touching requestBody
  read: "all" | "some" | "none";
  reads: number; // "some": how many reads
  respond: Respond;
  at: "start" | "read" | "eof" | "timer";
  atRead: number; // "read": respond after this many onReads
  delay: number; // "timer": ms
  chunks: number; // streaming: writes, each followed by a flush
  chunkSize: number;
  lateFlush: boolean; // one more flush once the body closed (ours or theirs)
  fault: Fault;
  faultAt: number; // the n-th onRead/flush for onRead*/flush
  faultDelay: number; // ms, for reject*
  reports: Report[];
  touchLate: number; // ms after the response before requestBody is first touched; -1: never
  reportEofErrors: boolean; // the README loop: onEof(error) → reportException(error)
}

export interface ExchangePlan {
  index: number;
  client: ClientPlan;
  handlers: HandlerPlan[]; // one per request
}

const CLIENT_WEIGHTS: Record<ClientKind, number> = {
  good: 34,
  pipeline: 8,
  stall: 8,
  halfClose: 6,
  vanishUpload: 10,
  vanishResponse: 9,
  shortLength: 7,
  badChunked: 6,
  overLimit: 6,
  linger: 2,
};

/** The plan of exchange `index` in a run seeded with `seed`. */
export function planExchange(seed: number, index: number): ExchangePlan {
  const rng = Rng.for(seed, index);
  const client = planClient(rng);
  const handlers = client.requests.map((request) =>
    planHandler(rng, client.kind, request)
  );
  return { index, client, handlers };
}

function planClient(rng: Rng): ClientPlan {
  const kind = rng.pick(CLIENT_WEIGHTS);
  const first = planRequest(rng, kind);
  const requests = kind === "pipeline"
    ? [first, planRequest(rng, kind)]
    : [first];
  return {
    kind,
    requests,
    cut: rng.int(0, 1 << 20), // scaled to the request or response later
    stallMs: rng.int(5, 40),
    halfCloseAfterCut: rng.chance(0.5),
    malformation: rng.int(0, 3),
  };
}

function planRequest(rng: Rng, kind: ClientKind): RequestPlan {
  const needsBody = kind === "shortLength" || kind === "badChunked" ||
    kind === "overLimit" || kind === "linger";
  const method = needsBody || rng.chance(0.8) ? "POST" : "GET";
  const size = kind === "overLimit"
    ? rng.int(MAX_BODY + 1, 160 * 1024)
    : method === "GET"
    ? 0
    : bodySize(rng, needsBody);
  const framing = method === "GET"
    ? "none"
    : kind === "badChunked"
    ? "chunked"
    : kind === "shortLength" || kind === "linger"
    ? "length"
    : rng.chance(0.4)
    ? "chunked"
    : "length";
  const chunks: number[] = [];
  for (let left = size; framing === "chunked" && left > 0;) {
    const n = Math.min(left, rng.int(1, 8192));
    chunks.push(n);
    left -= n;
  }
  const close = kind !== "pipeline" && rng.chance(0.3);
  return { method, framing, size, chunks, close };
}

function bodySize(rng: Rng, nonEmpty: boolean): number {
  const band = rng.pick({
    empty: nonEmpty ? 0 : 10,
    tiny: 40,
    mid: 35,
    big: 15,
  });
  if (band === "empty") return 0;
  if (band === "tiny") return rng.int(1, 200);
  if (band === "mid") return rng.int(201, 16 * 1024);
  return rng.int(16 * 1024 + 1, MAX_BODY);
}

function planHandler(
  rng: Rng,
  kind: ClientKind,
  request: RequestPlan,
): HandlerPlan {
  // A lingering client is still connected when the run ends: a handler
  // that responded and still reads is what the shutdown signal must reach.
  const linger = kind === "linger" && rng.chance(0.6);
  const read = linger ? "all" : rng.pick({ all: 55, some: 25, none: 20 });
  const respond: Respond = linger ? "string" : rng.pick({
    string: 30,
    bigstring: 15,
    streaming: 30,
    open: 5,
    none: 5,
  });
  let at = linger
    ? "start"
    : rng.pick({ start: 30, read: 20, eof: 35, timer: 15 });
  if (read === "none" && (at === "read" || at === "eof")) at = "start";
  if (read === "some" && at === "eof") at = "read";
  const reads = rng.int(1, 3);
  return {
    consume: request.method === "POST" && !linger && rng.chance(0.06),
    read,
    reads,
    respond,
    at: at as HandlerPlan["at"],
    atRead: rng.int(1, read === "some" ? reads : 3),
    delay: rng.int(0, 20),
    chunks: rng.int(1, 6),
    chunkSize: rng.int(1, 6000),
    lateFlush: rng.chance(0.3),
    fault: linger ? "none" : planFault(rng),
    faultAt: rng.int(1, 3),
    faultDelay: rng.int(0, 25),
    reports: planReports(rng),
    touchLate: read === "none" && rng.chance(0.3) ? rng.int(0, 15) : -1,
    reportEofErrors: rng.chance(0.8),
  };
}

function planFault(rng: Rng): Fault {
  return rng.pick({
    none: 50,
    sync: 8,
    onRead: 8,
    onReadScheduled: 5,
    onEof: 7,
    flush: 7,
    reject: 8,
    rejectAfterRespond: 7,
  });
}

function planReports(rng: Rng): Report[] {
  const reports: Report[] = [];
  for (let n = rng.pick({ zero: 70, one: 22, two: 8 }); n !== "zero";) {
    reports.push({
      at: rng.pick({
        timer: 3,
        onRead: 2,
        onEof: 2,
        flush: 2,
        afterRespond: 3,
      }),
      delay: rng.int(0, 20),
      twice: rng.chance(0.25),
    });
    n = n === "two" ? "one" : "zero";
  }
  return reports;
}
