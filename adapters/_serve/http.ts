/**
 * HTTP details of `withBody`: bodyless statuses, declared lengths, the
 * choice of a content encoding, the library's own errors, and request
 * bodies that have no stream behind them. Private.
 *
 * @module
 */

import { type Body, createReader, endInput, failInput } from "../../body.ts";
import { checkOptions, describe, utf8Length } from "../../_body/check.ts";
import { type Encoding, negotiateEncoding } from "../compress.ts";
import { checkLevel } from "../_compress/zlib.ts";
import type { StreamingOptions } from "./reqd.ts";
import { type Server, timedOut, tooLarge, unavailable } from "./server.ts";

/**
 * What `compress: true` offers, in order of preference: gzip first, for
 * the memory an open stream holds (measured on Deno 2.9.6: ~0.3 MiB for
 * gzip, ~3 MiB for zstd and ~6 MiB for br once a few MiB went through),
 * then zstd, which is 3–4x faster at a smaller output.
 */
export const DEFAULT_ENCODINGS: readonly Encoding[] = [
  "gzip",
  "zstd",
  "br",
  "deflate",
];

/** Whether a response with `status` has no body (1xx, 204, 205, 304). */
export const bodyless = (status: number): boolean =>
  status < 200 || status === 204 || status === 205 || status === 304;

/**
 * The `content-length` a handler declared in a response's `headers`, if
 * any.
 *
 * @throws {TypeError} for one that is not a decimal integer.
 */
export function responseLength(
  caller: string,
  headers: Headers,
): number | undefined {
  const declared = headers.get("content-length");
  if (declared === null) return undefined;
  const length = /^\d{1,15}$/.test(declared) ? Number(declared) : NaN;
  if (!Number.isSafeInteger(length)) {
    throw new TypeError(`${caller}: malformed content-length "${declared}"`);
  }
  return length;
}

/**
 * The length a request declared: its `content-length`, unless it is
 * framed otherwise (`transfer-encoding`) or malformed (Deno 2.9.6 refuses those
 * before any handler runs).
 */
export function requestLength(headers: Headers): number | undefined {
  if (headers.has("transfer-encoding")) return undefined;
  const declared = headers.get("content-length");
  if (declared === null || !/^\d{1,15}$/.test(declared)) return undefined;
  return Number(declared);
}

const INIT_KEYS = ["status", "statusText", "headers"] as const;

/**
 * Checks a `ResponseInit` for `caller` as an argument: an object with no
 * key but `status`, `statusText` and `headers`, a status from 200 to 599, a
 * string status text. Returns the status (default 200). Header names and
 * values are checked where the headers are built (`initHeaders`).
 *
 * @throws {TypeError} for a non-object, an unknown key or a wrong type.
 * @throws {RangeError} for a status outside 200–599 or fractional.
 */
export function checkInit(caller: string, init: unknown): number {
  if (init === undefined) return 200;
  checkOptions(caller, init, INIT_KEYS, "init");
  const { status, statusText } = init as ResponseInit;
  if (statusText !== undefined && typeof statusText !== "string") {
    throw new TypeError(
      `${caller}: init.statusText must be a string, received ${
        describe(statusText)
      }`,
    );
  }
  if (status === undefined) return 200;
  if (typeof status !== "number") {
    throw new TypeError(
      `${caller}: init.status must be a number, received ${describe(status)}`,
    );
  }
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new RangeError(
      `${caller}: init.status must be an integer from 200 to 599, received ${status}`,
    );
  }
  return status;
}

/**
 * The headers of `init` as a `Headers`, an invalid name or value reported
 * as `caller`'s `TypeError`.
 */
