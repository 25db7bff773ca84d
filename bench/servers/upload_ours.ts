/**
 * Upload consumed — ours: a `scheduleRead` loop on `reqd.requestBody`
 * (one reused BYOB buffer inside the body), answering the byte count.
 *
 * Every upload server answers `{"bytes", "reads", "start", "end",
 * "allocated"}`: the byte count, how many chunks it came in, and the span of
 * the reading (`performance.now()` at its start and end, V8 heap bytes
 * allocated meanwhile; see `beginSpan`), which the driver matches against
 * the server's `--trace-gc` lines. `timeouts=off`: without timeouts.
 *
 * @module
 */

import { withBody } from "../../mod.ts";
import {
  beginSpan,
  bodyOptions,
  endSpan,
  JSON_HEADERS,
  serve,
  uploadReply,
} from "./_serve.ts";

serve(withBody((reqd) => {
  const begun = beginSpan();
  const input = reqd.requestBody;
  let bytes = 0;
  let reads = 0;
  const callbacks = {
    onRead(_buffer: Uint8Array, _off: number, len: number) {
      bytes += len;
      reads++;
      input.scheduleRead(callbacks);
    },
    onEof(error?: unknown) {
      if (error !== undefined) return reqd.reportException(error);
      const json = uploadReply({ bytes, reads }, endSpan(begun));
      reqd.respondWithString({ headers: JSON_HEADERS }, json);
    },
  };
  input.scheduleRead(callbacks);
}, bodyOptions()));
