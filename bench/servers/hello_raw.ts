/**
 * 2 KiB hello — raw `Deno.serve` returning `new Response(text)`.
 *
 * @module
 */

import { serve } from "./_serve.ts";
import { HELLO } from "./_hello.ts";

serve(() => new Response(HELLO));
