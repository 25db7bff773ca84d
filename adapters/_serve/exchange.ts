/**
 * One request and its response: the `Reqd` that `withBody` hands to a
 * handler. Bytes of the request flow `request.body` → a reader body
 * (`openReader`); bytes of the response flow a writer body → a stream
 * (`openStream`) → Deno's server. The exchange joins the two to the
 * shutdown signal and the timeout clock, and makes sure that nothing a
 * handler or a client does throws out of it: every path that could fail
 * ends in a response, a broken transfer or a log line. Private.
 *
 * @module
 */

import { abortOutput, type Body, endOutput, failInput } from "../../body.ts";
import { checkOptions, describe } from "../../_body/check.ts";
import { compressBody } from "../compress.ts";
import { openReader } from "../_readable/source.ts";
import {
  type OpenStream,
  openStream,
  type StreamHooks,
} from "../_writable/sink.ts";
import { checkTimeout, Deadlines, type Expiry } from "./clock.ts";
import {
  bodyless,
  checkInit,
  chooseEncoding,
  endedBody,
  failedBody,
  initHeaders,
  offeredEncodings,
  quietError,
  requestLength,
  requestStream,
  responseLength,
  wholeResponse,
} from "./http.ts";
import { Reqd, type StreamingOptions, type Timeouts } from "./reqd.ts";
import {
  clientGone,
  type Server,
  timedOut,
  tooLarge,
  unavailable,
} from "./server.ts";

const STREAMING_OPTIONS = ["compress", "level"] as const;

/**
 * - `"pending"`: no response chosen yet;
 * - `"responded"`: a whole response (or the library's own) was chosen;
 * - `"streaming"`: a streaming response is under way;
 * - `"finished"`: that stream closed, errored or was cancelled;
 * - `"gone"`: the client went away and the library settled the exchange:
 *   a response Deno can finish with was handed out (or the stream
 *   closed), both bodies are closed, and what the handler does next is
 *   accepted quietly — writes dropped, a late response discarded.
 */
type ExchangeState =
  | "pending"
  | "responded"
  | "streaming"
  | "finished"
  | "gone";

/** The `Reqd` of one request. */
export class Exchange extends Reqd implements Expiry {
  readonly #server: Server;
  readonly #request: Request;
  readonly #info: Deno.ServeHandlerInfo | undefined;
  #state: ExchangeState = "pending";
  // The response once chosen, until handed to withBody's caller; then the
  // resolver of a promise handed out before it was chosen.
  #response: Response | null = null;
  #resolve: ((response: Response) => void) | null = null;
  #requestBody: Body<"read"> | null = null; // made on first use
  #failure: unknown = undefined; // closed the request body before it was taken
  #responseBody: Body<"write"> | null = null; // valid when streaming
  #stream: OpenStream | null = null; // the response stream, when streaming
  #own: unknown = undefined; // the library's own error (limit, timeout)
  #gone: unknown = undefined; // how the client's leaving showed (state "gone")
  // The library answered for a handler that had not responded (a limit, a
  // timeout, a shutdown, a client gone): a response it makes later is
  // discarded quietly, not an error.
  #late = false;
  #deadlines: Deadlines | null = null; // made when a side first waits

  constructor(
    server: Server,
    request: Request,
    info: Deno.ServeHandlerInfo | undefined,
  ) {
    super();
    this.#server = server;
    this.#request = request;
    this.#info = info;
    server.live?.add(this);
  }

  get request(): Request {
    return this.#request;
  }

  get info(): Deno.ServeHandlerInfo | undefined {
    return this.#info;
  }

