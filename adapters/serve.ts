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
  type FetchHandler,
  Reqd,
  type StreamingOptions,
  type Timeouts,
  type WithBodyOptions,
} from "./_serve/reqd.ts";
import { Server, tooLarge, unavailable } from "./_serve/server.ts";

export {
  type BodyHandler,
  type FetchHandler,
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
 * One `withBody` per route is the way to use it inside a framework: pass
 * the route's context as the fetch handler's third argument and it
 * reaches the handler as its second (`withBody<Context>((reqd, c) => …)`,
 * then `(c) => handler(c.req.raw, undefined, c)` in Hono). A `withBody`
 * per request works too, at the cost of checking the options each time —
 * but not with a `signal`: each `withBody` listens on it until it aborts.
 *
 * @param handler receives one {@linkcode Reqd} per request, and the
 *   context the fetch handler was called with.
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
export function withBody<C = undefined>(
  handler: BodyHandler<C>,
  options?: WithBodyOptions,
): FetchHandler<C> {
  const server = new Server(
    handler as BodyHandler<unknown>,
    options === undefined ? {} : options,
  );
  return ((request, info, context) =>
    handle(server, request, info, context)) as FetchHandler<C>;
}

function handle(
  server: Server,
  request: Request,
  info: Deno.ServeHandlerInfo | undefined,
  context: unknown,
): Response | Promise<Response> {
  if (server.signal?.aborted) return unavailable();
  const max = server.maxBodyBytes;
  if (max !== undefined && request.body !== null) {
    const declared = request.headers.get("content-length");
    if (declared !== null && Number(declared) > max) return tooLarge(max);
  }
  const exchange = new Exchange(server, request, info);
  try {
    const result = server.handler(exchange, context);
    if (result instanceof Promise) {
      result.then(undefined, (error) => exchange.reportException(error));
    }
  } catch (error) {
    exchange.reportException(error);
  }
  return exchange.response();
}
