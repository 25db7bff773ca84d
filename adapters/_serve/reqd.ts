/**
 * The documented `Reqd` API and `withBody`'s handler and option types,
 * re-exported by `serve.ts`. The one implementation of `Reqd` is
 * `Exchange` (`exchange.ts`), made by `withBody`; the class lives here
 * because a subclass cannot extend a class of a module that imports it
 * (the same arrangement as `Body` in the core).
 *
 * @module
 */

import type { Body } from "../../body.ts";
import type { Encoding } from "../compress.ts";

/** Options of {@linkcode Reqd.respondWithStreaming}. */
export interface StreamingOptions {
  /**
   * Compress the body when the request's `Accept-Encoding` allows it:
   * `true` offers `["gzip", "zstd", "br", "deflate"]`, a list offers those
   * encodings in order of preference. The response then carries
   * `content-encoding` and `vary: accept-encoding`, and `flush()` flushes
   * the compressor. Nothing is compressed when the client accepts none of
   * them (or sends no `Accept-Encoding`), when `init` already has a
   * `content-encoding` or a `content-length`, when its `cache-control` has
   * `no-transform`, for bodyless statuses and for `HEAD`.
   */
  compress?: boolean | readonly Encoding[];
  /**
   * Compression level (see `compressBody`), with `compress` only. It must
   * suit every encoding offered, whichever the client picks: with the
   * default list, an integer from 1 to 9.
   */
  level?: number;
}

/** Per-request overrides of `withBody`'s timeouts (milliseconds). */
export interface Timeouts {
  /** See `WithBodyOptions.readTimeout`; `Infinity` disables it. */
  readTimeout?: number;
  /** See `WithBodyOptions.writeTimeout`; `Infinity` disables it. */
  writeTimeout?: number;
}

/**
 * httpaf's request descriptor: the request, its body, and the ways to
 * respond. Responding twice is an error; a response made after the library
 * answered for the handler (`413`, `408`, a shutdown's `503`, a client that
 * left) is discarded quietly, and `respondWithStreaming` then returns a
 * closed body whose writes go nowhere. Made by `withBody`, one per request. Nothing a `Reqd` method does
 * throws once the response is under way but the documented misuse errors;
 * `reportException` and `requestBody` never throw.
 *
 * @example Answering with the size of the upload
 * ```ts
 * import { type Reqd, withBody } from "@httpaf/body";
 *
 * const handler = withBody((reqd: Reqd) => {
 *   let size = 0;
 *   const onRead = (_b: Uint8Array, _off: number, len: number) => {
 *     size += len;
 *     reqd.requestBody.scheduleRead({ onRead, onEof });
 *   };
 *   const onEof = (error?: unknown) =>
 *     error === undefined
 *       ? reqd.respondWithString({ status: 200 }, `${size} bytes\n`)
 *       : reqd.reportException(error);
 *   reqd.requestBody.scheduleRead({ onRead, onEof });
 * });
 * const response = await handler(
 *   new Request("http://localhost/", { method: "PUT", body: "12345" }),
 * );
 * if (await response.text() !== "5 bytes\n") throw new Error("wrong size");
 * ```
 */
export abstract class Reqd {
  /** The web `Request`. */
  abstract get request(): Request;

  /** Deno's connection info, when served by `Deno.serve`. */
  abstract get info(): Deno.ServeHandlerInfo | undefined;

  /**
   * The request body as a reader body, read only while a read is
   * scheduled (an already-ended body when the request has none). It never
   * throws, and never ends cleanly short of the truth: a client that
   * disconnects mid-upload, a body shorter than its declared
   * `content-length`, a limit or a timeout make it answer `onEof(error)`;
   * taken after the response finished, or after the body was consumed
   * through {@linkcode Reqd.request}, it answers `onEof(error)` too.
   */
  abstract get requestBody(): Body<"read">;

  /**
   * Responds with `text`, written as UTF-8.
   *
   * @param init status and headers, as for `new Response`.
   * @param text the whole body.
   * @throws {TypeError} when `text` is not a string, when the status has no
   *   body (1xx/204/205/304) and `text` is not empty, or when a
   *   `content-length` in `init` disagrees with the body (except for HEAD).
   * @throws {Error} `Reqd.respondWithString: response already started`.
   */
  abstract respondWithString(
    init: ResponseInit | undefined,
    text: string,
  ): void;

