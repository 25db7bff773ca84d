/**
 * A streaming reverse proxy: every request goes to `UPSTREAM` through
 * `proxy()`, both bodies streamed with backpressure. Server-sent-event
 * responses (an LLM gateway's token stream, say) are counted on their
 * way — words of each `data:` line, logged when the stream ends — with a
 * `body` hook that keeps every guarantee of the plain path.
 *
 * ```sh
 * deno task serve    # in another terminal: the demo server on 127.0.0.1:8000
 * deno run --allow-net --allow-env=HOST,PORT,UPSTREAM examples/proxy.ts
 * curl -sS --data-binary 'hello, proxy' http://127.0.0.1:8002/echo
 * curl -sS 'http://127.0.0.1:8002/stream?bytes=10000000' | wc -c
 * curl -sSN 'http://127.0.0.1:8002/events?interval=200&count=5'
 * ```
 *
 * `UPSTREAM` is an origin (default `http://127.0.0.1:8000`); `HOST`/`PORT`
 * override the proxy's address (default 127.0.0.1:8002). An unreachable
 * upstream gives `502`, one that sends no head within 10 s `504`.
 *
 * @module
 */

import {
  type Body,
  chunks,
  pipeBody,
  proxy,
  type Reqd,
  withBody,
} from "@httpaf/body";
import { serveUntilSignal } from "./_serve.ts";

/** Options of {@linkcode createApp}. */
export interface ProxyAppOptions {
  /** The upstream origin, e.g. `http://127.0.0.1:8000`. */
  upstream: string | URL;
  /**
   * When it aborts: requests still waiting get `503`, streaming responses
   * are cut (the client sees a broken transfer, never a truncated body
   * that looks complete) and their upstreams cancelled.
   */
  signal?: AbortSignal;
  /** Receives one line per counted event stream (default: console.log). */
  log?: (line: string) => void;
}

/**
 * The proxy as a fetch handler.
 *
 * @param options the upstream origin, a shutdown signal, a log.
 * @returns the fetch handler.
 * @throws {TypeError} when `upstream` is not an http(s) URL.
 */
export function createApp(
  options: ProxyAppOptions,
): (request: Request) => Response | Promise<Response> {
  const log = options.log ?? console.log;
  return withBody(
    proxy(options.upstream, {
      headersTimeout: 10_000,
      body: (input, output, reqd, upstream) =>
        upstream.headers.get("content-type")?.startsWith("text/event-stream")
          ? countEvents(input, output, reqd, log)
          : pipeBody(input, output),
    }),
    { signal: options.signal },
  );
}

/**
 * Forwards an event stream as it comes, counting the words of its `data:`
 * lines. An upstream that fails throws from `chunks()` (the proxy then
 * breaks the client's transfer); a client that leaves makes the flush
 * answer `"closed"`, and returning closes the upstream.
 */
async function countEvents(
  input: Body<"read">,
  output: Body<"write">,
  reqd: Reqd,
  log: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = ""; // a line not yet ended
  let words = 0;
  for await (const bytes of chunks(input)) {
    const lines = (pending + decoder.decode(bytes, { stream: true }))
      .split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith("data:")) {
        words += line.slice(5).split(/\s+/).filter((w) => w !== "").length;
      }
    }
    output.writeBigstring(bytes); // copies: the bytes are borrowed
    if (await output.flush() === "closed") return; // the client left
  }
  output.closeWriter();
  log(`${new URL(reqd.request.url).pathname}: ${words} words in data lines`);
}

if (import.meta.main) {
  const upstream = Deno.env.get("UPSTREAM") ?? "http://127.0.0.1:8000";
  await serveUntilSignal({
    port: 8002,
    app: (signal) => createApp({ upstream, signal }),
    banner: (origin) => `proxy on ${origin}/ forwarding to ${upstream}`,
  });
}
