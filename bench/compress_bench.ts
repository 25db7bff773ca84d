/**
 * Compression, side by side in one process (no HTTP): the in-process part
 * of the `compress` scenario (`bench/http.ts --only compress`), which runs
 * it in a subprocess and turns its output into rows. Alone:
 *
 * ```sh
 * deno run --no-lock --allow-env=COMPRESS_BENCH bench/compress_bench.ts
 * COMPRESS_BENCH=16,5 deno run --no-lock --allow-env=COMPRESS_BENCH bench/compress_bench.ts
 * ```
 *
 * `COMPRESS_BENCH=<MiB>[,<rounds>]`: the size (default 64) and the rounds
 * (default 3; contenders rotate their order every round). Prints one JSON
 * object: `{ bytes, runs: { <contender>: [{ bytes, ms }, …] } }`, the text
 * size and, per contender and round, the compressed size and the time.
 *
 * MiB of 100-byte text lines, `writeString` per line and an awaited
 * `flush()` every 655 lines (one 64 KiB chunk), read by a consumer loop in
 * the same process — distinct log lines (made first, never cycled: a cycle
 * would let compressors with a window larger than it find whole repeats),
 * and, for gzip, one line repeated (the `stream` scenario's text, where
 * compression costs little and the pipeline around it shows):
 * - `ours`: `compressBody(streamingBody().body, encoding, { level })`;
 * - `CompressionStream`: `streamingBody().readable.pipeThrough(new
 *   CompressionStream(format))`, the same producer (Deno 2.9.6 offers
 *   `"brotli"` too);
 * - `Hono compress()`: Hono's `compress()` middleware over its `stream()`
 *   helper (`await stream.write(line)` per line, as Hono documents), asked
 *   for gzip through `app.fetch` (a CompressionStream that gets one
 *   100-byte chunk a write, and Deno's sync-flushes after every chunk).
 *
 * Before timing, ours is decoded once per encoding and compared.
 *
 * @module
 */

// Hono is a contender, not a dependency of the library: pinned here.
// deno-lint-ignore no-import-prefix
import { Hono } from "npm:hono@4.13.19";
// deno-lint-ignore no-import-prefix
import { compress } from "npm:hono@4.13.19/compress";
// deno-lint-ignore no-import-prefix
import { stream } from "npm:hono@4.13.19/streaming";
import zlib from "node:zlib";
import { type Body, streamingBody } from "../mod.ts";
import { compressBody, type Encoding } from "../adapters/compress.ts";
import { LINE } from "./servers/_serve.ts";

const granted = Deno.permissions.querySync({
  name: "env",
  variable: "COMPRESS_BENCH",
}).state === "granted";
const [mib = 64, rounds = 3] =
  ((granted ? Deno.env.get("COMPRESS_BENCH") : "") || "64,3").split(",")
    .map(Number);
const LINE_BYTES = 100;
const LINES = Math.round(mib * 1048576 / LINE_BYTES);
const PACE = 655; // 100-byte lines per 64 KiB chunk

/** `count` distinct 100-byte log lines, the same every run. */
function makeLines(count: number): string[] {
  const paths = ["/api/items", "/api/users", "/static/app.js", "/login", "/"];
  const agents = ["Mozilla/5.0", "curl/8.5.0", "okhttp/4.12", "Go-http/1.1"];
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  return Array.from({ length: count }, (_, i) => {
    const ms = 1_796_000_000_000 + i * 37 + rand(30);
    const line = `${new Date(ms).toISOString()} ${
      ["INFO", "INFO", "WARN", "DEBUG"][rand(4)]
    } GET ${paths[rand(5)]}/${rand(100000)} ${[200, 200, 304, 404][rand(4)]} ${
      rand(50000)
    }B ${rand(900)}ms ua=${agents[rand(4)]} id=${rand(1 << 24).toString(16)}`;
    return line.padEnd(LINE_BYTES - 1, " ").slice(0, LINE_BYTES - 1) + "\n";
  });
}
// Made before any timing.
const LOG = makeLines(LINES);
const REPEATED: string[] = new Array(LINES).fill(LINE);

/** One contender's round: compressed bytes out, milliseconds. */
interface Run {
  bytes: number;
  ms: number;
}

