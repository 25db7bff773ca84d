// One fault run: a real Deno.serve on 127.0.0.1 (port 0) serving the
// seeded random handler through withBody (or the raw yardstick), driven by
// many seeded clients at once; then settle, a fresh request, the heap after
// a forced GC, the shutdown (withBody's signal, then server.shutdown()),
// and the books closed. Not a test file.
import { withBody } from "../../mod.ts";
import { type ClientContext, fetchFresh, runExchange } from "./client.ts";
import { faultHandler } from "./handler.ts";
import { Timers } from "./timers.ts";
import { describe, Ledger } from "./ledger.ts";
import { MAX_BODY, planExchange } from "./plan.ts";
import { rawHandler } from "./raw.ts";

export interface RunOptions {
  mode: "withBody" | "raw";
  seed: number;
  exchanges: number;
  only?: number; // replay this exchange alone
  concurrency: number;
}

export interface RunResult {
  options: RunOptions;
  ledger: Ledger;
  elapsedMs: number;
  heapGrowth: number | null; // bytes, from after the warm-up to the end; null without gc
  measured: number; // exchanges between the two heap measurements
  fresh: string; // "<status> <body>" of the fresh request
  stragglers: number; // entries still open when the shutdown began
  logged: number; // console.error calls (withBody logs reported errors)
  serveErrors: number; // calls of Deno.serve's onError
  phases: Record<string, number>; // ms each phase took
}

const gc = (globalThis as { gc?: () => void }).gc;
const SETTLE_MS = 3000;
const ABORT_MS = 1000; // the shutdown answers synchronously: plenty
const STILL_MS = 300;
const SHUTDOWN_MS = 3000;

// Times each phase of a run, for the report.
class Phases {
  readonly ms: Record<string, number> = {};
  #last = performance.now();

  mark(name: string): void {
    const now = performance.now();
    this.ms[name] = Math.round(now - this.#last);
    this.#last = now;
  }
}

function heapAfterGc(): number | null {
  if (gc === undefined) return null;
  gc();
  gc();
  return Deno.memoryUsage().heapUsed;
}

/** Runs the exchanges of `options`; never rejects for a fault it finds. */
export async function runFaults(options: RunOptions): Promise<RunResult> {
  const ledger = new Ledger();
  const timers = new Timers();
  const restore = capture(ledger);
  const stop = new AbortController();
  let serveErrors = 0;
  const handler = options.mode === "withBody"
    ? withBody(
      faultHandler({ seed: options.seed, ledger, timers, signal: stop.signal }),
      {
        maxBodyBytes: MAX_BODY,
        signal: stop.signal,
      },
    )
    : rawHandler({ seed: options.seed, timers, signal: stop.signal });
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    onError() {
      serveErrors++;
      return new Response("Deno.serve onError", { status: 500 });
    },
  }, handler);
  const release = Promise.withResolvers<void>();
  const clients: ClientContext = {
    port: server.addr.port,
    ledger,
    limited: options.mode === "withBody",
    patience: 250,
    deadline: 5000,
    release: release.promise,
    lingering: [],
  };
  const started = performance.now();
  const phases = new Phases();
  let down: Promise<void> | null = null;
  const end = () => {
    stop.abort(new Error("fault run: shutting down"));
    release.resolve();
    return down ??= Promise.all(clients.lingering)
      .then(() => shutdown(server, ledger));
  };
  try {
    const result = await exercise(options, clients, timers, phases);
    const stragglers = ledger.open;
    stop.abort(new Error("fault run: shutting down"));
    await settle(
      () => ledger.open === 0 && timers.live === 0,
      () => ledger.open + timers.live,
      ABORT_MS,
    );
    ledger.overdue("not answered after withBody's signal aborted");
    phases.mark("abort");
    await end();
    phases.mark("shutdown");
    ledger.closeBooks();
    return {
      options,
      ledger,
      elapsedMs: performance.now() - started,
      ...result,
      stragglers,
      logged: restore.logged(),
      serveErrors,
      phases: phases.ms,
    };
  } finally {
    await end(); // also when the run itself failed
    await restore.done();
  }
}

