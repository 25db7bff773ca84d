/**
 * 2 KiB hello — ours: `withBody` + `reqd.respondWithString`.
 *
 * @module
 */

import { withBody } from "../../mod.ts";
import { serve } from "./_serve.ts";
import { HELLO } from "./_hello.ts";

serve(withBody((reqd) => reqd.respondWithString(undefined, HELLO)));
