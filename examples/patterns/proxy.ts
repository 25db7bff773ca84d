/**
 * README.md, "Everyday patterns": a reverse proxy, ours and the
 * plain-streams version (Deno's native pipe, with the header rules by
 * hand). `tests/patterns_test.ts` holds both to the README's text and
 * ours to its guarantees.
 *
 * @module
 */

// #region ours
import { proxy, withBody } from "@httpaf/body";

export const gateway = (upstream: string) =>
  withBody(proxy(upstream, { readTimeout: 30_000 }), { maxBodyBytes: 1 << 30 });
// #endregion ours

// #region plain
const HOP = ["connection", "keep-alive", "te", "transfer-encoding", "upgrade"];

export const plainGateway = (upstream: string) => async (request: Request) => {
  const { pathname, search } = new URL(request.url);
  const headers = new Headers(request.headers);
  for (const name of [...HOP, "host", "content-length"]) headers.delete(name);
  headers.set("accept-encoding", "identity"); // else fetch decodes gzip
  try {
    const response = await fetch(upstream + pathname + search, {
      method: request.method,
      headers,
      body: request.body,
      redirect: "manual",
    });
    for (const name of HOP) response.headers.delete(name);
    return new Response(response.body, response);
  } catch {
    return new Response("Bad Gateway\n", { status: 502 });
  }
};
// #endregion plain
