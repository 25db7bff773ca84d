/**
 * Proxied download — ours: `withBody(proxy(upstream))`, every guarantee
 * on (`passThrough` as an argument: the opt-in native pass-through).
 *
 * @module
 */

import { proxy, withBody } from "../../mod.ts";
import { bodyOptions, option, serve, upstream } from "./_serve.ts";

serve(withBody(
  proxy(upstream(), { passThrough: option("pass") !== undefined }),
  bodyOptions(),
));
