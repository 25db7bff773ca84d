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
 * @module
 */

import {
  abortOutput,
  type Body,
  createReader,
  endInput,
  endOutput,
  failInput,
} from "../body.ts";
import { checkLimit } from "../_check.ts";
import { openReader } from "./readable.ts";
import { openStream } from "./writable.ts";

/** An httpaf-style handler: it answers through `reqd`, now or later. */
export type BodyHandler = (reqd: Reqd) => void | Promise<void>;

/** Options of {@linkcode withBody}. */
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
   * once, cutting streaming responses (denoland/deno#32862). A graceful
   * shutdown still waits for clients that stopped reading or owe part of
   * their upload; end the process after a grace period for those.
   */
  signal?: AbortSignal;
}

// A response with no body, whatever the handler writes.
const bodyless = (status: number) =>
  status < 200 || status === 204 || status === 205 || status === 304;

const encoder = new TextEncoder();
const token = Symbol("Reqd");

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
 * @param options limits, error response, shutdown signal.
 * @returns the fetch handler.
 * @throws {TypeError} for a handler that is not a function or bad options.
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
  if (typeof handler !== "function") {
    throw new TypeError("withBody: expected a handler function");
  }
  const server = new Server(handler, options ?? {});
  return (request, info) => server.handle(request, info);
}

// What every Reqd of one withBody shares.
class Server {
  readonly handler: BodyHandler;
  readonly bufferSize: number | undefined;
  readonly maxBodyBytes: number | undefined;
  readonly onError: NonNullable<WithBodyOptions["onError"]>;
  readonly signal: AbortSignal | undefined;
  // Requests that a shutdown must still reach; only kept with a signal.
  readonly live: Set<Reqd> | null;

  constructor(handler: BodyHandler, options: WithBodyOptions) {
    this.handler = handler;
    this.bufferSize = options.bufferSize;
    const max = checkLimit("withBody", "maxBodyBytes", options.maxBodyBytes);
    this.maxBodyBytes = max;
    const onError = options.onError ?? defaultOnError;
    if (typeof onError !== "function") {
      throw new TypeError("withBody: onError must be a function");
    }
    this.onError = onError;
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError("withBody: signal must be an AbortSignal");
    }
    this.signal = signal;
    this.live = signal === undefined ? null : new Set();
    signal?.addEventListener("abort", () => {
      for (const reqd of this.live!) reqd[kShutdown](signal.reason);
      this.live!.clear();
    }, { once: true });
  }

  handle(
    request: Request,
    info?: Deno.ServeHandlerInfo,
  ): Response | Promise<Response> {
    if (this.signal?.aborted) return unavailable();
    const max = this.maxBodyBytes;
    if (max !== undefined && request.body !== null) {
      const declared = request.headers.get("content-length");
      if (declared !== null && Number(declared) > max) return tooLarge(max);
    }
    const reqd = new Reqd(token, this, request, info);
    this.live?.add(reqd);
    let result: void | Promise<void> = undefined;
    try {
      result = this.handler(reqd);
    } catch (error) {
      reqd.reportException(error);
    }
    if (result instanceof Promise) {
      result.then(undefined, (error) => reqd.reportException(error));
    }
    return reqd[kResponse]();
  }
}

const kShutdown = Symbol("shutdown");
const kResponse = Symbol("response");

// Reqd states: PENDING until a response is chosen; COMPLETE for a whole
// response (or the error response); STREAMING while the handler writes.
const PENDING = 0;
const COMPLETE = 1;
const STREAMING = 2;

