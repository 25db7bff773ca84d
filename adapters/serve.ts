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

import { Exchange } from "./_serve/exchange.ts";
import {
  type BodyHandler,
  Reqd,
  type StreamingOptions,
  type Timeouts,
  type WithBodyOptions,
} from "./_serve/reqd.ts";
import { Server, tooLarge, unavailable } from "./_serve/server.ts";

export {
  type BodyHandler,
  Reqd,
  type StreamingOptions,
  type Timeouts,
  type WithBodyOptions,
};
export type { Encoding } from "./compress.ts";

/**
 * Turns an httpaf-style handler into a fetch handler for `Deno.serve` (or
 * any framework taking `(Request) => Response | Promise<Response>`). It
 * returns the `Response` itself when the handler responded before
 * returning (Deno 2.9.6 serves those faster), else a promise that resolves when
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
