/**
 * Argument checks shared by the core and the adapters (messages name the
 * call and say what was received), and what becomes of an exception thrown
 * by an application callback that an adapter invoked. Private: never
 * re-exported; the one module of the core that adapters import directly.
 *
 * @module
 */

/** A short description of a received value, for error messages. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "string") {
    return `a string of length ${value.length}`;
  }
  if (typeof value === "object" || typeof value === "function") {
    return (value as object).constructor?.name ?? typeof value;
  }
  return `${typeof value} ${String(value)}`;
}

/**
 * Validates an offset or length: a number (else `TypeError`), an integer in
 * `[0, max]` (else `RangeError`).
 */
export function checkIndex(
  caller: string,
  name: string,
  value: unknown,
  max: number,
): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `${caller}: ${name} must be a number, received ${describe(value)}`,
    );
  }
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(
      `${caller}: ${name} must be an integer in [0, ${max}], received ${value}`,
    );
  }
  return value;
}

/**
 * Validates `(bytes, off?, len?)`: a Uint8Array and a range inside it.
 * Returns `[start, count]`.
 */
export function checkBytes(
  caller: string,
  bytes: unknown,
  off: unknown,
  len: unknown,
): [number, number] {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `${caller}: expected a Uint8Array, received ${describe(bytes)}`,
    );
  }
  return checkRange(caller, bytes.length, off, len);
}

/**
 * Validates `(str, off?, len?)`: a string and a range of UTF-16 code units
 * inside it. Returns `[start, count]`.
 */
export function checkText(
  caller: string,
  str: unknown,
  off: unknown,
  len: unknown,
): [number, number] {
  if (typeof str !== "string") {
    throw new TypeError(
      `${caller}: expected a string, received ${describe(str)}`,
    );
  }
  return checkRange(caller, str.length, off, len);
}

// `off` and `len` (both optional) as a range inside `length` units.
function checkRange(
  caller: string,
  length: number,
  off: unknown,
  len: unknown,
): [number, number] {
  const start = off === undefined ? 0 : checkIndex(caller, "off", off, length);
  const count = len === undefined
    ? length - start
    : checkIndex(caller, "len", len, length - start);
  return [start, count];
}

/**
 * Validates a string of exactly one Unicode scalar value (a surrogate pair
 * counts as one; a lone surrogate cannot be written as UTF-8). Returns
 * its code point.
 */
export function checkChar(caller: string, char: unknown): number {
  const cp = typeof char === "string" ? char.codePointAt(0) : undefined;
  if (
    cp === undefined || (char as string).length !== (cp > 0xffff ? 2 : 1) ||
    (cp >= 0xd800 && cp <= 0xdfff)
  ) {
    throw new TypeError(
      `${caller}: expected a string of one Unicode scalar value, received ${
        describe(char)
      }`,
    );
  }
  return cp;
}

/** Whether a UTF-16 code unit is a high (leading) surrogate. */
export const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
/** Whether a UTF-16 code unit is a low (trailing) surrogate. */
export const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/**
 * The UTF-8 length of `str[start, start + count)`, as TextEncoder writes
 * it (a lone surrogate becomes U+FFFD, 3 bytes).
 */
export function utf8Length(str: string, start: number, count: number): number {
  let n = 0;
  const end = start + count;
  for (let i = start; i < end; i++) {
    const c = str.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
      const d = str.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * Validates a `bufferSize` option: an integer from 64 to 2^30; `TypeError`
 * when not a number, `RangeError` when out of range or fractional.
 */
export function checkBufferSize(caller: string, size: unknown): number {
  if (typeof size !== "number") {
    throw new TypeError(
      `${caller}: bufferSize must be a number, received ${describe(size)}`,
    );
  }
  if (!Number.isInteger(size) || size < 64 || size > 2 ** 30) {
    throw new RangeError(
      `${caller}: bufferSize must be an integer in [64, 2^30], received ${size}`,
    );
  }
  return size;
}

/**
 * Validates an optional byte limit: `undefined`, or a non-negative safe
 * integer; `TypeError` when not a number, `RangeError` otherwise.
 */
export function checkLimit(
  caller: string,
  name: string,
  value: unknown,
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number") {
    throw new TypeError(
      `${caller}: ${name} must be a number, received ${describe(value)}`,
    );
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `${caller}: ${name} must be a non-negative integer, received ${value}`,
    );
  }
  return value;
}

