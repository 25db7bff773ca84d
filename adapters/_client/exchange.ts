/**
 * One request and its response, over Deno's `fetch`. Bytes of the upload
 * flow a writer body → a stream (`openStream`) that `fetch` pulls as it
 * sends; bytes of the response flow `response.body` → a reader body
 * (`openReader`), read only while the application schedules a read. The
 * exchange joins both to the three timeouts, the signal and the
 * application's callbacks, and turns every failure into exactly one of
 * `onError(error)` (before the response head) or the response body's
 * `onEof(error)` (after it), with the upload's flushes answering
 * `"closed"` — never an uncaught exception. Private.
 *
 * @module
 */

import {
  type Body,
  createReader,
  createWriter,
  endInput,
  failInput,
} from "../../body.ts";
import { callHook } from "../../_body/check.ts";
import { openReader } from "../_readable/source.ts";
import { type OpenStream, openStream } from "../_writable/sink.ts";
import { declaredLength, type Settings } from "./options.ts";
import { type OnExpiry, type TimeoutName, Timers } from "./timers.ts";

/**
 * - `"head"`: the request is out, no response head yet;
 * - `"response"`: `onResponse` was called; the response body or the upload
 *   may still be under way;
 * - `"done"`: nothing more will happen: `onError` was called (or is
 *   queued), or both bodies ended; the signal is no longer watched.
 */
type Phase = "head" | "response" | "done";

/** The request of one `request()` call. */
export class Exchange implements OnExpiry {
  /** The request body, as `request()` returns it. */
  readonly body: Body<"write">;
  readonly #settings: Settings;
  readonly #fetch = new AbortController();
  readonly #timers: Timers;
  readonly #upload: OpenStream | null; // null for GET and HEAD
  #phase: Phase = "head";
  #uploading: boolean; // the upload stream has not ended
  #response: Body<"read"> | null = null; // set once the head arrived
  #downloading = false; // the response body has not ended
  #failed = false; // the exchange was aborted (#fail ran)

