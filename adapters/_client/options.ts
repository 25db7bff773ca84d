/**
 * `request`'s options: their documented type, and the checks that turn
 * them into settings when `request` is called (a `TypeError` or
 * `RangeError` in the words `request: …`, never a failure later). Private.
 *
 * @module
 */

import type { Body } from "../../body.ts";
import {
  checkBufferSize,
  checkLimit,
  checkOptions,
  describe,
} from "../../_body/check.ts";
import { checkTimeout } from "../_serve/clock.ts";

/**
 * Options of `request`: the callbacks (`onResponse` and `onError` are
 * required), what `fetch` sends, timeouts and limits. Checked when
 * `request` is called: an unknown key or a bad value throws there.
 *
 * @example A server that never answers: headersTimeout
 * ```ts
 * import { request, type RequestOptions } from "@httpaf/body/client";
 *
 * // A server that accepts the connection and never answers.
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const failed = Promise.withResolvers<unknown>();
 * const options: RequestOptions = {
 *   headersTimeout: 200,
 *   onResponse: () => failed.reject(new Error("no response was sent")),
 *   onError: failed.resolve,
 * };
 * request(`http://127.0.0.1:${listener.addr.port}/`, options);
 * const conn = await listener.accept();
 * const error = await failed.promise;
 * if (!(error instanceof Deno.errors.TimedOut)) throw error;
 * if (!(error.message.includes("headersTimeout"))) throw error;
 * conn.close();
 * listener.close();
 * ```
 */
export interface RequestOptions {
  /**
   * The request method (default `"GET"`). `GET` and `HEAD` carry no body:
   * the body `request` returns is closed already. Any other method uploads
   * what the returned body is given (chunked: Deno's `fetch` sends no
   * `content-length` for a streamed body).
   */
  method?: string;
  /** Request headers, as for `fetch`. */
  headers?: HeadersInit;
  /**
   * How redirects are handled, as for `fetch` (default `"follow"`). Deno's
   * `fetch` cannot send a streamed upload twice: a redirect that would
   * resend it (301, 302, 307, 308) fails the request (`onError`); a 303 is
   * followed with a `GET`. `"manual"` hands the 3xx response over instead.
   */
  redirect?: RequestRedirect;
  /**
   * Receives the response once its head arrived: `response` has its
   * status and headers (its own `body` is locked: the library reads it),
   * `body` reads the response body. Called at most once, never inside
   * `request()`; exactly one of `onResponse` and `onError` is called. It
   * may be async: a rejection is handled as a throw (reported, the
   * request aborted).
   */
  onResponse: (response: Response, body: Body<"read">) => unknown;
  /**
   * Receives the failure of a request that got no response head: the
   * connection refused or reset, DNS, TLS, `headersTimeout`,
   * `writeTimeout`, the `signal`'s reason, an aborted upload. Called at
   * most once, never inside `request()`. It may be async: a rejection is
   * reported as a throw is.
   */
  onError: (error: unknown) => unknown;
  /**
   * The most milliseconds from the call to the response head; then
   * `onError` gets a `Deno.errors.TimedOut` naming it. `Infinity`
   * disables it. Default: 60 000.
   */
  headersTimeout?: number;
  /**
   * The most milliseconds a scheduled response read waits on the network,
   * restarted by every chunk; then the read answers `onEof` with a
   * `Deno.errors.TimedOut` naming it and the request is aborted. A reader
   * that is slow to schedule its next read is never timed out. `Infinity`
   * disables it. Default: 60 000.
   */
  readTimeout?: number;
  /**
   * The most milliseconds upload output waits for `fetch` to take it (the
   * server stopped reading), restarted whenever `fetch` takes bytes; then
   * the request is aborted with a `Deno.errors.TimedOut` naming it. An
   * upload with nothing pending is never timed out. `Infinity` disables
   * it. Default: 60 000.
   */
  writeTimeout?: number;
  /**
   * The most response bytes delivered, counted after Deno's `fetch`
   * decoded a `content-encoding` (so a small compressed body that inflates
   * hugely is stopped too): the response is cancelled and its read answers
   * `onEof` with a `RangeError` naming it. Default: no limit.
   */
  maxResponseBytes?: number;
  /**
   * Aborts whatever is in flight, once: `onError(signal.reason)` before
   * the response head, the response body's `onEof(signal.reason)` after;
   * upload flushes answer `"closed"`.
   */
  signal?: AbortSignal;
  /** The `Deno.HttpClient` to send with (HTTP/2, CA certificates, proxy). */
  client?: Deno.HttpClient;
  /**
   * The upload's buffer size (its largest chunk) and the response's read
   * buffer (capped at 64 KiB). Default: 65536.
   */
  bufferSize?: number;
  /**
   * The most bytes the upload body may hold for `fetch` (`pendingBytes`):
   * the write that crosses it aborts the request. Default: no limit.
   */
  maxPendingBytes?: number;
  /**
   * Receives an exception thrown by `onResponse`, `onError` or a callback
   * of either body (`onRead`, `onEof`, a flush callback); the request is
   * aborted. Default: `console.error`. Never lets it escape.
   */
  onCallbackError?: (error: unknown) => void;
}

