/**
 * `upload`: 256 MiB streamed up (chunked) — ours (`scheduleRead` loop), ours
 * the everyday way (`for await … of chunks(body)`), `for await` over
 * `request.body` and a BYOB loop into one reused 64 KiB buffer (short
 * runs: twice the rounds); then the allocation pass of `upload_gc.ts`.
 *
 * @module
 */

import type { Context } from "../_context.ts";
import type { Transfer, UploadReply } from "../_load.ts";
import type { Server } from "../_process.ts";
import { atLeast, fmt, type Target } from "../_report.ts";
import {
  type Measure,
  MIB_S,
  perMiB,
  type RowSpec,
  sideBySide,
} from "../_runner.ts";
import { uploadGc } from "./upload_gc.ts";

const UPLOADERS = {
  ours: "upload_ours.ts",
  forAwait: "upload_for_await.ts",
  byob: "upload_byob.ts",
};

/** The rows of an upload, ours against for-await and against BYOB. */
export function uploadRows(
  forAwait: Target,
  byob: Target,
): RowSpec<keyof typeof UPLOADERS>[] {
  return [
    { ref: "forAwait", label: "for await (request.body)" },
    { ref: "byob", label: "BYOB loop, one 64 KiB buffer" },
    {
      ours: "ours",
      vs: "forAwait",
      label: "ours vs for-await",
      target: forAwait,
    },
    { ours: "ours", vs: "byob", label: "ours vs BYOB", target: byob },
  ];
}

/** The server's replies, by contender. */
export type Replies = Record<string, UploadReply[]>;

/** A run of `post` that keeps each reply in `replies`, under its key. */
export function recorded<K extends string>(
  replies: Replies,
  post: (server: Server, key: K) => Promise<Transfer & { reply: UploadReply }>,
): (server: Server, key: K) => Promise<Measure> {
  return async (server, key) => {
    const transfer = await post(server, key);
    (replies[key] ??= []).push(transfer.reply);
    return perMiB(transfer);
  };
}

/** "ours 16,384 reads of 16.0 KiB on average, …" (per upload). */
export function readsNote(replies: Replies): string {
  return Object.entries(replies).map(([key, list]) => {
    const last = list[list.length - 1]!;
    return `${key} ${fmt(last.reads)} reads of ${
      fmt(last.bytes / last.reads / 1024, 1)
    } KiB on average`;
  }).join(", ") + " per upload (the servers' own counts).";
}

export async function upload(ctx: Context): Promise<void> {
  const bytes = ctx.sizes.uploadBytes;
  const replies: Replies = {};
  await sideBySide<keyof typeof UPLOADERS | "chunks">(ctx, {
    scenario: `HTTP ${bytes / 2 ** 20} MiB upload consumed`,
    rounds: ctx.rounds * 2,
    contenders: { ...UPLOADERS, chunks: "upload_chunks.ts" },
    run: recorded(replies, (server) => ctx.post(server, bytes)),
    unit: MIB_S,
    rows: [
      ...uploadRows(atLeast(0.95), atLeast(1)),
      {
        ours: "chunks",
        vs: "byob",
        label: "ours, for await of chunks(body), vs BYOB",
        target: atLeast(0.95),
      },
      {
        ours: "chunks",
        vs: "forAwait",
        label: "ours, for await of chunks(body), vs for-await",
        target: atLeast(1.1),
      },
    ],
  });
  ctx.report.notes.push(`HTTP/1.1 upload (chunked): ${readsNote(replies)}`);
  await uploadGc(ctx, UPLOADERS);
}
