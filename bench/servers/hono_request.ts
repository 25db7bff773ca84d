/**
 * 2 KiB hello through Hono — ours, a `withBody` made per request (its
 * options checked each time), the handler closing over the context.
 *
 * @module
 */

// Hono is a contender, not a dependency of the library: pinned here.
// deno-lint-ignore no-import-prefix
import { Hono } from "npm:hono@4.13.19";
import { withBody } from "../../mod.ts";
import { HELLO } from "./_hello.ts";
import { bodyOptions, serve } from "./_serve.ts";

const app = new Hono();
app.get("/", (c) =>
  withBody(
    (reqd) =>
      reqd.respondWithString(
        { status: c.req.method === "GET" ? 200 : 405 },
        HELLO,
      ),
    bodyOptions(),
  )(c.req.raw));
serve(app.fetch);
