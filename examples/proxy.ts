/**
 * A streaming reverse proxy: every request is forwarded to `UPSTREAM` with
 * `fetch`, and the upstream response streams back, with backpressure both
 * ways and neither body held in memory.
 *
 * ```sh
 * deno task serve    # in another terminal: the demo server on 127.0.0.1:8000
 * deno run --allow-net --allow-env=HOST,PORT,UPSTREAM examples/proxy.ts
 * curl -sS --data-binary 'hello, proxy' http://127.0.0.1:8002/echo
 * curl -sS 'http://127.0.0.1:8002/stream?bytes=10000000' | wc -c
 * ```
 *
 * `UPSTREAM` is an origin (default `http://127.0.0.1:8000`); `HOST`/`PORT`
 * override the proxy's address (default 127.0.0.1:8002). An unreachable
 * upstream gives `502`.
 *
 * - Request body: `reqd.requestBody` → `readableFromBody` → `fetch`, which
 *   pulls one chunk at a time: the client is read only as fast as the
 *   upstream takes it.
 * - Response body: `bodyFromReadable(upstream.body)` → httpaf's read →
 *   write → flush loop → `respondWithStreaming`: the next upstream read
 *   waits until the client's server took the previous bytes.
 *
 * @module
 */

import {
  type Body,
  bodyFromReadable,
  readableFromBody,
  type Reqd,
  withBody,
} from "@httpaf/body";
import { serveUntilSignal } from "./_serve.ts";

/** Options of {@linkcode createApp}. */
export interface ProxyOptions {
  /** The upstream origin, e.g. `http://127.0.0.1:8000`. */
  upstream: string | URL;
  /**
   * Cuts every exchange in flight when it aborts: requests still waiting
   * for the upstream get `503`, streaming responses are aborted (the client
   * sees a broken transfer, never a truncated body that looks complete).
   */
  signal?: AbortSignal;
}

/**
 * Headers that describe one connection, not the message (RFC 9110 §7.6.1):
 * never forwarded, in either direction.
 */
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/**
 * The proxy as a fetch handler: method, path, query, end-to-end headers
 * and body go to `upstream`; its status, end-to-end headers and body come
 * back. A failed upstream (refused, reset before its response head) is
 * answered `502`.
 *
 * @param options the upstream origin, and a signal that cuts exchanges.
 * @returns the fetch handler.
 * @throws {TypeError} when `upstream` is not an http(s) URL.
 */
export function createApp(
  options: ProxyOptions,
): (request: Request) => Response | Promise<Response> {
  const upstream = new URL(options.upstream);
  if (upstream.protocol !== "http:" && upstream.protocol !== "https:") {
    throw new TypeError(
      `upstream must be an http(s) URL, received ${upstream}`,
    );
  }
  return withBody((reqd) => forward(reqd, upstream, options.signal));
}

async function forward(reqd: Reqd, upstream: URL, signal?: AbortSignal) {
  const { request } = reqd;
  const url = new URL(request.url);
  let response: Response;
  try {
    response = await fetch(new URL(url.pathname + url.search, upstream), {
      method: request.method,
      headers: requestHeaders(reqd, url),
      // Pulled chunk by chunk while fetch sends it; `duplex: "half"` is
      // what a streamed request body requires.
      body: request.body === null ? null : readableFromBody(reqd.requestBody),
      duplex: "half",
      redirect: "manual", // the client follows redirects, not the proxy
      signal,
    } as RequestInit);
  } catch (error) {
    if (signal?.aborted) return unavailable(reqd);
    // One line: fetch's own message is "fetch failed"; the cause says why.
    const why = error instanceof Error && error.cause instanceof Error
      ? error.cause.message
      : String(error);
    console.error(`proxy: ${request.method} ${url.pathname}: ${why}`);
    return reqd.respondWithString(
      { status: 502, headers: { "content-type": "text/plain; charset=utf-8" } },
      "Bad Gateway: the upstream did not answer\n",
    );
  }
  if (signal?.aborted) { // cut between the response head and now
    await response.body?.cancel();
    return unavailable(reqd);
  }
  const output = reqd.respondWithStreaming({
    status: response.status,
    statusText: response.statusText,
    headers: endToEnd(response.headers),
  });
  if (response.body === null || output.isClosed()) {
    // No body (HEAD, 204, 304): nothing to stream.
    await response.body?.cancel();
    return output.closeWriter();
  }
  stream(
    reqd,
    bodyFromReadable(response.body, {
      onError: (error) => reqd.reportException(error),
    }),
    output,
    signal,
  );
}

