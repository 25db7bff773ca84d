/**
 * The writer behind `multipartWriter`: fields and parts written into one
 * output body, in order, one part open at a time. Private to the
 * multipart capability.
 *
 * Bytes flow application → a part's writer body (coalesced as on any
 * writer) → `output`, without a copy (each chunk the part gives up is
 * scheduled on `output` as it is) → `output`'s channel. A part's flush
 * answers `"written"` once `output` answered its own flush for those
 * bytes, `"closed"` once `output` is gone: backpressure travels through.
 *
 * @module
 */

import {
  type Body,
  createWriter,
  nextOutput,
  outputClosed,
  outputWritten,
  type WriteChannel,
} from "../../body.ts";
import {
  checkOptions,
  describe,
  reportCallbackError,
} from "../../_body/check.ts";
import { escapeQuoted, isBoundary } from "./headers.ts";

/** What `form.part` takes. */
export interface PartInit {
  /** The field name (escaped as browsers do: `"`, CR, LF as `%22`, `%0D`, `%0A`). */
  name: string;
  /** The file name, escaped the same way; makes the part a file. */
  filename?: string;
  /**
   * The part's `content-type`. Default: none for a field,
   * `application/octet-stream` for a file (as browsers send).
   */
  contentType?: string;
  /**
   * More header lines (not `content-disposition`; `content-type` only
   * without `contentType`).
   */
  headers?: HeadersInit;
}

const PART_INIT = ["name", "filename", "contentType", "headers"] as const;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A boundary of 32 random hex digits after four dashes. */
export function randomBoundary(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let hex = "----";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/**
 * Checks a boundary given to `multipartWriter`.
 *
 * @throws {TypeError} for a non-string, or characters outside RFC 2046's.
 * @throws {RangeError} for a length outside 1–70.
 */
export function checkBoundary(caller: string, boundary: unknown): string {
  if (typeof boundary !== "string") {
    throw new TypeError(
      `${caller}: boundary must be a string, received ${describe(boundary)}`,
    );
  }
  if (boundary.length < 1 || boundary.length > 70) {
    throw new RangeError(
      `${caller}: boundary must be 1–70 characters long, received ${boundary.length}`,
    );
  }
  if (!isBoundary(boundary)) {
    throw new TypeError(
      `${caller}: boundary may hold only digits, letters and '()+_,-./:=? (space allowed, not last), received ${
        JSON.stringify(boundary)
      }`,
    );
  }
  return boundary;
}

/** The form: see `MultipartForm` in `multipart.ts`. */
export class Form {
  readonly boundary: string;
  readonly contentType: string;
  readonly #output: Body<"write">;
  // "open": fields and parts may be added; "closed": form.close() was
  // called; "aborted": a part's body was aborted, and output with it.
  #state: "open" | "closed" | "aborted" = "open";
  #first = true; // nothing written yet: the first boundary needs no CRLF
  #part: PartSink | null = null; // the part whose body is not drained yet

  constructor(output: Body<"write">, boundary: string) {
    this.#output = output;
    this.boundary = boundary;
    this.contentType = `multipart/form-data; boundary=${
      TOKEN.test(boundary) ? boundary : `"${boundary}"`
    }`;
  }

  field(name: string, value: string | Uint8Array): void {
    const caller = "form.field";
    checkText(caller, "name", name);
    if (typeof value !== "string" && !(value instanceof Uint8Array)) {
      throw new TypeError(
        `${caller}: value must be a string or a Uint8Array, received ${
          describe(value)
        }`,
      );
    }
    this.#ready(caller);
    this.#head(name, undefined, undefined, null);
    if (typeof value === "string") this.#output.writeString(value);
    else this.#output.writeBigstring(value);
  }

  part(init: PartInit): Body<"write"> {
    const caller = "form.part";
    if (init === null || typeof init !== "object") {
      throw new TypeError(
        `${caller}: expected { name, filename?, contentType?, headers? }, received ${
          describe(init)
        }`,
      );
    }
    checkOptions(caller, init, PART_INIT, "init");
    const { name, filename, contentType } = init;
    checkText(caller, "name", name);
    if (filename !== undefined) checkText(caller, "filename", filename);
    if (contentType !== undefined) {
      checkText(caller, "contentType", contentType);
      if (/[\r\n\0]/.test(contentType)) {
        throw new TypeError(
          `${caller}: contentType must not hold CR, LF or NUL`,
        );
      }
    }
    const headers = extraHeaders(caller, init.headers, contentType);
    this.#ready(caller);
    const type = contentType ??
      (filename !== undefined && !headers?.has("content-type")
        ? "application/octet-stream"
        : undefined);
    this.#head(name, filename, type, headers);
    const sink = new PartSink(this.#output, name, (reason) => {
      this.#state = "aborted";
      this.#output.abort(reason);
    });
    this.#part = sink;
    return sink.body;
  }

  close(): void {
    if (this.#state !== "open") return;
    this.#ready("form.close");
    this.#state = "closed";
    const output = this.#output;
    output.writeString(`${this.#first ? "" : "\r\n"}--${this.boundary}--\r\n`);
    output.closeWriter();
  }

  // The form may take the next field or part (or its end): the last part
  // was ended by its application, and everything it wrote goes first.
  #ready(caller: string): void {
    if (this.#state === "closed") {
      throw new Error(`${caller}: the form is closed`);
    }
    if (this.#state === "aborted") {
      throw new Error(`${caller}: the form was aborted (a part was aborted)`);
    }
    const part = this.#part;
    if (part === null) return;
    if (!part.body.isClosed()) {
      throw new Error(
        `${caller}: part ${
          JSON.stringify(part.name)
        } is still open: end it with closeWriter() first`,
      );
    }
    part.drain();
    this.#part = null;
  }

  // A part's delimiter and header lines, and the blank line.
  #head(
    name: string,
    filename: string | undefined,
    contentType: string | undefined,
    headers: Headers | null,
  ): void {
    let head = `${this.#first ? "" : "\r\n"}--${this.boundary}\r\n` +
      `Content-Disposition: form-data; name="${escapeQuoted(name)}"`;
    if (filename !== undefined) {
      head += `; filename="${escapeQuoted(filename)}"`;
    }
    head += "\r\n";
    if (contentType !== undefined) head += `Content-Type: ${contentType}\r\n`;
    const output = this.#output;
    output.writeString(head);
    // Header values are byte strings (what Headers holds): one byte each.
    if (headers !== null) {
      for (const [key, value] of headers) {
        output.writeBigstring(byteString(`${key}: ${value}\r\n`));
      }
    }
    output.writeString("\r\n");
    this.#first = false;
  }
}

