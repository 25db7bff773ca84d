/**
 * Gzipped generated text: `GET /?lines=N` answers N lines, written into a
 * writer body and piped through the platform's `CompressionStream`. No
 * `withBody` here: the adapters meet plain `Deno.serve` and web streams.
 *
 * ```sh
 * deno run --allow-net --allow-env=HOST,PORT examples/gzip.ts
 * curl -sS --compressed 'http://127.0.0.1:8003/?lines=5'
 * curl -sS 'http://127.0.0.1:8003/?lines=1000000' | gunzip | wc -l
 * ```
 *
 * `HOST`/`PORT` override the address (default 127.0.0.1:8003). The body is
 * always gzip, whatever `accept-encoding` says: the point is the pipe, not
 * content negotiation.
 *
 * Generation is paced by flushes: a batch of lines (about one 64 KiB
 * buffer) is written, and the next batch waits until the compressor took
 * it, which it does only as fast as the client reads the compressed bytes.
 * A client that leaves cancels the pipe, the flush answers `"closed"`, and
 * generation stops.
 *
 * @module
 */

import { type Body, type FlushResult, streamingBody } from "@httpaf/body";
import { serveUntilSignal } from "./_serve.ts";

/** The most lines one request may ask for. */
const MAX_LINES = 100_000_000;
/** Lines are written until this many bytes are pending, then flushed. */
const BATCH = 64 * 1024;

/** Line `i` (from 1) of `total`, with its newline, before compression. */
function line(i: number, total: number): string {
  return `line ${i} of ${total}: the quick brown fox jumps over the lazy dog\n`;
}

/**
 * The gzip server as a plain fetch handler: `GET /?lines=N` (default 10,
 * at most 100,000,000) answers N lines, gzip-compressed as they are
 * generated.
 *
 * @returns the fetch handler, for `Deno.serve` or any framework.
 */
export function createApp(): (request: Request) => Response {
  return (request) => {
    const url = new URL(request.url);
    if (url.pathname !== "/") {
      return text(404, `no route for ${url.pathname}\n`);
    }
    if (request.method !== "GET") return text(405, "GET /?lines=N\n");
    const raw = url.searchParams.get("lines") ?? "10";
    const total = Number(raw);
    if (!/^\d+$/.test(raw) || total > MAX_LINES) {
      return text(400, `lines must be an integer from 0 to ${MAX_LINES}\n`);
    }
    // streamingBody's readable has a high-water mark of 0, so a flush
    // answers "written" once the compressor has read the bytes.
    const { body, readable } = streamingBody();
    generate(body, total);
    // The cast: `readable` is typed with `Uint8Array<ArrayBufferLike>`
    // chunks, which TypeScript will not pass to a `BufferSource` sink
    // (they could view a SharedArrayBuffer). Ours view plain ArrayBuffers.
    const bytes = readable as ReadableStream<Uint8Array<ArrayBuffer>>;
    const gzipped = bytes.pipeThrough(new CompressionStream("gzip"));
    return new Response(gzipped, {
      headers: {
        "content-type": "text/plain; charset=utf-8",
        // Set by us, so Deno 2.9.6's server does not compress a second time.
        "content-encoding": "gzip",
      },
    });
  };
}

/** Writes `total` lines into `body`, one flush per batch. */
function generate(body: Body<"write">, total: number): void {
  let i = 0;
  const next = (result: FlushResult) => {
    if (result === "closed") return; // the client left: stop generating
    // writeString copies into the body's coalescing buffer: many small
    // writes leave as one ~64 KiB chunk.
    while (i < total && body.pendingBytes < BATCH) {
      i++;
      body.writeString(line(i, total));
    }
    if (i === total) return body.closeWriter(); // pending bytes still go out
    body.flush(next);
  };
  next("written");
}

function text(status: number, message: string): Response {
  return new Response(message, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

if (import.meta.main) {
  await serveUntilSignal({
    port: 8003,
    app: () => createApp(),
    banner: (origin) => `gzip server on ${origin}/?lines=N`,
  });
}