  /**
   * Sends `init` (method, headers, redirect: checked by the caller) to
   * `settings.url`, with an upload stream unless the method is bodyless.
   *
   * @throws {TypeError} when `fetch`'s `Request` refuses `init`.
   */
  constructor(settings: Settings, init: RequestInit, bodyless: boolean) {
    this.#settings = settings;
    this.#timers = new Timers(
      this,
      settings.headersTimeout,
      settings.readTimeout,
      settings.writeTimeout,
    );
    if (bodyless) {
      this.#upload = null;
      this.body = this.#closedWriter();
    } else {
      this.#upload = openStream("request", {
        bufferSize: settings.bufferSize,
        maxPendingBytes: settings.maxPendingBytes,
      }, {
        // A flush callback threw: the stream errored with it already.
        onError: (error) => this.#callbackFailed(error),
        onEnd: () => {
          this.#uploading = false;
          this.#timers.writeAnswered();
          this.#settle();
        },
        onEnqueue: () => this.#timers.writeWaits(),
        onTaken: () => this.#timers.writeAnswered(),
        // Body.abort(), or a write past maxPendingBytes.
        onAbort: (reason) => this.#fail(reason),
      });
      this.body = this.#upload.body;
    }
    this.#uploading = !bodyless;
    const request = makeRequest(settings.url, {
      ...init,
      body: this.#upload?.readable ?? null,
      signal: this.#fetch.signal,
      ...(bodyless ? {} : { duplex: "half" }),
    });
    const signal = settings.signal;
    if (signal?.aborted) {
      this.#fail(signal.reason);
      return;
    }
    signal?.addEventListener("abort", this.#onAbort, { once: true });
    this.#timers.headWaits();
    const client = settings.client;
    fetch(request, client === undefined ? undefined : { client }).then(
      this.#onHead,
      this.#onHeadFailure,
    );
  }

  /** OnExpiry: every timeout aborts the whole request with its error. */
  expired(_name: TimeoutName, error: Deno.errors.TimedOut): void {
    this.#fail(error);
  }

  // The request body of a GET or HEAD: closed from the start (writes throw
  // "body is closed"; a flush answers "written", there being nothing to
  // send). Its channel is never woken: the body holds no output.
  #closedWriter(): Body<"write"> {
    const body = createWriter({
      wake() {},
      abort() {},
      callbackError: (error) => this.#callbackFailed(error),
    });
    body.closeWriter();
    return body;
  }

  // ---- the response head ----

  #onHead = (response: Response): void => {
    if (this.#phase !== "head") {
      // Failed meanwhile (and reported): nobody will read this response.
      // Its stream errored with the abort already, so the cancel's
      // rejection says nothing new.
      response.body?.cancel().catch(() => {});
      return;
    }
    this.#timers.headAnswered();
    this.#phase = "response";
    const body = this.#response = this.#openResponse(response);
    try {
      this.#watch(this.#settings.onResponse(response, body));
    } catch (error) {
      this.#callbackFailed(error);
    }
    this.#settle(); // a response without a body may have ended it all
  };

  #onHeadFailure = (error: unknown): void => {
    // After #fail, the abort's own rejection: the failure went to onError.
    if (this.#phase !== "head") return;
    this.#fail(error);
  };

  #openResponse(response: Response): Body<"read"> {
    const stream = response.body;
    const settings = this.#settings;
    if (stream === null) {
      // No body (HEAD, 204, 304): a body that has ended. The upload may go
      // on, so the exchange stays open until it ends.
      const body = createReader({
        request() {}, // never called: the body ends before any read
        release() {}, // nothing to release
        callbackError: (error) => this.#callbackFailed(error),
      });
      endInput(body);
      return body;
    }
    this.#downloading = true;
    return openReader("request", stream, settings.bufferSize, {
      // onRead/onEof threw: the body failed with it already.
      onError: (error) => this.#callbackFailed(error),
      maxBytes: settings.maxResponseBytes,
      overflow: (max) =>
        new RangeError(
          `request: the response body is larger than maxResponseBytes (${max} bytes)`,
        ),
      length: declaredLength(response, settings.method),
      onWait: () => this.#timers.readWaits(),
      onAnswer: () => this.#timers.readAnswered(),
      onEnd: () => {
        this.#downloading = false;
        this.#timers.readAnswered();
        this.#settle();
      },
      // closeReader() (reason undefined) ends the whole request; any other
      // release is a failure of the response (a reset, a truncation, a
      // limit) that the upload must learn of too.
      onRelease: (reason) =>
        this.#fail(
          reason === undefined
            ? new Error("request: the response body was closed before its end")
            : reason,
        ),
    });
  }

  // ---- failures ----

  #onAbort = (): void => this.#fail(this.#settings.signal!.reason);

  // The request fails with `error`, once: before the head, onError(error);
  // after it, the response body's reads answer onEof(error). The upload's
  // flushes answer "closed" and its signal aborts with `error`; fetch is
  // aborted, which releases the connection.
  #fail(error: unknown): void {
    if (this.#failed || this.#phase === "done") return;
    this.#failed = true;
    const before = this.#phase === "head";
    if (before) this.#phase = "done";
    this.#upload?.cut(error);
    this.#fetch.abort(error);
    if (before) {
      // Never inside request() itself (a signal aborted already, a
      // refused Request): onError comes from a microtask.
      queueMicrotask(() => this.#callOnError(error));
    } else if (this.#response !== null) {
      failInput(this.#response, error);
    }
    this.#settle();
  }

  #callOnError(error: unknown): void {
    try {
      const result: unknown = this.#settings.onError(error);
      if (isThenable(result)) {
        Promise.resolve(result).then(
          undefined,
          (thrown) => this.#report(thrown),
        );
      }
    } catch (thrown) {
      this.#report(thrown);
    }
  }

  // An async onResponse: its rejection is handled as a throw would be (an
  // unhandled rejection would end the process).
  #watch(result: unknown): void {
    if (isThenable(result)) {
      Promise.resolve(result).then(
        undefined,
        (error) => this.#callbackFailed(error),
      );
    }
  }

  // An application callback threw `error` (onResponse, onRead, onEof, a
  // flush callback): the request is aborted with it, and it is reported.
  #callbackFailed(error: unknown): void {
    this.#fail(error);
    this.#report(error);
  }

  #report(error: unknown): void {
    const onCallbackError = this.#settings.onCallbackError;
    if (onCallbackError === undefined) {
      console.error("request: a callback threw:", error);
      return;
    }
    callHook("request: options.onCallbackError", onCallbackError, error);
  }

  // Once the head is handled and both bodies ended, nothing more can
  // happen: the signal is no longer watched and the clock forgets us.
  #settle(): void {
    if (this.#uploading || this.#downloading) return;
    if (this.#phase === "head" && !this.#failed) return;
    this.#phase = "done";
    this.#timers.stop();
    this.#settings.signal?.removeEventListener("abort", this.#onAbort);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

// `new Request(url, init)`, its refusals (a forbidden method, a bad header)
// in `request`'s words.
function makeRequest(url: URL, init: RequestInit): Request {
  try {
    return new Request(url, init);
  } catch (error) {
    throw new TypeError(
      `request: ${(error as Error)?.message} (method ${
        JSON.stringify(init.method)
      })`,
      { cause: error },
    );
  }
}
