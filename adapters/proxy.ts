/**
 * A reverse proxy: `withBody` joined to `request`. Each request goes to an
 * upstream, and its response comes back, both bodies streamed.
 *
 * - Upload bytes flow client → `reqd.requestBody` → `pipeBody` → the body
 *   `request()` returns → `fetch` → upstream: the client is read only as
 *   fast as the upstream takes its bytes.
 * - Response bytes flow upstream → `fetch` → the response body of
 *   `request()` → `pipeBody` (or your `body` hook) →
 *   `reqd.respondWithStreaming` → client: the upstream is read only as fast
 *   as the client takes its bytes.
 * - Either side gone ends the other: a client that leaves aborts the
 *   upstream request at once; an upstream that fails mid-response breaks
 *   the client's transfer (never a clean end); before the response head it
 *   is `502 Bad Gateway`, or `504 Gateway Timeout` for `headersTimeout`.
 *
 * With `passThrough: true` the upstream body is handed to Deno as it is
 * (a pipe inside Deno, the fastest way): Deno still cancels the upstream
 * when the client leaves and breaks the client's transfer when the
 * upstream dies; `headersTimeout`, `502`/`504` and the header rules hold;
 * but `readTimeout`, `writeTimeout`, `maxResponseBytes`, the declared
 * length check and the `body` hook do not apply to the response body, nor
 * `withBody`'s limits and timeouts to the upload.
 *
 * @module
 */

import type { Encoding } from "./compress.ts";
import type { Reqd } from "./serve.ts";
import { forward, passThrough } from "./_proxy/forward.ts";
import {
  checkProxy,
  type ProxyOptions,
  type ResponseHead,
  type UpstreamRequest,
} from "./_proxy/options.ts";

export type { Encoding, ProxyOptions, ResponseHead, UpstreamRequest };

/**
 * A `withBody` handler that forwards each request to `target` and streams
 * the response back: `Deno.serve(withBody(proxy("http://127.0.0.1:9000")))`.
 * Usable as the whole handler or from one (`proxy(target)(reqd)`).
 *
 * - `target` is a base URL (its origin, its path joined with the
 *   request's path, the request's query: a base `http://api/v1` sends
 *   `/users?id=1` to `http://api/v1/users?id=1`) or a function of the
 *   request returning the whole upstream URL.
 * - Headers: hop-by-hop fields (`connection` and those it names,
 *   `keep-alive`, `proxy-connection`, `te`, `trailer`,
 *   `transfer-encoding`, `upgrade`, `proxy-authorization`,
 *   `proxy-authenticate`) are not forwarded either way; `host` is the
 *   upstream's; `x-forwarded-for`, `x-forwarded-host` and
 *   `x-forwarded-proto` are appended to (`forwarded: false` turns that
 *   off). The upstream is asked for `accept-encoding: identity`, so its
 *   bytes reach the client exactly as sent, with their own
 *   `content-encoding` if it compressed anyway (Deno 2.9.6's `fetch`
 *   decodes gzip and br otherwise, keeping headers that no longer match);
 *   a `request` hook that asks for more gets decoded bytes without
 *   `content-encoding` and `content-length`. `compress` compresses for the
 *   client instead, with a flush per chunk.
 * - Both bodies stream with backpressure, one chunk copied at a time. A
 *   client that leaves, mid-upload or mid-response, aborts the upstream
 *   request at once (the upstream sees its connection or stream go); an
 *   upload in flight reaches the upstream truncated, never complete. An
 *   upstream that fails mid-response (a reset, a truncated body,
 *   `readTimeout`, `maxResponseBytes`) breaks the client's transfer.
 *   Before the head: `502`, or `504` for `headersTimeout` (`onUpstreamError`
 *   hears of each failure; default: one line on `console.error`).
 * - An early upstream response (a `413` mid-upload) reaches the client
 *   while its upload is still going; the proxy stops forwarding it.
 * - `withBody`'s limits and timeouts apply to the client's side; the
 *   options named as on `request()` to the upstream side.
 *
 * @param target the upstream: a base URL, or a function of the request.
 * @param options upstream timeouts and limits, hooks, `passThrough`.
 * @returns the handler.
 * @throws {TypeError} for a target that is not an http(s) URL or a
 *   function, an unknown option or one of the wrong type.
 * @throws {RangeError} for a timeout or limit out of range.
 *
 * @example A proxy in front of a local server
 * ```ts
 * import { proxy, withBody } from "@httpaf/body";
 *
 * const upstream = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   (req) => new Response(`upstream saw ${new URL(req.url).pathname}`),
 * );
 * const front = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   withBody(proxy(`http://127.0.0.1:${upstream.addr.port}/api`)),
 * );
 * const response = await fetch(`http://127.0.0.1:${front.addr.port}/users`);
 * const text = await response.text();
 * if (text !== "upstream saw /api/users") throw new Error(text);
 * await front.shutdown();
 * await upstream.shutdown();
 * ```
 *
 * @example Counting the events of a server-sent stream on its way
 * ```ts
 * import { chunks, proxy, withBody } from "@httpaf/body";
 *
 * const upstream = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("data: one\n\ndata: two\n\n"),
 * );
 * let events = 0;
 * const front = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   withBody(proxy(`http://127.0.0.1:${upstream.addr.port}`, {
 *     // The whole loop keeps every guarantee: an upstream failure throws
 *     // from chunks() (the proxy then breaks the client's transfer), and a
 *     // client that leaves makes the flush answer "closed".
 *     async body(input, output) {
 *       for await (const bytes of chunks(input)) {
 *         events += new TextDecoder().decode(bytes).split("\n\n").length - 1;
 *         output.writeBigstring(bytes);
 *         if (await output.flush() === "closed") return;
 *       }
 *       output.closeWriter();
 *     },
 *   })),
 * );
 * const text = await (await fetch(`http://127.0.0.1:${front.addr.port}/`)).text();
 * if (events !== 2 || !text.endsWith("data: two\n\n")) throw new Error(text);
 * await front.shutdown();
 * await upstream.shutdown();
 * ```
 */
export function proxy(
  target: string | URL | ((request: Request) => string | URL),
  options?: ProxyOptions,
): (reqd: Reqd) => Promise<void> {
  const settings = checkProxy(target, options);
  return (reqd) =>
    settings.passThrough
      ? passThrough(reqd, settings)
      : forward(reqd, settings);
}