/**
 * httpaf's loop from the upstream body to the client: read a chunk, copy
 * it out (onRead memory is borrowed), and read the next only once the
 * client's side took it.
 */
function stream(
  reqd: Reqd,
  input: Body<"read">,
  output: Body<"write">,
  signal?: AbortSignal,
): void {
  // The cut is wired here, not left to fetch's signal: Deno 2.9.6 stops
  // passing that abort on to the response body once the Response object
  // is garbage (only its body is still referenced), and the stream then
  // runs on after a shutdown.
  const cut = () => {
    reqd.reportException(signal!.reason); // aborts the client's transfer
    input.closeReader(); // cancels the upstream body
  };
  signal?.addEventListener("abort", cut, { once: true });
  const done = () => signal?.removeEventListener("abort", cut);
  const onRead = (buffer: Uint8Array, off: number, len: number) => {
    output.writeBigstring(buffer, off, len);
    output.flush((result) => {
      if (result === "written") return input.scheduleRead({ onRead, onEof });
      done();
      input.closeReader(); // client gone: cancels the upstream body
    });
  };
  // An upstream that broke off mid-body must not look like a complete
  // response: reportException aborts the transfer.
  const onEof = (error?: unknown) => {
    done();
    if (error === undefined) output.closeWriter();
    else reqd.reportException(error);
  };
  input.scheduleRead({ onRead, onEof });
}

function requestHeaders(reqd: Reqd, url: URL): Headers {
  const headers = endToEnd(reqd.request.headers);
  headers.delete("host"); // fetch sends the upstream's own
  // The body is re-sent as a stream, which fetch sends chunked.
  headers.delete("content-length");
  // Deno's fetch decodes gzip and br bodies itself unless it asked for
  // "identity", yet keeps their content-encoding and content-length
  // headers; passed on, they would describe bytes the client never gets.
  // Asking for identity keeps the upstream's bytes as they are.
  headers.set("accept-encoding", "identity");
  headers.set("x-forwarded-host", url.host);
  headers.set("x-forwarded-proto", url.protocol.slice(0, -1));
  const peer = reqd.info?.remoteAddr;
  if (peer !== undefined && "hostname" in peer) {
    const prior = headers.get("x-forwarded-for");
    const chain = prior === null ? peer.hostname : `${prior}, ${peer.hostname}`;
    headers.set("x-forwarded-for", chain);
  }
  return headers;
}

/** `headers` without hop-by-hop fields, nor those named by `connection`. */
function endToEnd(headers: Headers): Headers {
  const result = new Headers(headers);
  const listed = (headers.get("connection") ?? "").split(",");
  for (const name of [...HOP_BY_HOP, ...listed]) {
    const field = name.trim().toLowerCase();
    // A malformed name in `connection` names no header we could hold.
    if (/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(field)) result.delete(field);
  }
  return result;
}

function unavailable(reqd: Reqd): void {
  reqd.respondWithString(
    { status: 503, headers: { "content-type": "text/plain; charset=utf-8" } },
    "Service Unavailable: the proxy is shutting down\n",
  );
}

if (import.meta.main) {
  const upstream = Deno.env.get("UPSTREAM") ?? "http://127.0.0.1:8000";
  await serveUntilSignal({
    port: 8002,
    app: (signal) => createApp({ upstream, signal }),
    banner: (origin) => `proxy on ${origin}/ forwarding to ${upstream}`,
  });
}
