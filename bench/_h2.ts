/**
 * The HTTP/2 clients of the benchmark (private to `bench/`), h2c (prior
 * knowledge) or h2 over TLS (ALPN, trusting the test CA of
 * `tests/fixtures/`): `h2load` (nghttp2's load tool, C, one thread) when it
 * is on PATH, else Deno's `fetch` with HTTP/2-only clients — one client a
 * connection, many concurrent requests on each.
 *
 * `h2load` does not show response bodies: the upload servers print their
 * reply (`reply <json>`), and the driver reads it from their stdout.
 *
 * Bounds: every transfer has a timeout (h2load is killed after it), the
 * fetch hello load a deadline and a count, the wait for a printed reply a
 * deadline.
 *
 * @module
 */

import { TRANSFER_MS } from "./_context.ts";
import { download, type Transfer, upload, type UploadReply } from "./_load.ts";
import { delay, onPath, runTool, type Server } from "./_process.ts";
import { HELLO } from "./servers/_hello.ts";

/** One protocol's client for a scenario; dispose of it after. */
export interface H2Client extends AsyncDisposable {
  /** `h2c` or `h2 over TLS`. */
  readonly protocol: string;
  /** `h2load` or `Deno fetch`. */
  readonly name: string;
  /** GETs `/` for `ms` from `connections` × `streams` in flight: req/s. */
  hello(
    server: Server,
    connections: number,
    streams: number,
    ms: number,
  ): Promise<number>;
  /** GETs `?bytes=N` and reads it to the end. */
  get(server: Server, bytes: number): Promise<Transfer>;
  /**
   * POSTs `bytes` and gets the server's reply (h2load sends a
   * `content-length`; fetch a streamed body of 64 KiB chunks without one);
   * `http1`: over HTTP/1.1 instead (the same client, TLS or not), to set
   * HTTP/2's framing against it.
   */
  post(
    server: Server,
    bytes: number,
    http1?: boolean,
  ): Promise<Transfer & { reply: UploadReply }>;
}

/**
 * The client of one protocol: h2load when it is on PATH and `fetch` is
 * not asked for, else Deno's fetch.
 */
export async function h2Client(
  tls: boolean,
  useFetch: boolean,
): Promise<H2Client> {
  const protocol = tls ? "h2 over TLS" : "h2c";
  const origin = (server: Server) =>
    `${tls ? "https" : "http"}://127.0.0.1:${server.port}`;
  if (!useFetch && await onPath("h2load", ["--version"])) {
    return new H2load(protocol, origin);
  }
  const ca = new URL("../tests/fixtures/ca.pem", import.meta.url);
  const options = {
    http1: false,
    http2: true,
    ...(tls ? { caCerts: [await Deno.readTextFile(ca)] } : {}),
  };
  return new FetchH2(protocol, origin, options);
}

/** Deno's fetch over HTTP/2-only clients (a client's pool: one connection). */
class FetchH2 implements H2Client {
  readonly name = "Deno fetch";
  readonly protocol: string;
  #origin: (server: Server) => string;
  #options: Deno.CreateHttpClientOptions;
  #client: Deno.HttpClient; // downloads and uploads
  #http1: Deno.HttpClient; // uploads over HTTP/1.1

