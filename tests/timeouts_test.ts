// withBody's slow-client protections over real loopback: readTimeout,
// writeTimeout, maxPendingBytes, setTimeouts, and the one coarse clock.
// Held to README.md, "Slow clients: timeouts and caps". Timeouts here are
// hundreds of milliseconds; every test has a deadline several times that.
// Clients are raw TCP (HTTP/1.1 written by hand) and, for h2c, Deno's
// fetch speaking HTTP/2 only.
import assert from "node:assert/strict";
import { type Body, type FlushResult, type Reqd, withBody } from "../mod.ts";
import type { BodyHandler, WithBodyOptions } from "../adapters/serve.ts";
import { failsWith, turns } from "./_harness/util.ts";
import {
  deadlineTest as test,
  HTTP1,
  PROTOCOLS,
  serveOver,
  within,
} from "./_harness/serve.ts";

const encoder = new TextEncoder();
const KiB = 1024;
const MiB = 1024 * KiB;
const H2C = PROTOCOLS[0]!;

// A raw HTTP/1.1 connection: writes what it is told, reads until the
// server closes the connection. Closed by the deadline.
async function connect(port: number, deadline: AbortSignal) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const close = () => {
    try {
      conn.close();
    } catch {
      // Closed already: nothing to release.
    }
  };
  deadline.addEventListener("abort", close, { once: true });
  return {
    send: async (data: string | Uint8Array) => {
      const bytes = typeof data === "string" ? encoder.encode(data) : data;
      for (let off = 0; off < bytes.length;) {
        off += await conn.write(bytes.subarray(off));
      }
    },
    // What the server sent, once it includes `marker`.
    until: async (marker: string): Promise<string> => {
      const buffer = new Uint8Array(64 * KiB);
      let text = "";
      for (let i = 0; i < 100_000 && !text.includes(marker); i++) {
        const n = await conn.read(buffer);
        if (n === null) throw new Error(`EOF before ${marker}: ${text}`);
        text += new TextDecoder("latin1").decode(buffer.subarray(0, n));
      }
      return text;
    },
    // Everything the server sends until it closes the connection.
    untilClosed: async (): Promise<string> => {
      const buffer = new Uint8Array(64 * KiB);
      let text = "";
      for (let i = 0; i < 100_000; i++) {
        const n = await conn.read(buffer).catch((error) => {
          if (deadline.aborted) throw deadline.reason;
          if (error instanceof Deno.errors.ConnectionReset) return null;
          throw error;
        });
        if (n === null) return text;
        text += new TextDecoder("latin1").decode(buffer.subarray(0, n));
      }
      throw new Error("untilClosed: no end after 100000 reads");
    },
    close,
  };
}

// Serves over HTTP/1.1 (the server of the h2 harness, plain protocol).
function serveH1(
  deadline: AbortSignal,
  handler: BodyHandler,
  options: WithBodyOptions,
) {
  return serveOver(HTTP1, deadline, handler, options);
}

// Reads a reader body to its end: the bytes, then how it ended.
function readAll(body: Body<"read">): Promise<{ bytes: number; end: unknown }> {
  return new Promise((resolve) => {
    let bytes = 0;
    const onRead = (_b: Uint8Array, _o: number, len: number) => {
      bytes += len;
      body.scheduleRead({ onRead, onEof });
    };
    const onEof = (error?: unknown) => resolve({ bytes, end: error ?? "eof" });
    body.scheduleRead({ onRead, onEof });
  });
}

