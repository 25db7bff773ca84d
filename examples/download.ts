/**
 * A file download server: `GET /<name>` streams a file from a directory,
 * reading it 64 KiB at a time, paced by the client.
 *
 * ```sh
 * deno run --allow-net --allow-env=HOST,PORT,ROOT --allow-read examples/download.ts
 * curl -sS http://127.0.0.1:8001/deno.json
 * curl -sS -o /dev/null -w '%{http_code}\n' http://127.0.0.1:8001/..%2Fetc%2Fpasswd
 * ```
 *
 * The files come from `ROOT` (default: the current directory; run from the
 * repository root, the first curl prints its `deno.json`; the second prints
 * `403`). `HOST`/`PORT` override the address (default 127.0.0.1:8001).
 *
 * Each chunk is read into a fresh buffer and handed over with
 * `scheduleBigstring` (no copy); the next read waits for the flush to answer
 * `"written"`, so a slow client slows the disk reads down instead of filling
 * memory, and one that leaves (`"closed"`) stops them.
 *
 * @module
 */

import { isAbsolute, join, relative } from "node:path";
import { type Reqd, withBody } from "@httpaf/body";
import { serveUntilSignal } from "./_serve.ts";

/** The size of one file read, and so of one response chunk: 64 KiB. */
const CHUNK = 64 * 1024;

/** Options of {@linkcode createApp}. */
export interface DownloadOptions {
  /** The directory files are served from (default: the current directory). */
  root?: string;
  /**
   * Ends open downloads when it aborts; requests arriving later get `503`.
   * Abort it, then call `server.shutdown()`.
   */
  signal?: AbortSignal;
}

/**
 * The download server as a fetch handler: `GET /<name>` (or `HEAD`) answers
 * the file `<name>` under `root` with its `content-length`. Names with
 * empty, `.` or `..` segments, backslashes or NUL bytes, and files that
 * resolve (through symbolic links) outside `root`, get `403`; missing files
 * and directories `404`.
 *
 * @param options the directory, and a shutdown signal.
 * @returns the fetch handler.
 * @throws {Deno.errors.NotFound} when `root` does not exist (resolved now,
 *   so symbolic links inside it can be checked against its real path).
 */
export function createApp(
  options: DownloadOptions = {},
): (request: Request) => Response | Promise<Response> {
  const root = Deno.realPathSync(options.root ?? Deno.cwd());
  return withBody((reqd) => download(reqd, root), { signal: options.signal });
}

async function download(reqd: Reqd, root: string): Promise<void> {
  const { method } = reqd.request;
  if (method !== "GET" && method !== "HEAD") {
    return reqd.respondWithString(
      { status: 405, headers: { ...plain, allow: "GET, HEAD" } },
      "downloads take GET\n",
    );
  }
  const path = await resolve(root, new URL(reqd.request.url).pathname);
  if (typeof path === "number") {
    const why = path === 403 ? "forbidden" : "not found";
    return reqd.respondWithString({ status: path, headers: plain }, why + "\n");
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    const status = refusal(error); // removed or locked since resolve()
    return reqd.respondWithString({ status, headers: plain }, "cannot open\n");
  }
  try {
    // The size of the file we opened, not of whatever the name points to
    // by now.
    const info = await file.stat();
    if (!info.isFile) {
      return reqd.respondWithString(
        { status: 404, headers: plain },
        "not a file\n",
      );
    }
    await send(reqd, file, info.size);
  } finally {
    // Every way out closes the file: done, client gone, or an error (which
    // withBody reports: a broken transfer, never a short clean one).
    file.close();
  }
}

/**
 * Streams `size` bytes of `file`: read a fresh chunk, hand it over, flush,
 * and read the next only once the flush answered "written".
 */
async function send(reqd: Reqd, file: Deno.FsFile, size: number) {
  const body = reqd.respondWithStreaming({
    status: 200,
    headers: {
      "content-type": "application/octet-stream",
      "content-length": String(size),
    },
  });
  if (reqd.request.method === "HEAD") return body.closeWriter();
  let sent = 0;
  while (sent < size) {
    // A fresh buffer every time: scheduled memory is handed over for good
    // (Deno 2.9.6's server keeps a reference until the kernel has the bytes).
    // Sized to what is left, so a file that grew is not sent past its
    // content-length.
    const chunk = new Uint8Array(Math.min(CHUNK, size - sent));
    const n = await file.read(chunk);
    if (n === null) throw new Error(`file shrank to ${sent} of ${size} bytes`);
    body.scheduleBigstring(chunk, 0, n);
    sent += n;
    if (await body.flush() === "closed") return; // client gone or shutdown
  }
  body.closeWriter();
}

/**
 * The path under `root` that a URL path names, or the status refusing it.
 * Percent-decoding happens after the URL parser removed `.`/`..` segments,
 * so `..%2F` would still climb out: such segments are refused here, and
 * symbolic links are resolved and checked too.
 */
async function resolve(
  root: string,
  pathname: string,
): Promise<string | 403 | 404> {
  let name: string;
  try {
    name = decodeURIComponent(pathname.slice(1));
  } catch {
    return 404; // malformed percent-encoding names no file
  }
  if (name === "") return 404;
  const segments = name.split("/");
  if (
    segments.some((s) => s === "" || s === "." || s === "..") ||
    /[\\\0]/.test(name)
  ) return 403;
  let real: string;
  try {
    real = await Deno.realPath(join(root, ...segments));
  } catch (error) {
    return refusal(error);
  }
  const inside = relative(root, real);
  if (inside.startsWith("..") || isAbsolute(inside)) return 403;
  return real;
}

/** The status for a failed file-system call; other failures are rethrown. */
function refusal(error: unknown): 403 | 404 {
  if (error instanceof Deno.errors.NotFound) return 404;
  if (error instanceof Deno.errors.NotADirectory) return 404;
  if (error instanceof Deno.errors.PermissionDenied) return 403;
  throw error;
}

const plain = { "content-type": "text/plain; charset=utf-8" };

if (import.meta.main) {
  const root = Deno.env.get("ROOT");
  await serveUntilSignal({
    port: 8001,
    app: (signal) => createApp({ root, signal }),
    banner: (origin) =>
      `download server on ${origin}/ serving ${root ?? Deno.cwd()}`,
  });
}
