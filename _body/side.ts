/**
 * The side check of the channel-end functions: the body as the class its
 * function needs, else a `TypeError` at the call (never a later failure in
 * a microtask). Private.
 *
 * @module
 */

import { Body } from "./abstract.ts";
import { describe } from "./check.ts";
import { Reader } from "./reader.ts";
import { Writer } from "./writer.ts";

/** `body` as a reader, for `caller`; a `TypeError` otherwise. */
export function readerOf(caller: string, body: unknown): Reader {
  if (body instanceof Reader) return body;
  throw new TypeError(
    `${caller}: expected a reader body, received ${describeBody(body)}`,
  );
}

/** `body` as a writer, for `caller`; a `TypeError` otherwise. */
export function writerOf(caller: string, body: unknown): Writer {
  if (body instanceof Writer) return body;
  throw new TypeError(
    `${caller}: expected a writer body, received ${describeBody(body)}`,
  );
}

function describeBody(body: unknown): string {
  return body instanceof Body ? `a ${body.side} body` : describe(body);
}