const REQUEST_OPTIONS: readonly (keyof RequestOptions)[] = [
  "method",
  "headers",
  "redirect",
  "onResponse",
  "onError",
  "headersTimeout",
  "readTimeout",
  "writeTimeout",
  "maxResponseBytes",
  "signal",
  "client",
  "bufferSize",
  "maxPendingBytes",
  "onCallbackError",
];

/** The default of each timeout: one minute. */
export const DEFAULT_TIMEOUT = 60_000;

// The methods fetch normalizes to upper case (Fetch standard).
const NORMALIZED = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];

/** `request`'s options, checked, with their defaults. */
export interface Settings {
  readonly url: URL;
  /** Upper case for the methods fetch normalizes. */
  readonly method: string;
  readonly onResponse: (response: Response, body: Body<"read">) => unknown;
  readonly onError: (error: unknown) => unknown;
  readonly onCallbackError: ((error: unknown) => void) | undefined;
  readonly headersTimeout: number;
  readonly readTimeout: number;
  readonly writeTimeout: number;
  readonly maxResponseBytes: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly client: Deno.HttpClient | undefined;
  readonly bufferSize: number | undefined;
  readonly maxPendingBytes: number | undefined;
}

/**
 * Checks `request(url, options)`'s arguments.
 *
 * @throws {TypeError} for an unknown option, a value of the wrong type, a
 *   URL that does not parse or is not `http:`/`https:`.
 * @throws {RangeError} for a number out of range.
 */
export function checkRequest(url: unknown, options: unknown): Settings {
  const caller = "request";
  if (options === undefined) {
    throw new TypeError(
      "request: expected options with onResponse and onError, received undefined",
    );
  }
  checkOptions(caller, options, REQUEST_OPTIONS);
  const o = options as RequestOptions;
  const onCallbackError = o.onCallbackError;
  if (onCallbackError !== undefined) {
    checkFunction("onCallbackError", onCallbackError);
  }
  const signal = o.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `request: signal must be an AbortSignal, received ${describe(signal)}`,
    );
  }
  const client = o.client;
  if (client !== undefined && !(client instanceof Deno.HttpClient)) {
    throw new TypeError(
      `request: client must be a Deno.HttpClient, received ${describe(client)}`,
    );
  }
  const size = o.bufferSize;
  return {
    url: checkUrl(url),
    method: checkMethod(o.method),
    onResponse: checkFunction("onResponse", o.onResponse),
    onError: checkFunction("onError", o.onError),
    onCallbackError,
    headersTimeout: timeout("headersTimeout", o.headersTimeout),
    readTimeout: timeout("readTimeout", o.readTimeout),
    writeTimeout: timeout("writeTimeout", o.writeTimeout),
    maxResponseBytes: checkLimit(
      caller,
      "maxResponseBytes",
      o.maxResponseBytes,
    ),
    signal,
    client,
    bufferSize: size === undefined ? undefined : checkBufferSize(caller, size),
    maxPendingBytes: checkLimit(caller, "maxPendingBytes", o.maxPendingBytes),
  };
}

const timeout = (name: string, value: unknown) =>
  checkTimeout("request", name, value, DEFAULT_TIMEOUT);

function checkFunction<F>(name: string, value: F): F {
  if (typeof value !== "function") {
    throw new TypeError(
      `request: ${name} must be a function, received ${describe(value)}`,
    );
  }
  return value;
}

function checkUrl(url: unknown): URL {
  if (typeof url !== "string" && !(url instanceof URL)) {
    throw new TypeError(
      `request: expected a URL or a string, received ${describe(url)}`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`request: invalid URL ${JSON.stringify(String(url))}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(
      `request: the URL's scheme must be http: or https:, received ${
        JSON.stringify(parsed.protocol)
      }`,
    );
  }
  return parsed;
}

function checkMethod(method: unknown): string {
  if (method === undefined) return "GET";
  if (typeof method !== "string") {
    throw new TypeError(
      `request: method must be a string, received ${describe(method)}`,
    );
  }
  const upper = method.toUpperCase();
  return NORMALIZED.includes(upper) ? upper : method;
}

/** Whether `method` (as checked) carries no request body. */
export const bodyless = (method: string): boolean =>
  method === "GET" || method === "HEAD";

/**
 * The length a response declares that its delivered bytes must reach: its
 * `content-length`, unless it has no body (a `HEAD` request, 204, 304) or
 * a `content-encoding` that `fetch` decodes (then the header counts the
 * encoded bytes, not those delivered).
 */
export function declaredLength(
  response: Response,
  method: string,
): number | undefined {
  const status = response.status;
  if (method === "HEAD" || status === 204 || status === 304) return undefined;
  const headers = response.headers;
  const encoding = headers.get("content-encoding");
  if (encoding !== null && encoding.trim().toLowerCase() !== "identity") {
    return undefined;
  }
  const declared = headers.get("content-length");
  if (declared === null || !/^\d{1,15}$/.test(declared)) return undefined;
  return Number(declared);
}
