/**
 * `Deno.serve` integration: httpaf's request descriptor over fetch handlers.
 *
 * - Request bytes flow client → Deno's server → `request.body` →
 *   `reqd.requestBody`, read only while a read is scheduled: a handler that
 *   reads slowly slows the client down.
 * - Response bytes flow handler → `Body<"write">` → a `ReadableStream`
 *   (`streamingBody`: one chunk ready ahead at most) → Deno's server →
 *   socket. `"written"` means Deno's server has taken the bytes from that
 *   stream: they are in its
 *   buffers or the kernel's, not necessarily on the wire, and bytes on
 *   either side of a flush may still leave in one packet.
 *
 * Nothing a client or a handler does takes the process down: a handler
 * that throws or rejects, a callback that throws, a client that leaves,
 * stalls or sends too much all end in a response, a broken transfer, an
 * `onEof(error)` or a log line — never an uncaught exception.
 *
 * @module
 */

import { Exchange } from "./_exchange.ts";
import { Reqd, type StreamingOptions, type Timeouts } from "./_reqd.ts";
import { Server, tooLarge, unavailable } from "./_server.ts";

export { Reqd, type StreamingOptions, type Timeouts };
export type { Encoding } from "./compress.ts";

/** An httpaf-style handler: it answers through `reqd`, now or later. */
export type BodyHandler = (reqd: Reqd) => void | Promise<void>;

/** Options of {@linkcode withBody}, checked when `withBody` is called. */
export interface WithBodyOptions {
  /** Buffer size of request and response bodies (default 64 KiB). */
  bufferSize?: number;
  /**
   * The largest request body accepted, in bytes (default: no limit). A
   * declared `content-length` over it is answered `413` before any byte is
   * read; a body that grows past it is cancelled and its read answered
   * `onEof(RangeError)`, and the client gets `413` unless the handler
   * already responded.
   */
  maxBodyBytes?: number;
  /**
   * Makes the response for an exception reported before any response (a
   * handler that threw, `reqd.reportException`). Default: `500` with the
   * plain text `Internal Server Error`, the error logged to the console.
   */
  onError?: (error: unknown, request: Request) => Response | Promise<Response>;
  /**
   * When it aborts: every open request body ends with `onEof(reason)`,
   * every streaming response ends after its pending output (later writes
   * are dropped, later flushes answer `"closed"`), and requests not yet
   * answered get `503`. Abort it, then call `server.shutdown()`. Do not
   * give it to `Deno.serve` too: Deno's own `signal` closes connections at
   * once, cutting streaming responses (denoland/deno#32862).
   */
  signal?: AbortSignal;
  /**
   * Milliseconds a scheduled read of a request body may wait for the
   * client (default 60,000; `Infinity`: no limit). Runs only while a read
   * waits on the client, restarting with every chunk. On expiry the read
   * answers `onEof(Deno.errors.TimedOut)`, the request stream is cancelled
   * and the client gets `408` (or a broken transfer if the response is
   * streaming); the connection closes.
   */
  readTimeout?: number;
  /**
   * Milliseconds a streaming response may wait for the client to take its
   * bytes (default 60,000; `Infinity`: no limit). Runs only while output
   * waits, restarting whenever the client takes bytes; a stream with
   * nothing pending (server-sent events between events) never times out.
   * On expiry the response is cut (a broken transfer), flushes answer
   * `"closed"`, later writes are dropped, and a request body still being
   * read answers `onEof(Deno.errors.TimedOut)`.
   */
  writeTimeout?: number;
  /**
   * The most bytes a response body may hold for a slow client
   * (`pendingBytes`; default: no limit). The write that crosses it cuts the
   * response as `writeTimeout` does: memory stays bounded even for a
   * producer that does not wait for its flushes.
   */
  maxPendingBytes?: number;
}

/**
 * Turns an httpaf-style handler into a fetch handler for `Deno.serve` (or
 * any framework taking `(Request) => Response | Promise<Response>`). It
 * returns the `Response` itself when the handler responded before
 * returning (Deno serves those faster), else a promise that resolves when
 * the handler responds, however much later: `await` it either way. A
 * handler that throws or rejects, and an exception thrown by a callback of
 * a body the `Reqd` owns, are reported through `reqd.reportException`:
 * nothing escapes as an uncaught error.
 *
 * @param handler receives one {@linkcode Reqd} per request.
 * @param options limits, timeouts, error response, shutdown signal.
 * @returns the fetch handler.
 * @throws {TypeError} for a handler that is not a function, or an option
 *   of the wrong type.
 * @throws {RangeError} for an option out of range.
 *
 * @example A streamed echo
 * ```ts
 * import { withBody } from "@httpaf/body";
 *
 * const fetchHandler = withBody((reqd) => {
 *   const input = reqd.requestBody;
 *   const output = reqd.respondWithStreaming({ status: 200 });
 *   const onRead = (buffer: Uint8Array, off: number, len: number) => {
 *     output.writeBigstring(buffer, off, len);
 *     output.flush((r) => r === "written" && input.scheduleRead({ onRead, onEof }));
 *   };
 *   const onEof = (error?: unknown) =>
 *     error ? reqd.reportException(error) : output.closeWriter();
 *   input.scheduleRead({ onRead, onEof });
 * });
 * const response = await fetchHandler(
 *   new Request("http://localhost/", { method: "POST", body: "ping" }),
 * );
 * if (await response.text() !== "ping") throw new Error("no echo");
 * ```
 */
export function withBody(
  handler: BodyHandler,
  options?: WithBodyOptions,
): (
  request: Request,
  info?: Deno.ServeHandlerInfo,
) => Response | Promise<Response> {
  const server = new Server(handler, options ?? {});
  return (request, info) => handle(server, request, info);
}

function handle(
  server: Server,
  request: Request,
  info: Deno.ServeHandlerInfo | undefined,
): Response | Promise<Response> {
  if (server.signal?.aborted) return unavailable();
  const max = server.maxBodyBytes;
  if (max !== undefined && request.body !== null) {
    const declared = request.headers.get("content-length");
    if (declared !== null && Number(declared) > max) return tooLarge(max);
  }
  const exchange = new Exchange(server, request, info);
  try {
    const result = server.handler(exchange);
    if (result instanceof Promise) {
      result.then(undefined, (error) => exchange.reportException(error));
    }
  } catch (error) {
    exchange.reportException(error);
  }
  return exchange.response();
}
