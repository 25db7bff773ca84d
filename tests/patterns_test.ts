/**
 * The everyday patterns of README.md ("Everyday patterns"), from
 * `examples/patterns/`: the README shows each file's `ours` and `plain`
 * regions verbatim, ours is no longer than plain where the README says so,
 * and ours keeps its guarantees over real loopback — a cut upload, a
 * client leaving, a limit.
 */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { download } from "../examples/patterns/download.ts";
import { echo } from "../examples/patterns/echo.ts";
import { events } from "../examples/patterns/events.ts";
import { form } from "../examples/patterns/form.ts";
import { gateway } from "../examples/patterns/proxy.ts";
import { download as fetchDownload } from "../examples/patterns/client.ts";
import { upload } from "../examples/patterns/upload.ts";
import { RawClient } from "./_harness/raw_http.ts";
import { randomBytes } from "./_harness/util.ts";
import { deadlineTest as test, readBody, within } from "./_harness/serve.ts";

const README = Deno.readTextFileSync(new URL("../README.md", import.meta.url));

/** The text between `// #region name` and `// #endregion name` of `file`. */
function region(file: string, name: string): string {
  const text = Deno.readTextFileSync(
    new URL(`../examples/patterns/${file}`, import.meta.url),
  );
  const start = text.indexOf(`// #region ${name}\n`);
  const end = text.indexOf(`// #endregion ${name}\n`);
  assert.ok(start >= 0 && end > start, `${file} has a region ${name}`);
  return text.slice(start + `// #region ${name}\n`.length, end);
}

const lines = (code: string) =>
  code.split("\n").filter((line) => line.trim() !== "").length;

for (
  const file of ["upload.ts", "echo.ts", "events.ts", "download.ts", "form.ts"]
) {
  Deno.test(`README shows examples/patterns/${file} as it runs, ours and plain`, () => {
    for (const name of ["ours", "plain"]) {
      const code = region(file, name);
      assert.ok(
        README.includes("```ts ignore\n" + code + "```\n"),
        `README.md lacks the ${name} region of ${file}:\n${code}`,
      );
    }
  });
}

for (const file of ["upload.ts", "echo.ts", "events.ts", "proxy.ts"]) {
  Deno.test(`the ${file} pattern is no longer than its plain-streams version`, () => {
    const ours = lines(region(file, "ours"));
    const plain = lines(region(file, "plain"));
    assert.ok(ours <= plain, `${ours} lines against ${plain}`);
  });
}

/** Serves `handler` on 127.0.0.1 for one test; disposable. */
function serve(
  handler: (request: Request) => Response | Promise<Response>,
) {
  const logs: unknown[][] = [];
  const serveErrors: unknown[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void logs.push(args);
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    // A response cut on purpose reaches Deno's onError as its stream's
    // error (the default logs its stack).
    onError(error) {
      serveErrors.push(error);
      return new Response(null, { status: 500 });
    },
  }, handler);
  return {
    logs,
    serveErrors,
    port: server.addr.port,
    base: `http://127.0.0.1:${server.addr.port}`,
    shutdown: () => server.shutdown(),
    async [Symbol.asyncDispose]() {
      try {
        await server.shutdown();
      } finally {
        console.error = consoleError;
      }
    },
  };
}

async function files(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
}

test("the upload pattern stores the body byte-exact and answers 201 with its path", async (deadline) => {
  const dir = await Deno.makeTempDir();
  await using server = serve(upload(dir));
  const body = randomBytes(300_000);
  const response = await fetch(`${server.base}/`, {
    method: "PUT",
    body,
    signal: deadline,
  });
  assert.equal(response.status, 201);
  const path = (await response.text()).trim();
  assert.deepEqual(await Deno.readFile(path), body);
  await Deno.remove(dir, { recursive: true });
});

test("the upload pattern leaves no file behind when the client leaves mid-upload", async (deadline) => {
  const dir = await Deno.makeTempDir();
  await using server = serve(upload(dir));
  const client = await RawClient.open(server.port, deadline);
  await client.send(
    "PUT / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\n",
  );
  await client.send(randomBytes(200_000));
  for (let i = 0; i < 200 && (await files(dir)).length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5)); // the file appears
  }
  assert.equal((await files(dir)).length, 1, "the upload began");
  client.close();
  await within(deadline, server.shutdown(), "the shutdown");
  assert.deepEqual(await files(dir), []);
  assert.deepEqual(server.logs, []);
  await Deno.remove(dir, { recursive: true });
});

