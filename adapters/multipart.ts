/**
 * Multipart uploads (`multipart/form-data`) that never buffer a part.
 *
 * - {@linkcode multipart}: bytes flow input body → the parser → one part's
 *   `Body<"read">` at a time → its `onRead`. A part's bytes are views of
 *   the input's own read buffer, delivered without a copy; the input is
 *   read only while the current part asks for bytes (or was closed, or
 *   the parser reads a header block), so a slow part slows the upload
 *   down and memory stays bounded whatever the part sizes: one input
 *   buffer, a carry shorter than the delimiter, one header block.
 * - {@linkcode multipartWriter}: bytes flow fields and part bodies →
 *   `output`. Part bytes reach `output` without a copy; a part's flush
 *   answers `"written"` once `output` answered its own flush for them, so
 *   an upload written with it keeps its backpressure.
 *
 * @module
 */

import { Body } from "../body.ts";
import { checkLimit, checkOptions, describe } from "../_body/check.ts";
import { boundaryOf } from "./_multipart/headers.ts";
import { type Limits, Parser, type Part } from "./_multipart/parser.ts";
import {
  checkBoundary,
  Form,
  type PartInit,
  randomBoundary,
} from "./_multipart/writer.ts";

export type { PartInit };

/** The default {@linkcode MultipartOptions.maxHeaderBytes}: 16 KiB. */
export const DEFAULT_MAX_HEADER_BYTES = 16384;

const OPTIONS = [
  "maxParts",
  "maxHeaderBytes",
  "maxPartBytes",
  "maxFieldBytes",
] as const;

/** One part of a multipart body, as {@linkcode MultipartCallbacks.onPart} gets it. */
export interface MultipartPart {
  /** The `name` parameter of its `content-disposition`, decoded as UTF-8. */
  readonly name: string;
  /**
   * The file name: `filename*` (RFC 5987) when present, else `filename`,
   * decoded as UTF-8; `undefined` for a field (no file name at all). Left
   * as sent otherwise: browsers send `"`, CR and LF as `%22`, `%0D`, `%0A`,
   * and a backslash that escapes nothing stays. Never use it as a path.
   */
  readonly filename: string | undefined;
  /**
   * The value of its `content-type` header as sent (decoded as UTF-8,
   * surrounding spaces trimmed), or `undefined` when it has none.
   */
  readonly contentType: string | undefined;
  /**
   * Every header line of the part. `Headers` holds byte strings: each
   * value is its bytes one character each, as for HTTP request headers
   * (`name`, `filename` and `contentType` are the UTF-8 decoded forms).
   */
  readonly headers: Headers;
  /**
   * The part's content: a reader body with every reader guarantee. Its
   * `onRead` memory is the input's read buffer, borrowed until the next
   * `scheduleRead` or `closeReader` on this body. Read it to its end, or
   * close it (`closeReader()` skips the rest of the part without buffering
   * it): the next part comes only then. A truncated or failed upload ends
   * it with `onEof(error)`.
   */
  readonly body: Body<"read">;
}

/** The callbacks of {@linkcode multipart}. */
export interface MultipartCallbacks {
  /**
   * A part begins: called once per part, in order, each only after the
   * previous part's body reached its end (its `onEof` ran) or was closed
   * and, when `onPart` returned a promise, after that promise settled: an
   * async handler (`for await (const bytes of chunks(part.body))`, then
   * its own work) runs to its end before the next part, and `onEnd`,
   * begin. An exception it throws, or a rejection of the promise it
   * returns, ends the parse: the input is closed and `onEnd` receives the
   * error (or `console.error`, when `onEnd` was called already).
   */
  onPart(part: MultipartPart): void | Promise<void>;
  /**
   * Called exactly once, after the last part's body ended: with no
   * argument when the closing delimiter was seen (the input is then
   * closed, the epilogue ignored); otherwise with why not — the input's
   * own error (a client gone), a `TypeError` for malformed or truncated
   * input saying what and at which byte, a `RangeError` for a limit, or
   * an exception thrown by `onPart` (or its rejection) or by a part's
   * `onRead`/`onEof`. Reported through `reqd.reportException`, a limit's
   * error answers `413` and a malformed form's `400`, quietly (the client's
   * fault, not the server's). An exception `onEnd` throws is logged with
   * `console.error`.
   */
  onEnd(error?: unknown): void;
}

