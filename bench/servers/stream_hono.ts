/**
 * Streaming `?bytes=N` of 100-byte writes — Hono's `stream()` helper:
 * `await stream.write(string)` per write, as Hono's documentation does.
 *
 * @module
 */

// Hono is a contender, not a dependency of the library: pinned here, not in
// deno.json's imports.
// deno-lint-ignore no-import-prefix
import { Hono } from "npm:hono@4.13.19";
// deno-lint-ignore no-import-prefix
import { stream } from "npm:hono@4.13.19/streaming";
import { bytesParam, LINE, serve } from "./_serve.ts";

const app = new Hono();
app.get("/", (c) => {
  const total = bytesParam(c.req.url);
  c.header("content-type", "text/plain; charset=utf-8");
  return stream(c, async (out) => {
    let sent = 0;
    while (sent < total && !out.aborted) {
      const n = Math.min(LINE.length, total - sent);
      await out.write(n === LINE.length ? LINE : LINE.slice(0, n));
      sent += n;
    }
  });
});

serve(app.fetch);
