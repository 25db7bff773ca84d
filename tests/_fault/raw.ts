// The yardstick of the fault suite's heap check: a plain Deno.serve handler
// that plays the same HandlerPlans with web streams — reads all, some or
// none of the body, responds whole, streaming or not at all, on the same
// triggers — but injects no faults (a raw handler has no reportException
// to exercise). The same seeded clients drive it. Not a test file.
import { type HandlerPlan, planExchange } from "./plan.ts";
import { parsePath, responseChunks } from "./wire.ts";
import type { Timers } from "./timers.ts";
import { concat } from "../_harness/util.ts";

export interface RawContext {
  seed: number;
  timers: Timers;
  // withBody answers a request it has not responded to with 503 when its
  // signal aborts; the raw handler does the same, so both hold such
  // requests until the shutdown.
  signal: AbortSignal;
}

/** The raw fetch handler; `/fresh` answers `200 fresh`. */
export function rawHandler(
  context: RawContext,
): (request: Request) => Response | Promise<Response> {
  return (request) => {
    const id = parsePath(request.url);
    if (id === null) return new Response("fresh\n");
    const [index, r] = id;
    const plan = planExchange(context.seed, index).handlers[r]!;
    const response = new RawScenario(context, request, index, r, plan).start();
    return response instanceof Response
      ? response
      : untilShutdown(context.signal, response);
  };
}

// `response`, or a 503 once `signal` aborts first (as withBody answers
// requests still waiting for a response when its signal aborts).
function untilShutdown(
  signal: AbortSignal,
  response: Promise<Response>,
): Promise<Response> {
  return new Promise((resolve) => {
    const unavailable = () => resolve(new Response(null, { status: 503 }));
    if (signal.aborted) return unavailable();
    signal.addEventListener("abort", unavailable, { once: true });
    response.then((r) => {
      signal.removeEventListener("abort", unavailable);
      resolve(r);
    });
  });
}

class RawScenario {
  readonly #context: RawContext;
  readonly #request: Request;
  readonly #plan: HandlerPlan;
  readonly #chunks: Uint8Array[];
  #reads = 0;
  #state: "reading" | "done" = "reading";
  #progress: (() => void) | null = null; // wakes a trigger waiting on reads

  constructor(
    context: RawContext,
    request: Request,
    index: number,
    r: number,
    plan: HandlerPlan,
  ) {
    this.#context = context;
    this.#request = request;
    this.#plan = plan;
    this.#chunks = responseChunks(index, r, plan);
  }

  start(): Response | Promise<Response> {
    const plan = this.#plan;
    // withBody looks at request.body of every request (for maxBodyBytes);
    // so does the yardstick: Deno then drains a body nobody reads rather
    // than closing the connection, which changes what pipelining gets.
    this.#request.body;
    if (plan.consume) {
      this.#state = "done";
      return this.#request.text().then(
        () => this.#response(),
        () => this.#response(),
      );
    }
    if (plan.read !== "none") this.#read().catch(() => this.#stop());
    if (plan.at === "start") return this.#response();
    if (plan.at === "timer") {
      return this.#context.timers.sleep(plan.delay).then(() =>
        this.#response()
      );
    }
    const reads = plan.at === "read" ? plan.atRead : Infinity;
    return this.#untilReads(reads).then(() => this.#response());
  }

  async #read(): Promise<void> {
    const reader = this.#request.body?.getReader();
    const max = this.#plan.read === "all" ? 100_000 : this.#plan.reads;
    for (let i = 0; reader !== undefined && i < max; i++) {
      const { done } = await reader.read();
      if (done) break;
      this.#reads++;
      this.#progress?.();
    }
    this.#stop();
  }

  #stop(): void {
    this.#state = "done";
    this.#progress?.();
  }

  #untilReads(n: number): Promise<void> {
    return new Promise((resolve) => {
      this.#progress = () => {
        if (this.#reads < n && this.#state === "reading") return;
        this.#progress = null;
        resolve();
      };
      this.#progress();
    });
  }

  #response(): Response | Promise<Response> {
    const { respond } = this.#plan;
    if (respond === "none") return new Promise<Response>(() => {});
    if (respond === "string") {
      return new Response(new TextDecoder().decode(concat(this.#chunks)));
    }
    if (respond === "bigstring") {
      return new Response(concat(this.#chunks) as Uint8Array<ArrayBuffer>);
    }
    return new Response(
      new ReadableStream(
        new RawSource(this.#chunks, respond, this.#context.signal),
      ),
    );
  }
}

// A streamed response; an "open" one stays open until the shutdown (as
// withBody ends a streaming response when its signal aborts).
class RawSource implements UnderlyingDefaultSource<Uint8Array> {
  #chunks: Uint8Array[];
  #k = 0;
  #open: boolean;
  #signal: AbortSignal;
  #end = () => this.#controller?.close();
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;

  constructor(chunks: Uint8Array[], respond: string, signal: AbortSignal) {
    this.#chunks = chunks;
    this.#open = respond === "open";
    this.#signal = signal;
  }

  pull(controller: ReadableStreamDefaultController<Uint8Array>): void {
    if (this.#k < this.#chunks.length) {
      return controller.enqueue(this.#chunks[this.#k++]!);
    }
    if (!this.#open) return controller.close();
    if (this.#controller !== null) return;
    this.#controller = controller;
    if (this.#signal.aborted) return controller.close();
    this.#signal.addEventListener("abort", this.#end, { once: true });
  }

  cancel(): void {
    this.#signal.removeEventListener("abort", this.#end);
  }
}
