/**
 * `multipart`: a 256 MiB file part between a few fields, uploaded as
 * `multipart/form-data` with a `content-length` (as browsers and curl send
 * it) by a raw client writing 64 KiB of random bytes at a time, and parsed
 * by ours (`multipart` over `reqd.requestBody`), busboy,
 * `@remix-run/multipart-parser` and `request.formData()` — against a BYOB
 * loop that only reads the body (the limit), and against the library's own
 * read loop on `reqd.requestBody` without parsing (what the parser adds). Each server counts the part
 * bytes it got; the figures are the upload's MiB/s, the server's CPU per
 * MiB, and its RSS growth while it reads (the peak of `/proc` samples
 * every 20 ms, minus the RSS just before the upload; the worst run).
 *
 * @module
 */

import { TRANSFER_MS } from "../_context.ts";
import type { Context } from "../_context.ts";
import { connected, readResponse, request, writeAll } from "../_http1.ts";
import type { Transfer, UploadReply } from "../_load.ts";
import type { Server } from "../_process.ts";
import { atLeast, fmt, INFO, median, verdict } from "../_report.ts";
import { type Measure, MIB_S, perMiB, sideBySide } from "../_runner.ts";

const MiB = 2 ** 20;
const CHUNK = 65536;
const RSS_LIMIT = 32 * MiB;

const CONTENDERS = {
  raw: "upload_byob.ts",
  plain: "upload_ours.ts",
  ours: "multipart_ours.ts",
  remix: "multipart_remix.ts",
  busboy: "multipart_busboy.ts",
  formData: "multipart_formdata.ts",
};
type Key = keyof typeof CONTENDERS;

