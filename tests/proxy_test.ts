/**
 * `proxy` (`adapters/proxy.ts`), held to README.md ("A reverse proxy") and
 * its module doc: a front `withBody(proxy(…))` and upstreams we control —
 * `Deno.serve` for ordinary ones, raw `Deno.listen` servers for exact
 * faults — all on 127.0.0.1, every test under a deadline.
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import {
  type Body,
  chunks,
  proxy,
  type ProxyOptions,
  withBody,
} from "../mod.ts";
import type { WithBodyOptions } from "../adapters/serve.ts";
import { concat, randomBytes } from "./_harness/util.ts";
import { RawClient } from "./_harness/raw_http.ts";
import {
  deadlineTest as test,
  h2Client,
  HTTP1,
  listenOptions,
  PROTOCOLS,
  readBody,
  serveOver,
  within,
} from "./_harness/serve.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Served extends AsyncDisposable {
  port: number;
  base: string;
  logs: unknown[][];
  serveErrors: unknown[];
  shutdown(): Promise<void>;
}

// console.error is captured once per test: both servers share the capture.
function capture() {
  const logs: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void logs.push(args);
  return { logs, restore: () => void (console.error = original) };
}

/** A Deno.serve on 127.0.0.1 (Deno's onError recorded, not logged). */
function listen(
  handler: Deno.ServeHandler,
  logs: unknown[][] = [],
): Served {
  const serveErrors: unknown[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    onError(error) {
      serveErrors.push(error);
      return new Response(null, { status: 500 });
    },
  }, handler);
  let down: Promise<void> | null = null;
  const shutdown = () => down ??= server.shutdown();
  return {
    port: server.addr.port,
    base: `http://127.0.0.1:${server.addr.port}`,
    logs,
    serveErrors,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

/** The front: withBody(proxy(target, options)). */
function front(
  target: Parameters<typeof proxy>[0],
  logs: unknown[][],
  options: ProxyOptions = {},
  bodyOptions: WithBodyOptions = {},
): Served {
  return listen(withBody(proxy(target, options), bodyOptions), logs);
}

/** A raw TCP upstream: `serve(conn)` writes exactly what the test wants. */
function rawUpstream(serve: (conn: Deno.Conn, head: string) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buffer = new Uint8Array(64 * 1024);
        let head = "";
        while (!head.includes("\r\n\r\n")) {
          const n = await conn.read(buffer);
          if (n === null) return;
          head += decoder.decode(buffer.subarray(0, n));
        }
        await serve(conn, head);
      })().catch(() => {}); // a fault the test made on purpose
    }
  })().catch(() => {}); // the listener closed: the test is over
  const { port } = listener.addr as Deno.NetAddr;
  return {
    base: `http://127.0.0.1:${port}`,
    close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed by the test already
        }
      }
    },
  };
}

test("a request and its response cross the proxy byte-exact, method, path and query kept", async (deadline) => {
  const { logs, restore } = capture();
  try {
    await using up = listen(async (req) => {
      const body = new Uint8Array(await req.arrayBuffer());
      const url = new URL(req.url);
      return new Response(body, {
        status: 201,
        headers: { "x-seen": `${req.method} ${url.pathname}${url.search}` },
      });
    }, logs);
    await using proxyServer = front(up.base, logs);
    const body = randomBytes(3 * 1024 * 1024);
    const response = await fetch(`${proxyServer.base}/a/b?c=d`, {
      method: "PUT",
      body,
      signal: deadline,
    });
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("x-seen"), "PUT /a/b?c=d");
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), body);
    assert.deepEqual(logs, []);
  } finally {
    restore();
  }
});

test("a base URL's path is joined with the request's path", async (deadline) => {
  const { logs, restore } = capture();
  try {
    await using up = listen((req) => new Response(new URL(req.url).pathname));
    await using proxyServer = front(`${up.base}/api/v1/`, logs);
    const response = await fetch(`${proxyServer.base}/users`, {
      signal: deadline,
    });
    assert.equal(await response.text(), "/api/v1/users");
  } finally {
    restore();
  }
});

