/**
 * 2 KiB hello through Hono — ours, one `withBody` per route, the route's
 * context passed through (README.md, "Frameworks").
 *
 * @module
 */

// Hono is a contender, not a dependency of the library: pinned here.
// deno-lint-ignore no-import-prefix
import { type Context, Hono } from "npm:hono@4.13.19";
import { withBody } from "../../mod.ts";
import { HELLO } from "./_hello.ts";
import { bodyOptions, serve } from "./_serve.ts";

const hello = withBody<Context>(
  (reqd, c) =>
    reqd.respondWithString(
      { status: c.req.method === "GET" ? 200 : 405 },
      HELLO,
    ),
  bodyOptions(),
);
const app = new Hono();
app.get("/", (c) => hello(c.req.raw, undefined, c));
serve(app.fetch);
