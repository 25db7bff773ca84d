/**
 * The upload part of `h2c` and `h2tls`: 256 MiB (from h2load: with a
 * `content-length`) consumed by ours (`scheduleRead`), a BYOB loop and
 * `for await`. Deno delivers HTTP/2 request bodies in 16 KiB chunks (its
 * frame size), up to four times the reads of HTTP/1.1, so ours and the
 * BYOB loop are also measured over HTTP/1.1 with the same client, side by
 * side: what the framing costs each, and how many reads each body took (a
 * note).
 *
 * @module
 */

import type { Context } from "../_context.ts";
import type { H2Client } from "../_h2.ts";
import { atLeast, INFO } from "../_report.ts";
import { MIB_S, type RowSpec, sideBySide } from "../_runner.ts";
import { readsNote, recorded, type Replies, uploadRows } from "./upload.ts";

/** Ours against raw on the same protocol, as in `h2.ts`. */
const TARGET = atLeast(0.95);

type Key = "ours" | "forAwait" | "byob" | "oursH1" | "byobH1";

/** HTTP/2 against HTTP/1.1, by speed and by server CPU per MiB. */
const FRAMING: RowSpec<Key>[] = [
  { ref: "oursH1", label: "ours over HTTP/1.1 (same client)" },
  { ref: "byobH1", label: "BYOB loop over HTTP/1.1 (same client)" },
  ...(["ours", "byob"] as const).flatMap((key) =>
    (["speed", "cpu"] as const).map((by) => ({
      ours: key,
      vs: `${key}H1` as const,
      label: `${key === "ours" ? "ours" : "BYOB"}, HTTP/2 vs HTTP/1.1${
        by === "cpu" ? ", server CPU per MiB (1.1 / 2)" : ""
      }`,
      target: INFO,
      by,
    }))
  ),
];

export async function h2Upload(
  ctx: Context,
  client: H2Client,
  on: (server: string) => string,
): Promise<void> {
  const bytes = ctx.sizes.h2Bytes;
  const replies: Replies = {};
  await sideBySide<Key>(ctx, {
    scenario: `${bytes / 2 ** 20} MiB upload consumed, ${client.protocol} ` +
      `and HTTP/1.1, ${client.name}`,
    rounds: ctx.rounds * 2, // short runs
    contenders: {
      ours: on("upload_ours.ts"),
      forAwait: on("upload_for_await.ts"),
      byob: on("upload_byob.ts"),
      oursH1: on("upload_ours.ts"),
      byobH1: on("upload_byob.ts"),
    },
    run: recorded(
      replies,
      (server, key) => client.post(server, bytes, key.endsWith("H1")),
    ),
    unit: MIB_S,
    rows: [...uploadRows(TARGET, TARGET), ...FRAMING],
  });
  ctx.report.notes.push(
    `${client.protocol} upload: ${readsNote(replies)} HTTP/2 vs HTTP/1.1: ` +
      "the same server, client and bytes; where the speed falls much " +
      "further than the CPU per MiB rises, the server waited on the " +
      "connection rather than computing.",
  );
}