// Resolves once `condition()` holds, checking at every timer turn (at
// most `limit` turns).
async function until(condition: () => boolean, limit = 500): Promise<void> {
  for (let i = 0; i < limit && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.ok(condition(), `still waiting after ${limit} turns`);
}

const upload = (head: string) =>
  `POST / HTTP/1.1\r\nhost: 127.0.0.1\r\n${head}\r\n`;

// ---------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------

Deno.test("withBody checks readTimeout, writeTimeout and maxPendingBytes when it is called", () => {
  const h = () => {};
  for (const name of ["readTimeout", "writeTimeout"]) {
    for (const bad of [0, -1, 1.5, NaN, -Infinity]) {
      assert.throws(
        () => withBody(h, { [name]: bad }),
        failsWith(RangeError, `withBody: ${name} must be a positive integer`),
      );
    }
    assert.throws(
      () => withBody(h, { [name]: "100" as unknown as number }),
      failsWith(
        TypeError,
        `withBody: ${name} must be a number of milliseconds, received a string`,
      ),
    );
    withBody(h, { [name]: Infinity });
  }
  assert.throws(
    () => withBody(h, { maxPendingBytes: -1 }),
    failsWith(RangeError, "withBody: maxPendingBytes"),
  );
  assert.throws(
    () => withBody(h, { bufferSize: 3 }),
    failsWith(RangeError, "withBody: bufferSize"),
  );
});

Deno.test("withBody checks its handler, options, signal and onError when it is called", () => {
  const h = () => {};
  assert.throws(
    () => withBody("h" as unknown as () => void),
    failsWith(
      TypeError,
      "withBody: expected a handler function, received a string",
    ),
  );
  assert.throws(
    () => withBody(h, 5 as unknown as WithBodyOptions),
    failsWith(TypeError, "withBody: options must be an object, received"),
  );
  assert.throws(
    () => withBody(h, { signal: {} as AbortSignal }),
    failsWith(
      TypeError,
      "withBody: signal must be an AbortSignal, received Object",
    ),
  );
  assert.throws(
    () => withBody(h, { onError: "500" as unknown as () => Response }),
    failsWith(TypeError, "withBody: onError must be a function"),
  );
});

// ---------------------------------------------------------------------
// readTimeout
// ---------------------------------------------------------------------

// Over HTTP/1.1 the stalled connection itself stays open: once a read of
// the request body has waited on the client, Deno 2.9.6 keeps the socket
// until the client sends or leaves, however the response ends (measured;
// README, "Slow clients"). What the library holds is released.
for (
  const framing of ["content-length: 100000", "transfer-encoding: chunked"]
) {
  const first = framing.startsWith("content")
    ? "x".repeat(1000)
    : "3e8\r\n" + "x".repeat(1000) + "\r\n";
  const name = framing.split(":")[0];
  test(
    `readTimeout: a stalled upload (${name}) ends onEof(TimedOut) and gets 408, within the timeout + 25%`,
    async (deadline) => {
      const ended = Promise.withResolvers<
        { bytes: number; end: unknown; at: number }
      >();
      let started = 0;
      await using server = serveH1(deadline, (reqd) => {
        started = performance.now();
        readAll(reqd.requestBody).then((r) =>
          ended.resolve({ ...r, at: performance.now() - started })
        );
      }, { readTimeout: 400 });
      const client = await connect(server.port, deadline);
      try {
        await client.send(upload(`${framing}\r\n`) + first);
        const text = await within(
          deadline,
          client.until("Request Timeout\n"),
          "the 408",
        );
        const { bytes, end, at } = await within(
          deadline,
          ended.promise,
          "onEof",
        );
        assert.equal(bytes, 1000);
        assert.ok(end instanceof Deno.errors.TimedOut, String(end));
        assert.match(
          (end as Error).message,
          /^withBody: readTimeout \(400 ms\)/,
        );
        assert.match(text, /^HTTP\/1\.1 408 /);
        assert.match(text, /\r\nconnection: close\r\n/);
        assert.ok(
          at >= 400 && at <= 500 + 50,
          `expired after ${at.toFixed(0)} ms`,
        );
      } finally {
        client.close();
      }
    },
    5000,
  );
}

test("readTimeout: a handler slow to schedule its next read is never timed out", async (deadline) => {
  const result = Promise.withResolvers<{ bytes: number; end: unknown }>();
  await using server = serveH1(deadline, (reqd) => {
    const body = reqd.requestBody;
    body.scheduleRead({
      onRead: (_b, _o, len) => {
        // Three timeouts pass before the next read is asked for.
        setTimeout(() =>
          readAll(body).then(({ bytes, end }) => {
            result.resolve({ bytes: bytes + len, end });
            reqd.respondWithString({}, "ok");
          }), 600);
      },
      onEof: (error) => result.resolve({ bytes: 0, end: error }),
    });
  }, { readTimeout: 200 });
  const client = await connect(server.port, deadline);
  await client.send(
    upload("content-length: 3000\r\nconnection: close\r\n") + "y".repeat(3000),
  );
  const { bytes, end } = await within(deadline, result.promise, "the body");
  assert.deepEqual({ bytes, end }, { bytes: 3000, end: "eof" });
  assert.match(await client.untilClosed(), /^HTTP\/1\.1 200 /);
});

test("readTimeout restarts with every chunk: a slow but steady upload completes", async (deadline) => {
  const result = Promise.withResolvers<{ bytes: number; end: unknown }>();
  await using server = serveH1(deadline, (reqd) => {
    readAll(reqd.requestBody).then((r) => {
      result.resolve(r);
      reqd.respondWithString({}, "ok");
    });
  }, { readTimeout: 300 });
  const client = await connect(server.port, deadline);
  await client.send(upload("content-length: 5\r\nconnection: close\r\n"));
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 150)); // a slow client is the test
    await client.send("z");
  }
  assert.deepEqual(await within(deadline, result.promise, "the body"), {
    bytes: 5,
    end: "eof",
  });
});

