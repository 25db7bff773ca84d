/**
 * A line-by-line upload parser: `POST /` reads the body chunk by chunk with
 * `scheduleRead` and answers `{"lines":N,"words":W,"longest":L}`, in
 * constant memory however large the upload or long its lines.
 *
 * ```sh
 * deno run --allow-net --allow-env=HOST,PORT examples/lines.ts
 * printf 'hello world\r\nsecond line\n' | curl -sS --data-binary @- http://127.0.0.1:8004/
 * head -c 10000000 /dev/urandom | base64 | curl -sS -T - -X POST http://127.0.0.1:8004/
 * ```
 *
 * `HOST`/`PORT` override the address (default 127.0.0.1:8004). The first
 * curl prints `{"lines":2,"words":4,"longest":11}`.
 *
 * Lines end at LF or CRLF; a last line without one counts too. Words are
 * runs of non-whitespace (JavaScript's `\s`). `longest` is the longest
 * line in Unicode code points, without its line ending. The body must be
 * UTF-8 (else `400`); it is decoded by one streaming `TextDecoder`, so a
 * character whose bytes arrive in two chunks decodes as one character, and
 * the counting state carries lines and words across chunks. An upload cut
 * short (the client went away) is reported as a failure, never counted.
 *
 * @module
 */

import { type Reqd, withBody, type WithBodyOptions } from "@httpaf/body";
import { serveUntilSignal } from "./_serve.ts";

const LF = 0x0a;
const CR = 0x0d;

/**
 * The line counter as a fetch handler: `POST /` answers the counts of its
 * body as JSON. Other paths get `404`, other methods `405`, a body that is
 * not UTF-8 `400`; a truncated upload goes to `options.onError` (default:
 * logged, `500`).
 *
 * @param options passed to `withBody`: `signal`, `maxBodyBytes`, `onError`.
 * @returns the fetch handler.
 */
export function createApp(
  options?: WithBodyOptions,
): (request: Request) => Response | Promise<Response> {
  return withBody((reqd) => {
    const { pathname } = new URL(reqd.request.url);
    if (pathname !== "/") {
      return reqd.respondWithString(plain(404), `no route for ${pathname}\n`);
    }
    if (reqd.request.method !== "POST") {
      return reqd.respondWithString(plain(405), "POST / with a text body\n");
    }
    count(reqd);
  }, options);
}

function count(reqd: Reqd): void {
  const input = reqd.requestBody;
  // `fatal`: bytes that are not UTF-8 throw instead of becoming U+FFFD.
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const stats = new LineStats();
  const notText = () => {
    input.closeReader(); // the rest of the upload is not worth reading
    reqd.respondWithString(plain(400), "the body is not UTF-8 text\n");
  };
  const onRead = (buffer: Uint8Array, off: number, len: number) => {
    let text: string;
    try {
      // `stream: true` keeps an incomplete character's bytes for the next
      // chunk. Decoded now, so the borrowed memory needs no copy.
      text = decoder.decode(buffer.subarray(off, off + len), { stream: true });
    } catch {
      return notText();
    }
    stats.push(text);
    input.scheduleRead({ onRead, onEof });
  };
  const onEof = (error?: unknown) => {
    // A truncated upload: reporting it answers through options.onError
    // rather than with counts of a body the client never finished.
    if (error !== undefined) return reqd.reportException(error);
    try {
      stats.push(decoder.decode()); // throws on a character cut off at the end
    } catch {
      return notText();
    }
    stats.end();
    reqd.respondWithString(
      { status: 200, headers: { "content-type": "application/json" } },
      JSON.stringify({
        lines: stats.lines,
        words: stats.words,
        longest: stats.longest,
      }) + "\n",
    );
  };
  input.scheduleRead({ onRead, onEof });
}

/**
 * Counts lines, words and the longest line of text pushed in pieces. Only
 * counters are kept, never the text: a piece may end anywhere, even
 * between the CR and LF of a CRLF, or inside a word.
 */
class LineStats {
  lines = 0;
  words = 0;
  longest = 0;
  #length = 0; // code points of the current line so far, a held CR not included
  #open = false; // the current line has a character (it counts at the end)
  #inWord = false; // the last character was part of a word
  #cr = false; // the last character was a CR: a line end if LF follows

  push(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === LF) {
        this.#endLine(); // a CR held before it was part of the CRLF
        continue;
      }
      if (this.#cr) this.#length++; // a CR not followed by LF is text
      this.#cr = c === CR;
      this.#open = true;
      if (c === CR) {
        this.#inWord = false; // CR is whitespace in any case
        continue;
      }
      // The second half of a surrogate pair: the same code point.
      if (c >= 0xdc00 && c <= 0xdfff) continue;
      this.#length++;
      if (isSpace(c)) this.#inWord = false;
      else if (!this.#inWord) {
        this.#inWord = true;
        this.words++;
      }
    }
  }

  /** The input ended: a last line without a line ending counts too. */
  end(): void {
    if (this.#cr) this.#length++;
    if (this.#open) this.#endLine();
  }

  #endLine(): void {
    this.lines++;
    if (this.#length > this.longest) this.longest = this.#length;
    this.#length = 0;
    this.#open = this.#inWord = this.#cr = false;
  }
}

const SPACE = /\s/;

/** JavaScript's `\s` for one UTF-16 code unit, without a regex for ASCII. */
function isSpace(c: number): boolean {
  if (c < 0x80) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  return SPACE.test(String.fromCharCode(c));
}

function plain(status: number): ResponseInit {
  return { status, headers: { "content-type": "text/plain; charset=utf-8" } };
}

if (import.meta.main) {
  await serveUntilSignal({
    port: 8004,
    app: (signal) => createApp({ signal }),
    banner: (origin) => `line counter on ${origin}/ (POST a text body)`,
  });
}