/** Reads `readable` to its end; resolves with the byte count. */
async function drain(readable: ReadableStream<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of readable) n += chunk.length;
  return n;
}

/** Writes `lines` into `body`, an awaited flush every PACE lines. */
async function produce(body: Body<"write">, lines: string[]): Promise<void> {
  for (let i = 0; i < lines.length;) {
    const end = Math.min(lines.length, i + PACE);
    for (; i < end; i++) body.writeString(lines[i]!);
    if (await body.flush() !== "written") throw new Error("consumer gone");
  }
  body.closeWriter();
}

/** Times `consume` of a streaming body's readable while `produce` writes. */
async function timed(
  consume: (readable: ReadableStream<Uint8Array>) => Promise<number>,
  writer: (output: Body<"write">) => Body<"write">,
  lines: string[],
): Promise<Run> {
  const start = performance.now();
  const { body, readable } = streamingBody();
  const [bytes] = await Promise.all([
    consume(readable),
    produce(writer(body), lines),
  ]);
  return { bytes, ms: performance.now() - start };
}

const ours = (encoding: Encoding, level: number, lines = LOG) => () =>
  timed(drain, (output) => compressBody(output, encoding, { level }), lines);

// Deno 2.9.6 also offers "brotli" (not in the standard's enum, so cast).
const platform = (format: "gzip" | "brotli", lines = LOG) => () =>
  timed(
    (readable) =>
      drain(
        // The cast: our chunks view plain ArrayBuffers, as BufferSource wants.
        (readable as ReadableStream<Uint8Array<ArrayBuffer>>).pipeThrough(
          new CompressionStream(format as CompressionFormat),
        ),
      ),
    (body) => body,
    lines,
  );

const hono = new Hono();
hono.use(compress({ encoding: "gzip" }));
hono.get("/", (c) => {
  c.header("content-type", "text/plain; charset=utf-8");
  return stream(c, async (out) => {
    for (let i = 0; i < LINES && !out.aborted; i++) await out.write(LOG[i]!);
  });
});

async function honoCompress(): Promise<Run> {
  const start = performance.now();
  const response = await hono.fetch(
    new Request("http://localhost/", {
      headers: { "accept-encoding": "gzip" },
    }),
  );
  if (response.headers.get("content-encoding") !== "gzip") {
    throw new Error("Hono did not compress");
  }
  const bytes = await drain(response.body!);
  return { bytes, ms: performance.now() - start };
}

/** The contenders, by the names the `compress` scenario reads. */
const CONTENDERS: Record<string, () => Promise<Run>> = {
  "ours gzip-6": ours("gzip", 6),
  "CompressionStream gzip": platform("gzip"),
  "Hono compress() gzip": honoCompress,
  "ours br-4": ours("br", 4),
  "ours br-5": ours("br", 5),
  "CompressionStream brotli": platform("brotli"),
  "ours zstd-3": ours("zstd", 3),
  "ours gzip-6, repeated line": ours("gzip", 6, REPEATED),
  "CompressionStream gzip, repeated line": platform("gzip", REPEATED),
};

/** Ours decoded once per encoding: the bench measures real output. */
async function check(): Promise<void> {
  const decode = {
    gzip: zlib.gunzipSync,
    br: zlib.brotliDecompressSync,
    zstd: zlib.zstdDecompressSync,
  };
  for (const encoding of ["gzip", "br", "zstd"] as const) {
    const { body: output, readable } = streamingBody();
    const [bytes] = await Promise.all([
      new Response(readable).arrayBuffer(),
      produce(compressBody(output, encoding), LOG),
    ]);
    const text = decode[encoding](new Uint8Array(bytes)).toString("latin1");
    if (text !== LOG.join("")) {
      throw new Error(`${encoding}: decoded ${text.length} bytes, not ours`);
    }
  }
}

if (import.meta.main) {
  await check();
  const names = Object.keys(CONTENDERS);
  const runs: Record<string, Run[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + round) % names.length]!;
      (runs[name] ??= []).push(await CONTENDERS[name]!());
    }
  }
  console.log(JSON.stringify({ bytes: LINES * LINE_BYTES, runs }));
}