test("setTimeouts({ readTimeout: Infinity }) lets one request's upload stall longer than withBody's readTimeout", async (deadline) => {
  const result = Promise.withResolvers<{ bytes: number; end: unknown }>();
  await using server = serveH1(deadline, (reqd) => {
    reqd.setTimeouts({ readTimeout: Infinity });
    readAll(reqd.requestBody).then((r) => {
      result.resolve(r);
      reqd.respondWithString({}, "ok");
    });
  }, { readTimeout: 150 });
  const client = await connect(server.port, deadline);
  await client.send(upload("content-length: 2\r\nconnection: close\r\n") + "a");
  await new Promise((resolve) => setTimeout(resolve, 600)); // four timeouts of stall
  await client.send("b");
  assert.deepEqual(await within(deadline, result.promise, "the body"), {
    bytes: 2,
    end: "eof",
  });
});

test("readTimeout while streaming the response: the read ends onEof(TimedOut) and the transfer breaks", async (deadline) => {
  const ended = Promise.withResolvers<unknown>();
  await using server = serveH1(deadline, (reqd) => {
    const out = reqd.respondWithStreaming({});
    out.writeString("started\n");
    readAll(reqd.requestBody).then(({ end }) => ended.resolve(end));
  }, { readTimeout: 200 });
  const client = await connect(server.port, deadline);
  try {
    await client.send(upload("transfer-encoding: chunked\r\n") + "1\r\nq\r\n");
    const end = await within(deadline, ended.promise, "onEof");
    assert.ok(end instanceof Deno.errors.TimedOut);
    // Deno.serve saw the response stream fail with that very error: the
    // client gets no clean end (the chunked body is never terminated).
    await until(() => server.serveErrors.length > 0);
    assert.deepEqual(server.serveErrors, [end]);
  } finally {
    client.close();
  }
});

test("readTimeout over h2c: a stalled upload ends onEof(TimedOut) and the client gets 408", async (deadline) => {
  const ended = Promise.withResolvers<unknown>();
  await using server = serveOver(H2C, deadline, (reqd) => {
    readAll(reqd.requestBody).then(({ end }) => ended.resolve(end));
  }, { readTimeout: 300 });
  let upload!: ReadableStreamDefaultController<Uint8Array>;
  const stall = new ReadableStream<Uint8Array>({
    start: (c) => {
      upload = c;
      c.enqueue(new Uint8Array(100)); // then nothing: the client stalls
    },
  });
  const response = await server.fetch("/", { method: "POST", body: stall });
  assert.equal(response.status, 408);
  assert.equal(await response.text(), "Request Timeout\n");
  assert.ok(
    (await within(deadline, ended.promise, "onEof")) instanceof
      Deno.errors.TimedOut,
  );
  upload.close(); // lets the client's side of the stream end too
});