/**
 * Limits of {@linkcode multipart}. Each one exceeded is a `RangeError`
 * naming it, delivered to the current part's read (`onEof(error)`) and to
 * `onEnd(error)`; the input is closed. Reported through
 * `reqd.reportException`, it answers `413` as `withBody`'s own
 * `maxBodyBytes` does.
 */
export interface MultipartOptions {
  /** The most parts. Default: no limit. */
  maxParts?: number;
  /**
   * The most bytes of one part's header block: everything between its
   * `--boundary` and its content (the CRLF ending the boundary's line,
   * the header lines with their CRLFs, the blank line). A header block is
   * the one thing the parser buffers, so this bounds its memory. Default:
   * {@linkcode DEFAULT_MAX_HEADER_BYTES}.
   */
  maxHeaderBytes?: number;
  /**
   * The most content bytes of a file part (one with a file name), skipped
   * bytes included. Default: no limit.
   */
  maxPartBytes?: number;
  /**
   * The most content bytes of a field (a part without a file name),
   * skipped bytes included. Default: no limit.
   */
  maxFieldBytes?: number;
}

/**
 * Parses the `multipart/form-data` body `body`, whose content type is
 * `contentType` (a request's `content-type` header), one part at a time:
 * `onPart(part)` for each, then `onEnd(error?)`.
 *
 * Grammar (RFC 7578, RFC 2046): the preamble and epilogue are ignored;
 * after a boundary come either `--` (the end) or optional spaces and
 * CRLF; header names, the disposition type and parameter names are
 * case-insensitive; parameters are tokens or quoted strings in which a
 * backslash escapes only `"` and `\`; `filename*=UTF-8''…` wins over
 * `filename` wherever it stands. Part content may hold anything, CR, LF,
 * NUL and `--boundary` not preceded by CRLF included; a delimiter split
 * across reads is found. Malformed: a line ending other than CRLF where
 * the grammar needs one, a header line without a colon or folded, a part
 * without `content-disposition: form-data; name=…`, a repeated
 * `content-disposition` or parameter, no closing delimiter.
 *
 * Until a part's body is read to its end or closed, the upload waits
 * where it is: a part nobody reads holds the upload (and `withBody`'s
 * `readTimeout` does not run while the application holds its read).
 *
 * @param body the reader body of the upload, with no read scheduled; the
 *   parser owns it from now on and closes it when done.
 * @param contentType `multipart/form-data; boundary=…` (1–70 characters).
 * @param callbacks `onPart` and `onEnd`; `onPart` may run before
 *   `multipart` returns when the input has bytes at hand.
 * @param options `maxParts`, `maxHeaderBytes`, `maxPartBytes`,
 *   `maxFieldBytes`.
 * @throws {TypeError} when `body` is not a reader body, for a content type
 *   that is not `multipart/form-data` with a valid boundary, callbacks
 *   that are not functions, an unknown option or one of the wrong type.
 * @throws {RangeError} for a limit that is negative or fractional.
 *
 * @example An upload form handler
 * ```ts
 * import { multipart } from "@httpaf/body/multipart";
 * import { toText, withBody } from "@httpaf/body";
 *
 * const handler = withBody((reqd) => {
 *   const sizes: string[] = [];
 *   multipart(reqd.requestBody, reqd.request.headers.get("content-type"), {
 *     onPart(part) {
 *       if (part.filename === undefined) { // a field: small, read it whole
 *         toText(part.body, { maxBytes: 1024 }).then(
 *           (text) => sizes.push(`${part.name}=${text}`),
 *           () => {}, // the same error reaches onEnd
 *         );
 *         return;
 *       }
 *       let size = 0; // a file: count it chunk by chunk, never buffered
 *       const onRead = (_b: Uint8Array, _off: number, len: number) => {
 *         size += len;
 *         part.body.scheduleRead({ onRead, onEof });
 *       };
 *       const onEof = (error?: unknown) => {
 *         if (error === undefined) sizes.push(`${part.filename}: ${size} bytes`);
 *       };
 *       part.body.scheduleRead({ onRead, onEof });
 *     },
 *     onEnd(error) {
 *       if (error !== undefined) return reqd.reportException(error);
 *       reqd.respondWithString({ status: 200 }, sizes.join("\n"));
 *     },
 *   }, { maxParts: 10, maxPartBytes: 2 ** 30 });
 * });
 *
 * const form = new FormData();
 * form.append("title", "holiday");
 * form.append("photo", new File([new Uint8Array(3000)], "beach.jpg"));
 * const request = new Request("http://localhost/", { method: "POST", body: form });
 * const response = await handler(request);
 * const text = await response.text();
 * if (text !== "title=holiday\nbeach.jpg: 3000 bytes") throw new Error(text);
 * ```
 *
 * @example A truncated upload never looks complete
 * ```ts
 * import { multipart } from "@httpaf/body/multipart";
 * import { bodyFromReadable } from "@httpaf/body";
 *
 * const cut = "--b\r\ncontent-disposition: form-data; name=f; filename=a\r\n\r\nhalf a fi";
 * const events: string[] = [];
 * const { promise, resolve } = Promise.withResolvers<void>();
 * const input = bodyFromReadable(new Blob([cut]).stream());
 * multipart(input, "multipart/form-data; boundary=b", {
 *   onPart(part) {
 *     const onRead = (_b: Uint8Array, _off: number, len: number) => {
 *       events.push(`read ${len}`);
 *       part.body.scheduleRead({ onRead, onEof });
 *     };
 *     const onEof = (error?: unknown) => events.push(error ? "eof: error" : "eof");
 *     part.body.scheduleRead({ onRead, onEof });
 *   },
 *   onEnd(error) {
 *     events.push(error instanceof TypeError ? "end: TypeError" : "end");
 *     resolve();
 *   },
 * });
 * await promise;
 * if (events.join() !== "read 9,eof: error,end: TypeError") throw new Error(events.join());
 * ```
 */