  get requestBody(): Body<"read"> {
    return (this.#requestBody ??= this.#openRequestBody());
  }

  respondWithString(init: ResponseInit | undefined, text: string): void {
    const method = "Reqd.respondWithString";
    if (typeof text !== "string") {
      throw new TypeError(
        `${method}: expected a string body, received ${describe(text)}`,
      );
    }
    const response = wholeResponse(method, init, text, this.#request);
    if (this.#expectPending(method)) this.#respond(response);
  }

  respondWithBigstring(
    init: ResponseInit | undefined,
    bytes: Uint8Array,
  ): void {
    const method = "Reqd.respondWithBigstring";
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(
        `${method}: expected a Uint8Array body, received ${describe(bytes)}`,
      );
    }
    const response = wholeResponse(method, init, bytes, this.#request);
    if (this.#expectPending(method)) this.#respond(response);
  }

  respondWith(response: Response): void {
    const method = "Reqd.respondWith";
    if (!(response instanceof Response)) {
      throw new TypeError(
        `${method}: expected a Response, received ${describe(response)}`,
      );
    }
    if (this.#expectPending(method)) this.#respond(response);
    else response.body?.cancel().catch(() => {}); // nobody will read it
  }

  respondWithStreaming(
    init?: ResponseInit,
    options?: StreamingOptions,
  ): Body<"write"> {
    const method = "Reqd.respondWithStreaming";
    const status = checkInit(method, init);
    checkOptions(method, options, STREAMING_OPTIONS);
    const live = this.#expectPending(method);
    const headers = initHeaders(method, init);
    const head = this.#request.method === "HEAD";
    const contentLength = head ? undefined : responseLength(method, headers);
    const offered = offeredEncodings(method, options);
    const encoding = offered === null || bodyless(status) || head
      ? null
      : chooseEncoding(this.#request, headers, offered);
    const server = this.#server;
    const stream = openStream(method, {
      bufferSize: server.bufferSize,
      contentLength,
      // A compressing body holds the uncompressed bytes: its limit, then.
      maxPendingBytes: encoding === null ? server.maxPendingBytes : undefined,
    }, this.#streamHooks());
    if (!live) {
      // Answered already (the client is gone, a limit, a timeout, a
      // shutdown): a body whose writes go nowhere, as on any writer whose
      // output closed.
      stream.drop(
        this.#gone ?? this.#own ?? this.#server.signal?.reason ??
          new Error(`${method}: the library answered this request already`),
      );
      return stream.body;
    }
    const response = new Response(bodyless(status) ? null : stream.readable, {
      status,
      statusText: init?.statusText,
      headers,
    });
    const body = encoding === null ? stream.body : compressBody(
      stream.body,
      encoding,
      {
        level: options?.level,
        bufferSize: server.bufferSize,
        maxPendingBytes: server.maxPendingBytes,
        onError: this.#onCallbackError,
      },
    );
    this.#responseBody = body;
    this.#stream = stream;
    this.#state = "streaming";
    this.#handOut(response);
    if (bodyless(status)) {
      // Already closed, and its output too: Deno never reads a bodyless
      // response's stream. Dropped, not cancelled: a cancel is the client
      // leaving.
      body.closeWriter();
      stream.drop(
        new Error(`${method}: a ${status} response carries no body`),
      );
    }
    return body;
  }

  reportException(error: unknown): void {
    try {
      this.#report(error);
    } catch (failure) {
      // Nothing above should throw; if it does, it must not reach the
      // caller (a timer, a callback): log both and go on.
      console.error("withBody: reporting a failure failed:", failure, error);
    }
  }

  setTimeouts(timeouts: Timeouts): void {
    const method = "Reqd.setTimeouts";
    if (timeouts === null || typeof timeouts !== "object") {
      throw new TypeError(
        `${method}: expected { readTimeout?, writeTimeout? }, received ${
          describe(timeouts)
        }`,
      );
    }
    checkOptions(method, timeouts, ["readTimeout", "writeTimeout"]);
    const deadlines = this.#timers();
    const { readTimeout, writeTimeout } = timeouts;
    deadlines.set(
      checkTimeout(method, "readTimeout", readTimeout, deadlines.readTimeout),
      checkTimeout(
        method,
        "writeTimeout",
        writeTimeout,
        deadlines.writeTimeout,
      ),
    );
  }

  // ---- for withBody ----

  /** The response if the handler chose one already, else its promise. */
  response(): Response | Promise<Response> {
    const response = this.#response;
    if (response !== null) {
      this.#response = null; // withBody's caller owns it now
      return response;
    }
    return new Promise((resolve) => (this.#resolve = resolve));
  }

  /** The shutdown signal aborted with `reason`. */
  shutdown(reason: unknown): void {
    if (this.#state === "gone") return;
    if (this.#state === "pending") this.#preempt(unavailable());
    else if (this.#state === "streaming") endOutput(this.#responseBody!);
    this.#closeInput(reason);
  }

  /** Expiry: a read waited readTimeout on the client. */
  readExpired(error: Deno.errors.TimedOut): void {
    this.#own = error;
    this.#closeInput(error);
    if (this.#state === "pending") this.#preempt(timedOut());
    else if (this.#state === "streaming") this.#stream!.cut(error);
    this.#updateLive();
  }

  /** Expiry: the response waited writeTimeout on the client. */
  writeExpired(error: Deno.errors.TimedOut): void {
    this.#own = error;
    this.#stream!.cut(error);
    this.#closeInput(error);
  }

  // The client went away, as `error` showed (its upload failed, or Deno
  // cancelled the response stream). Nothing the handler does can reach it
  // any more: the exchange is settled now, so that it never holds a
  // shutdown, and the disconnect is not reported as a failure.
  #clientGone(error: unknown): void {
    const state = this.#state;
    if (state === "gone") return;
    this.#gone = error;
    this.#state = "gone";
    if (state === "pending") {
      this.#late = true;
      this.#handOut(clientGone());
    } else if (state === "streaming") this.#stream!.drop(error);
    this.#closeInput(error);
    this.#updateLive();
    this.#server.disconnected(error, this.#request);
  }

  // Whether `error` is the client's leaving, or caused by it.
  #isDisconnect(error: unknown): boolean {
    for (let e = error, depth = 0; e != null && depth < 8; depth++) {
      if (e === this.#gone) return true;
      e = (e as { cause?: unknown }).cause;
    }
    return false;
  }

  // ---- the request body ----

  #openRequestBody(): Body<"read"> {
    const onError = this.#onCallbackError;
    const failure = this.#failure ??
      (this.#server.signal?.aborted ? this.#server.signal.reason : undefined);
    if (failure !== undefined) return failedBody(failure, onError);
    const stream = requestStream(this.#request);
    if (stream === null) return endedBody(onError);
    if (stream instanceof Error) return failedBody(stream, onError);
    const server = this.#server;
    return openReader("Reqd.requestBody", stream, server.bufferSize, {
      onError,
      maxBytes: server.maxBodyBytes,
      overflow: (max) =>
        this.#own = new RangeError(
          `withBody: the request body is larger than maxBodyBytes (${max} bytes)`,
        ),
      onOverflow: () => {
        if (this.#state === "pending") {
          this.#preempt(tooLarge(server.maxBodyBytes!));
        }
      },
      length: requestLength(this.#request.headers),
      // A read waits on the client: the clock and a shutdown must reach it.
      onWait: () => {
        this.#timers().readWaits();
        const live = server.live;
        if (live === null) return;
        if (server.signal!.aborted) this.#closeInput(server.signal!.reason);
        else live.add(this);
      },
      onAnswer: () => this.#readAnswered(),
      // Released or ended: whatever read is still out waits on nothing the
      // handler needs.
      onEnd: () => this.#readAnswered(),
      // The upload failed under the handler (the client reset or left):
      // settled before the handler's onEof(error) runs.
      onFail: (error) => this.#clientGone(error),
    });
  }

  // Closes the request body with `error`: a pending read answers
  // onEof(error); a body taken later answers the same.
  #closeInput(error: unknown): void {
    if (this.#requestBody !== null) failInput(this.#requestBody, error);
    else this.#failure ??= error;
  }

  // ---- responses ----

  // Whether a response may be chosen now: false once the library answered
  // for the handler (the response is discarded quietly); a handler that
  // responds twice gets an error.
  #expectPending(method: string): boolean {
    const state = this.#state;
    if (state === "pending") return true;
    if (this.#late) return false;
    throw new Error(`${method}: response already started`);
  }

  // The library's own response for a handler that had not responded.
  #preempt(response: Response): void {
    this.#late = true;
    this.#respond(response);
  }

  #respond(response: Response): void {
    this.#state = "responded";
    this.#handOut(response);
    this.#updateLive();
  }

  #handOut(response: Response): void {
    if (this.#resolve !== null) this.#resolve(response);
    else this.#response = response;
  }

  // ---- failures ----

  #report(reported: unknown): void {
    // A failure must never read as a clean end, whatever was thrown.
    const error = reported ??
      new Error("Reqd.reportException: a failure reported without an error");
    const state = this.#state;
    if (state === "gone") {
      this.#closeInput(error);
      if (!this.#isDisconnect(error)) {
        console.error(
          "withBody: a request failed after its client left:",
          error,
        );
      }
      return;
    }
    const quiet = quietError(error, this.#own, this.#server);
    this.#closeInput(error);
    if (state === "pending") {
      if (quiet !== null) return this.#preempt(quiet());
      this.#state = "responded";
      this.#server.errorResponse(error, this.#request).then((response) =>
        this.#respond(response)
      );
    } else if (state === "streaming") {
      abortOutput(this.#responseBody!, error);
    } else if (quiet === null) {
      console.error("withBody: a request failed after its response:", error);
    }
  }

  // Receives what an adapter caught from a callback of a body this request
  // owns (onRead, onEof, a flush callback).
  get #onCallbackError(): (error: unknown) => void {
    return (error) => this.reportException(error);
  }

  // ---- timeouts and the live set ----

  #timers(): Deadlines {
    const server = this.#server;
    return (this.#deadlines ??= new Deadlines(
      server.clock,
      this,
      server.readTimeout,
      server.writeTimeout,
    ));
  }

  #readAnswered(): void {
    this.#deadlines?.readAnswered();
    this.#updateLive();
  }

  #streamHooks(): StreamHooks {
    return {
      onError: this.#onCallbackError,
      onEnd: () => {
        if (this.#state === "streaming") this.#state = "finished";
        this.#deadlines?.writeAnswered();
        this.#updateLive();
      },
      onCancel: (error) => this.#clientGone(error),
      onEnqueue: () => this.#timers().writeWaits(),
      onTaken: () => this.#deadlines!.writeAnswered(),
    };
  }

  // A shutdown must reach this request while it has no response, streams
  // one, or has a read waiting on the client; not after.
  #updateLive(): void {
    const reading = this.#deadlines?.reading === true;
    const live = this.#server.live;
    const state = this.#state;
    if (
      live !== null && state !== "pending" && state !== "streaming" && !reading
    ) {
      live.delete(this);
    }
  }
}