test("the upload pattern answers 413 to a declared length over its limit, reading nothing", async (deadline) => {
  const dir = await Deno.makeTempDir();
  await using server = serve(upload(dir));
  const client = await RawClient.open(server.port, deadline);
  await client.send(
    `PUT / HTTP/1.1\r\nhost: x\r\ncontent-length: ${2 ** 31}\r\n\r\n`,
  );
  assert.equal((await client.response()).status, 413);
  client.close();
  assert.deepEqual(await files(dir), []);
  await Deno.remove(dir, { recursive: true });
});

test("the echo pattern echoes a streamed body byte-exact", async (deadline) => {
  await using server = serve(echo);
  const body = randomBytes(700_000);
  const response = await fetch(`${server.base}/`, {
    method: "POST",
    body,
    signal: deadline,
  });
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), body);
});

test("the echo pattern breaks the response of an upload over its limit: never a clean end", async (deadline) => {
  await using server = serve(echo);
  const chunks = [randomBytes(700_000), randomBytes(700_000)];
  const response = await fetch(`${server.base}/`, {
    method: "POST",
    body: new Blob(chunks).stream(),
    duplex: "half",
    signal: deadline,
  } as RequestInit);
  const echoed: Uint8Array[] = [];
  const end = await readBody(deadline, response, echoed);
  const bytes = echoed.reduce((n, c) => n + c.length, 0);
  assert.ok(end instanceof Error, `read ${bytes} bytes and a clean end`);
  assert.ok(bytes <= 1 << 20, `echoed ${bytes} bytes`);
  assert.ok(server.serveErrors[0] instanceof RangeError);
});

test("the echo pattern settles when its client leaves mid-upload", async (deadline) => {
  await using server = serve(echo);
  const client = await RawClient.open(server.port, deadline);
  await client.send(
    "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
  );
  await client.send("5\r\nhello\r\n");
  await client.readUntil(
    (d) => new TextDecoder().decode(d).includes("hello"),
    "the echo",
  );
  client.close();
  await within(deadline, server.shutdown(), "the shutdown");
  assert.deepEqual(server.logs, []);
});

test("the events pattern sends gzip events each decodable on arrival, and stops when the client leaves", async (deadline) => {
  await using server = serve(events);
  const client = await RawClient.open(server.port, deadline);
  await client.send(
    "GET / HTTP/1.1\r\nhost: x\r\naccept-encoding: gzip\r\n\r\n",
  );
  const head = await client.readUntil(
    (d) => new TextDecoder().decode(d).includes("\r\n\r\n"),
    "the head",
  );
  const text = new TextDecoder().decode(head);
  assert.match(text, /content-encoding: gzip/);
  assert.match(text, /content-type: text\/event-stream/);
  // The first chunk of the chunked body: the first event, already decodable.
  const body = await client.readUntil((d) => {
    const all = new TextDecoder("latin1").decode(d);
    const at = all.indexOf("\r\n\r\n") + 4;
    const size = parseInt(all.slice(at), 16);
    const data = all.indexOf("\r\n", at) + 2;
    return size > 0 && all.length >= data + size;
  }, "the first event");
  const all = new TextDecoder("latin1").decode(body);
  const at = all.indexOf("\r\n\r\n") + 4;
  const size = parseInt(all.slice(at), 16);
  const data = all.indexOf("\r\n", at) + 2;
  const event = gunzipSync(body.subarray(data, data + size), {
    finishFlush: 2, // Z_SYNC_FLUSH: no trailer yet
  }).toString();
  assert.match(event, /^id: 1\ndata: \d{4}-\d\d-\d\dT[\d:.]+Z\n\n$/);
  client.close();
  await within(deadline, server.shutdown(), "the shutdown");
  assert.deepEqual(server.logs, []);
});

test("the download pattern serves the file byte-exact with its length", async (deadline) => {
  const path = await Deno.makeTempFile();
  const bytes = randomBytes(500_000);
  await Deno.writeFile(path, bytes);
  await using server = serve(download(path));
  const response = await fetch(`${server.base}/`, { signal: deadline });
  assert.equal(response.headers.get("content-length"), "500000");
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), bytes);
  await Deno.remove(path);
});