/**
 * Validates that `options` is `undefined` or an object whose own keys are
 * all among `accepted`: a misspelt option must not pass silently.
 *
 * @throws {TypeError} `<caller>: unknown option "<key>" (accepted: …)`, or
 *   for options that are not an object.
 */
export function checkOptions(
  caller: string,
  options: unknown,
  accepted: readonly string[],
  what = "options",
): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      `${caller}: ${what} must be an object, received ${describe(options)}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!accepted.includes(key)) {
      const noun = what === "options" ? "option" : `${what} key`;
      throw new TypeError(
        `${caller}: unknown ${noun} "${key}" (accepted: ${
          accepted.join(", ")
        })`,
      );
    }
  }
}

/** The options every body takes. */
export const BODY_OPTIONS = ["bufferSize", "onError"] as const;

/** The options of a writer body. */
export const WRITER_OPTIONS = [
  ...BODY_OPTIONS,
  "contentLength",
  "maxPendingBytes",
] as const;

/**
 * Validates the options every body takes (`bufferSize`, `onError`) for
 * `caller`, with no key outside `accepted`; returns the buffer size, if
 * given.
 */
export function checkBodyOptions(
  caller: string,
  options: { bufferSize?: unknown; onError?: unknown } | undefined,
  accepted: readonly string[] = BODY_OPTIONS,
): number | undefined {
  checkOptions(caller, options, accepted);
  const onError = options?.onError;
  if (onError !== undefined && typeof onError !== "function") {
    throw new TypeError(
      `${caller}: onError must be a function, received ${describe(onError)}`,
    );
  }
  const size = options?.bufferSize;
  return size === undefined ? undefined : checkBufferSize(caller, size);
}

/**
 * Validates a writer's options for `caller`: `bufferSize`, and
 * `contentLength` and `maxPendingBytes` (safe integers ≥ 0, or undefined),
 * with no key outside `accepted`.
 */
export function checkWriterOptions(
  caller: string,
  options:
    | {
      bufferSize?: unknown;
      onError?: unknown;
      contentLength?: unknown;
      maxPendingBytes?: unknown;
    }
    | undefined,
  accepted: readonly string[] = WRITER_OPTIONS,
): {
  bufferSize: number | undefined;
  contentLength: number | undefined;
  maxPendingBytes: number | undefined;
} {
  const bufferSize = checkBodyOptions(caller, options, accepted);
  const contentLength = checkLimit(
    caller,
    "contentLength",
    options?.contentLength,
  );
  const maxPendingBytes = checkLimit(
    caller,
    "maxPendingBytes",
    options?.maxPendingBytes,
  );
  return { bufferSize, contentLength, maxPendingBytes };
}

/** Validates that `channel` has every one of `methods`. */
export function checkChannel(
  caller: string,
  channel: unknown,
  methods: readonly string[],
): void {
  for (const method of methods) {
    const f = (channel as Record<string, unknown> | null)?.[method];
    if (typeof f !== "function") {
      throw new TypeError(
        `${caller}: expected a channel with ${methods.join(", ")}, received ${
          describe(channel)
        } without ${method}()`,
      );
    }
  }
}

/**
 * What becomes of an exception thrown by an application callback that an
 * adapter invoked (`onRead`, `onEof`, a flush callback), once the adapter
 * closed the body and failed its stream side with it: never lost, never
 * escaping (the process must not end because a callback threw): passed
 * to `onError`, or logged with `console.error` naming `caller` when there
 * is none. An `onError` that throws or rejects is logged too.
 */
export function reportCallbackError(
  caller: string,
  onError: ((error: unknown) => void) | undefined,
  error: unknown,
): void {
  if (onError === undefined) {
    console.error(`${caller}: a callback threw:`, error);
  } else {
    callHook(`${caller}: options.onError`, onError, error);
  }
}

/**
 * Calls an application's hook (`onError`, `onDisconnect`,
 * `onUpstreamError` …) where nothing may escape: a throw, or the rejection
 * of the promise an async hook returns, is logged with `console.error`
 * under `name`, never thrown back nor left unhandled (an unhandled
 * rejection would end the process).
 */
export function callHook<A extends unknown[]>(
  name: string,
  hook: (...args: A) => unknown,
  ...args: A
): void {
  let result: unknown;
  try {
    result = hook(...args);
  } catch (failure) {
    console.error(`${name} threw:`, failure);
    return;
  }
  if (
    result !== null && typeof result === "object" &&
    typeof (result as PromiseLike<unknown>).then === "function"
  ) {
    Promise.resolve(result).then(undefined, (failure) => {
      console.error(`${name} rejected:`, failure);
    });
  }
}
