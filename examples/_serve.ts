/**
 * How every example runs: serve a fetch handler on `HOST:PORT` until
 * SIGINT/SIGTERM, then shut down in two phases.
 *
 * 1. The `stop` signal handed to the app aborts (bodies end, new requests
 *    get 503) and `server.shutdown()` lets open responses finish.
 * 2. A client that stopped reading, or owes part of its upload, would hold
 *    that graceful shutdown forever, so after 5 s — or at a second
 *    signal, pressed later than the copies one Ctrl-C makes — the process
 *    ends. (Deno.serve's own `signal` cannot do this
 *    part: it cuts streaming responses at once (Deno 2.9.6, denoland/deno#32862), and
 *    aborting it once shutdown() began throws an uncaught BadResource.)
 *
 * @module
 */

/** How long a shutdown waits for open responses before ending the process. */
export const GRACE_MS = 5000;

/**
 * Signals that arrive within this many milliseconds of the one that began
 * a shutdown are copies of it: one Ctrl-C in a terminal running
 * `deno task serve` reaches the server twice (from the terminal's process
 * group, and forwarded by `deno task`). A second Ctrl-C pressed later cuts.
 */
export const ECHO_MS = 1000;

/** What {@linkcode serveUntilSignal} needs to know about an example. */
export interface ExampleServer {
  /** The port when `PORT` is not set. */
  port: number;
  /** Makes the fetch handler; `stop` aborts when the shutdown begins. */
  app(stop: AbortSignal): (request: Request) => Response | Promise<Response>;
  /** The line printed once listening, given the server's origin. */
  banner(origin: string): string;
}

/**
 * What a shutdown signal means now: `"drain"` (the first one), `"echo"`
 * (a copy of it, within {@linkcode ECHO_MS}), or `"cut"` (a later one).
 *
 * @param first when the first signal arrived (`performance.now()`), or
 *   null if none did.
 * @param now when this one arrived.
 */
export function signalMeaning(
  first: number | null,
  now: number,
): "drain" | "echo" | "cut" {
  if (first === null) return "drain";
  return now - first < ECHO_MS ? "echo" : "cut";
}

/**
 * The TLS options of `Deno.serve` when `TLS_CERT` and `TLS_KEY` name PEM
 * files (HTTPS, with HTTP/2 and HTTP/1.1 by ALPN), else null.
 *
 * @throws {TypeError} when only one of the two is set.
 */
export function tlsFromEnv(): { cert: string; key: string } | null {
  // An example run without the permission simply serves plain HTTP.
  const granted = (variable: string) =>
    Deno.permissions.querySync({ name: "env", variable }).state === "granted";
  if (!granted("TLS_CERT") || !granted("TLS_KEY")) return null;
  const certPath = Deno.env.get("TLS_CERT");
  const keyPath = Deno.env.get("TLS_KEY");
  if (certPath === undefined && keyPath === undefined) return null;
  if (certPath === undefined || keyPath === undefined) {
    throw new TypeError("TLS_CERT and TLS_KEY must be set together");
  }
  return {
    cert: Deno.readTextFileSync(certPath),
    key: Deno.readTextFileSync(keyPath),
  };
}

/**
 * Serves `example` until SIGINT or SIGTERM, then stops as described above
 * and prints `stopped`.
 *
 * @returns once the server has stopped.
 */
export async function serveUntilSignal(example: ExampleServer): Promise<void> {
  const port = Number(Deno.env.get("PORT") ?? example.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error("PORT must be an integer from 0 to 65535");
    Deno.exit(2);
  }
  const tls = tlsFromEnv();
  const stop = new AbortController();
  let grace: ReturnType<typeof setTimeout> | undefined;
  let first: number | null = null;
  const cut = () => {
    console.log("stopped: cut the connections still open");
    Deno.exit(0);
  };
  const signals = ["SIGINT", "SIGTERM"] as const;
  const onSignal = () => {
    const now = performance.now();
    const meaning = signalMeaning(first, now);
    if (meaning === "echo") return;
    if (meaning === "cut") return cut();
    first = now;
    console.log("shutting down");
    stop.abort(new Error("server shutting down"));
    server.shutdown(); // declared below: signals come from the event loop
    grace = setTimeout(cut, GRACE_MS);
  };
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  // Listening is announced (onListen) only once a signal can be handled.
  const server = Deno.serve({
    hostname: Deno.env.get("HOST") ?? "127.0.0.1",
    port,
    ...tls,
    onListen: ({ hostname, port }) =>
      console.log(
        example.banner(`${tls ? "https" : "http"}://${hostname}:${port}`),
      ),
    // A response cut on purpose (a timeout, a shutdown short of its
    // content-length, a handler failure while streaming) reaches Deno's
    // onError as its stream's error: one line each, not a stack trace.
    onError: (error) => {
      console.error(`response failed: ${String(error)}`);
      return new Response("Internal Server Error", { status: 500 });
    },
  }, example.app(stop.signal));
  await server.finished;
  clearTimeout(grace);
  console.log("stopped");
  // The second copy of one Ctrl-C may arrive after the drain finished:
  // without a listener (or while the runtime is tearing down) Deno would
  // end the process with SIGINT's default exit code, 130, instead of 0.
  // So the listeners stay until the copies' window is over.
  const left = first === null ? 0 : first + ECHO_MS - performance.now();
  if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  for (const s of signals) Deno.removeSignalListener(s, onSignal);
}