test("the download pattern stops reading the file when its client leaves", async (deadline) => {
  const path = await Deno.makeTempFile();
  await Deno.writeFile(path, new Uint8Array(64 << 20));
  await using server = serve(download(path));
  const client = await RawClient.open(server.port, deadline);
  await client.send("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
  await client.readUntil((d) => d.length > 1 << 20, "a MiB of the file");
  client.close();
  await within(deadline, server.shutdown(), "the shutdown");
  assert.deepEqual(server.logs, []);
  await Deno.remove(path);
});

test("the form pattern stores each file part byte-exact and answers 201 with their paths", async (deadline) => {
  const dir = await Deno.makeTempDir();
  await using server = serve(form(dir));
  const a = randomBytes(200_000);
  const b = randomBytes(70_000);
  const body = new FormData();
  body.append("title", "two files");
  body.append("file", new File([a], "a.bin"));
  body.append("file", new File([b], "b.bin"));
  const response = await fetch(`${server.base}/`, {
    method: "POST",
    body,
    signal: deadline,
  });
  assert.equal(response.status, 201);
  const paths = (await response.text()).trim().split(",");
  assert.deepEqual(await Deno.readFile(paths[0]!), a);
  assert.deepEqual(await Deno.readFile(paths[1]!), b);
  await Deno.remove(dir, { recursive: true });
});

test("the form pattern answers 413 to a field over its limit and leaves no file behind", async (deadline) => {
  const dir = await Deno.makeTempDir();
  await using server = serve(form(dir));
  const body = new FormData();
  body.append("file", new File([randomBytes(100_000)], "a.bin"));
  body.append("note", "x".repeat(100_000)); // over maxFieldBytes
  const response = await fetch(`${server.base}/`, {
    method: "POST",
    body,
    signal: deadline,
  });
  assert.equal(response.status, 413);
  await response.body?.cancel();
  assert.deepEqual(await files(dir), []);
  assert.deepEqual(server.logs, []);
  await Deno.remove(dir, { recursive: true });
});

test("the form pattern leaves no file behind when the client leaves mid-upload", async (deadline) => {
  const dir = await Deno.makeTempDir();
  await using server = serve(form(dir));
  const client = await RawClient.open(server.port, deadline);
  await client.send(
    "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n" +
      "content-type: multipart/form-data; boundary=cut\r\n\r\n" +
      '--cut\r\ncontent-disposition: form-data; name="f"; filename="f.bin"\r\n\r\n',
  );
  await client.send(randomBytes(200_000));
  for (let i = 0; i < 200 && (await files(dir)).length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5)); // the file appears
  }
  assert.equal((await files(dir)).length, 1, "the upload began");
  client.close();
  await within(deadline, server.shutdown(), "the shutdown");
  for (let i = 0; i < 200 && (await files(dir)).length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5)); // removed in onEnd
  }
  assert.deepEqual(await files(dir), []);
  assert.deepEqual(server.logs, []);
  await Deno.remove(dir, { recursive: true });
});

test("the proxy pattern forwards an upload and its echo byte-exact", async (deadline) => {
  await using up = serve((request) => new Response(request.body));
  await using front = serve(gateway(up.base));
  const body = randomBytes(2 << 20);
  const response = await fetch(`${front.base}/echo`, {
    method: "POST",
    body,
    signal: deadline,
  });
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), body);
});

test("the proxy pattern aborts the upstream when the client leaves mid-response", async (deadline) => {
  const cancelled = Promise.withResolvers<void>();
  await using up = serve(() =>
    new Response(
      new ReadableStream({
        pull: (c) => c.enqueue(new Uint8Array(64 * 1024)),
        cancel: () => cancelled.resolve(),
      }),
    )
  );
  await using front = serve(gateway(up.base));
  const client = await RawClient.open(front.port, deadline);
  await client.send("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
  await client.readUntil((d) => d.length > 256 * 1024, "some of the body");
  client.close();
  await within(deadline, cancelled.promise, "the upstream's cancel");
  assert.deepEqual(front.logs, []);
});

test("the proxy pattern answers 413 to a declared length over its limit", async (deadline) => {
  await using up = serve(() => new Response("never"));
  await using front = serve(gateway(up.base));
  const client = await RawClient.open(front.port, deadline);
  await client.send(
    `PUT / HTTP/1.1\r\nhost: x\r\ncontent-length: ${2 ** 31}\r\n\r\n`,
  );
  assert.equal((await client.response()).status, 413);
  client.close();
});

test("the client pattern downloads byte-exact into a new file", async (deadline) => {
  const dir = await Deno.makeTempDir();
  const body = randomBytes(700_000);
  await using up = serve(() => new Response(body));
  const path = await within(
    deadline,
    fetchDownload(up.base, dir),
    "the download",
  );
  assert.deepEqual(await Deno.readFile(path), body);
  await Deno.remove(dir, { recursive: true });
});

test("the client pattern fails a truncated download and leaves no file behind", async (deadline) => {
  const dir = await Deno.makeTempDir();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    const conn = await listener.accept();
    await conn.read(new Uint8Array(4096));
    await conn.write(
      new TextEncoder().encode(
        "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n",
      ),
    );
    await conn.write(new Uint8Array(30_000));
    conn.close();
  })().catch(() => {}); // the test checks the client's side
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    await assert.rejects(
      within(deadline, fetchDownload(`http://127.0.0.1:${port}/`, dir), "it"),
    );
    assert.deepEqual(await files(dir), []);
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});
