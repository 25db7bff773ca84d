/**
 * How every example runs: serve a fetch handler on `HOST:PORT` until
 * SIGINT/SIGTERM, then shut down in two phases.
 *
 * 1. The `stop` signal handed to the app aborts (bodies end, new requests
 *    get 503) and `server.shutdown()` lets open responses finish.
 * 2. A client that stopped reading, or owes part of its upload, would hold
 *    that graceful shutdown forever, so after 5 s — or at a second
 *    signal — the process ends. (Deno.serve's own `signal` cannot do this
 *    part: it cuts streaming responses at once (denoland/deno#32862), and
 *    aborting it once shutdown() began throws an uncaught BadResource.)
 *
 * @module
 */

/** How long a shutdown waits for open responses before ending the process. */
export const GRACE_MS = 5000;

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
  const stop = new AbortController();
  const server = Deno.serve({
    hostname: Deno.env.get("HOST") ?? "127.0.0.1",
    port,
    onListen: ({ hostname, port }) =>
      console.log(example.banner(`http://${hostname}:${port}`)),
  }, example.app(stop.signal));
  let grace: ReturnType<typeof setTimeout> | undefined;
  const cut = () => {
    console.log("stopped: cut the connections still open");
    Deno.exit(0);
  };
  const signals = ["SIGINT", "SIGTERM"] as const;
  const onSignal = () => {
    if (stop.signal.aborted) return cut();
    console.log("shutting down");
    stop.abort(new Error("server shutting down"));
    server.shutdown();
    grace = setTimeout(cut, GRACE_MS);
  };
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  await server.finished;
  clearTimeout(grace);
  for (const s of signals) Deno.removeSignalListener(s, onSignal);
  console.log("stopped");
}