test("hop-by-hop headers are dropped both ways, x-forwarded-* appended, host is the upstream's", async (deadline) => {
  const { logs, restore } = capture();
  try {
    const seen = Promise.withResolvers<Headers>();
    await using up = listen((req) => {
      seen.resolve(req.headers);
      return new Response("ok", {
        headers: {
          "keep-alive": "timeout=5",
          "x-private": "dropped",
          connection: "x-private",
          "x-kept": "yes",
        },
      });
    });
    await using proxyServer = front(up.base, logs);
    const client = await RawClient.open(proxyServer.port, deadline);
    await client.send(
      "GET /h HTTP/1.1\r\nhost: front.example\r\nconnection: x-secret, keep-alive\r\n" +
        "x-secret: s\r\nte: trailers\r\nproxy-authorization: Basic x\r\n" +
        "x-forwarded-for: 10.0.0.1\r\nx-end: e\r\n\r\n",
    );
    const response = await client.response();
    client.close();
    const headers = await within(deadline, seen.promise, "the upstream");
    assert.equal(headers.get("x-secret"), null);
    assert.equal(headers.get("te"), null);
    assert.equal(headers.get("proxy-authorization"), null);
    assert.equal(headers.get("x-end"), "e");
    assert.equal(headers.get("host"), `127.0.0.1:${up.port}`);
    assert.equal(headers.get("x-forwarded-for"), "10.0.0.1, 127.0.0.1");
    assert.equal(headers.get("x-forwarded-host"), "front.example");
    assert.equal(headers.get("x-forwarded-proto"), "http");
    assert.equal(response.headers.get("x-private"), null);
    assert.equal(response.headers.get("keep-alive"), null);
    assert.equal(response.headers.get("x-kept"), "yes");
  } finally {
    restore();
  }
});

