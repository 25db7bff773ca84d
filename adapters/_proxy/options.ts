/**
 * `proxy`'s options: their documented types, and the checks that turn them
 * into settings when `proxy` is called (a `TypeError` or `RangeError` in
 * the words `proxy: …`, never a failure at the first request). Private.
 *
 * @module
 */

import type { Body } from "../../body.ts";
import { checkLimit, checkOptions, describe } from "../../_body/check.ts";
import type { Encoding } from "../compress.ts";
import type { Reqd, StreamingOptions } from "../serve.ts";
import { checkTimeout } from "../_serve/clock.ts";
// The upstream side's timeouts default as on request().
import { DEFAULT_TIMEOUT } from "../_client/options.ts";
import { upstreamUrl } from "./headers.ts";

/** The request `proxy` is about to send upstream; a hook may change it. */
export interface UpstreamRequest {
  /** Where it goes. */
  url: URL;
  /** Its method: the client's. */
  method: string;
  /** Its headers: the client's end-to-end ones, `x-forwarded-*` added. */
  headers: Headers;
}

/** The response head `proxy` is about to send the client; a hook may change it. */
export interface ResponseHead {
  /** The upstream's status. */
  status: number;
  /** The upstream's status text. */
  statusText: string;
  /** The upstream's end-to-end headers. */
  headers: Headers;
}

/** Options of `proxy`. */
export interface ProxyOptions {
  /** As `request()`'s: from the upstream request to its head (→ `504`). */
  headersTimeout?: number;
  /** As `request()`'s: a response read waiting on the upstream. */
  readTimeout?: number;
  /** As `request()`'s: upload output waiting for the upstream. */
  writeTimeout?: number;
  /** As `request()`'s: the most response bytes forwarded. */
  maxResponseBytes?: number;
  /** The `Deno.HttpClient` for the upstream (HTTP/2, CA certificates). */
  client?: Deno.HttpClient;
  /** Append `x-forwarded-for`, `-host` and `-proto` (default `true`). */
  forwarded?: boolean;
  /**
   * Compress responses for clients that accept it, as
   * `respondWithStreaming`'s `compress` (default: forward as received).
   */
  compress?: boolean | readonly Encoding[];
  /**
   * Hand Deno the upstream's body as it is (a native pipe): faster, with
   * fewer protections (see the module documentation). Default `false`.
   */
  passThrough?: boolean;
  /** Changes the upstream request (URL, method, headers) before it goes. */
  request?: (upstream: UpstreamRequest, reqd: Reqd) => void | Promise<void>;
  /** Changes the response head before it goes to the client. */
  response?: (head: ResponseHead, upstream: Response, reqd: Reqd) => void;
  /**
   * Moves the response body from the upstream (`input`) to the client
   * (`output`), instead of `pipeBody`: to transform it (`upstream` is the
   * upstream's response, for its headers). End `output` yourself —
   * `closeWriter()` after the input's clean end — and close `input` when
   * `output` goes away (`chunks(input)` does on `break`/`return`); a hook
   * that throws or rejects breaks the client's transfer and releases the
   * upstream. Return `pipeBody(input, output)` for responses you leave as
   * they are.
   */
  body?: (
    input: Body<"read">,
    output: Body<"write">,
    reqd: Reqd,
    upstream: Response,
  ) => unknown;
  /**
   * Hears of each upstream that failed: before its head (the client got
   * `502`/`504`) or mid-response (the client's transfer broke). Default:
   * one line on `console.error`. A hook that throws, or an async one that
   * rejects, is logged; the exchange goes on.
   */
  onUpstreamError?: (error: unknown, request: Request) => void;
}

const PROXY_OPTIONS: readonly (keyof ProxyOptions)[] = [
  "headersTimeout",
  "readTimeout",
  "writeTimeout",
  "maxResponseBytes",
  "client",
  "forwarded",
  "compress",
  "passThrough",
  "request",
  "response",
  "body",
  "onUpstreamError",
];

/** `proxy`'s options, checked, with their defaults. */
export interface Settings {
  readonly target: (request: Request) => URL;
  readonly headersTimeout: number;
  readonly readTimeout: number;
  readonly writeTimeout: number;
  readonly maxResponseBytes: number | undefined;
  readonly client: Deno.HttpClient | undefined;
  readonly forwarded: boolean;
  readonly streaming: StreamingOptions | undefined;
  readonly passThrough: boolean;
  readonly request: ProxyOptions["request"];
  readonly response: ProxyOptions["response"];
  readonly body: ProxyOptions["body"];
  readonly onUpstreamError: (error: unknown, request: Request) => void;
}

