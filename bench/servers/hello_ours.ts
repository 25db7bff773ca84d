/**
 * 2 KiB hello — ours: `withBody` + `reqd.respondWithString` (`timeouts=off`:
 * without timeouts).
 *
 * @module
 */

import { withBody } from "../../mod.ts";
import { bodyOptions, serve } from "./_serve.ts";
import { HELLO } from "./_hello.ts";

serve(withBody(
  (reqd) => reqd.respondWithString(undefined, HELLO),
  bodyOptions(),
));