test("a client that leaves mid-response aborts the upstream at once", async (deadline) => {
  const { logs, restore } = capture();
  try {
    const cancelled = Promise.withResolvers<void>();
    await using up = listen(() =>
      new Response(
        new ReadableStream({
          pull: (c) => c.enqueue(new Uint8Array(64 * 1024)),
          cancel: () => cancelled.resolve(),
        }),
      )
    );
    await using proxyServer = front(up.base, logs);
    const client = await RawClient.open(proxyServer.port, deadline);
    await client.send("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    await client.readUntil((d) => d.length > 512 * 1024, "some of the body");
    client.close();
    await within(deadline, cancelled.promise, "the upstream's cancel");
    await proxyServer.shutdown();
    assert.deepEqual(logs, []);
  } finally {
    restore();
  }
});

test("a client that leaves mid-upload reaches the upstream as a truncated upload", async (deadline) => {
  const { logs, restore } = capture();
  try {
    const upstreamEnd = Promise.withResolvers<string>();
    const upstreamReading = Promise.withResolvers<void>();
    await using up = listen(async (req) => {
      try {
        for await (const _ of req.body!) upstreamReading.resolve();
        upstreamEnd.resolve("complete");
      } catch (error) {
        upstreamEnd.resolve(`error ${(error as Error).name}`);
      }
      return new Response("done");
    });
    await using proxyServer = front(up.base, logs);
    const client = await RawClient.open(proxyServer.port, deadline);
    await client.send(
      "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
    );
    await client.send(`10000\r\n`);
    await client.send(randomBytes(0x10000));
    await client.send(`\r\n`);
    await within(deadline, upstreamReading.promise, "the upstream reading");
    client.close();
    const end = await within(deadline, upstreamEnd.promise, "the upstream");
    assert.match(end, /^error /);
    await proxyServer.shutdown();
    assert.deepEqual(logs, []);
  } finally {
    restore();
  }
});

test("an upstream that breaks off mid-response breaks the client's transfer", async (deadline) => {
  const { logs, restore } = capture();
  const up = rawUpstream(async (conn) => {
    await conn.write(
      encoder.encode("HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n"),
    );
    await conn.write(new Uint8Array(30_000));
    conn.close();
  });
  try {
    await using proxyServer = front(up.base, logs);
    const response = await fetch(`${proxyServer.base}/`, { signal: deadline });
    assert.equal(response.status, 200);
    const got: Uint8Array[] = [];
    const end = await readBody(deadline, response, got);
    assert.ok(end instanceof Error, "a clean end of a truncated body");
    assert.ok(concat(got).length <= 30_000);
  } finally {
    up.close();
    restore();
  }
});

test("an unreachable upstream is 502, and one line says why", async (deadline) => {
  const { logs, restore } = capture();
  try {
    const unused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (unused.addr as Deno.NetAddr).port;
    unused.close();
    await using proxyServer = front(`http://127.0.0.1:${port}`, logs);
    const response = await fetch(`${proxyServer.base}/x`, { signal: deadline });
    assert.equal(response.status, 502);
    assert.equal(
      await response.text(),
      "Bad Gateway: the upstream did not answer\n",
    );
    assert.equal(logs.length, 1);
    assert.match(String(logs[0]![0]), /^proxy: GET \/x: the upstream failed: /);
  } finally {
    restore();
  }
});

test("an onUpstreamError that throws is logged, and the client still gets its 502", async (deadline) => {
  const { logs, restore } = capture();
  const bug = new Error("onUpstreamError failed");
  try {
    const unused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (unused.addr as Deno.NetAddr).port;
    unused.close();
    await using proxyServer = front(`http://127.0.0.1:${port}`, logs, {
      onUpstreamError: () => {
        throw bug;
      },
    });
    const response = await fetch(`${proxyServer.base}/x`, { signal: deadline });
    assert.equal(response.status, 502);
    await response.body?.cancel();
    assert.deepEqual(logs, [["proxy: onUpstreamError threw:", bug]]);
  } finally {
    restore();
  }
});

test("an async onUpstreamError that rejects mid-body is logged, never left unhandled", async (deadline) => {
  const { logs, restore } = capture();
  const bug = new Error("onUpstreamError failed");
  const heard = Promise.withResolvers<void>();
  const up = rawUpstream(async (conn) => {
    await conn.write(
      encoder.encode("HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n"),
    );
    await conn.write(new Uint8Array(30_000));
    conn.close();
  });
  try {
    await using proxyServer = front(up.base, logs, {
      // An async hook that throws: a rejected promise.
      onUpstreamError: () => {
        heard.resolve();
        return Promise.reject(bug);
      },
    });
    const response = await fetch(`${proxyServer.base}/`, { signal: deadline });
    assert.equal(response.status, 200);
    const end = await readBody(deadline, response, []);
    assert.ok(end instanceof Error, "a clean end of a truncated body");
    await within(deadline, heard.promise, "onUpstreamError");
    await proxyServer.shutdown();
    assert.deepEqual(logs, [["proxy: onUpstreamError rejected:", bug]]);
  } finally {
    up.close();
    restore();
  }
});

test("an upstream that sends no head within headersTimeout is 504", async (deadline) => {
  const { logs, restore } = capture();
  const up = rawUpstream(() => new Promise(() => {})); // never answers
  try {
    await using proxyServer = front(up.base, logs, { headersTimeout: 200 });
    const response = await fetch(`${proxyServer.base}/`, { signal: deadline });
    assert.equal(response.status, 504);
    await response.body?.cancel();
  } finally {
    up.close();
    restore();
  }
});

test("an early upstream response (413 mid-upload) reaches the client while it uploads", async (deadline) => {
  const { logs, restore } = capture();
  try {
    await using up = listen(() => new Response("too large\n", { status: 413 }));
    await using proxyServer = front(up.base, logs);
    let sent = 0;
    const upload = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent++ < 1000) c.enqueue(new Uint8Array(64 * 1024));
        else c.close();
      },
    });
    const response = await fetch(`${proxyServer.base}/`, {
      method: "POST",
      body: upload,
      duplex: "half",
      signal: deadline,
    } as RequestInit);
    assert.equal(response.status, 413);
    assert.equal(await response.text(), "too large\n");
    assert.ok(sent < 1000, `the whole upload was read first (${sent})`);
  } finally {
    restore();
  }
});

test("an upstream that compresses anyway reaches the client with its content-encoding and exactly its bytes", async (deadline) => {
  const { logs, restore } = capture();
  try {
    const text = "compress me ".repeat(1000);
    const gzipped = new Uint8Array(gzipSync(encoder.encode(text)));
    const asked = Promise.withResolvers<string | null>();
    await using up = listen((req) => {
      asked.resolve(req.headers.get("accept-encoding"));
      return new Response(gzipped, { headers: { "content-encoding": "gzip" } });
    });
    await using proxyServer = front(up.base, logs);
    const client = await RawClient.open(proxyServer.port, deadline);
    await client.send(
      "GET / HTTP/1.1\r\nhost: x\r\naccept-encoding: gzip\r\n\r\n",
    );
    const response = await client.response();
    client.close();
    assert.equal(await asked.promise, "identity");
    assert.equal(response.headers.get("content-encoding"), "gzip");
    assert.equal(
      response.headers.get("content-length"),
      String(gzipped.length),
    );
    assert.deepEqual(response.body, gzipped);
  } finally {
    restore();
  }
});

