/**
 * `withBody` inside a Hono app: `PUT /files/:name` streams the upload,
 * counts and hashes it chunk by chunk (never holding it), and answers with
 * the route parameter — the route's context reaches the handler as its
 * second argument, no side table.
 *
 * ```sh
 * deno run --allow-net --allow-env=HOST,PORT examples/hono.ts
 * curl -sS -T deno.json http://127.0.0.1:8006/files/deno.json
 * ```
 *
 * `HOST`/`PORT` override the address (default 127.0.0.1:8006). One
 * `withBody` per route: made once, it costs nothing per request beyond
 * the request itself (README.md, "Frameworks" has the figures).
 *
 * @module
 */

import { createHash } from "node:crypto";
// Hono is this example's, not the library's: pinned here (and in the
// tests' lockfile), out of what the demo server resolves.
// deno-lint-ignore no-import-prefix
import { type Context, Hono } from "npm:hono@4.13.19";
import { chunks, withBody, type WithBodyOptions } from "@httpaf/body";
import { serveUntilSignal } from "./_serve.ts";

/**
 * The Hono app. A truncated upload is never answered as complete: its
 * loop throws, the handler rejects, and withBody reports it (quietly when
 * the client went away; `413` past `maxBodyBytes`).
 *
 * @param options passed to `withBody`: `signal`, `maxBodyBytes`, …
 * @returns the app.
 */
export function createApp(options?: WithBodyOptions): Hono {
  // #region recipe
  const upload = withBody<Context>(async (reqd, c) => {
    const hash = createHash("sha256");
    let size = 0;
    for await (const bytes of chunks(reqd.requestBody)) {
      hash.update(bytes);
      size += bytes.length;
    }
    const name = c.req.param("name");
    const digest = hash.digest("hex");
    reqd.respondWithString(
      { status: 201 },
      `${name}: ${size} bytes, sha256 ${digest}\n`,
    );
  }, options);

  const app = new Hono();
  app.put("/files/:name", (c) => upload(c.req.raw, undefined, c));
  // #endregion recipe
  app.get("/", (c) => c.text("PUT /files/:name with a body\n"));
  return app;
}

if (import.meta.main) {
  await serveUntilSignal({
    port: 8006,
    app: (stop) =>
      createApp({ signal: stop, maxBodyBytes: 256 * 1024 * 1024 }).fetch,
    banner: (origin) => `hono demo on ${origin}/`,
  });
}
