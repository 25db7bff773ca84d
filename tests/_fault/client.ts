// The seeded clients of the fault suite: raw TCP (Deno.connect), so that
// every fault can be expressed — vanishing at a random byte, half-closing,
// stalling, pipelining, malformed chunked bodies, short content-lengths,
// bodies over the limit — next to well-behaved exchanges. Every client has
// a deadline and every loop a count. Not a test file.
import type { Ledger } from "./ledger.ts";
import { type ExchangePlan, MAX_BODY, type RequestPlan } from "./plan.ts";
import { encodeRequest, isClean, responseChunks } from "./wire.ts";
import { Conn, responses, sleep } from "./conn.ts";
import type { RawResponse } from "../_harness/raw_http.ts";
import { concat } from "../_harness/util.ts";

export interface ClientContext {
  port: number;
  ledger: Ledger;
  limited: boolean; // the server enforces MAX_BODY (withBody's maxBodyBytes)
  patience: number; // ms to wait where the server may never answer
  deadline: number; // ms the server may take where it must end the exchange
  release: Promise<void>; // lingering clients leave when it resolves
  lingering: Promise<void>[]; // their connections, until they left
}

/** Plays exchange `plan` on a fresh connection; never rejects. */
export async function runExchange(
  context: ClientContext,
  plan: ExchangePlan,
): Promise<void> {
  let conn: Conn;
  try {
    conn = new Conn(
      await Deno.connect({ hostname: "127.0.0.1", port: context.port }),
    );
  } catch (error) {
    context.ledger.violate("liveness", plan.index, `connect failed: ${error}`);
    return;
  }
  if (plan.client.kind === "linger") return linger(context, plan, conn);
  try {
    await play(context, plan, conn);
  } finally {
    conn.close();
    await conn.reading;
  }
}

async function play(
  context: ClientContext,
  plan: ExchangePlan,
  conn: Conn,
): Promise<void> {
  switch (plan.client.kind) {
    case "vanishUpload":
      await conn.send(cutUpload(context, plan, false));
      return; // and vanish
    case "vanishResponse":
      return vanishResponse(context, plan, conn);
    case "shortLength":
      return shortLength(context, plan, conn);
    case "badChunked":
      context.ledger.markIncomplete(plan.index, 0);
      await conn.send(encodeRequest(plan, 0).bytes);
      await conn.wait(
        (data) => responses(data, 1).length === 1,
        context.patience,
      );
      return;
    default:
      return complete(context, plan, conn);
  }
}

// The first bytes of the request: anywhere for vanishUpload (the head
// included), inside the body otherwise (`inBody`). Marks the request
// incomplete when the server can never see its upload complete.
function cutUpload(
  context: ClientContext,
  plan: ExchangePlan,
  inBody: boolean,
): Uint8Array {
  const wire = encodeRequest(plan, 0);
  const { headLength, contentEnd } = wire;
  const cut = inBody
    ? headLength + plan.client.cut % (contentEnd - headLength)
    : plan.client.cut % wire.bytes.length;
  if (cut >= headLength && cut <= contentEnd) {
    context.ledger.markIncomplete(plan.index, 0);
  }
  return wire.bytes.subarray(0, cut);
}

async function vanishResponse(
  context: ClientContext,
  plan: ExchangePlan,
  conn: Conn,
): Promise<void> {
  const cut = 1 + plan.client.cut % 300;
  const sending = conn.send(encodeRequest(plan, 0).bytes);
  await conn.wait((data) => data.length >= cut, context.patience);
  conn.close(); // then the upload, if still going, fails
  await sending;
}

async function shortLength(
  context: ClientContext,
  plan: ExchangePlan,
  conn: Conn,
): Promise<void> {
  if (!await conn.send(cutUpload(context, plan, true))) return;
  if (plan.client.halfCloseAfterCut && await conn.closeWrite()) {
    await conn.wait(
      (data) => responses(data, 1).length === 1,
      context.patience,
    );
  } else {
    await sleep(plan.client.stallMs);
  }
}

