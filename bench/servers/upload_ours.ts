/**
 * Upload consumed — ours: a `scheduleRead` loop on `reqd.requestBody`
 * (one reused BYOB buffer inside the body), answering the byte count.
 *
 * Every upload server answers `{"bytes", "reads", "start", "end",
 * "allocated"}`: the byte count, how many chunks it came in, and the span of
 * the reading (`performance.now()` at its start and end, V8 heap bytes
 * allocated meanwhile; see `beginSpan`), which the driver matches against
 * the server's `--trace-gc` lines. `timeouts=off`: without timeouts;
 * `timeouts=short`: 2 s, and each read that times out prints
 * `timed-out <ms it waited>`.
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
  let last = performance.now(); // of the last chunk
  const callbacks = {
    onRead(_buffer: Uint8Array, _off: number, len: number) {
      bytes += len;
      reads++;
      last = performance.now();
      input.scheduleRead(callbacks);
    },
    onEof(error?: unknown) {
      if (error instanceof Deno.errors.TimedOut) {
        // How long the read waited on the client (scenario `slow`).
        console.log(`timed-out ${(performance.now() - last).toFixed(0)}`);
      }
      if (error !== undefined) return reqd.reportException(error);
      const json = uploadReply({ bytes, reads }, endSpan(begun));
      reqd.respondWithString({ headers: JSON_HEADERS }, json);
    },
  };
  input.scheduleRead(callbacks);
}, bodyOptions()));
