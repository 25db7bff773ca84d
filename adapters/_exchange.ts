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

import { abortOutput, type Body, endOutput, failInput } from "../body.ts";
import { checkTimeout, IdleTimer, type Watched } from "./_clock.ts";
import { compressBody } from "./compress.ts";
import {
  bodyless,
  chooseEncoding,
  endedBody,
  failedBody,
  quietError,
  requestLength,
  responseLength,
} from "./_http.ts";
import { openReader } from "./readable.ts";
import { Reqd, type StreamingOptions, type Timeouts } from "./_reqd.ts";
import {
  defaultOnError,
  type Server,
  timedOut,
  tooLarge,
  unavailable,
} from "./_server.ts";
import { openStream, type StreamHooks } from "./writable.ts";

/**
 * - `"pending"`: no response chosen yet;
 * - `"responded"`: a whole response (or the library's own) was chosen;
 * - `"streaming"`: a streaming response is under way;
 * - `"finished"`: that stream closed, errored or was cancelled.
 */
type ExchangeState = "pending" | "responded" | "streaming" | "finished";

const encoder = new TextEncoder();

/** The `Reqd` of one request. */
export class Exchange extends Reqd implements Watched {
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
  #cut: ((reason: unknown) => void) | null = null; // cuts the response stream
  #own: unknown = undefined; // the library's own error (limit, timeout)
  #readTimer: IdleTimer | null = null; // made when a read first waits
  #writeTimer: IdleTimer | null = null; // made when a chunk first waits
  #timeouts: Timeouts | null = null; // setTimeouts() overrides

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
    if (typeof text !== "string") {
      throw new TypeError(
        `Reqd.respondWithString: expected a string body, received ${typeof text}`,
      );
    }
    this.#respondWhole("respondWithString", init, text);
  }

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

  respondWithStreaming(
    init?: ResponseInit,
    options?: StreamingOptions,
  ): Body<"write"> {
    const method = "Reqd.respondWithStreaming";
    this.#expectPending("respondWithStreaming");
    const headers = new Headers(init?.headers);
    const status = init?.status ?? 200;
    const head = this.#request.method === "HEAD";
    const contentLength = head ? undefined : responseLength(method, headers);
    const encoding = bodyless(status) || head
      ? null
      : chooseEncoding(method, this.#request, headers, options);
    const server = this.#server;
    const stream = openStream(method, {
      bufferSize: server.bufferSize,
      contentLength,
      // A compressing body holds the uncompressed bytes: its limit, then.
      maxPendingBytes: encoding === null ? server.maxPendingBytes : undefined,
    }, this.#streamHooks());
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
        onError: this.#onCallbackError,
      },
    );
    this.#responseBody = body;
    this.#cut = stream.cut;
    this.#state = "streaming";
    this.#handOut(response);
    if (bodyless(status)) {
      body.closeWriter();
      // Never read: nothing to lose.
      stream.readable.cancel().catch(() => {});
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
    if (timeouts === null || typeof timeouts !== "object") {
      throw new TypeError(
        "Reqd.setTimeouts: expected { readTimeout?, writeTimeout? }",
      );
    }
    const readTimeout = checkTimeout(
      "Reqd.setTimeouts",
      "readTimeout",
      timeouts.readTimeout,
      this.#timeout("readTimeout"),
    );
    const writeTimeout = checkTimeout(
      "Reqd.setTimeouts",
      "writeTimeout",
      timeouts.writeTimeout,
      this.#timeout("writeTimeout"),
    );
    this.#timeouts = { readTimeout, writeTimeout };
    this.#restart(this.#readTimer, readTimeout);
    this.#restart(this.#writeTimer, writeTimeout);
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
    if (this.#state === "pending") this.#respond(unavailable());
    else if (this.#state === "streaming") endOutput(this.#responseBody!);
    this.#closeInput(reason);
  }

  /** Watched: checks both timeouts at `now`; never throws. */
  check(now: number): boolean {
    const read = this.#readTimer;
    const write = this.#writeTimer;
    try {
      if (read?.expired(now)) this.#expireRead(read);
      if (write?.expired(now)) this.#expireWrite(write);
    } catch (error) {
      console.error("withBody: expiring a timeout failed:", error);
    }
    return (read?.waits ?? false) || (write?.waits ?? false);
  }

  // ---- the request body ----

  #openRequestBody(): Body<"read"> {
    const onError = this.#onCallbackError;
    if (this.#failure !== undefined) return failedBody(this.#failure, onError);
    const signal = this.#server.signal;
    if (signal?.aborted) return failedBody(signal.reason, onError);
    let stream: ReadableStream<Uint8Array> | null;
    try {
      stream = this.#request.body;
    } catch (error) {
      // Deno: "Request closed" once the response has finished.
      return failedBody(
        new TypeError(
          `Reqd.requestBody: the request body is gone: its response finished before it was read (${
            (error as Error)?.message
          })`,
        ),
        onError,
      );
    }
    if (stream === null) return endedBody(onError);
    if (this.#request.bodyUsed || stream.locked) {
      return failedBody(
        new TypeError(
          "Reqd.requestBody: the request body was already consumed through reqd.request",
        ),
        onError,
      );
    }
    const server = this.#server;
    return openReader("Reqd.requestBody", stream, {
      bufferSize: server.bufferSize,
    }, {
      onError,
      maxBytes: server.maxBodyBytes,
      overflow: (max) =>
        this.#own = new RangeError(
          `withBody: the request body is larger than maxBodyBytes (${max} bytes)`,
        ),
      onOverflow: () => {
        if (this.#state === "pending") {
          this.#respond(tooLarge(server.maxBodyBytes!));
        }
      },
      length: requestLength(this.#request.headers),
      // A read waits on the client: the clock and a shutdown must reach it.
      onWait: () => {
        const timer = (this.#readTimer ??= new IdleTimer(
          this.#timeout("readTimeout"),
        ));
        timer.wait();
        this.#watch(timer);
        const live = server.live;
        if (live === null) return;
        if (server.signal!.aborted) this.#closeInput(server.signal!.reason);
        else live.add(this);
      },
      onAnswer: () => {
        this.#readTimer!.answered();
        this.#updateLive();
      },
      // Released or ended: whatever read is still out waits on nothing the
      // handler needs.
      onEnd: () => {
        this.#readTimer?.answered();
        this.#updateLive();
      },
    });
  }

  // Closes the request body with `error`: a pending read answers
  // onEof(error); a body taken later answers the same.
  #closeInput(error: unknown): void {
    if (this.#requestBody !== null) failInput(this.#requestBody, error);
    else this.#failure ??= error;
  }

  // ---- responses ----

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
    if (declared !== null && this.#request.method !== "HEAD") {
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
    if (this.#state !== "pending") {
      throw new Error(`Reqd.${method}: response already started`);
    }
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

  #report(error: unknown): void {
    const quiet = quietError(error, this.#own, this.#server, this.#request);
    this.#closeInput(error);
    const state = this.#state;
    if (state === "pending") {
      if (quiet !== null) return this.#respond(quiet());
      this.#state = "responded";
      this.#errorResponse(error).then((response) => this.#respond(response));
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

  async #errorResponse(error: unknown): Promise<Response> {
    try {
      const response = await this.#server.onError(error, this.#request);
      if (response instanceof Response) return response;
      throw new TypeError(
        `withBody: onError returned ${typeof response}, not a Response`,
      );
    } catch (failure) {
      console.error("withBody: onError failed:", failure);
      return defaultOnError(error);
    }
  }

  // ---- timeouts and the live set ----

  #timeout(name: keyof Timeouts): number {
    return this.#timeouts?.[name] ?? this.#server[name];
  }

  #watch(timer: IdleTimer): void {
    if (timer.timeout !== Infinity) {
      this.#server.clock.watch(this, timer.timeout);
    }
  }

  #restart(timer: IdleTimer | null, timeout: number): void {
    if (timer === null) return;
    timer.restart(timeout);
    if (timer.waits) this.#watch(timer);
  }

  #streamHooks(): StreamHooks {
    return {
      onError: this.#onCallbackError,
      onEnd: () => {
        if (this.#state === "streaming") this.#state = "finished";
        this.#writeTimer?.answered();
        this.#updateLive();
      },
      onEnqueue: () => {
        const timer = (this.#writeTimer ??= new IdleTimer(
          this.#timeout("writeTimeout"),
        ));
        timer.wait();
        this.#watch(timer);
      },
      onTaken: () => {
        this.#writeTimer!.answered();
        this.#updateLive();
      },
    };
  }

  #expireRead(timer: IdleTimer): void {
    const error = (this.#own = new Deno.errors.TimedOut(
      `withBody: readTimeout (${timer.timeout} ms) expired: the client sent nothing for that long`,
    ));
    timer.answered();
    this.#closeInput(error);
    if (this.#state === "pending") this.#respond(timedOut(this.#request));
    else if (this.#state === "streaming") this.#cut!(error);
    this.#updateLive();
  }

  #expireWrite(timer: IdleTimer): void {
    const error = (this.#own = new Deno.errors.TimedOut(
      `withBody: writeTimeout (${timer.timeout} ms) expired: the client took no response bytes for that long`,
    ));
    timer.answered();
    this.#cut!(error);
    this.#closeInput(error);
  }

  // After any change: nothing keeps this exchange alive that no longer
  // needs to (a finished request must not wait for a clock tick to be
  // collected, with its buffers).
  #updateLive(): void {
    const reading = this.#readTimer?.waits === true;
    if (!reading && this.#writeTimer?.waits !== true) {
      this.#server.clock.unwatch(this);
    }
    const live = this.#server.live;
    const state = this.#state;
    if (
      live !== null && state !== "pending" && state !== "streaming" && !reading
    ) {
      live.delete(this);
    }
  }
}
