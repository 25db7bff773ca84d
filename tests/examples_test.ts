/**
 * Smoke tests of the example programs in `examples/`: each factory is
 * served in-process on 127.0.0.1 (an ephemeral port) and driven by `fetch`
 * (a raw `Deno.connect` client for a cut upload), checking exact bytes;
 * then each program runs as its documented command in a subprocess and
 * answers one request before SIGTERM stops it.
 *
 * Bounds: every fetch carries `AbortSignal.timeout`, every other wait goes
 * through `bounded` (raced against a cleared timer), and every server is
 * shut down by `await using`, itself bounded. Every response body is read
 * or cancelled, every connection and file closed, so the sanitizers pass.
 */

import assert from "node:assert/strict";
import { randomBytes } from "./_harness/util.ts";
import { createHash } from "node:crypto";
import { createApp as downloadApp } from "../examples/download.ts";
import { createApp as gzipApp } from "../examples/gzip.ts";
import { createApp as linesApp } from "../examples/lines.ts";
import { createApp as proxyApp } from "../examples/proxy.ts";

const TIMEOUT_MS = 20_000;
const MiB = 1 << 20;
const encoder = new TextEncoder();

type Handler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

interface Served extends AsyncDisposable {
  base: string;
  port: number;
}

/**
 * Serves `handler` on 127.0.0.1:0; disposing shuts it down (bounded).
 * `onError` gets what Deno's server would log: a handler that threw, or a
 * response stream that errored (an aborted transfer).
 */
function serve(handler: Handler, onError?: (error: unknown) => void): Served {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    ...(onError && {
      onError: (error: unknown) => {
        onError(error);
        return new Response("Internal Server Error", { status: 500 });
      },
    }),
  }, handler);
  const { port } = server.addr;
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    [Symbol.asyncDispose]: () => bounded(server.shutdown(), "server shutdown"),
  };
}

