/**
 * The grammar of `multipart/form-data` around the bytes of a part (RFC 7578,
 * RFC 2046): the request's `content-type` and its boundary, one part's
 * header lines, its `content-disposition` parameters (tokens or quoted
 * strings, and RFC 5987 `filename*`), and what the writer escapes. Private
 * to the multipart capability; no I/O, no state beyond one header block.
 *
 * @module
 */

import { describe } from "../../_body/check.ts";

// RFC 9110 tchar, by code (ASCII only).
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = TOKEN[c + 32] = 1;

// RFC 2046 bchars: what a boundary is made of (space allowed, not last).
const BCHARS = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

const isToken = (c: number) => c < 128 && TOKEN[c] === 1;
const isSpace = (c: number) => c === 32 || c === 9;

const utf8 = new TextDecoder(); // malformed bytes become U+FFFD

/** Bytes as a byte string (one char per byte), the form `Headers` holds. */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let at = start; at < end; at += 4096) {
    const piece = bytes.subarray(at, Math.min(end, at + 4096));
    text += String.fromCharCode.apply(null, piece as unknown as number[]);
  }
  return text;
}

/** Whether `boundary` is 1–70 RFC 2046 boundary characters. */
export function isBoundary(boundary: string): boolean {
  return BCHARS.test(boundary);
}

/**
 * The boundary of a `multipart/form-data` content type.
 *
 * @throws {TypeError} `<caller>: …` for anything else, or a boundary that
 *   is not 1–70 RFC 2046 characters.
 */