// ---------------------------------------------------------------------
// writeTimeout and maxPendingBytes
// ---------------------------------------------------------------------

// A producer writing 64 KiB chunks, a flush each, until a flush answers
// "closed"; resolves with what it saw.
function produce(out: Body<"write">, chunk = 64 * KiB) {
  return new Promise<{ sent: number; result: FlushResult }>((resolve) => {
    let sent = 0;
    const next = (result: FlushResult) => {
      if (result === "closed" || sent > 1024 * MiB) {
        return resolve({ sent, result });
      }
      out.writeBigstring(new Uint8Array(chunk));
      sent += chunk;
      out.flush(next);
    };
    next("written");
  });
}

test("writeTimeout: a client that stops reading gets its response cut; flushes answer closed and the connection closes", async (deadline) => {
  const produced = Promise.withResolvers<
    { sent: number; result: FlushResult; closed: boolean }
  >();
  await using server = serveH1(deadline, (reqd) => {
    const out = reqd.respondWithStreaming({});
    produce(out).then((r) => {
      out.writeString("dropped, not thrown");
      produced.resolve({ ...r, closed: out.isClosed() });
    });
  }, { writeTimeout: 300 });
  const client = await connect(server.port, deadline);
  await client.send("GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
  const { sent, result, closed } = await within(
    deadline,
    produced.promise,
    "the cut",
  );
  assert.equal(result, "closed");
  assert.equal(closed, true);
  assert.ok(
    sent < 64 * MiB,
    `${sent} bytes buffered for a client reading nothing`,
  );
  // The server closed the connection: reading the rest ends, short.
  const text = await within(
    deadline,
    client.untilClosed(),
    "the server closing",
  );
  assert.ok(
    !text.endsWith("0\r\n\r\n"),
    "the chunked body must not end cleanly",
  );
});

test("writeTimeout: a server-sent-events stream with gaps longer than the timeout keeps going", async (deadline) => {
  await using server = serveH1(deadline, (reqd) => {
    const out = reqd.respondWithStreaming({
      headers: { "content-type": "text/event-stream" },
    });
    let n = 0;
    const tick = () => {
      out.writeString(`data: ${++n}\n\n`);
      out.flush((r) => {
        if (r !== "written") return;
        if (n === 3) out.closeWriter();
        else setTimeout(tick, 350); // a gap longer than writeTimeout
      });
    };
    tick();
  }, { writeTimeout: 150 });
  const client = await connect(server.port, deadline);
  await client.send(
    "GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n",
  );
  const text = await within(deadline, client.untilClosed(), "the stream");
  assert.ok(text.includes("data: 1\n\n") && text.includes("data: 3\n\n"));
  assert.ok(text.endsWith("0\r\n\r\n"), "the stream ends cleanly");
});

test("writeTimeout: a request body still being read ends onEof(TimedOut) when the response is cut", async (deadline) => {
  const ended = Promise.withResolvers<unknown>();
  await using server = serveH1(deadline, (reqd) => {
    const out = reqd.respondWithStreaming({});
    produce(out);
    readAll(reqd.requestBody).then(({ end }) => ended.resolve(end));
  }, { writeTimeout: 300, readTimeout: Infinity });
  const client = await connect(server.port, deadline);
  try {
    await client.send(upload("transfer-encoding: chunked\r\n") + "1\r\nq\r\n");
    const end = await within(deadline, ended.promise, "onEof");
    assert.ok(end instanceof Deno.errors.TimedOut);
    assert.match((end as Error).message, /^withBody: writeTimeout \(300 ms\)/);
  } finally {
    client.close();
  }
});

test("maxPendingBytes: a producer that never waits for its flushes is cut at the write that crosses it", async (deadline) => {
  const seen = Promise.withResolvers<
    { written: number; closed: boolean; pending: number; flush: FlushResult }
  >();
  await using server = serveH1(deadline, (reqd) => {
    const out = reqd.respondWithStreaming({});
    let written = 0;
    // Never flushes, never waits: 64 MiB of writes at once.
    for (let i = 0; i < 1024 && !out.isClosed(); i++) {
      out.writeBigstring(new Uint8Array(64 * KiB));
      written += 64 * KiB;
    }
    out.flush((flush) =>
      seen.resolve({
        written,
        closed: out.isClosed(),
        pending: out.pendingBytes,
        flush,
      })
    );
  }, { maxPendingBytes: MiB, writeTimeout: Infinity });
  const client = await connect(server.port, deadline);
  await client.send("GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
  const { written, closed, pending, flush } = await within(
    deadline,
    seen.promise,
    "the cut",
  );
  assert.equal(closed, true);
  assert.equal(pending, 0);
  assert.equal(flush, "closed");
  assert.ok(written <= MiB + 64 * KiB, `${written} bytes accepted`);
  const text = await within(
    deadline,
    client.untilClosed(),
    "the server closing",
  );
  assert.ok(!text.endsWith("0\r\n\r\n"));
});

test("writeTimeout over h2c: a client that stops reading gets the stream cut and flushes answer closed", async (deadline) => {
  const produced = Promise.withResolvers<
    { sent: number; result: FlushResult }
  >();
  await using server = serveOver(H2C, deadline, (reqd) => {
    produce(reqd.respondWithStreaming({})).then(produced.resolve);
  }, { writeTimeout: 300 });
  const response = await server.fetch("/");
  assert.equal(response.status, 200);
  // The client reads nothing.
  const { sent, result } = await within(deadline, produced.promise, "the cut");
  assert.equal(result, "closed");
  assert.ok(sent < 64 * MiB);
  await response.body!.cancel().catch(() => {});
});

// ---------------------------------------------------------------------
// The clock
// ---------------------------------------------------------------------

// Counts setInterval/setTimeout calls while `fn` runs.
async function timersDuring(fn: () => Promise<void>): Promise<number> {
  const { setInterval: interval, setTimeout: timeout } = globalThis;
  let count = 0;
  globalThis.setInterval = ((...a: Parameters<typeof interval>) => {
    count++;
    return interval(...a);
  }) as typeof interval;
  globalThis.setTimeout = ((...a: Parameters<typeof timeout>) => {
    count++;
    return timeout(...a);
  }) as typeof timeout;
  try {
    await fn();
  } finally {
    globalThis.setInterval = interval;
    globalThis.setTimeout = timeout;
  }
  return count;
}

Deno.test("10,000 idle streaming responses start no timer", async () => {
  const bodies: Body<"write">[] = [];
  const app = withBody((reqd) => {
    bodies.push(reqd.respondWithStreaming({}));
  }, { readTimeout: 1000, writeTimeout: 1000 });
  const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  const timers = await timersDuring(async () => {
    for (let i = 0; i < 10_000; i++) {
      const response = await app(new Request("http://localhost/"));
      readers.push(response.body!.getReader()); // a consumer waiting for bytes
    }
    for (let i = 0; i < 5; i++) await Promise.resolve();
  });
  assert.equal(timers, 0);
  for (const body of bodies) body.closeWriter();
  for (const reader of readers) await reader.read();
});

Deno.test("many bodies waiting on their clients share one interval", async () => {
  const app = withBody((reqd) => {
    const out = reqd.respondWithStreaming({});
    out.writeString("x"); // nobody reads: this chunk waits
  }, { writeTimeout: 60_000 });
  const responses: Response[] = [];
  const timers = await timersDuring(async () => {
    for (let i = 0; i < 100; i++) {
      responses.push(await app(new Request("http://localhost/")));
    }
    for (let i = 0; i < 10; i++) await Promise.resolve();
  });
  assert.equal(timers, 1);
  for (const response of responses) await response.body!.cancel();
});

Deno.test("maxPendingBytes bounds a compressed streaming response too: the write that crosses it cuts the response", async () => {
  let seen: { written: number; closed: boolean; pending: number } | null = null;
  const app = withBody((reqd) => {
    const out = reqd.respondWithStreaming({}, { compress: ["gzip"] });
    let written = 0;
    // Never flushes, never waits: up to 64 MiB of writes at once.
    for (let i = 0; i < 1024 && !out.isClosed(); i++) {
      out.writeBigstring(new Uint8Array(64 * KiB));
      written += 64 * KiB;
    }
    seen = { written, closed: out.isClosed(), pending: out.pendingBytes };
  }, { maxPendingBytes: MiB, writeTimeout: Infinity });
  const response = await app(
    new Request("http://localhost/", {
      headers: { "accept-encoding": "gzip" },
    }),
  );
  assert.equal(response.headers.get("content-encoding"), "gzip");
  assert.deepEqual(seen, { written: MiB + 64 * KiB, closed: true, pending: 0 });
  await assert.rejects(response.arrayBuffer(), "a broken transfer");
});

test("readTimeout: a handler that reports the onEof(TimedOut) it was given still gets 408", async (deadline) => {
  const app = withBody((reqd) => {
    const body = reqd.requestBody;
    const onRead = () => body.scheduleRead({ onRead, onEof });
    const onEof = (error?: unknown) => {
      if (error !== undefined) reqd.reportException(error); // as README's loop
    };
    body.scheduleRead({ onRead, onEof });
  }, { readTimeout: 100 });
  // An upload that sends nothing and never ends.
  const stalled = new ReadableStream<Uint8Array>({ pull() {} });
  const response = await within(
    deadline,
    Promise.resolve(
      app(new Request("http://127.0.0.1/", { method: "POST", body: stalled })),
    ),
    "the response",
  );
  assert.equal(response.status, 408);
  assert.equal(await response.text(), "Request Timeout\n");
});

// A request whose upload sends nothing and never ends, as a fetch handler
// sees it.
const stalledUpload = () =>
  new Request("http://127.0.0.1/", {
    method: "POST",
    body: new ReadableStream<Uint8Array>({ pull() {} }),
  });

// Reads the request body to its end; responds once it ends cleanly,
// reports the error it ended with otherwise.
const readThenRespond = (reqd: Reqd) => {
  const body = reqd.requestBody;
  const onRead = () => body.scheduleRead({ onRead, onEof });
  const onEof = (error?: unknown) =>
    error === undefined
      ? reqd.respondWithString({}, "done")
      : reqd.reportException(error);
  body.scheduleRead({ onRead, onEof });
};

test(
  "a shorter timeout joining a running clock makes it tick faster: it still expires in time",
  async (deadline) => {
    const stop = new AbortController();
    const app = withBody((reqd) => {
      if (reqd.request.headers.has("x-short")) {
        reqd.setTimeouts({ readTimeout: 100 });
      }
      readThenRespond(reqd);
    }, { readTimeout: 60_000, signal: stop.signal });
    // The clock runs for withBody's 60 s timeout (a tick every 7.5 s)...
    const long = Promise.resolve(app(stalledUpload()));
    await turns();
    // ...when a request with a 100 ms timeout starts waiting too.
    const request = stalledUpload();
    request.headers.set("x-short", "1");
    const response = await within(
      deadline,
      Promise.resolve(app(request)),
      "the 408",
    );
    assert.equal(response.status, 408);
    await response.body?.cancel();
    stop.abort(new Error("test over"));
    assert.equal((await long).status, 503);
  },
  2000,
);

test(
  "the clock stops once nothing waits on a client any more",
  async (deadline) => {
    const stopped = Promise.withResolvers<void>();
    const { setInterval: interval, clearInterval: clear } = globalThis;
    const ours = new Set<unknown>();
    globalThis.setInterval = ((...a: Parameters<typeof interval>) => {
      const id = interval(...a);
      ours.add(id);
      return id;
    }) as typeof interval;
    globalThis.clearInterval = ((id?: number) => {
      if (ours.has(id)) stopped.resolve();
      clear(id);
    }) as typeof clear;
    try {
      const app = withBody((reqd) => {
        reqd.respondWithStreaming({}).writeString("x"); // nobody reads it
      }, { writeTimeout: 80 });
      const response = await app(new Request("http://127.0.0.1/"));
      assert.equal(ours.size, 1, "the clock started");
      // The response is cut by its timeout; then nothing waits.
      await within(deadline, stopped.promise, "the clock to stop");
      await assert.rejects(response.arrayBuffer(), Deno.errors.TimedOut);
    } finally {
      globalThis.setInterval = interval;
      globalThis.clearInterval = clear;
    }
  },
  2000,
);

test(
  "setTimeouts while a read waits on the client starts its timeout at once",
  async (deadline) => {
    const asked = Promise.withResolvers<void>();
    const handled = Promise.withResolvers<Reqd>();
    const app = withBody((reqd) => {
      handled.resolve(reqd);
      readThenRespond(reqd);
    }, { readTimeout: Infinity, writeTimeout: Infinity });
    const request = new Request("http://127.0.0.1/", {
      method: "POST",
      body: new ReadableStream<Uint8Array>({ pull: () => asked.resolve() }),
    });
    const response = Promise.resolve(app(request));
    const reqd = await within(deadline, handled.promise, "the handler");
    await within(deadline, asked.promise, "the read to wait on the client");
    reqd.setTimeouts({ readTimeout: 100 });
    assert.equal((await within(deadline, response, "the 408")).status, 408);
  },
  2000,
);

test(
  "writeTimeout does not run while nothing is pending, even as the read of the upload waits",
  async (deadline) => {
    let send!: () => void;
    const upload = new ReadableStream<Uint8Array>({
      start: (c) =>
        void (send = () => {
          c.enqueue(new TextEncoder().encode("late"));
          c.close();
        }),
    });
    const app = withBody((reqd) => {
      const out = reqd.respondWithStreaming({});
      out.writeString("started\n");
      const body = reqd.requestBody;
      const onRead = () => body.scheduleRead({ onRead, onEof });
      const onEof = (error?: unknown) => {
        out.writeString(error === undefined ? "clean end\n" : String(error));
        out.closeWriter();
      };
      body.scheduleRead({ onRead, onEof });
    }, { readTimeout: 5000, writeTimeout: 100 });
    const response = await app(
      new Request("http://127.0.0.1/", { method: "POST", body: upload }),
    );
    const reader = response.body!.pipeThrough(new TextDecoderStream())
      .getReader();
    assert.deepEqual(await reader.read(), { done: false, value: "started\n" });
    // The client took everything; the upload stays silent for four
    // writeTimeouts, then ends.
    await within(deadline, new Promise((r) => setTimeout(r, 400)), "a pause");
    send();
    assert.deepEqual(await reader.read(), {
      done: false,
      value: "clean end\n",
    });
    assert.deepEqual(await reader.read(), { done: true, value: undefined });
  },
  3000,
);

test(
  "readTimeout: a handler that responds from the onEof(TimedOut) it was given sends its own response",
  async (deadline) => {
    const app = withBody((reqd) => {
      const body = reqd.requestBody;
      const onRead = () => body.scheduleRead({ onRead, onEof });
      const onEof = (error?: unknown) =>
        reqd.respondWithString(
          { status: 400 },
          `${(error as Error)?.constructor.name}\n`,
        );
      body.scheduleRead({ onRead, onEof });
    }, { readTimeout: 100 });
    const response = await within(
      deadline,
      Promise.resolve(app(stalledUpload())),
      "the response",
    );
    assert.deepEqual([response.status, await response.text()], [
      400,
      "TimedOut\n",
    ]);
  },
  2000,
);