// Part of the upload, then silence while reading whatever comes, until the
// run releases it (or the deadline, for a run that never does).
function linger(context: ClientContext, plan: ExchangePlan, conn: Conn): void {
  context.lingering.push((async () => {
    try {
      await conn.send(cutUpload(context, plan, true));
      const gone = conn.wait(() => false, 30_000);
      await Promise.race([context.release, gone]);
    } finally {
      conn.close();
      await conn.reading;
    }
  })());
}

// Whole requests (stalled, half-closed or pipelined), then every response.
async function complete(
  context: ClientContext,
  plan: ExchangePlan,
  conn: Conn,
): Promise<void> {
  const { kind, cut, stallMs } = plan.client;
  const bytes = concat(
    plan.client.requests.map((_, r) => encodeRequest(plan, r).bytes),
  );
  const send = async () => {
    const at = kind === "stall" ? cut % bytes.length : 0;
    if (!await conn.send(bytes.subarray(0, at))) return;
    if (at > 0) await sleep(stallMs);
    if (await conn.send(bytes.subarray(at)) && kind === "halfClose") {
      await conn.closeWrite();
    }
  };
  const sending = send();
  const n = plan.client.requests.length;
  const done = (data: Uint8Array) => responses(data, n).length === n;
  // Clean exchanges and promised statuses are worth the whole deadline.
  const long = isClean(plan) || declaredOver(context, plan.client.requests[0]!);
  let outcome = await conn.wait(
    done,
    long ? context.deadline : context.patience,
  );
  const promised = plan.client.requests.some((_, r) =>
    context.ledger.hasExpected(plan.index, r)
  );
  if (outcome === "timeout" && !long && promised) {
    outcome = await conn.wait(done, context.deadline);
  }
  conn.close();
  await sending;
  context.ledger.count(`client: ${outcome}`);
  verify(context, plan, responses(conn.received, n));
}

// A declared content-length over the limit: withBody answers 413 at once.
function declaredOver(context: ClientContext, request: RequestPlan): boolean {
  return context.limited && request.framing === "length" &&
    request.size > MAX_BODY;
}

// Statuses the server promised (413), and exact bytes for clean exchanges.
function verify(
  context: ClientContext,
  plan: ExchangePlan,
  got: RawResponse[],
): void {
  const { ledger } = context;
  const clean = isClean(plan);
  plan.client.requests.forEach((request, r) => {
    const response = got[r];
    const label = `#${plan.index}.${r}`;
    ledger.count(`status: ${response?.status ?? "none"}`);
    const expected = ledger.takeExpected(plan.index, r) ??
      (declaredOver(context, request) ? 413 : undefined);
    if (expected !== undefined && response?.status !== expected) {
      ledger.violate(
        "limit",
        plan.index,
        `${label}: expected ${expected}, got ${
          response?.status ?? "no response"
        }`,
      );
    }
    if (clean) checkClean(context, plan, r, response);
  });
}

function checkClean(
  context: ClientContext,
  plan: ExchangePlan,
  r: number,
  response: RawResponse | undefined,
): void {
  const want = concat(responseChunks(plan.index, r, plan.handlers[r]!));
  const body = response?.body;
  const same = body !== undefined && body.length === want.length &&
    body.every((byte, i) => byte === want[i]);
  if (response?.status === 200 && same) return;
  context.ledger.violate(
    "response",
    plan.index,
    `#${plan.index}.${r}: expected 200 with ${want.length} bytes, got ${
      response === undefined
        ? "no complete response"
        : `${response.status} with ${body!.length} bytes${
          same ? "" : " (differing)"
        }`
    }`,
  );
}

/** `GET /fresh` on a new connection: "<status> <body>", or what happened. */
export async function fetchFresh(port: number, ms: number): Promise<string> {
  const conn = new Conn(await Deno.connect({ hostname: "127.0.0.1", port }));
  try {
    const head = "GET /fresh HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    await conn.send(new TextEncoder().encode(head));
    const outcome = await conn.wait((d) => responses(d, 1).length === 1, ms);
    const [response] = responses(conn.received, 1);
    if (response === undefined) return `no response (${outcome})`;
    return `${response.status} ${new TextDecoder().decode(response.body)}`;
  } finally {
    conn.close();
    await conn.reading;
  }
}
