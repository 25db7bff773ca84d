/**
 * `examples/compressed_sse.ts` served in-process on 127.0.0.1 (an
 * ephemeral port) and driven by `fetch`: what a flush sends decodes at
 * once, every event arrives in a complete compressed stream, a shutdown
 * ends it cleanly (with the compressor's trailer), and a client that
 * accepts no encoding gets plain events. Every fetch carries
 * `AbortSignal.timeout`; every other wait is bounded.
 */

import assert from "node:assert/strict";
import { concat } from "./_harness/util.ts";
import {
  bounded,
  decodeComplete,
  decoder,
  StreamDecoder,
  TIMEOUT_MS,
} from "./_harness/compress.ts";
import type { Encoding } from "../adapters/compress.ts";
import { createApp as sseApp } from "../examples/compressed_sse.ts";

async function withServer(
  handler: (request: Request) => Response | Promise<Response>,
  run: (base: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    handler,
  );
  try {
    await run(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await bounded(server.shutdown(), "server shutdown");
  }
}

/**
 * GETs `path` from the example asking for `encoding`; returns the response
 * and a reader of its decoded text (Deno 2.9.6's fetch decodes gzip and br
 * itself; zstd arrives as it is and is decoded here, never finished).
 */
async function fetchEvents(base: string, path: string, encoding: Encoding) {
  const response = await fetch(base + path, {
    headers: { "accept-encoding": encoding },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const client = encoding === "zstd" ? new StreamDecoder("zstd") : null;
  const reader = response.body!.getReader();
  const received: Uint8Array[] = [];
  let text = "";
  /** Reads until `done(text)`, or the end; returns the text so far. */
  const readUntil = async (done: (text: string) => boolean) => {
    for (let i = 0; i < 1000 && !done(text); i++) {
      const { value } = await bounded(reader.read(), "read");
      if (value === undefined) break;
      received.push(value);
      text = decoder.decode(
        client ? await client.push(value) : concat(received),
      );
    }
    return text;
  };
  const close = () => client?.close();
  return { response, readUntil, raw: () => concat(received), close };
}

// Events come once a minute: what was flushed must decode long before.
for (const encoding of ["gzip", "br", "zstd"] as const) {
  Deno.test(`compressed_sse: with accept-encoding ${encoding}, the flushed comment decodes at once; a shutdown ends the stream cleanly`, async () => {
    const stop = new AbortController();
    await withServer(sseApp(stop.signal), async (base) => {
      const events = await fetchEvents(
        base,
        "/events?interval=60000",
        encoding,
      );
      try {
        assert.equal(events.response.headers.get("content-encoding"), encoding);
        assert.equal(events.response.headers.get("vary"), "accept-encoding");
        const first = await events.readUntil((t) => t.endsWith("\n\n"));
        assert.equal(first, ": connected\n\n");
        stop.abort(); // ends the stream cleanly, with the compressor's trailer
        assert.equal(await events.readUntil(() => false), first);
        if (encoding === "zstd") {
          assert.equal(
            decoder.decode(await decodeComplete("zstd", events.raw())),
            first,
          );
        }
      } finally {
        events.close();
      }
    });
  });

  Deno.test(`compressed_sse: with accept-encoding ${encoding}, every event arrives in a complete stream`, async () => {
    await withServer(sseApp(), async (base) => {
      const events = await fetchEvents(
        base,
        "/events?count=3&interval=1",
        encoding,
      );
      try {
        const text = await events.readUntil(() => false);
        assert.match(
          text,
          /^: connected\n\n(id: (\d)\ndata: \{"seq":\2,"time":"[^"]+"\}\n\n){3}$/,
        );
        assert.deepEqual([...text.matchAll(/id: (\d)/g)].map((m) => m[1]), [
          "1",
          "2",
          "3",
        ]);
        if (encoding === "zstd") {
          assert.equal(
            decoder.decode(await decodeComplete("zstd", events.raw())),
            text,
          );
        }
      } finally {
        events.close();
      }
    });
  });
}

Deno.test("compressed_sse: without accept-encoding the events are plain and complete", async () => {
  await withServer(sseApp(), async (base) => {
    const response = await fetch(`${base}/events?count=2&interval=1`, {
      headers: { "accept-encoding": "identity" },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    assert.equal(response.headers.get("content-encoding"), null);
    const text = await response.text();
    assert.match(
      text,
      /^: connected\n\nid: 1\ndata: \{"seq":1,[^\n]+\n\nid: 2\ndata: \{"seq":2,[^\n]+\n\n$/,
    );
  });
});