export function boundaryOf(caller: string, contentType: unknown): string {
  if (typeof contentType !== "string") {
    throw new TypeError(
      `${caller}: expected the request's content-type (multipart/form-data; boundary=…), received ${
        describe(contentType)
      }`,
    );
  }
  const slash =
    /^[ \t]*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\/([!#$%&'*+\-.^_`|~0-9A-Za-z]+)/
      .exec(contentType);
  const type = slash === null ? null : `${slash[1]}/${slash[2]}`.toLowerCase();
  if (type !== "multipart/form-data") {
    throw new TypeError(
      `${caller}: the content-type is not multipart/form-data: ${
        JSON.stringify(contentType.slice(0, 100))
      }`,
    );
  }
  const params = parseParams(contentType, slash![0].length, false);
  if (typeof params === "string") {
    throw new TypeError(`${caller}: malformed content-type: ${params}`);
  }
  const boundary = params.get("boundary");
  if (boundary === undefined) {
    throw new TypeError(`${caller}: the content-type has no boundary`);
  }
  if (!isBoundary(boundary)) {
    throw new TypeError(
      `${caller}: the boundary must be 1–70 characters of digits, letters and '()+_,-./:=? (space allowed, not last), received ${
        JSON.stringify(boundary.slice(0, 100))
      }`,
    );
  }
  return boundary;
}

/**
 * The parameters after `text[from]`: `; name=value` pairs, names
 * lowercased, values tokens or quoted strings (a backslash escapes only
 * `"` and `\`; before anything else it is kept). With `extended`, a name
 * ending in `*` takes an RFC 5987 value, kept raw (see
 * {@linkcode decodeExtended}). Returns what is wrong as a string, or the
 * parameters; a repeated name is wrong (two readers could pick different
 * ones).
 */
export function parseParams(
  text: string,
  from: number,
  extended: boolean,
): Map<string, string> | string {
  const params = new Map<string, string>();
  const length = text.length;
  let i = from;
  const skipSpace = () => {
    while (i < length && isSpace(text.charCodeAt(i))) i++;
  };
  for (;;) {
    skipSpace();
    if (i === length) return params;
    if (text.charCodeAt(i) !== 59) return `expected ";" at character ${i}`;
    i++;
    skipSpace();
    if (i === length) return params; // a trailing ";" is tolerated
    const nameStart = i;
    while (i < length && isToken(text.charCodeAt(i))) i++;
    if (i === nameStart) return `a parameter without a name at character ${i}`;
    const name = text.slice(nameStart, i).toLowerCase();
    skipSpace();
    if (text.charCodeAt(i) !== 61) return `parameter ${name} has no "="`;
    i++;
    skipSpace();
    let value = "";
    if (extended && name.endsWith("*")) {
      const start = i;
      while (i < length && text.charCodeAt(i) > 32 && text[i] !== ";") i++;
      value = text.slice(start, i);
    } else if (text.charCodeAt(i) === 34) {
      let start = ++i;
      for (;;) {
        if (i === length) {
          return `parameter ${name}: unterminated quoted string`;
        }
        const c = text.charCodeAt(i);
        if (c === 34) break;
        const next = text.charCodeAt(i + 1);
        if (c === 92 && (next === 34 || next === 92)) {
          value += text.slice(start, i);
          start = ++i; // the escaped character is kept
        }
        i++;
      }
      value += text.slice(start, i);
      i++;
    } else {
      const start = i;
      while (i < length && isToken(text.charCodeAt(i))) i++;
      if (i === start) return `parameter ${name} has no value`;
      value = text.slice(start, i);
    }
    if (params.has(name)) return `the parameter ${name} is repeated`;
    params.set(name, value);
  }
}

const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * An RFC 5987 value (`UTF-8''%e2%82%ac.txt`) decoded: UTF-8 or ISO-8859-1,
 * any language tag. Returns what is wrong as a string, or the text.
 */
export function decodeExtended(raw: string): { text: string } | string {
  const first = raw.indexOf("'");
  const second = first < 0 ? -1 : raw.indexOf("'", first + 1);
  if (second < 0) return "expected charset'language'value";
  const charset = raw.slice(0, first).toLowerCase();
  if (charset !== "utf-8" && charset !== "iso-8859-1") {
    return `unsupported charset ${JSON.stringify(charset.slice(0, 40))}`;
  }
  const bytes: number[] = [];
  for (let i = second + 1; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37) {
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return `a bad percent-encoding at character ${i}`;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c > 32 && c < 127 && c !== 34) bytes.push(c);
    else return `character ${i} must be percent-encoded`;
  }
  const data = Uint8Array.from(bytes);
  return {
    text: charset === "utf-8"
      ? utf8.decode(data)
      : latin1(data, 0, data.length),
  };
}

/** What the header block of a part says about it. */
export interface PartHead {
  name: string;
  filename: string | undefined;
  contentType: string | undefined;
  headers: Headers;
}

/**
 * One part's header block, fed line by line (`add`), then read (`finish`).
 * Errors are `TypeError`s saying what was wrong and at which byte of the
 * input; the caller prefixes nothing.
 */
export class HeadBlock {
  #headers = new Headers();
  #disposition: string | null = null; // its value, decoded as UTF-8
  #dispositionAt = 0;
  #contentType: string | undefined = undefined;

  /**
   * A header line `bytes[start, end)` (without its CRLF) that starts at
   * byte `at` of the input.
   */
  add(
    bytes: Uint8Array,
    start: number,
    end: number,
    at: number,
  ): TypeError | null {
    const first = bytes[start]!;
    if (isSpace(first)) {
      return malformed("a folded header line (obsolete line folding)", at);
    }
    let colon = start;
    while (colon < end && isToken(bytes[colon]!)) colon++;
    if (colon === end) return malformed("a header line without a colon", at);
    if (bytes[colon] !== 58 || colon === start) {
      return malformed(
        bytes.indexOf(58, start) < 0 || bytes.indexOf(58, start) >= end
          ? "a header line without a colon"
          : "a header name that is not a token",
        at,
      );
    }
    let from = colon + 1;
    let to = end;
    while (from < to && isSpace(bytes[from]!)) from++;
    while (to > from && isSpace(bytes[to - 1]!)) to--;
    for (let i = from; i < to; i++) {
      if (bytes[i] === 0) {
        return malformed("a NUL in a header value", at + i - start);
      }
    }
    const name = latin1(bytes, start, colon).toLowerCase();
    if (name === "content-disposition") {
      if (this.#disposition !== null) {
        return malformed("a second content-disposition header", at);
      }
      this.#disposition = utf8.decode(bytes.subarray(from, to));
      this.#dispositionAt = at;
    } else if (name === "content-type" && this.#contentType === undefined) {
      this.#contentType = utf8.decode(bytes.subarray(from, to));
    }
    this.#headers.append(name, latin1(bytes, from, to));
    return null;
  }

  /**
   * The part's name, filename, content type and headers, once the block
   * ended at byte `at` (the part is the `index`-th, from 1).
   */
  finish(index: number, at: number): PartHead | TypeError {
    const disposition = this.#disposition;
    if (disposition === null) {
      return malformed(
        `part ${index} has no content-disposition header (its header block ends`,
        at,
        ")",
      );
    }
    const where = this.#dispositionAt;
    const type = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/.exec(disposition)?.[0];
    if (type?.toLowerCase() !== "form-data") {
      return malformed(
        `part ${index}: the content-disposition is not form-data`,
        where,
      );
    }
    const params = parseParams(disposition, type.length, true);
    if (typeof params === "string") {
      return malformed(`part ${index}: content-disposition: ${params}`, where);
    }
    const name = params.get("name");
    if (name === undefined) {
      return malformed(
        `part ${index}: the content-disposition has no name parameter`,
        where,
      );
    }
    let filename = params.get("filename");
    const extended = params.get("filename*");
    if (extended !== undefined) {
      const decoded = decodeExtended(extended);
      if (typeof decoded === "string") {
        return malformed(
          `part ${index}: content-disposition: filename*: ${decoded}`,
          where,
        );
      }
      filename = decoded.text;
    }
    return {
      name,
      filename,
      contentType: this.#contentType,
      headers: this.#headers,
    };
  }
}

/**
 * The status an error of the client's making answers when a handler
 * reports it through `reqd.reportException`: `413` for a limit, `400` for
 * a malformed form (`quietError` in `_serve/http.ts` reads the same
 * registered symbol: neither capability is built on the other).
 */
const CLIENT_STATUS = Symbol.for("@httpaf/body/client-status");

/** `error`, marked as the client's fault answering `status`. */
export function clientFault<E extends Error>(error: E, status: 400 | 413): E {
  Object.defineProperty(error, CLIENT_STATUS, { value: status });
  return error;
}

/** A malformed form's `TypeError`, at byte `at` of the input. */
export function malformed(what: string, at: number, after = ""): TypeError {
  return clientFault(
    new TypeError(`multipart: ${what} at byte ${at}${after}`),
    400,
  );
}

/**
 * A name or filename as browsers write it in a quoted string: `"`, CR and
 * LF percent-encoded (`%22`, `%0D`, `%0A`), everything else as it is.
 */
export function escapeQuoted(text: string): string {
  return text.replace(
    /["\r\n]/g,
    (c) => c === '"' ? "%22" : c === "\r" ? "%0D" : "%0A",
  );
}
