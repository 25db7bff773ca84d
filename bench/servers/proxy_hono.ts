/**
 * Proxied download — Hono's `proxy()` helper (`hono/proxy`), which returns
 * the upstream body to Deno as it is.
 *
 * @module
 */

// Hono is a contender, not a dependency of the library: pinned here.
// deno-lint-ignore no-import-prefix
import { Hono } from "npm:hono@4.13.19";
// deno-lint-ignore no-import-prefix
import { proxy } from "npm:hono@4.13.19/proxy";
import { serve, upstream } from "./_serve.ts";

const origin = upstream();
const app = new Hono();
app.get("*", (c) => {
  const { pathname, search } = new URL(c.req.url);
  return proxy(origin + pathname + search);
});
serve(app.fetch);