  /**
   * Responds with `bytes`. The Response constructor copies them, so the
   * caller may reuse `bytes` once the call returns.
   *
   * @param init status and headers, as for `new Response`.
   * @param bytes the whole body.
   * @throws {TypeError} when `bytes` is not a Uint8Array, for a body on a
   *   bodyless status, or a `content-length` that disagrees (except HEAD).
   * @throws {Error} `Reqd.respondWithBigstring: response already started`.
   */
  abstract respondWithBigstring(
    init: ResponseInit | undefined,
    bytes: Uint8Array,
  ): void;

  /**
   * Responds at once with `init` (the head goes out without waiting for a
   * body byte: server-sent events work) and returns the body to write.
   * `"written"` means Deno's server has taken the bytes. A client that
   * disconnects makes pending flushes answer `"closed"` and later writes
   * drop silently. With a `content-length` in `init`, writing past it
   * throws a `RangeError` and `closeWriter()` short of it aborts the
   * response. For 1xx/204/205/304 the returned body is already closed.
   *
   * @param init status and headers, as for `new Response`.
   * @param options `compress`: negotiate a compressed body.
   * @returns the response body.
   * @throws {TypeError} for a malformed `content-length` or bad options.
   * @throws {Error} `Reqd.respondWithStreaming: response already started`.
   */
  abstract respondWithStreaming(
    init?: ResponseInit,
    options?: StreamingOptions,
  ): Body<"write">;

  /**
   * Responds with a `Response` you made, as it is: its body (a stream Deno
   * reads natively, such as a file's or an upstream `fetch`'s) is Deno's,
   * outside the library — no timeout, limit or flush applies to it. For the
   * native pass-through of a file or an upstream body.
   *
   * @param response the response.
   * @throws {TypeError} when `response` is not a `Response`.
   * @throws {Error} `Reqd.respondWith: response already started`.
   */
  abstract respondWith(response: Response): void;

  /**
   * Reports a failure of this request; never throws. Before any response:
   * the response is made by `options.onError` (default `500`, plain text
   * `Internal Server Error`, the error logged). While streaming: the
   * response is aborted, so the client sees a broken transfer, never a
   * clean end. After the response: the error is logged. Either way the
   * request body is closed: a pending read is answered `onEof(error)`.
   * The library's own errors coming back (a `maxBodyBytes` overflow, a
   * timeout, the shutdown reason) answer `413`, `408` and `503` quietly.
   *
   * @param error what went wrong.
   */
  abstract reportException(error: unknown): void;

  /**
   * Overrides `withBody`'s `readTimeout`/`writeTimeout` for this request
   * (e.g. a long-poll route); a timer already running restarts its count
   * from now.
   *
   * @param timeouts the timeouts to change, in milliseconds (`Infinity`
   *   disables one).
   * @throws {TypeError} for a non-number.
   * @throws {RangeError} for a value that is not a positive integer or
   *   `Infinity`.
   */
  abstract setTimeouts(timeouts: Timeouts): void;
}

/**
 * An httpaf-style handler: it answers through `reqd`, now or later. What
 * it returns is ignored, but a promise it returns is watched: a rejection
 * is reported through `reqd.reportException`. `context` is what the caller of the fetch handler passed as its third
 * argument (a framework's route context), `undefined` under `Deno.serve`.
 */
export type BodyHandler<C = undefined> = (
  reqd: Reqd,
  context: C,
) => unknown;

/**
 * The fetch handler `withBody` returns: `(request, info?)` for
 * `Deno.serve`, and with a context (`C` not `undefined`) a third argument
 * that reaches the handler as its second — a framework's route context.
 */
export type FetchHandler<C = undefined> = C extends undefined ? (
    request: Request,
    info?: Deno.ServeHandlerInfo,
  ) => Response | Promise<Response>
  : (
    request: Request,
    info: Deno.ServeHandlerInfo | undefined,
    context: C,
  ) => Response | Promise<Response>;

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
   * once, cutting streaming responses (Deno 2.9.6, denoland/deno#32862).
   */
  signal?: AbortSignal;
  /**
   * Called once for each client that went away before its exchange
   * finished (its upload failed, or Deno cancelled its response), with
   * how that showed. A client leaving is not a failure: nothing is logged
   * for it unless you log it here (a metric, one quiet line). The
   * exchange is settled by then: its bodies are closed, and a handler that
   * responds later is ignored quietly. A hook that throws, or an async one
   * that rejects, is logged with `console.error`.
   */
  onDisconnect?: (error: unknown, request: Request) => void;
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
