/**
 * One proxied exchange, both ways: through the library (`forward`: every
 * guarantee on both bodies) or handed to Deno (`passThrough`: the
 * upstream body piped natively). Private to the proxy capability.
 *
 * @module
 */

import { type Body, pipeBody } from "../../body.ts";
import { callHook } from "../../_body/check.ts";
import { request } from "../client.ts";
import type { Reqd } from "../serve.ts";
import { decodedBy, endToEnd, upstreamHeaders } from "./headers.ts";
import type { ResponseHead, Settings, UpstreamRequest } from "./options.ts";

// One exchange through the library: every guarantee on both bodies.
export async function forward(reqd: Reqd, settings: Settings): Promise<void> {
  const head = await upstreamRequest(reqd, settings);
  let clientFailure: unknown = undefined;
  const upload = request(head.url, {
    method: head.method,
    headers: head.headers,
    redirect: "manual", // the client follows redirects, not the proxy
    headersTimeout: settings.headersTimeout,
    readTimeout: settings.readTimeout,
    writeTimeout: settings.writeTimeout,
    maxResponseBytes: settings.maxResponseBytes,
    client: settings.client,
    onResponse: (response, body) =>
      respond(reqd, settings, head, response, body),
    onError: (error) => failed(reqd, settings, error, error === clientFailure),
    onCallbackError: (error) => reqd.reportException(error),
  });
  if (upload.isClosed()) {
    // GET and HEAD carry no body upstream; one the client sent anyway is
    // dropped (its stream released).
    reqd.requestBody.closeReader();
    return;
  }
  // A client upload that fails aborts `upload`, and with it the upstream
  // request: the upstream sees a truncated upload. That failure is the
  // client's (it left, a limit, a shutdown), not the upstream's: noted
  // before the request's onError can run (the pipe settles first).
  const piped = await pipeBody(reqd.requestBody, upload);
  if (piped.outcome === "failed") clientFailure = piped.error;
}

/** The upstream request for `reqd`, after the `request` hook. */
async function upstreamRequest(
  reqd: Reqd,
  settings: Settings,
): Promise<UpstreamRequest> {
  const req = reqd.request;
  const head: UpstreamRequest = {
    url: settings.target(req),
    method: req.method,
    headers: upstreamHeaders(req, reqd.info?.remoteAddr, settings.forwarded),
  };
  await settings.request?.(head, reqd);
  return head;
}

// The upstream answered: its head goes to the client, then its body.
function respond(
  reqd: Reqd,
  settings: Settings,
  upstream: UpstreamRequest,
  response: Response,
  body: Body<"read">,
): void {
  const head = responseHead(reqd, settings, upstream, response);
  const output = reqd.respondWithStreaming(head, settings.streaming);
  if (output.isClosed()) return body.closeReader(); // 204, 304, answered
  const hook = settings.body;
  if (hook === undefined) {
    // An upstream that failed mid-body: the client's transfer is broken
    // already (pipeBody aborted it); one line says why.
    pipeBody(body, output).then((piped) => {
      if (piped.outcome === "failed") {
        upstreamFailed(settings, piped.error, reqd);
      }
    });
    return;
  }
  let result: unknown;
  try {
    result = hook(body, output, reqd, response);
  } catch (error) {
    return fail(reqd, settings, body, output, error);
  }
  if (result instanceof Promise) {
    result.then(
      undefined,
      (error) => fail(reqd, settings, body, output, error),
    );
  }
}

/** The response head for the client, after the `response` hook. */
function responseHead(
  reqd: Reqd,
  settings: Settings,
  upstream: UpstreamRequest,
  response: Response,
): ResponseHead {
  const headers = endToEnd(response.headers);
  if (decodedBy(upstream.headers, headers)) {
    headers.delete("content-encoding");
    headers.delete("content-length");
  }
  const head: ResponseHead = {
    status: response.status,
    statusText: response.statusText,
    headers,
  };
  settings.response?.(head, response, reqd);
  return head;
}

// A `body` hook that threw or rejected: the transfer is broken and the
// upstream released. The upstream's own failure coming through the hook
// (its body's error, rethrown) is the upstream's: one line; anything else
// is the hook's, reported as the handler's.
function fail(
  reqd: Reqd,
  settings: Settings,
  input: Body<"read">,
  output: Body<"write">,
  error: unknown,
): void {
  output.abort(error);
  input.closeReader();
  if (error !== undefined && error === failureOf(input)) {
    upstreamFailed(settings, error, reqd);
  } else {
    reqd.reportException(error);
  }
}

// The error a closed reader body failed with, or undefined when it ended
// or was closed without one: a read of a closed body is answered at once.
function failureOf(input: Body<"read">): unknown {
  let failure: unknown = undefined;
  try {
    input.scheduleRead({ onRead() {}, onEof: (error) => (failure = error) });
  } catch {
    // A read is still scheduled: the body did not fail.
  }
  return failure;
}

/**
 * The upstream failed before its head: `502`, or `504` on a timeout; not
 * reported as the upstream's when it was the client's (`byClient`).
 */
function failed(
  reqd: Reqd,
  settings: Settings,
  error: unknown,
  byClient: boolean,
): void {
  if (!byClient) upstreamFailed(settings, error, reqd);
  const timedOut = error instanceof Deno.errors.TimedOut;
  const [status, text] = timedOut
    ? [504, "Gateway Timeout: the upstream did not answer in time\n"]
    : [502, "Bad Gateway: the upstream did not answer\n"];
  reqd.respondWithString({
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  }, text);
}

/**
 * One exchange handed to Deno: the client's upload goes to `fetch` as
 * Deno's own stream, and the upstream's body back to Deno as it is. What
 * holds: the head-phase timeout (`504`), `502`, the header rules; Deno
 * cancels the upstream when the client leaves and breaks the client's
 * transfer when the upstream dies.
 */
export async function passThrough(
  reqd: Reqd,
  settings: Settings,
): Promise<void> {
  const head = await upstreamRequest(reqd, settings);
  const req = reqd.request;
  const cut = new AbortController();
  const limit = settings.headersTimeout;
  const timer = limit === Infinity ? undefined : setTimeout(() => {
    cut.abort(
      new Deno.errors.TimedOut(
        `proxy: headersTimeout (${limit} ms) expired: the upstream sent no response head for that long`,
      ),
    );
  }, limit);
  let response: Response;
  try {
    response = await fetch(head.url, {
      method: head.method,
      headers: head.headers,
      body: req.method === "GET" || req.method === "HEAD" ? null : req.body,
      duplex: "half",
      redirect: "manual",
      signal: cut.signal,
      client: settings.client,
    } as RequestInit);
  } catch (error) {
    return failed(reqd, settings, cut.signal.reason ?? error, false);
  } finally {
    clearTimeout(timer);
  }
  const { status, statusText, headers } = responseHead(
    reqd,
    settings,
    head,
    response,
  );
  const bodyless = req.method === "HEAD" || status === 204 || status === 205 ||
    status === 304;
  if (bodyless) response.body?.cancel().catch(() => {}); // nothing to send
  reqd.respondWith(
    new Response(bodyless ? null : response.body, {
      status,
      statusText,
      headers,
    }),
  );
}

// Tells `onUpstreamError`: a hook that throws or rejects is logged, and
// the exchange goes on (the client still gets its 502).
function upstreamFailed(settings: Settings, error: unknown, reqd: Reqd): void {
  callHook(
    "proxy: onUpstreamError",
    settings.onUpstreamError,
    error,
    reqd.request,
  );
}
