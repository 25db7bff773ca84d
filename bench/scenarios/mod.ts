/**
 * The scenarios, in the order they run and their `--only` names. A new
 * scenario: a file here exporting `(ctx: Context) => Promise<void>`, and
 * one line below.
 *
 * @module
 */

import type { Scenario } from "../_context.ts";
import { client } from "./client.ts";
import { compress } from "./compress.ts";
import { download } from "./download.ts";
import { h2c, h2tls } from "./h2.ts";
import { hello } from "./hello.ts";
import { hono } from "./hono.ts";
import { idle } from "./idle.ts";
import { multipart } from "./multipart.ts";
import { proxy } from "./proxy.ts";
import { slow } from "./slow_uploads.ts";
import { stalled } from "./stalled.ts";
import { stream } from "./stream.ts";
import { timeouts } from "./timeouts.ts";
import { upload } from "./upload.ts";
import { write } from "./write.ts";

export const SCENARIOS: Record<string, Scenario> = {
  write,
  stream,
  download,
  upload,
  multipart,
  hello,
  hono,
  idle,
  proxy,
  stalled,
  slow,
  timeouts,
  h2c,
  h2tls,
  compress,
  client,
};
