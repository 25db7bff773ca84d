/**
 * The contenders of the client scenario (`client.ts`), each one transfer
 * against `servers/client_peer.ts`, in this process, bounded by `signal`:
 *
 * - downloads, counting the bytes: `request()` with a `scheduleRead` loop
 *   (ours), `for await (const chunk of response.body)` over `fetch`, and a
 *   BYOB loop into one reused 64 KiB buffer over `fetch`;
 * - uploads of `writes` × 100-byte lines: `request()` with `writeString`
 *   and a flush every 655 writes (one 64 KiB chunk; the flush before the
 *   last is awaited, so two chunks at most are in flight), against a naive
 *   `ReadableStream` that enqueues each write as its own chunk.
 *
 * Each returns the bytes it moved, checked against what was due.
 *
 * @module
 */

import type { Body, FlushResult } from "../../mod.ts";
import { request } from "../../adapters/client.ts";

const CHUNK = 65536;

/**
 * 99 letters and a newline: one 100-byte write (as `servers/_serve.ts`'s
 * `LINE`, which this process cannot import: that module reads a server's
 * arguments when it loads).
 */
export const LINE = "abcdefghijklmnopqrstuvwxyz".repeat(4).slice(0, 99) + "\n";

/** 100-byte writes per flush: 65,500 bytes, one 64 KiB chunk. */
const PACE = 655;

function checked(what: string, got: number, due: number): number {
  if (got !== due) throw new Error(`${what}: ${got} bytes, not ${due}`);
  return got;
}

/** `request()` and a `scheduleRead` loop counting the bytes. */
export function oursDownload(
  url: string,
  bytes: number,
  signal: AbortSignal,
): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, {
      signal,
      onError: reject,
      onResponse(_response, body) {
        let got = 0;
        const callbacks = {
          onRead(_buffer: Uint8Array, _off: number, len: number) {
            got += len;
            body.scheduleRead(callbacks);
          },
          onEof(error?: unknown) {
            if (error !== undefined) return reject(error);
            try {
              resolve(checked("request()", got, bytes));
            } catch (failure) {
              reject(failure);
            }
          },
        };
        body.scheduleRead(callbacks);
      },
    });
  });
}

/** `for await` over `fetch`'s response body. */
export async function forAwaitDownload(
  url: string,
  bytes: number,
  signal: AbortSignal,
): Promise<number> {
  const response = await fetch(url, { signal });
  let got = 0;
  for await (const chunk of response.body!) got += chunk.length;
  return checked("for await", got, bytes);
}

/** A BYOB loop over `fetch`'s response body, one reused 64 KiB buffer. */
export async function byobDownload(
  url: string,
  bytes: number,
  signal: AbortSignal,
): Promise<number> {
  const response = await fetch(url, { signal });
  const reader = response.body!.getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(CHUNK);
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (done) break;
    buffer = value.buffer as ArrayBuffer;
    got += value.length;
  }
  return checked("BYOB", got, bytes);
}

/** What the peer answers after an upload. */
interface Reply {
  bytes: number;
  reads: number;
}

/** `writes` × `writeString(LINE)` through `request()`, flushed now and then. */
export async function oursUpload(
  url: string,
  writes: number,
  signal: AbortSignal,
): Promise<Reply> {
  const reply = Promise.withResolvers<Reply>();
  const body: Body<"write"> = request(url, {
    method: "POST",
    signal,
    onError: reply.reject,
    onResponse: (_response, response) => {
      let text = "";
      const decoder = new TextDecoder();
      const callbacks = {
        onRead(buffer: Uint8Array, off: number, len: number) {
          text += decoder.decode(buffer.subarray(off, off + len));
          response.scheduleRead(callbacks);
        },
        onEof(error?: unknown) {
          if (error === undefined) reply.resolve(JSON.parse(text));
          else reply.reject(error);
        },
      };
      response.scheduleRead(callbacks);
    },
  });
  let previous: Promise<FlushResult> | null = null;
  for (let i = 0; i < writes; i++) {
    body.writeString(LINE);
    if ((i + 1) % PACE === 0) {
      if (previous !== null && await previous === "closed") break;
      previous = body.flush();
    }
  }
  body.closeWriter();
  const got = await reply.promise;
  checked("request() upload", got.bytes, writes * LINE.length);
  return got;
}

/** The same writes as a `ReadableStream` enqueuing one chunk per write. */
export async function naiveUpload(
  url: string,
  writes: number,
  signal: AbortSignal,
): Promise<Reply> {
  const encoder = new TextEncoder();
  let left = writes;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left-- > 0) controller.enqueue(encoder.encode(LINE));
      else controller.close();
    },
  });
  const response = await fetch(url, {
    method: "POST",
    body,
    signal,
    duplex: "half",
  } as RequestInit);
  const got = await response.json() as Reply;
  checked("naive upload", got.bytes, writes * LINE.length);
  return got;
}
