/**
 * httpaf's `Client_connection` over Deno's `fetch`: {@linkcode request}
 * returns the request body as a `Body<"write">` and hands the response body
 * to `onResponse` as a `Body<"read">`, with timeouts, a response size limit
 * and truncation detection that `fetch` alone does not give.
 *
 * - Upload bytes flow application → the request body (copied writes
 *   coalesce into chunks of up to `bufferSize`) → a `ReadableStream` that
 *   `fetch` pulls as it sends → the connection. A flush answers
 *   `"written"` once `fetch` has taken every byte written before it: the
 *   bytes are in Deno's buffers or the kernel's (Deno 2.9.6 reads ahead
 *   ~64 KiB, the socket buffers take a few MiB on loopback), not
 *   necessarily read by the server. It answers `"closed"` once the upload
 *   can no longer be sent: the server stopped it (answered and closed, or
 *   reset), the connection died, the request was aborted or timed out.
 * - Response bytes flow the connection → `fetch` (which decodes a `gzip`
 *   or `br` `content-encoding` itself) → the response body → `onRead`, and
 *   the network is read only while a read is scheduled: a slow reader
 *   slows the server down. `onRead`'s bytes stay valid until the next
 *   `scheduleRead` or `closeReader` on that body.
 *
 * What Deno's `fetch` (2.9.6) cannot do, and so neither can `request`:
 *
 * - A streamed upload always goes out chunked (HTTP/1.1) or without a
 *   length (HTTP/2): a `content-length` in `headers` is dropped
 *   (denoland/deno#20274). A server that requires a length must be sent a
 *   whole body with plain `fetch`.
 * - Two truncations look like a clean end and cannot be told apart from
 *   one: a response that ends by closing the connection (no
 *   `content-length`, no chunking), and an HTTP/2 stream reset with
 *   `NO_ERROR` or `CANCEL` when no `content-length` was declared. Every
 *   other truncation is `onEof(error)`: a reset, an unterminated chunked
 *   body, a body short of its `content-length` (when no
 *   `content-encoding` changes the length), an HTTP/2 reset short of a
 *   declared length, `INTERNAL_ERROR`, `GOAWAY`.
 * - A server that resets the connection while upload bytes are unread can
 *   lose its response inside `fetch`: that is `onError`, never a hang.
 * - A streamed upload cannot be sent twice: a redirect that would resend
 *   it (301, 302, 307, 308) is `onError` (use `redirect: "manual"`).
 * - A server that stops reading the upload is noticed only once Deno's
 *   and the kernel's buffers are full (measured ~4.7 MB on loopback):
 *   `writeTimeout` counts from then.
 *
 * @module
 */

import type { Body } from "../body.ts";
import { Exchange } from "./_client/exchange.ts";
import {
  bodyless,
  checkRequest,
  type RequestOptions,
} from "./_client/options.ts";

export type { RequestOptions };

