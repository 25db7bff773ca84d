/**
 * Upload consumed — ours: a `scheduleRead` loop on `reqd.requestBody`
 * (one reused BYOB buffer inside the body), answering the byte count.
 *
 * Every upload server answers `{"bytes", "start", "end", "allocated"}`: the
 * byte count, and the span of the reading (`performance.now()` at its start
 * and end, V8 heap bytes allocated meanwhile; see `beginSpan`), which the
 * driver matches against the server's `--trace-gc` lines.
 *
 * @module
 */

import { withBody } from "../../mod.ts";
import { beginSpan, endSpan, serve } from "./_serve.ts";

serve(withBody((reqd) => {
  const begun = beginSpan();
  const input = reqd.requestBody;
  let bytes = 0;
  const callbacks = {
    onRead(_buffer: Uint8Array, _off: number, len: number) {
      bytes += len;
      input.scheduleRead(callbacks);
    },
    onEof(error?: unknown) {
      if (error !== undefined) return reqd.reportException(error);
      const span = endSpan(begun);
      reqd.respondWithString(
        { headers: { "content-type": "application/json" } },
        JSON.stringify({ bytes, ...span }),
      );
    },
  };
  input.scheduleRead(callbacks);
}));
