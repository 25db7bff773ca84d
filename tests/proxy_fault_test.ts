/**
 * Seeded fault injection through `proxy` (README.md, "A reverse proxy"):
 * raw clients that leave mid-upload or mid-response, against a raw
 * upstream that answers, answers early, cuts its body short, leaves a
 * chunked body unterminated, trickles, or never answers — through a real
 * `Deno.serve(withBody(proxy(…)))`. One run is shared by the tests below;
 * each asserts one rule. The seed is fresh each run and printed;
 * `PROXY_FAULT_SEED=…` replays one, `PROXY_FAULT_EXCHANGES=…` sets the
 * size (default 400).
 */
import assert from "node:assert/strict";
import { type Body, chunks, pipeBody, proxy, withBody } from "../mod.ts";
import {
  type ClientSeen,
  faultClient,
  faultUpstream,
  planProxy,
  type ProxyPlan,
  type UpstreamSeen,
} from "./_fault/proxy.ts";

const SEED = Number(
  Deno.env.get("PROXY_FAULT_SEED") ??
    crypto.getRandomValues(new Uint32Array(1))[0],
);
const EXCHANGES = Number(Deno.env.get("PROXY_FAULT_EXCHANGES") ?? 400);
const CONCURRENCY = 16;
const CLIENT_MS = 10_000; // a client that waits this long counts as hung

interface Run {
  plans: ProxyPlan[];
  clients: ClientSeen[];
  upstream: UpstreamSeen[];
  escapes: unknown[];
  logs: string[];
  flushAnswers: Map<number, number>; // flush id → answers (body hook)
  heapGrowth: number;
  fresh: number | null; // status of a fresh request after the run
}

const gc = (globalThis as { gc?: () => void }).gc;