test("a request hook that asks for gzip gets decoded bytes without content-encoding or content-length", async (deadline) => {
  const { logs, restore } = capture();
  try {
    const text = "compress me ".repeat(1000);
    await using up = listen(() =>
      new Response(new Uint8Array(gzipSync(encoder.encode(text))), {
        headers: { "content-encoding": "gzip" },
      })
    );
    await using proxyServer = front(up.base, logs, {
      request: (upstream) => upstream.headers.set("accept-encoding", "gzip"),
    });
    const client = await RawClient.open(proxyServer.port, deadline);
    await client.send("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    const response = await client.response();
    client.close();
    assert.equal(response.headers.get("content-encoding"), null);
    assert.equal(response.headers.get("content-length"), null);
    assert.equal(decoder.decode(response.body), text);
  } finally {
    restore();
  }
});

test("the response hook rewrites the head the client gets", async (deadline) => {
  const { logs, restore } = capture();
  try {
    await using up = listen(() => new Response("body", { status: 200 }));
    await using proxyServer = front(up.base, logs, {
      response: (head) => {
        head.status = 203;
        head.headers.set("x-via", "proxy");
      },
    });
    const response = await fetch(`${proxyServer.base}/`, { signal: deadline });
    assert.equal(response.status, 203);
    assert.equal(response.headers.get("x-via"), "proxy");
    assert.equal(await response.text(), "body");
  } finally {
    restore();
  }
});

test("a body hook that throws breaks the client's transfer and releases the upstream", async (deadline) => {
  const { logs, restore } = capture();
  try {
    const cancelled = Promise.withResolvers<void>();
    await using up = listen(() =>
      new Response(
        new ReadableStream({
          pull: (c) => c.enqueue(encoder.encode("data: x\n\n")),
          cancel: () => cancelled.resolve(),
        }),
      )
    );
    await using proxyServer = front(up.base, logs, {
      async body(input: Body<"read">, output: Body<"write">) {
        for await (const bytes of chunks(input)) {
          output.writeBigstring(bytes);
          await output.flush();
          throw new Error("a transform bug");
        }
      },
    });
    const response = await fetch(`${proxyServer.base}/`, { signal: deadline });
    const end = await readBody(deadline, response);
    assert.ok(end instanceof Error, "a clean end after a failed transform");
    await within(deadline, cancelled.promise, "the upstream's cancel");
  } finally {
    restore();
  }
});

test("maxResponseBytes breaks the client's transfer of a longer response", async (deadline) => {
  const { logs, restore } = capture();
  try {
    await using up = listen(() => new Response(new Uint8Array(1 << 20)));
    await using proxyServer = front(up.base, logs, { maxResponseBytes: 1000 });
    const response = await fetch(`${proxyServer.base}/`, { signal: deadline });
    const got: Uint8Array[] = [];
    const end = await readBody(deadline, response, got);
    assert.ok(end instanceof Error);
    assert.ok(concat(got).length <= 1000);
  } finally {
    restore();
  }
});

test("a shutdown mid-response breaks a proxied transfer rather than ending it cleanly", async (deadline) => {
  const { logs, restore } = capture();
  const stop = new AbortController();
  try {
    await using up = listen(() =>
      new Response(
        new ReadableStream({
          pull: (c) => c.enqueue(new Uint8Array(16 * 1024)),
        }),
      )
    );
    await using proxyServer = front(up.base, logs, {}, { signal: stop.signal });
    const response = await fetch(`${proxyServer.base}/`, { signal: deadline });
    const reader = response.body!.getReader();
    await reader.read();
    stop.abort(new Error("shutting down"));
    let end: "clean" | Error = "clean";
    for (let i = 0; i < 10_000; i++) {
      const read = await reader.read().catch((error) => error as Error);
      if (read instanceof Error) {
        end = read;
        break;
      }
      if (read.done) break;
    }
    assert.ok(end instanceof Error, "a truncated response ended cleanly");
  } finally {
    restore();
  }
});

test("pass-through serves byte-exact and still cancels the upstream when the client leaves", async (deadline) => {
  const { logs, restore } = capture();
  try {
    const cancelled = Promise.withResolvers<void>();
    const body = randomBytes(1 << 20);
    await using up = listen((req) =>
      new URL(req.url).pathname === "/endless"
        ? new Response(
          new ReadableStream({
            pull: (c) => c.enqueue(new Uint8Array(64 * 1024)),
            cancel: () => cancelled.resolve(),
          }),
        )
        : new Response(body)
    );
    await using proxyServer = front(up.base, logs, { passThrough: true });
    const whole = await fetch(`${proxyServer.base}/`, { signal: deadline });
    assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), body);
    const client = await RawClient.open(proxyServer.port, deadline);
    await client.send("GET /endless HTTP/1.1\r\nhost: x\r\n\r\n");
    await client.readUntil((d) => d.length > 512 * 1024, "some of the body");
    client.close();
    await within(deadline, cancelled.promise, "the upstream's cancel");
  } finally {
    restore();
  }
});