const LABELS: Record<Key, string> = {
  raw: "BYOB loop reading the body, no parsing (the limit)",
  plain: "scheduleRead loop on reqd.requestBody, no parsing",
  ours: "ours: multipart() over reqd.requestBody",
  remix: "@remix-run/multipart-parser 0.16.3",
  busboy: "busboy 1.6.0 (Node streams)",
  formData: "request.formData()",
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The upload: its head, the file's repeated block, its tail. */
interface Form {
  contentType: string;
  head: Uint8Array;
  block: Uint8Array;
  fileBytes: number;
  tail: Uint8Array;
  /** The whole body. */
  length: number;
  /** Content bytes of every part: what a parser counts. */
  partBytes: number;
}

// Three fields, the file, one more field: a browser's layout.
function makeForm(fileBytes: number): Form {
  const random = crypto.getRandomValues(new Uint8Array(16));
  const boundary = "----FormBoundary" +
    Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  const fields: [string, string][] = [
    ["title", "A benchmark upload"],
    ["description", "lorem ipsum dolor sit amet ".repeat(8)],
    ["tags", "bench,multipart,upload"],
  ];
  const part = (name: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`;
  let head = "";
  for (const [name, value] of fields) head += `${part(name)}${value}\r\n`;
  head += `--${boundary}\r\nContent-Disposition: form-data; name="file"; ` +
    `filename="data.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  const last = "done";
  const tail = `\r\n${part("checksum")}${last}\r\n--${boundary}--\r\n`;
  // Random bytes, as a compressed file is; the delimiter never occurs in
  // them (a 48-character random boundary).
  const block = crypto.getRandomValues(new Uint8Array(CHUNK));
  const headBytes = encoder.encode(head);
  const tailBytes = encoder.encode(tail);
  const fieldBytes = fields.reduce((n, [, v]) => n + v.length, 0);
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    head: headBytes,
    block,
    fileBytes,
    tail: tailBytes,
    length: headBytes.length + fileBytes + tailBytes.length,
    partBytes: fieldBytes + fileBytes + last.length,
  };
}

/**
 * POSTs `form` with a raw HTTP/1.1 client (64 KiB writes from one
 * buffer), reading the response concurrently.
 */
function post(
  server: Server,
  form: Form,
): Promise<Transfer & { reply: UploadReply }> {
  const start = performance.now();
  return connected(server.port, TRANSFER_MS, async (conn) => {
    const buffer = new Uint8Array(CHUNK);
    const response = readResponse(conn, buffer);
    response.catch(() => {}); // awaited below; a write error may come first
    const headers = `content-type: ${form.contentType}\r\n` +
      `content-length: ${form.length}\r\n`;
    await writeAll(conn, request("POST", "/", headers));
    await writeAll(conn, form.head);
    for (let left = form.fileBytes; left > 0; left -= CHUNK) {
      const n = Math.min(CHUNK, left);
      await writeAll(
        conn,
        n === CHUNK ? form.block : form.block.subarray(0, n),
      );
    }
    await writeAll(conn, form.tail);
    const [from, to] = await response;
    const reply = JSON.parse(decoder.decode(buffer.subarray(from, to)));
    const seconds = (performance.now() - start) / 1000;
    return { seconds, bytes: form.length, reply };
  });
}

/**
 * `post` while sampling the server's RSS every 20 ms (bounded by the
 * transfer): the transfer and the RSS growth over the RSS before it.
 */
async function measured(server: Server, form: Form) {
  const before = await server.rss();
  let peak = before;
  let done = false;
  const sampling = (async () => {
    for (let i = 0; i < TRANSFER_MS / 20 && !done; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      peak = Math.max(peak, await server.rss());
    }
  })();
  try {
    const transfer = await post(server, form);
    peak = Math.max(peak, await server.rss());
    return { transfer, growth: peak - before };
  } finally {
    done = true;
    await sampling;
  }
}

export async function multipart(ctx: Context): Promise<void> {
  const form = makeForm(ctx.sizes.uploadBytes);
  const growth: Record<string, number[]> = {};
  const reads: Record<string, number> = {};
  const keys = Object.keys(CONTENDERS) as Key[];
  await sideBySide(ctx, {
    scenario: `HTTP multipart upload, ${
      form.fileBytes / MiB
    } MiB file + 4 fields`,
    rounds: ctx.rounds,
    contenders: CONTENDERS,
    async run(server, key): Promise<Measure> {
      const { transfer, growth: grew } = await measured(server, form);
      const expected = key === "raw" || key === "plain"
        ? form.length
        : form.partBytes;
      if (transfer.reply.bytes !== expected) {
        throw new Error(
          `${key}: counted ${transfer.reply.bytes} bytes, not ${expected}`,
        );
      }
      (growth[key] ??= []).push(grew);
      reads[key] = transfer.reply.reads;
      return perMiB(transfer);
    },
    unit: MIB_S,
    rows: [
      ...keys.map((key) => ({ ref: key, label: LABELS[key] })),
      {
        ours: "ours",
        vs: "raw",
        label: "ours vs the BYOB loop",
        target: atLeast(0.9),
      },
      {
        ours: "ours",
        vs: "plain",
        label: "ours vs the same read loop without parsing (the parser's cost)",
        target: INFO,
      },
      {
        ours: "ours",
        vs: "remix",
        label: "ours vs @remix-run/multipart-parser",
        target: atLeast(1),
      },
      {
        ours: "ours",
        vs: "busboy",
        label: "ours vs busboy",
        target: atLeast(1.5),
      },
      {
        ours: "ours",
        vs: "formData",
        label: "ours vs request.formData()",
        target: INFO,
      },
      {
        ours: "ours",
        vs: "raw",
        label: "ours vs the BYOB loop, CPU/MiB",
        by: "cpu",
        target: INFO,
      },
    ],
  });
  const scenario = `multipart upload: server RSS growth while reading ${
    form.fileBytes / MiB
  } MiB`;
  for (const key of keys) {
    const runs = growth[key] ?? [];
    const worst = Math.max(...runs);
    ctx.report.row({
      scenario,
      contender: LABELS[key],
      figure: `${fmt(worst / MiB, 1)} MiB worst, ${
        fmt(median(runs) / MiB, 1)
      } MiB median (${runs.length} runs)`,
      target: key === "ours" ? `< ${RSS_LIMIT / MiB} MiB` : "",
      met: key === "ours" ? verdict(worst < RSS_LIMIT) : "",
    });
  }
  ctx.report.notes.push(
    `multipart: one ${fmt(form.length / MiB, 1)} MiB body (content-length, ` +
      `random bytes) per run; part bytes each parser counted checked; reads ` +
      `per upload: ${
        keys.map((key) => `${key} ${fmt(reads[key] ?? 0)}`).join(", ")
      }. RSS growth: the peak of /proc VmRSS sampled every 20 ms during ` +
      `the upload minus VmRSS just before it, warm-up run included.`,
  );
}