export function initHeaders(
  caller: string,
  init: ResponseInit | undefined,
): Headers {
  try {
    return new Headers(init?.headers);
  } catch (error) {
    throw new TypeError(
      `${caller}: init.headers: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

// `new Response(body, init)` with its errors (a bad status text, a header
// Deno refuses) in `caller`'s words.
function makeResponse(
  caller: string,
  body: BodyInit | null,
  init: ResponseInit | undefined,
): Response {
  try {
    return new Response(body, init);
  } catch (error) {
    throw new TypeError(`${caller}: init: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * A whole response with `body` for `request`. A string body stays a
 * string: Deno 2.9.6 serves those on a faster path than bytes (measured ~3 µs a
 * request).
 *
 * @throws {TypeError} for a body on a bodyless status, a declared
 *   `content-length` that disagrees with the body (not checked for HEAD),
 *   or a bad `init`.
 * @throws {RangeError} for a status outside 200–599.
 */
export function wholeResponse(
  caller: string,
  init: ResponseInit | undefined,
  body: string | Uint8Array,
  request: Request,
): Response {
  const status = checkInit(caller, init);
  if (bodyless(status)) {
    if (body.length !== 0) {
      throw new TypeError(`${caller}: a ${status} response cannot have a body`);
    }
    return makeResponse(caller, null, init);
  }
  const response = makeResponse(
    caller,
    body as string | Uint8Array<ArrayBuffer>,
    init,
  );
  // Only headers given in `init` can declare a length; touching
  // response.headers otherwise would cost every response a Headers object.
  const declared = init?.headers === undefined
    ? null
    : response.headers.get("content-length");
  if (declared !== null && request.method !== "HEAD") {
    const length = typeof body === "string"
      ? utf8Length(body, 0, body.length)
      : body.length;
    if (declared !== String(length)) {
      throw new TypeError(
        `${caller}: content-length ${declared} disagrees with the ${length}-byte body`,
      );
    }
  }
  return response;
}

/**
 * The encodings `respondWithStreaming`'s options offer (null: no
 * compression), checked whether or not this response will compress: a
 * level must suit every encoding offered, whichever the client picks.
 *
 * @throws {TypeError} for a bad `compress`, a `level` that is not a
 *   number, or a `level` without `compress`.
 * @throws {RangeError} for a `level` out of an offered encoding's range.
 */
export function offeredEncodings(
  caller: string,
  options: StreamingOptions | undefined,
): readonly Encoding[] | null {
  const compress = options?.compress;
  const level = options?.level;
  if (compress === undefined || compress === false) {
    if (level !== undefined) {
      throw new TypeError(
        `${caller}: options.level needs options.compress (nothing is compressed without it)`,
      );
    }
    return null;
  }
  const offered = compress === true ? DEFAULT_ENCODINGS : compress;
  if (
    !Array.isArray(offered) ||
    !offered.every((e) => DEFAULT_ENCODINGS.includes(e))
  ) {
    throw new TypeError(
      `${caller}: compress must be true, false or a list of "gzip", "deflate", "br", "zstd", received ${
        describe(compress)
      }`,
    );
  }
  if (level !== undefined) {
    checkLevel(`${caller}: options.level`, offered, level);
  }
  return offered;
}

/**
 * The encoding a response compresses with, among those `offered`, or
 * null; sets `content-encoding` and `vary` in `headers` when it
 * negotiated.
 */
export function chooseEncoding(
  request: Request,
  headers: Headers,
  offered: readonly Encoding[],
): Encoding | null {
  if (headers.has("content-encoding") || headers.has("content-length")) {
    return null;
  }
  const cacheControl = headers.get("cache-control") ?? "";
  if (/(^|,)\s*no-transform\s*(,|$)/i.test(cacheControl)) return null;
  // The response now depends on Accept-Encoding, compressed or not.
  const vary = headers.get("vary") ?? "";
  if (!/(^|,)\s*(accept-encoding|\*)\s*(,|$)/i.test(vary)) {
    headers.append("vary", "accept-encoding");
  }
  const encoding = negotiateEncoding(request, offered);
  if (encoding !== null) headers.set("content-encoding", encoding);
  return encoding;
}

/**
 * The mark of an error of the client's making found by another capability
 * of the library (`multipart`: `413` for a limit, `400` for a malformed
 * form): reported back, it answers that status quietly, as `maxBodyBytes`
 * does. A registered symbol, because `withBody` is not built on those
 * capabilities (the same `Symbol.for` key is set there).
 */
const CLIENT_STATUS = Symbol.for("@httpaf/body/client-status");

const CLIENT_TEXT: Record<number, string> = {
  400: "Bad Request\n",
  413: "Payload Too Large\n",
};

/** The status an error's {@linkcode CLIENT_STATUS} mark asks for, or 0. */
function clientStatus(error: unknown): number {
  if (!(error instanceof Error) || !Object.hasOwn(error, CLIENT_STATUS)) {
    return 0;
  }
  const status = (error as unknown as Record<symbol, unknown>)[CLIENT_STATUS];
  return typeof status === "number" && status in CLIENT_TEXT ? status : 0;
}

/**
 * The response for an error the library made itself and a handler
 * reported back (`own`: a `maxBodyBytes` overflow or a timeout; or an
 * error marked {@linkcode CLIENT_STATUS}), or for the shutdown reason;
 * null for any other error.
 */
export function quietError(
  error: unknown,
  own: unknown,
  server: Server,
): (() => Response) | null {
  if (error !== undefined && error === own) {
    return own instanceof Deno.errors.TimedOut
      ? timedOut
      : () => tooLarge(server.maxBodyBytes!);
  }
  const status = clientStatus(error);
  if (status !== 0) {
    return () =>
      new Response(CLIENT_TEXT[status], {
        status,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
  }
  return server.isShutdown(error) ? unavailable : null;
}

/**
 * The stream of `request`'s body to read: null when it has none, or the
 * error a reader of it must answer — its response finished (Deno: "Request
 * closed"), or it was consumed through the `Request` already.
 */
export function requestStream(
  request: Request,
): ReadableStream<Uint8Array> | TypeError | null {
  let stream: ReadableStream<Uint8Array> | null;
  try {
    stream = request.body;
  } catch (error) {
    return new TypeError(
      `Reqd.requestBody: the request body is gone: its response finished before it was read (${
        (error as Error)?.message
      })`,
    );
  }
  if (stream !== null && (request.bodyUsed || stream.locked)) {
    return new TypeError(
      "Reqd.requestBody: the request body was already consumed through reqd.request",
    );
  }
  return stream;
}

/** A request body with nothing in it. */
export function endedBody(onError: (error: unknown) => void): Body<"read"> {
  const body = sourceless(onError);
  endInput(body);
  return body;
}

/** A request body that can only answer `onEof(error)`. */
export function failedBody(
  error: unknown,
  onError: (error: unknown) => void,
): Body<"read"> {
  const body = sourceless(onError);
  failInput(body, error);
  return body;
}

function sourceless(onError: (error: unknown) => void): Body<"read"> {
  return createReader({
    request() {}, // never called: the body ends before any read
    release() {}, // nothing to release
    callbackError: onError,
  });
}