export function multipart(
  body: Body<"read">,
  contentType: string | null,
  callbacks: MultipartCallbacks,
  options?: MultipartOptions,
): void {
  const caller = "multipart";
  if (!(body instanceof Body) || body.side !== "read") {
    throw new TypeError(
      `${caller}: expected a reader body, received ${
        body instanceof Body ? "a write body" : describe(body)
      }`,
    );
  }
  const boundary = boundaryOf(caller, contentType);
  const onPart = callbacks?.onPart;
  const onEnd = callbacks?.onEnd;
  if (typeof onPart !== "function" || typeof onEnd !== "function") {
    throw new TypeError(
      `${caller}: expected { onPart, onEnd } functions, received ${
        describe(callbacks)
      }`,
    );
  }
  checkOptions(caller, options, OPTIONS);
  const limit = (name: (typeof OPTIONS)[number], fallback = Infinity) =>
    checkLimit(caller, name, options?.[name]) ?? fallback;
  const limits: Limits = {
    maxParts: limit("maxParts"),
    maxHeaderBytes: limit("maxHeaderBytes", DEFAULT_MAX_HEADER_BYTES),
    maxPartBytes: limit("maxPartBytes"),
    maxFieldBytes: limit("maxFieldBytes"),
  };
  const handlers = {
    onPart: onPart as (part: Part) => void | Promise<void>,
    onEnd,
  };
  new Parser(body, boundary, handlers, limits).start();
}