/**
 * Sends a request to `url` and returns its body: httpaf's
 * `Client_connection.request` over `fetch`.
 *
 * - The request goes out at once; the returned body uploads what it is
 *   given (any method but `GET` and `HEAD`, for which it is closed
 *   already: writes throw "body is closed"). `closeWriter()` ends the
 *   upload; `abort(reason)` while it is under way aborts the request.
 *   Output reaches `fetch` only as `fetch` pulls it, so memory stays
 *   bounded by `bufferSize` plus what Deno buffers; flushes answer
 *   `"written"` once `fetch` took the bytes, `"closed"` once the upload
 *   can no longer be sent, each exactly once. `maxPendingBytes` bounds a
 *   producer that does not wait for its flushes: the write past it aborts
 *   the request.
 * - Exactly one of `onResponse(response, body)` and `onError(error)` is
 *   called, never inside `request()`. After `onResponse`, a failure (a
 *   reset, a truncated body, a timeout, the signal) reaches the response
 *   body as `onEof(error)` and the upload as `"closed"` (and its
 *   `signal`).
 * - The response body is a reader body with every guarantee: one read at
 *   a time, the network read only while a read is scheduled, and a
 *   truncated response never ends with a clean `onEof()` (see the module
 *   documentation for the two cases Deno cannot tell). `closeReader()`
 *   cancels the download, aborts an upload still under way and releases
 *   the connection. Read the response body to its end or close it: an
 *   unread body holds its connection, as with `fetch`.
 * - An early response (the server answers before the upload ended) is
 *   delivered as usual; if the server stops reading, pending and later
 *   flushes answer `"closed"`. A full-duplex server (an echo) keeps both
 *   directions streaming.
 * - Timeouts (`headersTimeout`, `readTimeout`, `writeTimeout`) run on one
 *   coarse clock shared by every request, only while something waits on
 *   the server (expiry may come up to a quarter late); each expires as a
 *   `Deno.errors.TimedOut` naming the option and aborts the request.
 * - An exception thrown by `onResponse`, `onError` or a callback of either
 *   body is passed to `options.onCallbackError` (default `console.error`)
 *   and aborts the request: it never escapes as an uncaught exception.
 *
 * Works over HTTP/1.1, HTTP/2 (`client: Deno.createHttpClient({ http2:
 * true, http1: false })` for h2c) and TLS.
 *
 * @param url an `http:` or `https:` URL.
 * @param options the callbacks (`onResponse` and `onError` are required),
 *   the method and headers, timeouts, limits, signal and client.
 * @returns the request body.
 * @throws {TypeError} for an invalid URL, an unknown option, an option of
 *   the wrong type, or a method or header that `fetch` refuses.
 * @throws {RangeError} for a number out of range.
 *
 * @example Upload a body and read the response
 * ```ts
 * import { request } from "@httpaf/body/client";
 * import { toText } from "@httpaf/body";
 *
 * // A server that answers with the size of what it received.
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   async (req) => new Response(`${(await req.arrayBuffer()).byteLength} bytes`),
 * );
 * const answer = Promise.withResolvers<string>();
 * const upload = request(`http://127.0.0.1:${server.addr.port}/`, {
 *   method: "PUT",
 *   onResponse: (_response, body) => toText(body).then(answer.resolve, answer.reject),
 *   onError: answer.reject,
 * });
 * upload.writeString("hello, ");
 * upload.writeString("world");
 * upload.closeWriter(); // the upload ends once fetch took these bytes
 * if (await answer.promise !== "12 bytes") throw new Error("not received");
 * await server.shutdown();
 * ```
 *
 * @example A download with a size limit and a read timeout
 * ```ts
 * import { request } from "@httpaf/body/client";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response(new Uint8Array(1_000_000)),
 * );
 * const result = Promise.withResolvers<unknown>();
 * const body = request(`http://127.0.0.1:${server.addr.port}/`, {
 *   maxResponseBytes: 65_536,
 *   readTimeout: 5_000,
 *   onResponse(_response, body) {
 *     let received = 0;
 *     const onRead = (_b: Uint8Array, _off: number, len: number) => {
 *       received += len;
 *       body.scheduleRead({ onRead, onEof });
 *     };
 *     const onEof = (error?: unknown) => result.resolve(error ?? received);
 *     body.scheduleRead({ onRead, onEof });
 *   },
 *   onError: result.resolve,
 * });
 * if (!body.isClosed()) throw new Error("a GET carries no body");
 * const error = await result.promise;
 * if (!(error instanceof RangeError)) throw new Error(`${error}`);
 * if (!error.message.includes("maxResponseBytes")) throw error;
 * await server.shutdown();
 * ```
 */
export function request(
  url: string | URL,
  options: RequestOptions,
): Body<"write"> {
  const settings = checkRequest(url, options);
  const init: RequestInit = { method: settings.method };
  if (options.headers !== undefined) init.headers = options.headers;
  if (options.redirect !== undefined) init.redirect = options.redirect;
  return new Exchange(settings, init, bodyless(settings.method)).body;
}