/** `promise`, or a rejection naming `what` after `ms`. */
async function bounded<T>(
  promise: Promise<T>,
  what: string,
  ms = TIMEOUT_MS,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer in ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every 10 ms until it holds, for at most `ms`. */
async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function timeout(): AbortSignal {
  return AbortSignal.timeout(TIMEOUT_MS);
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function bytesOf(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

/** A port nobody listens on right now (listen on 0, close). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/**
 * Counts the files `Deno.open` opens, those of them closed again, and the
 * bytes read from them, until disposed. The examples look `Deno.open` up at each call, so this
 * sees every file a handler opens, on any OS.
 */
function watchOpenFiles(): Disposable & {
  open(): number;
  total(): number;
  bytesRead(): number;
} {
  const original = Deno.open;
  let opened = 0;
  let closed = 0;
  let bytesRead = 0;
  Deno.open = async (...args: Parameters<typeof Deno.open>) => {
    const file = await original(...args);
    opened++;
    const close = file.close.bind(file);
    file.close = () => {
      closed++;
      close();
    };
    const read = file.read.bind(file);
    file.read = async (buffer) => {
      const n = await read(buffer);
      bytesRead += n ?? 0;
      return n;
    };
    return file;
  };
  return {
    open: () => opened - closed,
    total: () => opened,
    bytesRead: () => bytesRead,
    [Symbol.dispose]: () => void (Deno.open = original),
  };
}

// ---------------------------------------------------------------------
// examples/download.ts
// ---------------------------------------------------------------------

// The fixture (a temp directory) needs --allow-write; without it, the test
// says "ignored" rather than failing on a permission.
const canWrite =
  (await Deno.permissions.query({ name: "write" })).state === "granted";

Deno.test({
  name:
    "download: streams files byte-exact with content-length, refuses traversal, closes the file when the client leaves",
  ignore: !canWrite,
}, async () => {
  const tmp = await Deno.realPath(await Deno.makeTempDir());
  try {
    const root = `${tmp}/root`;
    await Deno.mkdir(`${root}/sub`, { recursive: true });
    // Not a multiple of the 64 KiB read size: the last chunk is short.
    const data = randomBytes(MiB + 12345);
    await Deno.writeFile(`${root}/data.bin`, data);
    await Deno.writeTextFile(`${root}/sub/inner.txt`, "inner\n");
    await Deno.writeTextFile(`${tmp}/secret.txt`, "outside the root\n");
    await Deno.symlink(`${tmp}/secret.txt`, `${root}/link`);
    // 64 MiB, sparse: far more than the socket buffers hold.
    const big = `${root}/big.bin`;
    await Deno.writeFile(big, new Uint8Array(0));
    await Deno.truncate(big, 64 * MiB);

    using files = watchOpenFiles();
    await using app = serve(downloadApp({ root }));
    const get = (path: string, init?: RequestInit) =>
      fetch(app.base + path, { signal: timeout(), ...init });

    const file = await get("/data.bin");
    assert.equal(file.status, 200);
    assert.equal(file.headers.get("content-length"), String(data.length));
    assert.deepEqual(await bytesOf(file), data);

    const inner = await get("/sub/inner.txt");
    assert.equal(await inner.text(), "inner\n");

    const head = await get("/data.bin", { method: "HEAD" });
    assert.equal(head.headers.get("content-length"), String(data.length));
    assert.deepEqual(await bytesOf(head), new Uint8Array(0));

    for (
      const [path, status] of [
        ["/..%2Fsecret.txt", 403], // decodes to ../secret.txt
        ["/sub%2F..%2F..%2Fsecret.txt", 403],
        ["/%2Fetc%2Fpasswd", 403], // an absolute path
        ["/link", 403], // a symbolic link out of the root
        ["/sub%5C..%5Cdata.bin", 403], // backslashes
        ["/../secret.txt", 404], // fetch resolves it to /secret.txt
        ["/missing", 404],
        ["/sub", 404], // a directory
        ["/", 404],
      ] as const
    ) {
      const response = await get(path);
      assert.equal(response.status, status, path);
      assert.ok(!(await response.text()).includes("outside"), path);
    }
    const post = await get("/data.bin", { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
    // Whole downloads, HEAD and the directory: each file closed again.
    await eventually(() => files.open() === 0, "files closed");
    assert.equal(files.total(), 4);

    // A client that stops reading: flush-paced reads stop too, after what
    // Deno's and the kernel's buffers hold (a few MiB on loopback), far
    // from the 64 MiB file. Then it leaves: the flush answers "closed",
    // reading stops for good and the file is closed.
    const before = files.bytesRead();
    const leaving = await get("/big.bin");
    const reader = leaving.body!.getReader();
    try {
      assert.ok((await reader.read()).value!.length > 0);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(files.open(), 1, "open while streaming");
      const stalled = files.bytesRead() - before;
      assert.ok(stalled < 24 * MiB, `read ${stalled} bytes ahead`);
    } finally {
      await reader.cancel();
    }
    await eventually(() => files.open() === 0, "file closed", 2000);
    const read = files.bytesRead() - before;
    assert.ok(read < 24 * MiB, `read ${read} bytes of a file nobody reads`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

// ---------------------------------------------------------------------
// examples/proxy.ts
// ---------------------------------------------------------------------

/**
 * The proxy's upstream: a sink, a source, an echo, and an endless stream
 * of ticks whose cancellation is reported to `ticksCancelled`.
 */
function upstreamApp(
  source: Uint8Array<ArrayBuffer>,
  ticksCancelled: () => void = () => {},
): Handler {
  return async (request) => {
    const url = new URL(request.url);
    switch (`${request.method} ${url.pathname}`) {
      case "POST /sink": {
        const body = await bytesOf(new Response(request.body));
        return Response.json({
          target: url.pathname + url.search,
          bytes: body.length,
          sha256: sha256(body),
          headers: Object.fromEntries(request.headers),
        });
      }
      case "GET /source":
        return new Response(source, { headers: { "x-upstream": "source" } });
      case "POST /echo":
        return new Response(request.body);
      case "GET /ticks": {
        let timer: ReturnType<typeof setInterval> | undefined;
        return new Response(
          new ReadableStream({
            start(controller) {
              timer = setInterval(
                () => controller.enqueue(encoder.encode("tick\n")),
                10,
              );
            },
            cancel() {
              clearInterval(timer);
              ticksCancelled();
            },
          }),
        );
      }
      default:
        return new Response("nope\n", { status: 404 });
    }
  };
}

/** A request body that arrives as `n` chunks of `payload`. */
function chunked(payload: Uint8Array, n: number): ReadableStream<Uint8Array> {
  let i = 0;
  const size = Math.ceil(payload.length / n);
  return new ReadableStream({
    pull(controller) {
      if (i * size >= payload.length) return controller.close();
      controller.enqueue(payload.slice(i * size, (i + 1) * size));
      i++;
    },
  });
}

Deno.test("proxy: forwards a few MiB byte-exact both ways, drops hop-by-hop headers, answers 502 when the upstream is down", async () => {
  const down = randomBytes(3 * MiB + 7);
  const up = randomBytes(3 * MiB + 13);
  await using upstream = serve(upstreamApp(down));
  await using proxy = serve(proxyApp({ upstream: upstream.base }));

  // Upload: the upstream sees the exact bytes, method, path and query.
  const sunk = await fetch(`${proxy.base}/sink?q=1&r=two`, {
    method: "POST",
    body: up,
    headers: {
      "x-custom": "kept",
      "x-drop": "named by connection",
      connection: "x-drop",
      "keep-alive": "timeout=5",
      te: "trailers",
      upgrade: "websocket",
      "proxy-authorization": "Basic eDp5",
    },
    signal: timeout(),
  });
  assert.equal(sunk.status, 200);
  const seen = await sunk.json();
  assert.equal(seen.target, "/sink?q=1&r=two");
  assert.equal(seen.bytes, up.length);
  assert.equal(seen.sha256, sha256(up));
  assert.equal(seen.headers["x-custom"], "kept");
  for (
    const name of [
      "x-drop",
      "keep-alive",
      "te",
      "upgrade",
      "proxy-authorization",
    ]
  ) {
    assert.equal(seen.headers[name], undefined, `${name} forwarded`);
  }
  assert.equal(seen.headers["accept-encoding"], "identity");
  assert.equal(seen.headers["x-forwarded-for"], "127.0.0.1");
  assert.equal(seen.headers["x-forwarded-host"], `127.0.0.1:${proxy.port}`);

  // Download: exact bytes, with the upstream's status and headers.
  const sourced = await fetch(`${proxy.base}/source`, { signal: timeout() });
  assert.equal(sourced.status, 200);
  assert.equal(sourced.headers.get("x-upstream"), "source");
  assert.equal(sourced.headers.get("content-length"), String(down.length));
  assert.deepEqual(await bytesOf(sourced), down);

  // Both at once: a streamed upload echoed back while it is sent.
  const echoed = await fetch(`${proxy.base}/echo`, {
    method: "POST",
    body: chunked(up, 50),
    duplex: "half",
    signal: timeout(),
  } as RequestInit);
  assert.deepEqual(await bytesOf(echoed), up);

  const missing = await fetch(`${proxy.base}/elsewhere`, { signal: timeout() });
  assert.equal(missing.status, 404);
  assert.equal(await missing.text(), "nope\n");

  // A client that leaves mid-response: the upstream body is cancelled.
  {
    const cancelled = Promise.withResolvers<void>();
    await using ticking = serve(upstreamApp(down, cancelled.resolve));
    await using viaTicks = serve(proxyApp({ upstream: ticking.base }));
    const response = await fetch(`${viaTicks.base}/ticks`, {
      signal: timeout(),
    });
    const reader = response.body!.getReader();
    assert.ok((await reader.read()).value!.length > 0);
    await reader.cancel();
    await bounded(cancelled.promise, "upstream cancelled after client left");
  }

  // The proxy's signal aborts mid-response: the client sees a broken
  // transfer (never a clean, truncated end) and the upstream is cancelled.
  {
    const cancelled = Promise.withResolvers<void>();
    await using ticking = serve(upstreamApp(down, cancelled.resolve));
    const cut = new AbortController();
    const aborted: unknown[] = [];
    await using cutting = serve(
      proxyApp({ upstream: ticking.base, signal: cut.signal }),
      (error) => aborted.push(error),
    );
    const response = await fetch(`${cutting.base}/ticks`, {
      signal: timeout(),
    });
    const reader = response.body!.getReader();
    assert.ok((await reader.read()).value!.length > 0);
    // Garbage, so young objects are collected before the cut (Deno 2.9.6
    // loses fetch's abort once the upstream Response object is collected;
    // the proxy must cut the stream itself).
    let junk: unknown[] = [];
    for (let i = 0; i < 1_000_000; i++) junk.push({ i });
    junk = [];
    const reason = new Error("proxy shutting down");
    cut.abort(reason);
    const deadline = Date.now() + 5000; // ticks come every 10 ms
    try {
      await assert.rejects(async () => {
        while (Date.now() < deadline) if ((await reader.read()).done) return;
      }, "the client's read fails");
    } finally {
      // Rejects once the read failed, as it should: nothing to learn.
      await reader.cancel().catch(() => {});
    }
    assert.equal(aborted.length, 1); // the cut stream's error
    await bounded(cancelled.promise, "upstream cancelled after the cut");
    const late = await fetch(`${cutting.base}/source`, { signal: timeout() });
    assert.equal(late.status, 503);
    await late.body?.cancel();
  }

  // An upstream nobody listens on: 502, and one log line.
  const logged: unknown[][] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void logged.push(args);
  try {
    await using orphan = serve(
      proxyApp({ upstream: `http://127.0.0.1:${freePort()}` }),
    );
    const bad = await fetch(`${orphan.base}/anything`, {
      method: "POST",
      body: "lost",
      signal: timeout(),
    });
    assert.equal(bad.status, 502);
    assert.match(await bad.text(), /^Bad Gateway/);
  } finally {
    console.error = consoleError;
  }
  assert.equal(logged.length, 1);
  assert.match(String(logged[0]![0]), /^proxy: POST \/anything: /);
});

Deno.test("proxy: counts the words of an event stream's data lines on its way, bytes unchanged", async () => {
  const events = "data: one two\n\n: a comment\ndata: three\n\n";
  await using upstream = serve(() =>
    new Response(events, { headers: { "content-type": "text/event-stream" } })
  );
  const lines: string[] = [];
  await using proxied = serve(
    proxyApp({ upstream: upstream.base, log: (line) => lines.push(line) }),
  );
  const response = await fetch(`${proxied.base}/events`, { signal: timeout() });
  assert.equal(await response.text(), events);
  assert.deepEqual(lines, ["/events: 3 words in data lines"]);
});

// ---------------------------------------------------------------------
// examples/gzip.ts
// ---------------------------------------------------------------------

Deno.test("gzip: the response is gzip of exactly the requested lines", async () => {
  await using app = serve(gzipApp());
  const n = 30_000; // ~1.9 MB of text: many flushed batches
  let expected = "";
  for (let i = 1; i <= n; i++) {
    expected +=
      `line ${i} of ${n}: the quick brown fox jumps over the lazy dog\n`;
  }

  // Deno 2.9.6's fetch decodes gzip itself unless asked for identity; the
  // server sends gzip regardless, so this gets the compressed bytes.
  const raw = await fetch(`${app.base}/?lines=${n}`, {
    headers: { "accept-encoding": "identity" },
    signal: timeout(),
  });
  assert.equal(raw.status, 200);
  assert.equal(raw.headers.get("content-encoding"), "gzip");
  const compressed = await bytesOf(raw);
  assert.deepEqual([...compressed.subarray(0, 2)], [0x1f, 0x8b]);
  assert.ok(compressed.length < expected.length / 10, "compressed");
  const decompressed = new Blob([compressed as Uint8Array<ArrayBuffer>])
    .stream().pipeThrough(new DecompressionStream("gzip"));
  assert.equal(await new Response(decompressed).text(), expected);

  // And a client that decodes it itself sees the same text.
  const decoded = await fetch(`${app.base}/?lines=${n}`, { signal: timeout() });
  assert.equal(await decoded.text(), expected);

  const none = await fetch(`${app.base}/?lines=0`, { signal: timeout() });
  assert.equal(await none.text(), "");
  const bad = await fetch(`${app.base}/?lines=many`, { signal: timeout() });
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
});

// ---------------------------------------------------------------------
// examples/lines.ts
// ---------------------------------------------------------------------

// Six lines: CRLF and LF endings, an empty line, tabs and double spaces,
// 2-, 3- and 4-byte characters, and a last line without a line ending.
const TEXT = "héllo wörld\r\n" + // 11 code points, 2 words
  "a line that spans chunks\r\n" + // 24, 5
  "€ 😀 emoji\n" + // 9, 3
  "\r\n" + // 0, 0
  "tabs\tand  spaces \r\n" + // 17, 3
  "no newline at the end"; // 21, 5
const COUNTS = { lines: 6, words: 18, longest: 24 };

/** TEXT's bytes cut where a reader must carry state across chunks. */
function awkwardChunks(): Uint8Array<ArrayBuffer>[] {
  const bytes = encoder.encode(TEXT);
  const at = (prefix: string, extra = 0) =>
    encoder.encode(prefix).length + extra;
  const first = "héllo wörld\r\n";
  const second = first + "a line that spans chunks\r\n";
  const cuts = [
    at("h", 1), // inside é
    at("héllo wörld\r"), // between CR and LF
    at(first + "a line that spa"), // inside a word
    at(second, 1), // inside €
    at(second + "€ ", 2), // inside 😀
    at(second + "€ 😀 emoji\n\r"), // the empty line's CR | LF
  ];
  return [0, ...cuts].map((start, i) => bytes.slice(start, cuts[i]));
}

/** A request body yielding `chunks` one at a time, a few ms apart. */
function slowBody(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    async pull(controller) {
      if (i === chunks.length) return controller.close();
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 5));
      controller.enqueue(chunks[i++]!);
    },
  });
}

Deno.test("lines: counts lines and words across chunk boundaries, reports a truncated upload", async () => {
  const chunks = awkwardChunks();
  assert.equal(chunks.length, 7);
  assert.equal(
    new TextDecoder().decode(
      new Uint8Array(await new Blob(chunks).arrayBuffer()),
    ),
    TEXT,
  );

  // Exact chunk boundaries: the handler called directly with a stream
  // whose chunks reach the body as they are.
  const direct = await linesApp()(
    new Request("http://localhost/", {
      method: "POST",
      body: slowBody(chunks),
    }),
  );
  assert.deepEqual(await direct.json(), COUNTS);

  const left = Promise.withResolvers<unknown>();
  const arrived = Promise.withResolvers<void>();
  const reported: unknown[] = [];
  const app = linesApp({
    onError: (error) => {
      reported.push(error);
      return new Response("cut short\n", { status: 500 });
    },
    onDisconnect: (error) => left.resolve(error),
  });
  await using server = serve((request) => {
    arrived.resolve();
    return app(request);
  });

  // Over HTTP, the same chunks as a chunked upload, then as one body.
  const streamed = await fetch(`${server.base}/`, {
    method: "POST",
    body: slowBody(chunks),
    duplex: "half",
    signal: timeout(),
  } as RequestInit);
  assert.equal(streamed.status, 200);
  assert.equal(streamed.headers.get("content-type"), "application/json");
  assert.deepEqual(await streamed.json(), COUNTS);
  const whole = await fetch(`${server.base}/`, {
    method: "POST",
    body: TEXT,
    signal: timeout(),
  });
  assert.deepEqual(await whole.json(), COUNTS);

  for (
    const [body, counts] of [
      ["", { lines: 0, words: 0, longest: 0 }],
      ["\n", { lines: 1, words: 0, longest: 0 }],
      ["a\rb\r\n", { lines: 1, words: 2, longest: 3 }], // a lone CR is text
    ] as const
  ) {
    const response = await fetch(`${server.base}/`, {
      method: "POST",
      body,
      signal: timeout(),
    });
    assert.deepEqual(await response.json(), counts, JSON.stringify(body));
  }

  for (const bytes of [[0x61, 0xff, 0x0a], [0x61, 0xe2, 0x82]]) { // bad; cut
    const response = await fetch(`${server.base}/`, {
      method: "POST",
      body: new Uint8Array(bytes),
      signal: timeout(),
    });
    assert.equal(response.status, 400, String(bytes));
    await response.body?.cancel();
  }
  const get = await fetch(`${server.base}/`, { signal: timeout() });
  assert.equal(get.status, 405);
  await get.body?.cancel();

  // A client that promises 1000 bytes, sends 17 and leaves: onEof(error)
  // → reportException, quietly (a client leaving is not a failure: no
  // onError, no log), never a count of the partial body.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(encoder.encode(
      "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n" +
        "only a few words\n",
    ));
    await bounded(arrived.promise, "the request reached the handler");
  } finally {
    conn.close();
  }
  const error = await bounded(left.promise, "the client's leaving seen");
  assert.ok(error instanceof Error, `left with ${error}`);
  assert.deepEqual(reported, []);
});

// ---------------------------------------------------------------------
// The documented commands, as subprocesses
// ---------------------------------------------------------------------

const repo = decodeURIComponent(new URL("..", import.meta.url).pathname);

/**
 * Runs the `deno run …` line of `file`'s module doc from the repository
 * root, with `PORT` set to a free port (a fixed port, as documented, cannot
 * be 0 here: the program prints its address, but the check must know it),
 * waits until it listens, runs `check`, then stops it with SIGTERM and
 * expects a clean exit.
 */
async function runDocumented(
  file: string,
  env: Record<string, string>,
  check: (base: string) => Promise<void>,
): Promise<void> {
  const source = await Deno.readTextFile(`${repo}examples/${file}`);
  const line = source.match(
    new RegExp(`^ \\* (deno run [^\\n]* examples/${file})$`, "m"),
  );
  assert.ok(line, `${file} documents its deno run command`);
  const [deno, ...args] = line[1]!.split(" ");
  assert.equal(deno, "deno");
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: repo,
    env: { ...env, HOST: "127.0.0.1", PORT: String(port), NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decode = (stream: ReadableStream<Uint8Array>) =>
    Array.fromAsync(stream.pipeThrough(new TextDecoderStream()));
  const stdout = decode(child.stdout);
  const stderr = decode(child.stderr);
  let exited = false;
  const status = child.status.finally(() => exited = true);
  try {
    await eventually(
      async () => {
        if (exited) {
          throw new Error(`${file} exited: ${(await stderr).join("")}`);
        }
        try {
          (await Deno.connect({ hostname: "127.0.0.1", port })).close();
          return true;
        } catch {
          return false;
        }
      },
      `${file} listening`,
      TIMEOUT_MS,
    );
    await check(`http://127.0.0.1:${port}`);
  } finally {
    if (!exited) child.kill("SIGTERM");
    const { code } = await bounded(status, `${file} stopping`);
    const out = (await stdout).join("");
    const err = (await stderr).join("");
    assert.equal(code, 0, `${file} exit code; stderr: ${err}`);
    assert.ok(out.includes(`http://127.0.0.1:${port}/`), out);
    assert.ok(out.endsWith("stopped\n"), `${file} stopped cleanly: ${out}`);
  }
}

Deno.test("each example runs as its documented command, answers, and stops on SIGTERM", async () => {
  await using upstream = serve(upstreamApp(new Uint8Array(0)));
  await Promise.all([
    runDocumented("download.ts", {}, async (base) => {
      // The module doc's curl line, from the repository root.
      const response = await fetch(`${base}/deno.json`, { signal: timeout() });
      assert.deepEqual(
        await bytesOf(response),
        await Deno.readFile(`${repo}deno.json`),
      );
      const refused = await fetch(`${base}/..%2Fetc%2Fpasswd`, {
        signal: timeout(),
      });
      assert.equal(refused.status, 403);
      await refused.body?.cancel();
    }),
    runDocumented("proxy.ts", { UPSTREAM: upstream.base }, async (base) => {
      const response = await fetch(`${base}/echo`, {
        method: "POST",
        body: "hello, proxy",
        signal: timeout(),
      });
      assert.equal(await response.text(), "hello, proxy");
    }),
    runDocumented("gzip.ts", {}, async (base) => {
      const response = await fetch(`${base}/?lines=5`, { signal: timeout() });
      assert.equal(
        await response.text(),
        [1, 2, 3, 4, 5].map((i) =>
          `line ${i} of 5: the quick brown fox jumps over the lazy dog\n`
        ).join(""),
      );
    }),
    runDocumented("lines.ts", {}, async (base) => {
      const response = await fetch(`${base}/`, {
        method: "POST",
        body: "hello world\r\nsecond line\n",
        signal: timeout(),
      });
      assert.equal(
        await response.text(),
        '{"lines":2,"words":4,"longest":11}\n',
      );
    }),
  ]);
});