/** What {@linkcode multipartWriter} returns: a form being written. */
export interface MultipartForm {
  /** The boundary between the parts. */
  readonly boundary: string;
  /** `multipart/form-data; boundary=…`: the upload's `content-type`. */
  readonly contentType: string;
  /**
   * Writes a whole field: its boundary and header lines, then `value`
   * (a string is written as UTF-8; bytes are copied).
   *
   * @throws {TypeError} for a name that is not a string, a value that is
   *   neither a string nor a Uint8Array.
   * @throws {Error} `form.field: …` while a part's body is still open, or
   *   once the form is closed.
   */
  field(name: string, value: string | Uint8Array): void;
  /**
   * Writes a part's boundary and header lines and returns a writer body for
   * its content. Its `closeWriter()` ends the part; the next field or part
   * (or `close()`) may come only after it, and its bytes come first. Its
   * flush answers with `output`'s. Its `abort(reason)` aborts `output`: a
   * form cut short never ends cleanly.
   *
   * @throws {TypeError} for bad `init` (unknown keys, wrong types, a
   *   `content-disposition` in `headers`).
   * @throws {Error} `form.part: …` while another part's body is still
   *   open, or once the form is closed.
   */
  part(init: PartInit): Body<"write">;
  /**
   * Writes the closing delimiter, then closes `output` (its pending bytes
   * are still delivered). Idempotent.
   *
   * @throws {Error} `form.close: …` while a part's body is still open.
   */
  close(): void;
}

/**
 * Writes a `multipart/form-data` body into `output`: fields
 * (`form.field`), parts streamed through their own writer body
 * (`form.part`), then `form.close()`. Names and file names are escaped as
 * browsers do (`"`, CR and LF as `%22`, `%0D`, `%0A`); a file part without
 * a content type is sent as `application/octet-stream`. Flush `output` to
 * learn when fields are written; a part's flush answers with `output`'s.
 *
 * @param output the writer body that carries the form (a request's body).
 * @param boundary 1–70 RFC 2046 characters; default: a random one
 *   (128 bits from `crypto.getRandomValues`).
 * @returns the form: `boundary`, `contentType`, `field`, `part`, `close`.
 * @throws {TypeError} when `output` is not a writer body, or for a
 *   boundary that is not a string or holds other characters.
 * @throws {RangeError} for a boundary outside 1–70 characters.
 *
 * @example A form read back by `Request.formData()`
 * ```ts
 * import { multipartWriter } from "@httpaf/body/multipart";
 * import { streamingBody } from "@httpaf/body";
 *
 * const { body, readable } = streamingBody();
 * const form = multipartWriter(body);
 * const request = new Request("http://localhost/", {
 *   method: "POST",
 *   body: readable,
 *   headers: { "content-type": form.contentType },
 * });
 * const parsed = request.formData(); // reads while the form is written
 * form.field("title", "report");
 * const file = form.part({ name: "data", filename: "q3.csv", contentType: "text/csv" });
 * file.writeString("a,b\r\n1,2\r\n");
 * await file.flush(); // answered once output has taken the bytes
 * file.closeWriter();
 * form.close();
 * const data = await parsed;
 * if (data.get("title") !== "report") throw new Error("no title");
 * const csv = data.get("data") as File;
 * if (csv.name !== "q3.csv" || await csv.text() !== "a,b\r\n1,2\r\n") throw new Error("no file");
 * ```
 */
export function multipartWriter(
  output: Body<"write">,
  boundary?: string,
): MultipartForm {
  const caller = "multipartWriter";
  if (!(output instanceof Body) || output.side !== "write") {
    throw new TypeError(
      `${caller}: expected a writer body as output, received ${
        output instanceof Body ? "a read body" : describe(output)
      }`,
    );
  }
  const chosen = boundary === undefined
    ? randomBoundary()
    : checkBoundary(caller, boundary);
  return new Form(output, chosen);
}
