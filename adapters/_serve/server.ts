/**
 * What every request of one `withBody` shares: its checked options, its
 * timeout clock, the requests a shutdown must still reach, and the
 * responses the library makes itself (`413`, `408`, `503`, `500`). Private.
 *
 * @module
 */

import {
  callHook,
  checkBufferSize,
  checkLimit,
  checkOptions,
  describe,
} from "../../_body/check.ts";
import { checkTimeout, Clock } from "./clock.ts";
import type { BodyHandler, WithBodyOptions } from "./reqd.ts";

/** A request that a shutdown must still reach. */
export interface Live {
  /** The shutdown signal aborted with `reason`. */
  shutdown(reason: unknown): void;
}

const WITH_BODY_OPTIONS = [
  "bufferSize",
  "maxBodyBytes",
  "onError",
  "signal",
  "readTimeout",
  "writeTimeout",
  "maxPendingBytes",
  "onDisconnect",
] as const;

/** The default `readTimeout` and `writeTimeout`: one minute. */
export const DEFAULT_TIMEOUT = 60_000;

/** One `withBody`: options, clock and the live requests. */
export class Server {
  readonly handler: BodyHandler<unknown>;
  readonly bufferSize: number | undefined;
  readonly maxBodyBytes: number | undefined;
  readonly maxPendingBytes: number | undefined;
  readonly readTimeout: number;
  readonly writeTimeout: number;
  readonly onError: NonNullable<WithBodyOptions["onError"]>;
  readonly onDisconnect: WithBodyOptions["onDisconnect"];
  readonly signal: AbortSignal | undefined;
  readonly clock: Clock = new Clock();
  // Requests a shutdown must still reach (only kept with a signal): those
  // without a response, with a response still streaming, or with a request
  // body still being read.
  readonly live: Set<Live> | null;

  constructor(handler: BodyHandler<unknown>, options: WithBodyOptions) {
    checkFunction("expected a handler function", handler);
    checkOptions("withBody", options, WITH_BODY_OPTIONS);
    this.handler = handler;
    const size = options.bufferSize;
    this.bufferSize = size === undefined
      ? undefined
      : checkBufferSize("withBody", size);
    this.maxBodyBytes = checkLimit(
      "withBody",
      "maxBodyBytes",
      options.maxBodyBytes,
    );
    this.maxPendingBytes = checkLimit(
      "withBody",
      "maxPendingBytes",
      options.maxPendingBytes,
    );
    this.readTimeout = checkTimeout(
      "withBody",
      "readTimeout",
      options.readTimeout,
      DEFAULT_TIMEOUT,
    );
    this.writeTimeout = checkTimeout(
      "withBody",
      "writeTimeout",
      options.writeTimeout,
      DEFAULT_TIMEOUT,
    );
    const onError = options.onError ?? defaultOnError;
    checkFunction("onError must be a function", onError);
    this.onError = onError;
    const onDisconnect = options.onDisconnect;
    if (onDisconnect !== undefined) {
      checkFunction("onDisconnect must be a function", onDisconnect);
    }
    this.onDisconnect = onDisconnect;
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError(
        `withBody: signal must be an AbortSignal, received ${describe(signal)}`,
      );
    }
    this.signal = signal;
    this.live = signal === undefined ? null : new Set();
    signal?.addEventListener("abort", () => this.#shutdown(), { once: true });
  }

  /** Whether `error` is the shutdown reason (once the signal aborted). */
  isShutdown(error: unknown): boolean {
    const signal = this.signal;
    return signal?.aborted === true && error === signal.reason;
  }

  /**
   * The response `onError` makes for `error`; the default one if it fails
   * or returns something else. Never rejects.
   */
  async errorResponse(error: unknown, request: Request): Promise<Response> {
    try {
      const response = await this.onError(error, request);
      if (response instanceof Response) return response;
      throw new TypeError(
        `withBody: onError returned ${describe(response)}, not a Response`,
      );
    } catch (failure) {
      console.error("withBody: onError failed:", failure);
      return defaultOnError(error);
    }
  }

  /** Tells `onDisconnect`, if given, that `request`'s client left. */
  disconnected(error: unknown, request: Request): void {
    const onDisconnect = this.onDisconnect;
    if (onDisconnect === undefined) return;
    callHook("withBody: onDisconnect", onDisconnect, error, request);
  }

  #shutdown(): void {
    const reason = this.signal!.reason;
    for (const exchange of this.live!) exchange.shutdown(reason);
    this.live!.clear();
  }
}

/** The default `onError`: logs the error, answers a bare 500. */
export function defaultOnError(error: unknown): Response {
  console.error("withBody: request handler failed:", error);
  return text(500, "Internal Server Error");
}

/** `413`: the body is over `maxBodyBytes`. */
export function tooLarge(max: number): Response {
  return text(413, `Payload Too Large: the limit is ${max} bytes\n`);
}

/**
 * What Deno gets for a request whose client went away before the handler
 * responded: nobody reads it; it lets Deno finish the request.
 */
export function clientGone(): Response {
  return new Response(null, {
    status: 499,
    statusText: "Client Closed Request",
  });
}

/** `503`: the server is shutting down. */
export function unavailable(): Response {
  return text(503, "Service Unavailable: the server is shutting down\n");
}

/**
 * `408`, whole, with `connection: close`. Deno 2.9.6 keeps an HTTP/1.1
 * connection whose body read has waited open until the client sends or
 * leaves, whatever the response (measured: a response body that errors
 * after its text leaves it open too, and makes Deno's default `onError`
 * log a stack trace per timed-out request). A whole response is what a
 * client can act on. Over HTTP/2 the stream ends, and Deno resets the
 * client's upload.
 */
export function timedOut(): Response {
  return new Response("Request Timeout\n", {
    status: 408,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      connection: "close",
    },
  });
}

function text(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** @throws {TypeError} `withBody: <what>, received …` unless a function. */
function checkFunction(
  what: string,
  value: unknown,
): asserts value is (...args: never[]) => unknown {
  if (typeof value !== "function") {
    throw new TypeError(`withBody: ${what}, received ${describe(value)}`);
  }
}