/**
 * httpaf's request descriptor: the request, its body, and the ways to
 * respond. Made by {@linkcode withBody}, one per request.
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
export class Reqd {
  /** The web `Request`. */
  readonly request: Request;
  /** Deno's connection info, when served by `Deno.serve`. */
  readonly info: Deno.ServeHandlerInfo | undefined;
  #server: Server;
  // The response once chosen, until handed to withBody's caller; then the
  // resolver of a promise handed out before it was chosen.
  #response: Response | null = null;
  #resolve: ((response: Response) => void) | null = null;
  #state = PENDING;
  #requestBody: Body<"read"> | null = null; // made on first use
  #responseBody: Body<"write"> | null = null; // valid when STREAMING

  /**
   * Not for direct use: {@linkcode withBody} makes one per request.
   *
   * @throws {TypeError} always, when called directly.
   */
  constructor(
    key: symbol,
    server: Server,
    request: Request,
    info: Deno.ServeHandlerInfo | undefined,
  ) {
    if (key !== token) throw new TypeError("Reqd: made by withBody only");
    this.#server = server;
    this.request = request;
    this.info = info;
  }

  /**
   * The request body as a reader body: read only while a read is
   * scheduled (an already-ended body when the request has none). A client
   * that disconnects mid-upload makes it answer `onEof(error)`.
   */
  get requestBody(): Body<"read"> {
    if (this.#requestBody !== null) return this.#requestBody;
    const server = this.#server;
    const stream = this.request.body;
    const onError = (error: unknown) => this.reportException(error);
    if (stream === null || stream.locked) {
      const body = createReader({
        request() {},
        release() {},
        callbackError: onError,
      });
      endInput(body);
      return (this.#requestBody = body);
    }
    return (this.#requestBody = openReader("withBody", stream, {
      bufferSize: server.bufferSize,
    }, {
      onError,
      maxBytes: server.maxBodyBytes,
      overflow: (max) =>
        new RangeError(
          `withBody: the request body is larger than maxBodyBytes (${max} bytes)`,
        ),
      onOverflow: () => {
        if (this.#state === PENDING) {
          this.#respond(tooLarge(server.maxBodyBytes!));
        }
      },
    }));
  }

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
  respondWithString(init: ResponseInit | undefined, text: string): void {
    if (typeof text !== "string") {
      throw new TypeError(
        `Reqd.respondWithString: expected a string body, received ${typeof text}`,
      );
    }
    this.#respondWhole("respondWithString", init, text);
  }

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
  respondWithBigstring(
    init: ResponseInit | undefined,
    bytes: Uint8Array,
  ): void {
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(
        "Reqd.respondWithBigstring: expected a Uint8Array body",
      );
    }
    this.#respondWhole("respondWithBigstring", init, bytes);
  }

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
   * @returns the response body.
   * @throws {TypeError} for a malformed `content-length`.
   * @throws {Error} `Reqd.respondWithStreaming: response already started`.
   */
  respondWithStreaming(init?: ResponseInit): Body<"write"> {
    this.#expectPending("respondWithStreaming");
    const headers = new Headers(init?.headers);
    const status = init?.status ?? 200;
    let contentLength: number | undefined;
    const declared = headers.get("content-length");
    if (declared !== null && this.request.method !== "HEAD") {
      if (!/^\d+$/.test(declared)) {
        throw new TypeError(
          `Reqd.respondWithStreaming: malformed content-length "${declared}"`,
        );
      }
      contentLength = Number(declared);
    }
    const { body, readable } = openStream("Reqd.respondWithStreaming", {
      bufferSize: this.#server.bufferSize,
      contentLength,
    }, {
      onError: (error) => this.reportException(error),
      onEnd: () => this.#server.live?.delete(this),
    });
    const response = new Response(bodyless(status) ? null : readable, {
      status,
      statusText: init?.statusText,
      headers,
    });
    this.#responseBody = body;
    this.#state = STREAMING;
    this.#handOut(response);
    if (bodyless(status)) {
      body.closeWriter();
      readable.cancel().catch(() => {}); // never read: nothing to lose
    }
    return body;
  }

  /**
   * Reports a failure of this request. Before any response: the response
   * is made by `options.onError` (default `500`, plain text `Internal
   * Server Error`, the error logged). While streaming: the response is
   * aborted, so the client sees a broken transfer, never a clean end.
   * After a whole response: the error is logged. Either way the request
   * body is closed: a pending read is answered `onEof(error)`.
   *
   * @param error what went wrong.
   */
  reportException(error: unknown): void {
    failInput(this.requestBody, error);
    // The shutdown reason coming back from a handler is no handler failure.
    const signal = this.#server.signal;
    const shutdown = signal?.aborted === true && error === signal.reason;
    if (this.#state === STREAMING) {
      abortOutput(this.#responseBody!, error);
    } else if (this.#state === PENDING) {
      if (shutdown) return this.#respond(unavailable());
      this.#state = COMPLETE;
      this.#errorResponse(error).then((response) => this.#respond(response));
    } else if (!shutdown) {
      console.error("Request failed after its response was sent:", error);
    }
  }

  async #errorResponse(error: unknown): Promise<Response> {
    try {
      const response = await this.#server.onError(error, this.request);
      if (response instanceof Response) return response;
      throw new TypeError("withBody: onError did not return a Response");
    } catch (failure) {
      console.error("withBody: onError failed:", failure);
      return defaultOnError(error);
    }
  }

  // A string body goes to the Response as a string: Deno serves those on a
  // faster path than bytes (measured ~3 µs a request).
  #respondWhole(
    method: string,
    init: ResponseInit | undefined,
    body: string | Uint8Array,
  ): void {
    this.#expectPending(method);
    const status = init?.status ?? 200;
    if (bodyless(status)) {
      if (body.length !== 0) {
        throw new TypeError(
          `Reqd.${method}: a ${status} response cannot have a body`,
        );
      }
      return this.#respond(new Response(null, init));
    }
    const response = new Response(
      body as string | Uint8Array<ArrayBuffer>,
      init,
    );
    // Only headers given in `init` can declare a length; touching
    // response.headers otherwise would cost every response a Headers object.
    const declared = init?.headers === undefined
      ? null
      : response.headers.get("content-length");
    if (declared !== null && this.request.method !== "HEAD") {
      const length = typeof body === "string"
        ? encoder.encode(body).length
        : body.length;
      if (declared !== String(length)) {
        throw new TypeError(
          `Reqd.${method}: content-length ${declared} disagrees with the ${length}-byte body`,
        );
      }
    }
    this.#respond(response);
  }

  #expectPending(method: string): void {
    if (this.#state !== PENDING) {
      throw new Error(`Reqd.${method}: response already started`);
    }
  }

  #respond(response: Response): void {
    this.#state = COMPLETE;
    this.#server.live?.delete(this);
    this.#handOut(response);
  }

  #handOut(response: Response): void {
    if (this.#resolve !== null) this.#resolve(response);
    else this.#response = response;
  }

  /** The response if the handler already chose one, else its promise. */
  [kResponse](): Response | Promise<Response> {
    const response = this.#response;
    if (response !== null) {
      this.#response = null; // withBody's caller owns it now
      return response;
    }
    return new Promise((resolve) => (this.#resolve = resolve));
  }

  /** Shutdown (withBody's signal aborted). */
  [kShutdown](reason: unknown): void {
    if (this.#state === PENDING) this.#respond(unavailable());
    else if (this.#state === STREAMING) endOutput(this.#responseBody!);
    if (this.#requestBody !== null) failInput(this.#requestBody, reason);
  }
}

function defaultOnError(error: unknown): Response {
  console.error("Request handler failed:", error);
  return text(500, "Internal Server Error");
}

function tooLarge(max: number): Response {
  return text(413, `Payload Too Large: the limit is ${max} bytes\n`);
}

function unavailable(): Response {
  return text(503, "Service Unavailable: the server is shutting down\n");
}

function text(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}
