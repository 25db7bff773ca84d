/**
 * What `proxy` changes in the messages it forwards: the upstream URL of a
 * request, the headers that describe one connection and never cross a
 * proxy (RFC 9110 §7.6.1), and the `x-forwarded-*` fields. Private.
 *
 * @module
 */

/** Header fields that describe one connection, not the message. */
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

// A header name as RFC 9110 allows it (lower case, as Headers gives it).
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * `headers` without the hop-by-hop fields, nor those that `connection`
 * names. A copy: `headers` is left as it is.
 */
export function endToEnd(headers: Headers): Headers {
  const result = new Headers(headers);
  const listed = (headers.get("connection") ?? "").split(",");
  for (const name of [...HOP_BY_HOP, ...listed]) {
    const field = name.trim().toLowerCase();
    // A malformed name in `connection` names no header a Headers can hold.
    if (TOKEN.test(field)) result.delete(field);
  }
  return result;
}

/**
 * The headers of the upstream request for `request`: end-to-end fields
 * only, no `host` (fetch sends the upstream's), no `content-length` (a
 * streamed body goes out chunked), `accept-encoding: identity` (Deno 2.9.6's
 * fetch decodes gzip and br itself unless it asked for identity, yet keeps
 * their headers: passed on, they would describe bytes the client never
 * gets), and, if `forwarded`, the `x-forwarded-*` fields appended to any
 * the request carries.
 */
export function upstreamHeaders(
  request: Request,
  peer: Deno.Addr | undefined,
  forwarded: boolean,
): Headers {
  const headers = endToEnd(request.headers);
  headers.delete("host");
  headers.delete("content-length");
  headers.set("accept-encoding", "identity");
  if (!forwarded) return headers;
  const url = new URL(request.url);
  if (peer !== undefined && "hostname" in peer) {
    append(headers, "x-forwarded-for", peer.hostname);
  }
  append(headers, "x-forwarded-host", request.headers.get("host") ?? url.host);
  append(headers, "x-forwarded-proto", url.protocol.slice(0, -1));
  return headers;
}

function append(headers: Headers, name: string, value: string): void {
  const prior = headers.get(name);
  headers.set(name, prior === null ? value : `${prior}, ${value}`);
}

/**
 * Where `request` goes upstream of a base URL: the base's origin, its path
 * joined with the request's path, the request's query. A base path of
 * `/api` sends `/users?id=1` to `/api/users?id=1`.
 */
export function upstreamUrl(base: URL, request: Request): URL {
  const { pathname, search } = new URL(request.url);
  const prefix = base.pathname.endsWith("/")
    ? base.pathname.slice(0, -1)
    : base.pathname;
  const url = new URL(base.origin);
  url.pathname = prefix + pathname;
  url.search = search;
  return url;
}

/**
 * Whether Deno's `fetch` decoded a response whose headers are `response`,
 * for a request sent with `request`'s headers: Deno 2.9.6 decodes gzip and
 * br itself unless the request asked for `accept-encoding: identity`, and
 * keeps the `content-encoding` and `content-length` that describe the
 * encoded bytes.
 */
export function decodedBy(request: Headers, response: Headers): boolean {
  const asked = (request.get("accept-encoding") ?? "").trim().toLowerCase();
  if (asked === "identity") return false;
  const coding = (response.get("content-encoding") ?? "").trim().toLowerCase();
  return coding === "gzip" || coding === "x-gzip" || coding === "br";
}
