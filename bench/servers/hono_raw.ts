/**
 * 2 KiB hello through Hono — the reference: a plain Hono route,
 * `c.text(HELLO)`.
 *
 * @module
 */

// Hono is a contender, not a dependency of the library: pinned here.
// deno-lint-ignore no-import-prefix
import { Hono } from "npm:hono@4.13.19";
import { HELLO } from "./_hello.ts";
import { serve } from "./_serve.ts";

const app = new Hono();
app.get("/", (c) => c.text(HELLO));
serve(app.fetch);