// The exchanges, the settling, the fresh request and the heap figures.
async function exercise(
  options: RunOptions,
  clients: ClientContext,
  timers: Timers,
  phases: Phases,
): Promise<Pick<RunResult, "heapGrowth" | "measured" | "fresh">> {
  const { ledger } = clients;
  const indices = options.only === undefined
    ? Array.from({ length: options.exchanges }, (_, i) => i)
    : [options.only];
  const warm = options.only === undefined ? Math.floor(indices.length / 10) : 0;
  await drive(options, clients, indices.slice(0, warm));
  const progress = () => ledger.open + timers.live;
  await settle(() => quiet(options, clients, timers), progress);
  const before = heapAfterGc();
  phases.mark("warm-up");
  await drive(options, clients, indices.slice(warm));
  phases.mark("exchanges");
  await settle(() => quiet(options, clients, timers), progress);
  phases.mark("settle");
  const fresh = await fetchFresh(clients.port, SETTLE_MS).catch(describe);
  if (fresh !== "200 fresh\n") {
    ledger.violate(
      "liveness",
      -1,
      `the fresh request got ${JSON.stringify(fresh)}`,
    );
  }
  ledger.forgetFacts();
  const after = heapAfterGc();
  const heapGrowth = before === null || after === null ? null : after - before;
  return { heapGrowth, measured: indices.length - warm, fresh };
}

// Nothing left to happen but what waits on lingering clients.
function quiet(
  options: RunOptions,
  clients: ClientContext,
  timers: Timers,
): boolean {
  return timers.live === 0 &&
    clients.ledger.openExchanges().every((i) =>
      planExchange(options.seed, i).client.kind === "linger"
    );
}

// Runs the exchanges `concurrency` at a time. A server that stops
// answering would make every clean exchange wait its client's deadline:
// past the run's own deadline no new exchange starts.
async function drive(
  options: RunOptions,
  clients: ClientContext,
  indices: number[],
): Promise<void> {
  const deadline = performance.now() + 30_000 + 2 * options.exchanges;
  let next = 0;
  const worker = async () => {
    while (next < indices.length) {
      if (performance.now() > deadline) {
        clients.ledger.violate("liveness", indices[next]!, "the run overran");
        next = indices.length;
        return;
      }
      const index = indices[next++]!;
      await runExchange(clients, planExchange(options.seed, index));
    }
  };
  const workers = Math.min(options.concurrency, indices.length);
  await Promise.all(Array.from({ length: workers }, worker));
}

// Polls every 10 ms until `done()`, or until `progress()` stood still for
// STILL_MS (what is left then waits on something that will not come by
// itself: the shutdown must answer it), for at most `ms`. "Nothing more
// will happen" has no event: this is the one wait on time passing.
async function settle(
  done: () => boolean,
  progress: () => number,
  ms = SETTLE_MS,
): Promise<void> {
  let last = progress();
  let still = 0;
  for (let t = 0; t < ms && !done() && still < STILL_MS; t += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    const now = progress();
    still = now === last ? still + 10 : 0;
    last = now;
  }
}

async function shutdown(
  server: Deno.HttpServer,
  ledger: Ledger,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), SHUTDOWN_MS);
  });
  const result = await Promise.race([server.shutdown(), late]);
  clearTimeout(timer);
  if (result === "late") {
    ledger.violate(
      "liveness",
      -1,
      `server.shutdown() took over ${SHUTDOWN_MS} ms`,
    );
  }
}

// Errors that escape to the process, and console.error (withBody logs
// every reported error by design: thousands in a run), for the run.
function capture(ledger: Ledger) {
  let logged = 0;
  const consoleError = console.error;
  console.error = () => void logged++;
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    ledger.escaped("uncaught error", event.error);
  };
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    ledger.escaped("unhandled rejection", event.reason);
  };
  globalThis.addEventListener("error", onError);
  globalThis.addEventListener("unhandledrejection", onRejection);
  return {
    logged: () => logged,
    async done() {
      // Rejections are reported after a turn: give late ones their turn.
      for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 0));
      console.error = consoleError;
      globalThis.removeEventListener("error", onError);
      globalThis.removeEventListener("unhandledrejection", onRejection);
    },
  };
}
