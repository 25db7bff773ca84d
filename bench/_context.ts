/**
 * What every scenario gets (private to `bench/`): the sizes of this run,
 * its rounds, the report to add rows to, and the chosen HTTP client.
 *
 * @module
 */

import {
  download,
  rawDownload,
  rawUpload,
  type Transfer,
  upload,
  type UploadReply,
} from "./_load.ts";
import type { Server } from "./_process.ts";
import type { Report } from "./_report.ts";

const MiB = 2 ** 20;

/** What a full run moves (`gcUploads`: measured uploads of the GC pass). */
export const FULL = {
  streamBytes: 64 * MiB,
  downloadBytes: 1024 * MiB,
  uploadBytes: 256 * MiB,
  helloMs: 3000,
  helloConnections: 32,
  idleCount: 10_000,
  stallBytes: 256 * MiB,
  stallMs: 3000,
  /** Clients that stall mid-upload at once. */
  slowClients: 2000,
  writes: 1_000_000,
  gcUploads: 3,
  /** HTTP/2 downloads and uploads. */
  h2Bytes: 256 * MiB,
  /** HTTP/2 hello: connections × streams in flight on each. */
  h2Connections: 4,
  h2Streams: 32,
  /** Text compressed in-process, and SSE events sent. */
  compressBytes: 64 * MiB,
  sseEvents: 10_000,
};

/** What one run moves; `--quick` shrinks everything. */
export type Sizes = typeof FULL;

/** The sizes of a smoke run: everything runs, nothing is measured. */
export const QUICK: Sizes = {
  ...FULL,
  streamBytes: 1 * MiB,
  downloadBytes: 4 * MiB,
  uploadBytes: 4 * MiB,
  helloMs: 300,
  stallBytes: 16 * MiB,
  stallMs: 500,
  slowClients: 50,
  writes: 10_000,
  gcUploads: 1,
  h2Bytes: 4 * MiB,
  compressBytes: 1 * MiB,
  sseEvents: 500,
};

/** The bound of one transfer. */
export const TRANSFER_MS = 120_000;

/** A scenario's view of the run. */
export interface Context {
  readonly sizes: Sizes;
  readonly rounds: number;
  readonly report: Report;
  /** `fetch`: every client is Deno's fetch (no raw or native clients). */
  readonly client: "raw" | "fetch";
  /** GET `?bytes=N` from `server`, read to the end. */
  get(server: Server, bytes: number): Promise<Transfer>;
  /** POST `bytes` to `server`, streamed. */
  post(
    server: Server,
    bytes: number,
  ): Promise<Transfer & { reply: UploadReply }>;
}

/** A scenario: adds its rows (and notes) to `ctx.report`. */
export type Scenario = (ctx: Context) => Promise<void>;

/** The context of a run with `client` (raw HTTP/1.1 or `fetch`). */
export function createContext(
  sizes: Sizes,
  rounds: number,
  report: Report,
  client: "raw" | "fetch",
): Context {
  const url = (server: Server, path: string) =>
    `http://127.0.0.1:${server.port}${path}`;
  return {
    sizes,
    rounds,
    report,
    client,
    get: (server, bytes) =>
      client === "raw"
        ? rawDownload(server.port, `/?bytes=${bytes}`, bytes, TRANSFER_MS)
        : download(url(server, `/?bytes=${bytes}`), bytes, TRANSFER_MS),
    post: (server, bytes) =>
      client === "raw"
        ? rawUpload(server.port, bytes, TRANSFER_MS)
        : upload(url(server, "/"), bytes, TRANSFER_MS),
  };
}
