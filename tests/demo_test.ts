// Smoke test of the demo server (the README's serve command): starts
// examples/server.ts as a subprocess on a free loopback port, hits every
// route, and stops it with SIGTERM.
import assert from "node:assert/strict";
import { randomBytes } from "./_harness/util.ts";
import { createHash } from "node:crypto";
import { ECHO_MS, signalMeaning } from "../examples/_serve.ts";

const TIMEOUT_MS = 20_000;

interface Running {
  base: string;
  lines: string[];
  errors: string[];
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** Waits for the process to end by itself. */
  ended(): Promise<Deno.CommandStatus>;
  kill(signal: Deno.Signal): void;
}

const repo = new URL("../", import.meta.url).pathname;

/** `deno task serve`'s command line, from deno.json, without `deno`. */
function serveTask(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${repo}deno.json`));
  const [deno, ...args] = (config.tasks.serve as string).split(" ");
  assert.equal(deno, "deno");
  return args;
}

/**
 * Starts the demo with `deno task serve`'s command line (or `args`), from
 * the repository root; resolves once it printed its address.
 */
async function start(
  env: Record<string, string> = {},
  args = serveTask(),
  onLine?: (line: string, child: Deno.ChildProcess) => void,
): Promise<Running> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: repo,
    env: { HOST: "127.0.0.1", PORT: "0", NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const errors: string[] = [];
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (text) => void errors.push(text) }),
  );
  const reading = (async () => {
    const decoder = new TextDecoderStream();
    let pending = "";
    for await (const text of child.stdout.pipeThrough(decoder)) {
      pending += text;
      const parts = pending.split("\n");
      pending = parts.pop()!;
      lines.push(...parts);
      for (const line of parts) onLine?.(line, child);
    }
  })();
  let base: RegExpMatchArray;
  try {
    base = await waitFor(lines, /demo on (https?:\/\/127\.0\.0\.1:\d+)\//);
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // It exited by itself: its stderr says why.
    }
    await Promise.all([child.status, reading, stderr]);
    throw new Error(`${error}; stderr: ${errors.join("")}`);
  }
  const ended = async () => {
    const status = await child.status;
    await reading;
    await stderr;
    return status;
  };
  return {
    base: base[1]!,
    lines,
    errors,
    kill: (signal) => child.kill(signal),
    stop(signal: Deno.Signal = "SIGTERM") {
      child.kill(signal);
      return ended();
    },
    ended,
  };
}

/** Waits (bounded) until a printed line matches. */
async function waitFor(
  lines: string[],
  pattern: RegExp,
): Promise<RegExpMatchArray> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (Date.now() < deadline) {
    for (const line of lines) {
      const match = line.match(pattern);
      if (match) return match;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(
    `no line matched ${pattern} in ${TIMEOUT_MS} ms: ${lines.join(" | ")}`,
  );
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

Deno.test("the demo server serves every route, logs each request and stops on SIGTERM", async () => {
  const server = await start();
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  try {
    const { base } = server;

    const index = await fetch(`${base}/`, { signal });
    assert.equal(index.status, 200);
    const text = await index.text();
    for (const path of ["/echo", "/stream", "/upload", "/events", "/form"]) {
      assert.ok(
        text.includes(`${base}${path}`),
        `index lists a curl line for ${path}`,
      );
    }

    const payload = randomBytes(3 << 20);
    const echoed = await fetch(`${base}/echo`, {
      method: "POST",
      body: payload,
      signal,
    });
    assert.equal(echoed.status, 200);
    assert.deepEqual(new Uint8Array(await echoed.arrayBuffer()), payload);

    const streamed = await fetch(`${base}/stream?bytes=1000000&chunk=4096`, {
      headers: { "accept-encoding": "identity" },
      signal,
    });
    assert.equal(streamed.headers.get("content-length"), "1000000");
    const bytes = new Uint8Array(await streamed.arrayBuffer());
    assert.equal(bytes.length, 1_000_000);
    const pattern = "0123456789abcdefghijklmnopqrstuvwxyz\n";
    assert.equal(
      new TextDecoder().decode(bytes.subarray(4090, 4100)),
      Array.from({ length: 10 }, (_, i) => pattern[(4090 + i) % pattern.length])
        .join(""),
    );

    const bad = await fetch(`${base}/stream?chunk=0`, { signal });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();

    const uploaded = await fetch(`${base}/upload`, {
      method: "POST",
      body: payload,
      signal,
    });
    assert.deepEqual(await uploaded.json(), {
      bytes: payload.length,
      sha256: sha256(payload),
    });

    const events = await fetch(`${base}/events?interval=10&count=3`, {
      signal,
    });
    assert.equal(events.headers.get("content-type"), "text/event-stream");
    const sse = await events.text();
    assert.deepEqual(sse.match(/^id: \d+$/gm), ["id: 1", "id: 2", "id: 3"]);

    const page = await fetch(`${base}/form`, { signal });
    assert.match(await page.text(), /enctype="multipart\/form-data"/);
    const form = new FormData();
    form.append("title", "notes");
    form.append("file", new File([payload], "payload.bin"));
    const summary = await fetch(`${base}/form`, {
      method: "POST",
      body: form,
      signal,
    });
    assert.equal(
      await summary.text(),
      `part 1: name="title" bytes=5 sha256=${
        sha256(new TextEncoder().encode("notes"))
      }\n` +
        `part 2: name="file" file="payload.bin" type=application/octet-stream bytes=${payload.length} sha256=${
          sha256(payload)
        }\n` +
        "2 parts\n",
    );
    const notForm = await fetch(`${base}/form`, {
      method: "POST",
      body: "x",
      signal,
    });
    assert.equal(notForm.status, 415);
    await notForm.body?.cancel();

    const missing = await fetch(`${base}/nope`, { signal });
    assert.equal(missing.status, 404);
    await missing.body?.cancel();

    await waitFor(server.lines, /^GET \/nope 404 \d+ [\d.]+ms$/);
    for (
      const line of [
        /^GET \/ 200 \d+ [\d.]+ms$/,
        new RegExp(`^POST /echo 200 ${payload.length} [\\d.]+ms$`),
        /^GET \/stream 200 1000000 [\d.]+ms$/,
        /^POST \/upload 200 \d+ [\d.]+ms$/,
        /^GET \/events 200 \d+ [\d.]+ms$/,
        /^POST \/form 200 \d+ [\d.]+ms$/,
      ]
    ) {
      assert.ok(
        server.lines.some((l) => line.test(l)),
        `access log has ${line}`,
      );
    }
  } finally {
    const status = await server.stop();
    assert.equal(status.code, 0);
    assert.ok(server.lines.includes("stopped"), "clean shutdown");
  }
});

Deno.test("the demo starts from an empty cache without fetching a package: nothing only the tests or benchmarks use", async () => {
  const cache = await Deno.makeTempDir();
  try {
    // `deno task` itself, with an empty DENO_DIR and a registry nobody
    // listens on: any download it tried would fail the start.
    const demo = await start({
      DENO_DIR: cache,
      NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/",
    }, ["task", "serve"]);
    const response = await fetch(`${demo.base}/`, {
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    assert.equal(response.status, 200);
    await response.body?.cancel();
    assert.equal((await demo.stop()).code, 0);
    assert.doesNotMatch(demo.errors.join(""), /Download/);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("the demo server ends an open event stream cleanly when it shuts down", async () => {
  const server = await start();
  const response = await fetch(`${server.base}/events?interval=20`, {
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const reader = response.body!.getReader();
  let received = "";
  const decoder = new TextDecoder();
  for (let i = 0; i < 100 && !received.includes("id: 2"); i++) {
    const { value } = await reader.read();
    received += decoder.decode(value);
  }
  const stopped = server.stop();
  // The stream ends (done), never with an error: a clean end of the body.
  for (let i = 0; i < 1000; i++) {
    const { done } = await reader.read();
    if (done) break;
  }
  assert.equal((await stopped).code, 0);
  assert.ok(received.includes("id: 2"));
});

Deno.test("the demo server cuts a client that owes its upload once the shutdown grace period is over", async () => {
  const server = await start();
  const { port } = new URL(server.base);
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(port),
  });
  let closed = false;
  const close = () => {
    if (!closed) conn.close();
    closed = true;
  };
  try {
    // With `expect: 100-continue` the server says when the handler started
    // reading the body: the moment the upload is certainly in flight.
    await conn.write(
      new TextEncoder().encode(
        "POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 1048576\r\nexpect: 100-continue\r\n\r\n",
      ),
    );
    const buffer = new Uint8Array(1024);
    let head = "";
    const watchdog = setTimeout(close, TIMEOUT_MS); // a read never hangs
    try {
      for (let i = 0; i < 100 && !head.includes("100 Continue"); i++) {
        const n = await conn.read(buffer);
        if (n === null) break;
        head += new TextDecoder().decode(buffer.subarray(0, n));
      }
    } finally {
      clearTimeout(watchdog);
    }
    assert.match(head, /^HTTP\/1\.1 100 Continue/);
    await conn.write(new TextEncoder().encode("partial")); // then nothing more
    const began = Date.now();
    const status = await server.stop();
    const took = Date.now() - began;
    assert.equal(status.code, 0, server.errors.join(""));
    assert.ok(took >= 4000 && took < 15_000, `stopped after ${took} ms`);
  } finally {
    close();
  }
});

Deno.test("the demo compresses /stream and /events for a client that accepts it", async () => {
  const server = await start();
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  try {
    // Deno 2.9.6's fetch offers gzip and br and decodes them transparently.
    const streamed = await fetch(`${server.base}/stream?bytes=100000`, {
      signal,
    });
    assert.equal(streamed.headers.get("content-encoding"), "gzip");
    assert.equal(streamed.headers.get("content-length"), null);
    assert.match(streamed.headers.get("vary") ?? "", /accept-encoding/i);
    const bytes = new Uint8Array(await streamed.arrayBuffer());
    assert.equal(bytes.length, 100_000);
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 10)), "0123456789");
    const events = await fetch(`${server.base}/events?interval=10&count=3`, {
      headers: { "accept-encoding": "br" },
      signal,
    });
    assert.equal(events.headers.get("content-encoding"), "br");
    const sse = await events.text();
    assert.deepEqual(sse.match(/^id: \d+$/gm), ["id: 1", "id: 2", "id: 3"]);
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

Deno.test("one Ctrl-C that reaches the demo twice drains once: an open event stream still ends cleanly", async () => {
  const server = await start();
  const response = await fetch(`${server.base}/events?interval=20`, {
    headers: { "accept-encoding": "identity" },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let received = "";
  for (let i = 0; i < 100 && !received.includes("id: 1"); i++) {
    received += decoder.decode((await reader.read()).value);
  }
  // The terminal's process group and deno task's forwarding: two copies.
  server.kill("SIGINT");
  const stopped = server.stop("SIGINT");
  let end = "no end";
  for (let i = 0; i < 1000; i++) {
    const read = await reader.read().catch((error) => error as Error);
    if (read instanceof Error) {
      end = `error: ${read.message}`;
      break;
    }
    if (read.done) {
      end = "clean";
      break;
    }
  }
  assert.equal(end, "clean");
  assert.equal((await stopped).code, 0);
  assert.ok(server.lines.includes("stopped"), server.lines.join(" | "));
});

Deno.test("a copy of the Ctrl-C that arrives after the drain finished still ends the demo with 0", async () => {
  // A loaded machine can deliver the second copy late: after the server
  // stopped, while the process ends. Each round waits for "stopped" first.
  for (let round = 0; round < 3; round++) {
    const server = await start();
    server.kill("SIGINT");
    await waitFor(server.lines, /^stopped$/);
    server.kill("SIGINT"); // the demo waits out the copies' window
    const status = await server.ended();
    assert.equal(status.code, 0, server.lines.join(" | "));
  }
});

Deno.test("a Ctrl-C right after the demo announced its address drains it", async () => {
  for (let round = 0; round < 3; round++) {
    // Sent as soon as the line is read, not after start()'s polling.
    const server = await start({}, serveTask(), (line, child) => {
      if (line.includes("demo on")) child.kill("SIGINT");
    });
    const status = await server.ended();
    assert.equal(status.code, 0);
    assert.ok(server.lines.includes("stopped"), server.lines.join(" | "));
  }
});

Deno.test("a second Ctrl-C pressed later than the copies cuts the demo at once", async () => {
  const server = await start();
  const { port } = new URL(server.base);
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(port),
  });
  try {
    // An upload the handler is reading and the client never finishes
    // holds the graceful shutdown. With `expect: 100-continue` the server
    // says when the handler started reading.
    await conn.write(
      new TextEncoder().encode(
        "POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 1048576\r\nexpect: 100-continue\r\n\r\n",
      ),
    );
    const head = new Uint8Array(1024);
    const n = await conn.read(head);
    assert.match(
      new TextDecoder().decode(head.subarray(0, n ?? 0)),
      /^HTTP\/1\.1 100 Continue/,
    );
    await conn.write(new TextEncoder().encode("partial")); // then nothing more
    server.kill("SIGINT");
    await waitFor(server.lines, /^shutting down$/);
    await new Promise((resolve) => setTimeout(resolve, 1200)); // a human's pause
    const began = Date.now();
    const status = await server.stop("SIGINT");
    assert.equal(status.code, 0);
    assert.ok(
      Date.now() - began < 3000,
      "cut without waiting for the grace period",
    );
    assert.ok(server.lines.includes("stopped: cut the connections still open"));
  } finally {
    conn.close();
  }
});

Deno.test("the demo serves HTTPS, HTTP/2 and HTTP/1.1, when TLS_CERT and TLS_KEY name PEM files", async () => {
  const fixture = (name: string) =>
    new URL(`./fixtures/${name}`, import.meta.url).pathname;
  const server = await start({
    TLS_CERT: fixture("cert.pem"),
    TLS_KEY: fixture("key.pem"),
  });
  const caCerts = [Deno.readTextFileSync(fixture("ca.pem"))];
  try {
    assert.match(server.base, /^https:/);
    for (const h2 of [true, false]) {
      const client = Deno.createHttpClient({ caCerts, http1: !h2, http2: h2 });
      try {
        const echoed = await fetch(`${server.base}/echo`, {
          method: "POST",
          body: "over TLS",
          client,
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        assert.equal(await echoed.text(), "over TLS");
      } finally {
        client.close();
      }
    }
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

Deno.test("a shutdown signal is a drain, its copies within ECHO_MS are echoes, a later one cuts", () => {
  assert.deepEqual(
    [
      signalMeaning(null, 5000),
      signalMeaning(5000, 5000),
      signalMeaning(5000, 5000 + ECHO_MS - 1),
      signalMeaning(5000, 5000 + ECHO_MS),
    ],
    ["drain", "echo", "echo", "cut"],
  );
});