/**
 * Checks `proxy(target, options)`'s arguments.
 *
 * @throws {TypeError} for a bad target, an unknown option or one of the
 *   wrong type.
 * @throws {RangeError} for a timeout or limit out of range.
 */
export function checkProxy(target: unknown, options: unknown): Settings {
  checkOptions("proxy", options, PROXY_OPTIONS);
  const o = (options ?? {}) as ProxyOptions;
  const client = o.client;
  if (client !== undefined && !(client instanceof Deno.HttpClient)) {
    throw new TypeError(
      `proxy: client must be a Deno.HttpClient, received ${describe(client)}`,
    );
  }
  const compress = o.compress;
  return {
    target: checkTarget(target),
    headersTimeout: timeout("headersTimeout", o.headersTimeout),
    readTimeout: timeout("readTimeout", o.readTimeout),
    writeTimeout: timeout("writeTimeout", o.writeTimeout),
    maxResponseBytes: checkLimit(
      "proxy",
      "maxResponseBytes",
      o.maxResponseBytes,
    ),
    client,
    forwarded: flag("forwarded", o.forwarded, true),
    // Checked by respondWithStreaming at the first response; a bad value
    // is refused here first.
    streaming: compress === undefined || compress === false
      ? undefined
      : { compress: checkCompress(compress) },
    passThrough: flag("passThrough", o.passThrough, false),
    request: hook("request", o.request),
    response: hook("response", o.response),
    body: hook("body", o.body),
    onUpstreamError: hook("onUpstreamError", o.onUpstreamError) ??
      logUpstreamError,
  };
}

// One line, no stack: the upstream's failure is not this process's bug.
function logUpstreamError(error: unknown, request: Request): void {
  const cause = error instanceof Error && error.cause instanceof Error
    ? `: ${error.cause.message}`
    : "";
  const what = error instanceof Error ? error.message : String(error);
  const { pathname } = new URL(request.url);
  console.error(
    `proxy: ${request.method} ${pathname}: the upstream failed: ${what}${cause}`,
  );
}

function checkTarget(target: unknown): (request: Request) => URL {
  if (typeof target === "function") {
    return (request) => {
      const url = target(request);
      try {
        return httpUrl(url);
      } catch (error) {
        throw new TypeError(
          `proxy: the target function returned ${describe(url)}: ${
            (error as Error).message
          }`,
        );
      }
    };
  }
  if (typeof target !== "string" && !(target instanceof URL)) {
    throw new TypeError(
      `proxy: target must be a URL, a string or a function, received ${
        describe(target)
      }`,
    );
  }
  let base: URL;
  try {
    base = httpUrl(target);
  } catch (error) {
    throw new TypeError(`proxy: ${(error as Error).message}`);
  }
  return (request) => upstreamUrl(base, request);
}

function httpUrl(url: unknown): URL {
  if (typeof url !== "string" && !(url instanceof URL)) {
    throw new TypeError(`expected a URL or a string`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`invalid URL ${JSON.stringify(String(url))}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(
      `the URL's scheme must be http: or https:, received ${
        JSON.stringify(parsed.protocol)
      }`,
    );
  }
  return parsed;
}

const timeout = (name: string, value: unknown) =>
  checkTimeout("proxy", name, value, DEFAULT_TIMEOUT);

function flag(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    throw new TypeError(
      `proxy: ${name} must be a boolean, received ${describe(value)}`,
    );
  }
  return value;
}

function hook<F>(name: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== "function") {
    throw new TypeError(
      `proxy: ${name} must be a function, received ${describe(value)}`,
    );
  }
  return value;
}

const ENCODINGS = ["gzip", "deflate", "br", "zstd"];

function checkCompress(
  compress: unknown,
): true | readonly Encoding[] {
  if (compress === true) return true;
  if (
    Array.isArray(compress) && compress.every((e) => ENCODINGS.includes(e))
  ) {
    return compress as Encoding[];
  }
  throw new TypeError(
    `proxy: compress must be true, false or a list of "gzip", "deflate", "br", "zstd", received ${
      describe(compress)
    }`,
  );
}
