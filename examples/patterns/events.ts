/**
 * README.md, "Everyday patterns": server-sent events from a producer that
 * waits between events, ours and the plain-streams version. Both stop
 * producing when the client leaves; ours also compresses with a flush per
 * event and bounds a client that stops reading (`writeTimeout`).
 * `tests/patterns_test.ts` holds both to the README's text and ours to its
 * guarantees.
 *
 * @module
 */

/** Waits `ms`, or less if `signal` aborts (`delay` of `@std/async`). */
export const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });

// #region ours
import { withBody } from "@httpaf/body";

export const events = withBody(async (reqd) => {
  const headers = { "content-type": "text/event-stream" };
  const out = reqd.respondWithStreaming({ headers }, { compress: true });
  for (let id = 1; !out.signal.aborted; id++) {
    out.writeString(`id: ${id}\ndata: ${new Date().toISOString()}\n\n`);
    await out.flush(); // each event decodable as soon as it arrives
    await sleep(1000, out.signal); // cut short when the client leaves
  }
});
// #endregion ours

// #region plain
export const plainEvents = () => {
  const gone = new AbortController();
  const encoder = new TextEncoder();
  let id = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (id++ > 0) await sleep(1000, gone.signal);
      const event = `id: ${id}\ndata: ${new Date().toISOString()}\n\n`;
      controller.enqueue(encoder.encode(event));
    },
    cancel: () => gone.abort(),
  });
  const headers = { "content-type": "text/event-stream" };
  return new Response(body, { headers });
};
// #endregion plain