test("pass-through breaks the client's transfer when the upstream dies", async (deadline) => {
  const { logs, restore } = capture();
  const up = rawUpstream(async (conn) => {
    await conn.write(
      encoder.encode("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"),
    );
    await conn.write(encoder.encode("5\r\nhello\r\n"));
    conn.close(); // no last chunk
  });
  try {
    await using proxyServer = front(up.base, logs, { passThrough: true });
    const response = await fetch(`${proxyServer.base}/`, { signal: deadline });
    const end = await readBody(deadline, response);
    assert.ok(end instanceof Error, "a clean end of an unterminated body");
  } finally {
    up.close();
    restore();
  }
});

test("pass-through answers 504 after headersTimeout and 502 for an unreachable upstream", async (deadline) => {
  const { logs, restore } = capture();
  const up = rawUpstream(() => new Promise(() => {}));
  try {
    await using slow = front(up.base, logs, {
      passThrough: true,
      headersTimeout: 200,
    });
    const late = await fetch(`${slow.base}/`, { signal: deadline });
    assert.equal(late.status, 504);
    await late.body?.cancel();
    const unused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (unused.addr as Deno.NetAddr).port;
    unused.close();
    await using down = front(`http://127.0.0.1:${port}`, logs, {
      passThrough: true,
    });
    const refused = await fetch(`${down.base}/`, { signal: deadline });
    assert.equal(refused.status, 502);
    await refused.body?.cancel();
  } finally {
    up.close();
    restore();
  }
});

Deno.test("proxy refuses a misspelt option and a target that is not an http(s) URL", () => {
  assert.throws(
    () => proxy("http://127.0.0.1:1", { headerTimeout: 5 } as never),
    /^TypeError: proxy: unknown option "headerTimeout"/,
  );
  assert.throws(
    () => proxy("ftp://127.0.0.1/"),
    /^TypeError: proxy: the URL's scheme must be http: or https:/,
  );
});

// Every pairing of the client's protocol and the upstream's: HTTP/1.1,
// h2c (prior knowledge) and HTTP/2 over TLS (the test certificate).
for (const client of [HTTP1, ...PROTOCOLS]) {
  for (const upstream of [HTTP1, ...PROTOCOLS]) {
    test(`an upload and its echo cross the proxy byte-exact: client ${client.name}, upstream ${upstream.name}`, async (deadline) => {
      const echo = Deno.serve(
        listenOptions(upstream),
        (req) => new Response(req.body),
      );
      const scheme = upstream.tls ? "https" : "http";
      const upstreamClient = h2Client(upstream);
      try {
        await using front = serveOver(
          client,
          deadline,
          proxy(`${scheme}://127.0.0.1:${echo.addr.port}`, {
            client: upstreamClient,
          }),
        );
        const body = randomBytes(1 << 20);
        const response = await front.fetch("/echo", {
          method: "POST",
          body: new Blob([body]).stream(),
          duplex: "half",
        } as RequestInit);
        assert.equal(response.status, 200);
        assert.deepEqual(new Uint8Array(await response.arrayBuffer()), body);
        assert.deepEqual(front.logs, []);
      } finally {
        upstreamClient.close();
        await echo.shutdown();
      }
    });
  }
}

for (const client of PROTOCOLS) {
  test(`a client that resets its stream mid-response aborts the upstream at once: ${client.name}`, async (deadline) => {
    const cancelled = Promise.withResolvers<void>();
    const endless = Deno.serve(listenOptions(HTTP1), () =>
      new Response(
        new ReadableStream({
          pull: (c) => c.enqueue(new Uint8Array(64 * 1024)),
          cancel: () => cancelled.resolve(),
        }),
      ));
    try {
      await using front = serveOver(
        client,
        deadline,
        proxy(`http://127.0.0.1:${endless.addr.port}`),
      );
      const abort = new AbortController();
      const response = await front.fetch("/", { signal: abort.signal });
      const reader = response.body!.getReader();
      for (let got = 0; got < 256 * 1024;) {
        got += (await reader.read()).value?.length ?? 0;
      }
      abort.abort(); // RST_STREAM(CANCEL)
      await within(deadline, cancelled.promise, "the upstream's cancel");
    } finally {
      await endless.shutdown();
    }
  });
}