  constructor(
    protocol: string,
    origin: (server: Server) => string,
    options: Deno.CreateHttpClientOptions,
  ) {
    [this.protocol, this.#origin, this.#options] = [protocol, origin, options];
    this.#client = Deno.createHttpClient(options);
    this.#http1 = Deno.createHttpClient({
      ...options,
      http1: true,
      http2: false,
    });
  }

  /** `connections` fresh clients, `streams` request loops on each. */
  async hello(
    server: Server,
    connections: number,
    streams: number,
    ms: number,
  ) {
    const url = `${this.#origin(server)}/`;
    const deadline = performance.now() + ms;
    const signal = AbortSignal.timeout(ms + TRANSFER_MS);
    let done = 0;
    const loop = async (client: Deno.HttpClient) => {
      // Bounded by count too: no loop runs unbounded if time misbehaves.
      for (let i = 0; i < 1_000_000 && performance.now() < deadline; i++) {
        const response = await fetch(url, { client, signal });
        const text = await response.text();
        if (response.status !== 200 || text.length !== HELLO.length) {
          throw new Error(`GET ${url}: ${response.status}, ${text.length} B`);
        }
        if (performance.now() <= deadline) done++;
      }
    };
    const clients = Array.from(
      { length: connections },
      () => Deno.createHttpClient(this.#options),
    );
    try {
      const loops = clients.flatMap((client) =>
        Array.from({ length: streams }, () => loop(client))
      );
      await Promise.all(loops);
    } finally {
      for (const client of clients) client.close();
    }
    return done / (ms / 1000);
  }

  get(server: Server, bytes: number): Promise<Transfer> {
    const url = `${this.#origin(server)}/?bytes=${bytes}`;
    return download(url, bytes, TRANSFER_MS, this.#client);
  }

  post(server: Server, bytes: number, http1 = false) {
    const client = http1 ? this.#http1 : this.#client;
    return upload(`${this.#origin(server)}/`, bytes, TRANSFER_MS, client);
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.#client.close();
    this.#http1.close();
    return Promise.resolve();
  }
}

/** h2load, one run a call; uploads are sent from a temporary file. */
class H2load implements H2Client {
  readonly name = "h2load";
  readonly protocol: string;
  #origin: (server: Server) => string;
  #files = new Map<number, string>(); // upload size → file of that many bytes

  constructor(protocol: string, origin: (server: Server) => string) {
    [this.protocol, this.#origin] = [protocol, origin];
  }

  async hello(
    server: Server,
    connections: number,
    streams: number,
    ms: number,
  ) {
    const args = [`-c${connections}`, `-m${streams}`, `-D${ms}ms`];
    const out = await this.#run([...args, `${this.#origin(server)}/`], ms);
    const rate = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
    if (rate === null) throw new Error(`h2load: no req/s in ${out}`);
    return Number(rate[1]);
  }

  async get(server: Server, bytes: number): Promise<Transfer> {
    const url = `${this.#origin(server)}/?bytes=${bytes}`;
    const out = await this.#run(["-n1", "-c1", url], TRANSFER_MS);
    const data = /\((\d+)\) data/.exec(out);
    if (data === null || Number(data[1]) !== bytes) {
      throw new Error(`h2load GET: ${data?.[1]} bytes, not ${bytes}: ${out}`);
    }
    return { seconds: elapsed(out), bytes };
  }

  async post(server: Server, bytes: number, http1 = false) {
    const file = await this.#file(bytes);
    const replies = server.lines.length;
    const args = ["-n1", "-c1", "-d", file, `${this.#origin(server)}/`];
    const out = await this.#run(args, TRANSFER_MS, http1);
    const reply = await printedReply(server, replies);
    if (reply.bytes !== bytes) {
      throw new Error(`h2load POST: ${reply.bytes} bytes, not ${bytes}`);
    }
    return { seconds: elapsed(out), bytes, reply };
  }

  /** Runs h2load; checks the protocol and that every request succeeded. */
  async #run(args: string[], ms: number, http1 = false): Promise<string> {
    const h1 = http1 ? ["--h1"] : [];
    const out = await runTool("h2load", ["-t1", ...h1, ...args], ms + 30_000);
    const protocol = /Application protocol: (\S+)/.exec(out)?.[1];
    const expected = http1
      ? "http/1.1"
      : this.protocol === "h2c"
      ? "h2c"
      : "h2";
    if (protocol !== expected) {
      throw new Error(`h2load spoke ${protocol}, not ${expected}: ${out}`);
    }
    const codes = /status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/
      .exec(out);
    const errors = /(\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
    if (codes === null || errors === null) throw new Error(`h2load: ${out}`);
    const bad = [...codes.slice(1), ...errors.slice(1)];
    if (bad.some((n) => n !== "0")) throw new Error(`h2load: ${out}`);
    return out;
  }

  /** A file of `bytes` × "a", made once per size (64 KiB writes). */
  async #file(bytes: number): Promise<string> {
    const known = this.#files.get(bytes);
    if (known !== undefined) return known;
    const path = await Deno.makeTempFile({ prefix: "httpaf-body-bench-" });
    this.#files.set(bytes, path);
    using file = await Deno.open(path, { write: true });
    const chunk = new Uint8Array(65536).fill(0x61);
    for (let left = bytes; left > 0; left -= chunk.length) {
      const part = chunk.subarray(0, Math.min(left, chunk.length));
      for (let off = 0; off < part.length;) {
        off += await file.write(part.subarray(off));
      }
    }
    return path;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const path of this.#files.values()) await Deno.remove(path);
    this.#files.clear();
  }
}

/** h2load's "finished in 1.23s" (or "456.78ms"), in seconds. */
function elapsed(out: string): number {
  const match = /finished in ([\d.]+)(m?s),/.exec(out);
  if (match === null) throw new Error(`h2load: no time in ${out}`);
  return Number(match[1]) / (match[2] === "ms" ? 1000 : 1);
}

/** The first `reply <json>` line the server printed after line `from`. */
async function printedReply(server: Server, from: number) {
  // The line was printed before the response went out; it may still be in
  // the pipe. Bounded: 500 waits of 10 ms.
  for (let i = 0; i < 500; i++) {
    const line = server.lines.slice(from).find((l) => l.startsWith("reply "));
    if (line !== undefined) return JSON.parse(line.slice(6)) as UploadReply;
    await delay(10);
  }
  throw new Error(`${server.name} printed no reply`);
}
