/**
 * The Hono recipe of README.md ("Frameworks"), `examples/hono.ts`, run as
 * it is: a route parameter reaches a `withBody` handler through the
 * route's context (no side table), and every guarantee holds inside the
 * framework — a limit answers `413`, a client that leaves is settled
 * quietly. Served on 127.0.0.1 by the shared harness's `Deno.serve`.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createApp } from "../examples/hono.ts";
import type { WithBodyOptions } from "../mod.ts";
import { RawClient } from "./_harness/raw_http.ts";

import { deadlineTest as test, within } from "./_harness/serve.ts";

/** Serves the Hono app on 127.0.0.1; disposable (bounded shutdown). */
function serveApp(deadline: AbortSignal, options: WithBodyOptions = {}) {
  const logs: unknown[][] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void logs.push(args);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createApp({ ...options, signal: deadline }).fetch,
  );
  return {
    logs,
    port: server.addr.port,
    base: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      try {
        await server.shutdown();
      } finally {
        console.error = consoleError;
      }
    },
  };
}

test("a Hono route parameter reaches the withBody handler through its context", async (deadline) => {
  await using server = serveApp(deadline);
  const body = "hello, hono";
  const response = await fetch(`${server.base}/files/report.txt`, {
    method: "PUT",
    body,
    signal: deadline,
  });
  assert.equal(response.status, 201);
  const sha = createHash("sha256").update(body).digest("hex");
  assert.equal(
    await response.text(),
    `report.txt: 11 bytes, sha256 ${sha}\n`,
  );
});

test("maxBodyBytes answers 413 inside a Hono route", async (deadline) => {
  await using server = serveApp(deadline, { maxBodyBytes: 4 });
  const stream = new Blob(["more than four"]).stream(); // chunked: no length
  const response = await fetch(`${server.base}/files/big`, {
    method: "PUT",
    body: stream,
    duplex: "half",
    signal: deadline,
  } as RequestInit);
  assert.equal(response.status, 413);
  await response.body?.cancel();
  assert.deepEqual(server.logs, []);
});

test("a client that leaves mid-upload inside a Hono route is settled quietly", async (deadline) => {
  const left: unknown[] = [];
  const heard = Promise.withResolvers<void>();
  await using server = serveApp(deadline, {
    onDisconnect: (error) => {
      left.push(error);
      heard.resolve();
    },
  });
  const client = await RawClient.open(server.port, deadline);
  await client.send(
    "PUT /files/cut HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n",
  );
  await client.send(new Uint8Array(30_000));
  client.close();
  await within(deadline, heard.promise, "onDisconnect");
  assert.equal(left.length, 1);
  assert.deepEqual(server.logs, []);
});
