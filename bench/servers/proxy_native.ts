/**
 * Proxied download — Deno's native pass-through: the upstream `fetch`
 * body handed to `new Response` (a pipe inside Deno).
 *
 * @module
 */

import { serve, upstream } from "./_serve.ts";

const origin = upstream();
serve(async (request) => {
  const { pathname, search } = new URL(request.url);
  const response = await fetch(origin + pathname + search);
  return new Response(response.body, {
    status: response.status,
    headers: response.headers,
  });
});