async function run(): Promise<Run> {
  console.log(
    `proxy fault run: PROXY_FAULT_SEED=${SEED}, ${EXCHANGES} exchanges`,
  );
  const escapes: unknown[] = [];
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    escapes.push(event.reason);
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    escapes.push(event.error);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  const logs: string[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) =>
    void logs.push(args.map(String).join(" "));
  const upstream: UpstreamSeen[] = [];
  const up = faultUpstream(SEED, upstream);
  const flushAnswers = new Map<number, number>();
  let flushes = 0;
  // Odd exchanges move their response body through a hook that flushes
  // with callbacks, so every flush's answers can be counted.
  const body = async (
    input: Body<"read">,
    output: Body<"write">,
    reqd: { request: Request },
  ) => {
    const index = Number(/\/p\/(\d+)/.exec(reqd.request.url)?.[1]);
    if (index % 2 === 0) return await pipeBody(input, output);
    for await (const bytes of chunks(input)) {
      output.writeBigstring(bytes);
      const id = flushes++;
      flushAnswers.set(id, 0);
      const result = await new Promise<string>((resolve) =>
        output.flush((r) => {
          flushAnswers.set(id, flushAnswers.get(id)! + 1);
          resolve(r);
        })
      );
      if (result === "closed") return;
    }
    output.closeWriter();
  };
  gc?.();
  const before = Deno.memoryUsage().heapUsed;
  const front = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      onError: () => new Response(null, { status: 500 }), // cut on purpose
    },
    withBody(
      proxy(`http://127.0.0.1:${up.port}`, {
        headersTimeout: 300,
        readTimeout: 2000,
        body,
      }),
      { readTimeout: 2000, writeTimeout: 2000 },
    ),
  );
  const plans = Array.from({ length: EXCHANGES }, (_, i) => planProxy(SEED, i));
  const clients: ClientSeen[] = [];
  let next = 0;
  const worker = async () => {
    while (next < plans.length) {
      const plan = plans[next++]!;
      clients.push(await faultClient(front.addr.port, plan, CLIENT_MS));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  let fresh: number | null = null;
  try {
    const response = await fetch(
      `http://127.0.0.1:${front.addr.port}/p/${EXCHANGES}`, // a GET
      { signal: AbortSignal.timeout(5000) },
    );
    await response.body?.cancel();
    fresh = response.status;
  } catch {
    fresh = null;
  }
  await front.shutdown();
  up.close();
  await new Promise((resolve) => setTimeout(resolve, 50)); // late rejections
  gc?.();
  const heapGrowth = Deno.memoryUsage().heapUsed - before;
  console.error = consoleError;
  globalThis.removeEventListener("unhandledrejection", onRejection);
  globalThis.removeEventListener("error", onError);
  return {
    plans,
    clients,
    upstream,
    escapes,
    logs,
    flushAnswers,
    heapGrowth,
    fresh,
  };
}

let shared: Promise<Run> | null = null;
const result = () => shared ??= run();

function replay(index: number): string {
  return `PROXY_FAULT_SEED=${SEED} exchange ${index}: ${
    JSON.stringify(planProxy(SEED, index))
  }`;
}

Deno.test("proxy fault run: no uncaught exception or unhandled rejection", async () => {
  const { escapes } = await result();
  assert.deepEqual(escapes.map(String), []);
});

Deno.test("proxy fault run: no truncated response reaches a client as complete", async () => {
  const { clients } = await result();
  for (const seen of clients) {
    if (!seen.complete || seen.status !== 200) continue;
    const plan = planProxy(SEED, seen.index);
    assert.ok(
      seen.intact && (plan.upstream === "ok" || plan.upstream === "slow"),
      `a complete 200 that is not the upstream's whole body: ${
        replay(seen.index)
      }`,
    );
  }
});

Deno.test("proxy fault run: no truncated upload reaches the upstream as complete", async () => {
  const { upstream } = await result();
  for (const seen of upstream) {
    if (!seen.complete || seen.index >= EXCHANGES) continue;
    const plan = planProxy(SEED, seen.index);
    assert.ok(
      seen.intact && seen.bytes === plan.upload &&
        plan.fault !== "vanish-upload",
      `a complete upload that is not the client's whole upload: ${
        replay(seen.index)
      }`,
    );
  }
});

Deno.test("proxy fault run: every client that stayed got an answer or a broken transfer, none hung", async () => {
  const { clients } = await result();
  assert.equal(clients.length, EXCHANGES);
  for (const seen of clients) {
    const plan = planProxy(SEED, seen.index);
    if (seen.left) continue;
    if (plan.upstream === "silent") {
      assert.equal(seen.status, 504, replay(seen.index));
    }
    if (plan.upstream === "early") {
      // A 413 sent with upload bytes unread, then a close: fetch may lose
      // the response (Deno 2.9.6), which the proxy answers 502.
      assert.ok(seen.status === 413 || seen.status === 502, replay(seen.index));
    }
    if (plan.upstream === "ok" && plan.fault === "none") {
      assert.ok(seen.complete && seen.intact, replay(seen.index));
    }
  }
});

Deno.test("proxy fault run: every flush of a body hook was answered exactly once", async () => {
  const { flushAnswers } = await result();
  const wrong = [...flushAnswers].filter(([, answers]) => answers !== 1);
  assert.deepEqual(wrong, []);
  assert.ok(flushAnswers.size > 0, "no flush was made");
});

Deno.test("proxy fault run: a fresh request is served after the run", async () => {
  const { fresh } = await result();
  assert.ok(fresh !== null, "the proxy did not answer");
});

Deno.test("proxy fault run: nothing logged but one line per upstream failure", async () => {
  const { logs } = await result();
  const other = logs.filter((line) =>
    !/^proxy: \w+ \/p\/\d+: the upstream failed: /.test(line)
  );
  assert.deepEqual(other, []);
});

Deno.test({
  name: "proxy fault run: memory is back to its baseline after the run",
  ignore: gc === undefined,
  async fn() {
    const { heapGrowth } = await result();
    assert.ok(
      heapGrowth < 8 * 1024 * 1024,
      `the heap grew by ${(heapGrowth / 2 ** 20).toFixed(1)} MiB`,
    );
  },
});
