/**
 * Content negotiation for `compress.ts`: the encoding a request's
 * `Accept-Encoding` prefers (RFC 9110 §12.5.3). Re-exported by
 * `compress.ts`; private otherwise.
 *
 * @module
 */

import { describe } from "../../_body/check.ts";
import { type Encoding, isEncoding } from "./zlib.ts";

export type { Encoding };

// A qvalue: 0 to 1, at most three decimals (RFC 9110 §12.4.2).
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/**
 * The encoding to compress a response with, from the request's
 * `Accept-Encoding` and what the server offers, or `null` for none
 * (identity).
 *
 * Tokens are case-insensitive; each has a weight (`q=`, default 1, `q=0`
 * meaning "not acceptable"); `*` weighs every coding not listed, identity
 * included; `x-gzip` counts as `gzip`. The offered encoding of the highest
 * weight wins, ties going to the earlier in `offered` (the server's
 * preference); `null` when none weighs more than 0, or when `identity`
 * (listed, or weighed by `*`) weighs strictly more than the winner. No header at all means the client
 * asked for nothing: `null` (the same for an empty header). An element
 * with a malformed `q` is ignored.
 *
 * @param request a `Request`, its `Headers`, the header's value, or
 *   `null` for no header.
 * @param offered the encodings the server can produce, preferred first.
 * @returns the chosen encoding, or `null` to send the body as it is.
 * @throws {TypeError} for an unknown encoding in `offered`, or a `request`
 *   of another type.
 *
 * @example Server preference breaks ties
 * ```ts
 * import { negotiateEncoding } from "@httpaf/body";
 *
 * const offered = ["br", "zstd", "gzip"] as const;
 * if (negotiateEncoding("gzip, br", offered) !== "br") throw new Error();
 * if (negotiateEncoding("gzip, br;q=0.5", offered) !== "gzip") throw new Error();
 * if (negotiateEncoding("br;q=0, *", offered) !== "zstd") throw new Error();
 * if (negotiateEncoding(null, offered) !== null) throw new Error();
 * ```
 */
export function negotiateEncoding(
  request: Request | Headers | string | null,
  offered: readonly Encoding[],
): Encoding | null {
  const header = headerOf(request);
  if (!Array.isArray(offered)) {
    throw new TypeError(
      `negotiateEncoding: offered must be an array, received ${
        describe(offered)
      }`,
    );
  }
  for (const encoding of offered) {
    if (!isEncoding(encoding)) {
      throw new TypeError(
        `negotiateEncoding: unknown encoding ${
          JSON.stringify(encoding) ?? String(encoding)
        } in offered`,
      );
    }
  }
  if (header === null) return null;
  const weights = parseWeights(header);
  const star = weights.get("*");
  let best: Encoding | null = null;
  let bestWeight = 0;
  for (const encoding of offered) {
    const weight = weights.get(encoding) ?? star ?? 0;
    if (weight > bestWeight) [best, bestWeight] = [encoding, weight];
  }
  // Unlisted, identity is only the fallback: it competes when listed.
  const identity = weights.get("identity") ?? star ?? 0;
  return identity > bestWeight ? null : best;
}

function headerOf(request: Request | Headers | string | null): string | null {
  if (request === null || typeof request === "string") return request;
  if (request instanceof Request) {
    return request.headers.get("accept-encoding");
  }
  if (request instanceof Headers) return request.get("accept-encoding");
  throw new TypeError(
    `negotiateEncoding: expected a Request, Headers, a header value or null, received ${
      describe(request)
    }`,
  );
}

// The weight of each coding the header lists, by lower-case token; the
// larger weight when a coding is listed twice.
function parseWeights(header: string): Map<string, number> {
  const weights = new Map<string, number>();
  for (const element of header.split(",")) {
    const [name = "", ...params] = element.split(";");
    let token = name.trim().toLowerCase();
    if (token === "") continue;
    if (token === "x-gzip") token = "gzip";
    const weight = weightOf(params);
    if (weight === null) continue;
    weights.set(token, Math.max(weight, weights.get(token) ?? 0));
  }
  return weights;
}

// The q parameter among `params` (default 1); null when it is malformed.
function weightOf(params: string[]): number | null {
  for (const param of params) {
    const [key = "", value = ""] = param.split("=", 2);
    if (key.trim().toLowerCase() !== "q") continue;
    const q = value.trim();
    return QVALUE.test(q) ? Number(q) : null;
  }
  return 1;
}