function checkText(caller: string, what: string, value: unknown): void {
  if (typeof value !== "string") {
    throw new TypeError(
      `${caller}: ${what} must be a string, received ${describe(value)}`,
    );
  }
}

function extraHeaders(
  caller: string,
  init: HeadersInit | undefined,
  contentType: string | undefined,
): Headers | null {
  if (init === undefined) return null;
  let headers: Headers;
  try {
    headers = new Headers(init);
  } catch (error) {
    throw new TypeError(`${caller}: headers: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (headers.has("content-disposition")) {
    throw new TypeError(
      `${caller}: headers must not set content-disposition (name and filename do)`,
    );
  }
  if (contentType !== undefined && headers.has("content-type")) {
    throw new TypeError(
      `${caller}: content-type given both as contentType and in headers`,
    );
  }
  return headers;
}

function byteString(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

// The channel end of a part's body: its chunks go to output as they are.
class PartSink implements WriteChannel {
  readonly body: Body<"write">;
  readonly name: string;
  readonly #output: Body<"write">;
  readonly #onAbort: (reason: unknown) => void;
  // "open": chunks go to output; "ended": the body's end was taken;
  // "gone": output went away, or the part was aborted.
  #state: "open" | "ended" | "gone" = "open";

  constructor(
    output: Body<"write">,
    name: string,
    onAbort: (reason: unknown) => void,
  ) {
    this.#output = output;
    this.name = name;
    this.#onAbort = onAbort;
    this.body = createWriter(this);
    this.#pump(); // nothing yet: registers for a wake
  }

  wake(): void {
    this.#pump();
  }

  // The application flushed: an idle part learns here that output left.
  flush(): void {
    this.#pump();
  }

  abort(reason: unknown): void {
    if (this.#state !== "open") return;
    this.#state = "gone";
    this.#onAbort(reason); // the form is cut short: never a clean end
  }

  callbackError(error: unknown): void {
    this.#fail(error);
    reportCallbackError("multipartWriter", undefined, error);
  }

  watch(): void {
    this.#output.signal.addEventListener("abort", () => this.#lose(), {
      once: true,
    });
  }

  /** Takes everything the body holds now (it was closed: then its end). */
  drain(): void {
    this.#pump();
  }

  #pump(): void {
    if (this.#state !== "open") return;
    const output = this.#output;
    if (output.isClosed()) return this.#lose();
    let taken = 0;
    try {
      for (;;) {
        const chunk = nextOutput(this.body);
        if (chunk === "yield") break;
        if (chunk === "close") {
          this.#state = "ended";
          break;
        }
        output.scheduleBigstring(chunk); // the part gave it up for good
        taken += chunk.length;
      }
    } catch (error) {
      // output refused a write (e.g. past its declared contentLength):
      // the error travels on as both bodies' abort reason.
      return this.#fail(error);
    }
    if (taken > 0) {
      output.flush((result) => {
        if (result === "written") outputWritten(this.body, taken);
        else this.#lose();
      });
    }
  }

  // output went away: the part's pending flushes answer "closed".
  #lose(): void {
    if (this.#state === "gone") return;
    this.#state = "gone";
    const output = this.#output;
    outputClosed(
      this.body,
      output.signal.aborted ? output.signal.reason : undefined,
    );
  }

  #fail(error: unknown): void {
    if (this.#state === "gone") return;
    this.#state = "gone";
    outputClosed(this.body, error);
    this.#onAbort(error);
  }
}
