/**
 * The benchmark driver of @httpaf/body: one table of every scenario, its
 * contenders, their figures and ours / reference ratios against targets.
 *
 * ```sh
 * deno run -A bench/http.ts                      # full run, 5 rounds (~2 min on 2 cores)
 * deno run -A bench/http.ts --quick              # smoke run: tiny sizes, 1 round (~10 s)
 * deno run -A bench/http.ts --out BENCHMARKS.md  # also write the table as markdown
 * deno run -A bench/http.ts --rounds 9           # more rounds (default 5)
 * deno run -A bench/http.ts --only hello,upload  # some scenarios (names below)
 * deno run -A bench/http.ts --client fetch       # fetch instead of raw HTTP/1.1 clients
 * deno run -A bench/http.ts --only hello --cpu-prof /tmp/prof
 * deno run --allow-read bench/cpu_top.ts /tmp/prof/CPU.*.cpuprofile 20
 * deno bench bench/write_bench.ts                # the in-process benches alone
 * ```
 *
 * Scenarios (`--only` names); every HTTP contender is a server of
 * `bench/servers/`, run in its own subprocess (`Deno.execPath()`) on
 * 127.0.0.1:
 *
 * - `write`: `deno bench --json bench/write_bench.ts`, one subprocess per
 *   round (3 iterations of each bench): 1M × 100-byte `writeString` (ours
 *   vs naive vs hand-tuned), and `scheduleBigstring` 64 KiB chunks vs a
 *   raw stream; figures from the `deno bench` averages;
 * - `stream`: 64 MiB of 100-byte writes — ours (`writeString`, a flush per
 *   ~64 KiB) vs naive (encode + enqueue per write, pull-driven) vs Hono's
 *   `stream()` helper (`await stream.write(string)` per write);
 * - `download`: 256 MiB in 64 KiB chunks — ours (`scheduleBigstring` of
 *   fresh chunks, a flush per chunk) vs a raw pull-based `ReadableStream`;
 * - `upload`: 256 MiB streamed up (chunked) — ours (`scheduleRead` loop) vs
 *   `for await` vs a BYOB loop into one reused 64 KiB buffer; then an
 *   allocation pass on fresh servers run with
 *   `--v8-flags=--trace-gc,--expose-gc`: each reading starts after a forced
 *   full GC and reports its time span; the trace lines inside the span are
 *   counted by kind (full / young), with their pause time, next to the V8
 *   heap bytes allocated meanwhile;
 * - `hello`: 2 KiB responses to 32 keep-alive connections for a fixed time —
 *   `wrk` when it is on PATH, else a raw HTTP/1.1 client in this process;
 * - `idle`: heap of 10,000 open idle `streamingBody()`s, in a subprocess
 *   with `--expose-gc` (`bench/idle_bodies.ts`), next to 10,000 bare
 *   `ReadableStream`s;
 * - `stalled`: 256 MiB asked for by a client that sends the request, then
 *   reads nothing for 3 s: the server's RSS growth (from `/proc`).
 *
 * Method. A throughput scenario starts all its servers, warms each up with
 * one full-size run, then alternates: every round runs every contender once,
 * the order rotated per round (download and upload, being short, run 3× and
 * 2× the rounds). A figure is the median over the rounds, next to the
 * server's CPU time per unit (from `/proc/<pid>/stat`: immune to a slow
 * client). A ratio is ours / reference, the median of the per-round ratios
 * (each measured side by side), with their range in brackets; a target is
 * met when that median reaches it. On a shared 2-core machine only ratios
 * mean something, never absolute figures.
 *
 * Clients (`_load.ts`): raw HTTP/1.1 over `Deno.connect` by default, reading
 * into one reused buffer and decoding chunked framing in place. `fetch`
 * (`--client fetch`) delivers each HTTP chunk as its own read: against the
 * 100-byte-chunk servers it is the bottleneck (measured 2–4× below curl),
 * which would inflate ours / naive.
 *
 * Bounds: every transfer has a timeout, every load loop a deadline and a
 * count, every subprocess a readiness and exit deadline. Servers run with
 * `--no-lock` (Hono is pinned in its specifier), so the run never rewrites
 * deno.lock. Permissions: `-A`, or `--allow-run --allow-net=127.0.0.1
 * --allow-read --allow-env` (+ `--allow-write` for `--out`/`--cpu-prof`).
 *
 * @module
 */

import {
  download,
  keepAliveLoad,
  rawDownload,
  rawUpload,
  stalledRequest,
  type Transfer,
  upload,
  type UploadReply,
} from "./_load.ts";
import {
  delay,
  profileServersInto,
  runDeno,
  type Server,
  startServer,
} from "./_process.ts";
import { fmt, median, Report } from "./_report.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** What one run moves; `--quick` shrinks everything. */
interface Sizes {
  streamBytes: number;
  downloadBytes: number;
  uploadBytes: number;
  helloMs: number;
  helloConnections: number;
  idleCount: number;
  stallBytes: number;
  stallMs: number;
  writes: number;
  /** Measured uploads per server in the GC pass (after one warm-up). */
  gcUploads: number;
}

const FULL: Sizes = {
  streamBytes: 64 * MiB,
  downloadBytes: 256 * MiB,
  uploadBytes: 256 * MiB,
  helloMs: 3000,
  helloConnections: 32,
  idleCount: 10_000,
  stallBytes: 256 * MiB,
  stallMs: 3000,
  writes: 1_000_000,
  gcUploads: 3,
};

const QUICK: Sizes = {
  streamBytes: 1 * MiB,
  downloadBytes: 4 * MiB,
  uploadBytes: 4 * MiB,
  helloMs: 300,
  helloConnections: 32,
  idleCount: 10_000,
  stallBytes: 16 * MiB,
  stallMs: 500,
  writes: 10_000,
  gcUploads: 1,
};

const SCENARIOS = [
  "write",
  "stream",
  "download",
  "upload",
  "hello",
  "idle",
  "stalled",
] as const;
type Scenario = typeof SCENARIOS[number];

const TRANSFER_MS = 120_000;

// ---------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------

interface Options {
  rounds: number;
  quick: boolean;
  out: string | null;
  only: Set<Scenario>;
  client: "raw" | "fetch";
  cpuProf: string | null;
}

const USAGE = "usage: bench/http.ts [--rounds N] [--quick] [--out FILE] " +
  "[--only a,b] [--client raw|fetch] [--cpu-prof DIR]";

function parseOptions(args: string[]): Options {
  const options: Options = {
    rounds: 0,
    quick: false,
    out: null,
    only: new Set(SCENARIOS),
    client: "raw",
    cpuProf: null,
  };
  let rounds: number | null = null;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.indexOf("=");
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const value = () => {
      const v = eq < 0 ? args[++i] : arg.slice(eq + 1);
      if (v === undefined) throw new TypeError(`${flag} needs a value`);
      return v;
    };
    if (flag === "--quick") options.quick = true;
    else if (flag === "--rounds") {
      rounds = Number(value());
      if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) {
        throw new RangeError(`--rounds must be 1..100, received ${rounds}`);
      }
    } else if (flag === "--out") options.out = value();
    else if (flag === "--cpu-prof") options.cpuProf = value();
    else if (flag === "--client") {
      const client = value();
      if (client !== "raw" && client !== "fetch") {
        throw new TypeError(`--client: raw or fetch, received ${client}`);
      }
      options.client = client;
    } else if (flag === "--only") {
      const names = value().split(",");
      for (const name of names) {
        if (!(SCENARIOS as readonly string[]).includes(name)) {
          throw new TypeError(
            `--only: unknown scenario ${name} (${SCENARIOS.join(", ")})`,
          );
        }
      }
      options.only = new Set(names as Scenario[]);
    } else throw new TypeError(`unknown option ${arg}; ${USAGE}`);
  }
  options.rounds = rounds ?? (options.quick ? 1 : 5);
  return options;
}

// ---------------------------------------------------------------------
// Alternating rounds
// ---------------------------------------------------------------------

/** One run: its figure, and how many units (MiB, requests) it moved. */
interface Measure {
  value: number;
  units: number;
}

/** Per contender (index of `names`), per round. */
interface Rounds {
  figures: number[][];
  /** Server CPU seconds per unit. */
  cpu: number[][];
  /** Stopped by then: their `lines` are complete. */
  servers: Server[];
}

/**
 * Starts every server, warms each up with one run, then runs `rounds`
 * rounds, each running every contender once (order rotated per round).
 */
async function alternate(
  names: string[],
  rounds: number,
  run: (server: Server) => Promise<Measure>,
  v8Flags: string[] = [],
): Promise<Rounds> {
  const servers: Server[] = [];
  try {
    for (const name of names) servers.push(await startServer(name, v8Flags));
    for (const server of servers) await run(server); // warm-up
    const figures: number[][] = names.map(() => []);
    const cpu: number[][] = names.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < servers.length; k++) {
        const i = (k + round) % servers.length;
        const server = servers[i]!;
        const before = await server.cpu();
        const { value, units } = await run(server);
        figures[i]!.push(value);
        cpu[i]!.push((await server.cpu() - before) / units);
      }
    }
    return { figures, cpu, servers };
  } finally {
    for (const server of servers) await server.stop();
  }
}

/** Ours / reference, round by round. */
function perRound(result: Rounds, ours: number, reference: number): number[] {
  const ref = result.figures[reference]!;
  return result.figures[ours]!.map((value, i) => value / ref[i]!);
}

/** "312 MiB/s, 2.9 ms CPU/MiB" from the medians of contender `i`. */
function throughput(result: Rounds, i: number): string {
  const cpu = median(result.cpu[i]!) * 1000;
  return `${fmt(median(result.figures[i]!))} MiB/s, ${
    fmt(cpu, cpu < 10 ? 2 : 1)
  } ms CPU/MiB`;
}

/** "1 round", "5 rounds". */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** A transfer as a Measure: MiB/s, counted per MiB. */
function perMiB({ bytes, seconds }: Transfer): Measure {
  return { value: bytes / MiB / seconds, units: bytes / MiB };
}

// ---------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------

class Bench {
  readonly report = new Report();

  constructor(readonly sizes: Sizes, readonly options: Options) {}

  get rounds(): number {
    return this.options.rounds;
  }

  /** GET `?bytes=N` from `server`, read to the end. */
  get(server: Server, bytes: number): Promise<Transfer> {
    return this.options.client === "raw"
      ? rawDownload(server.port, `/?bytes=${bytes}`, bytes, TRANSFER_MS)
      : download(
        `http://127.0.0.1:${server.port}/?bytes=${bytes}`,
        bytes,
        TRANSFER_MS,
      );
  }

  /** POST `bytes` to `server`, streamed. */
  post(
    server: Server,
    bytes: number,
  ): Promise<Transfer & { reply: UploadReply }> {
    return this.options.client === "raw"
      ? rawUpload(server.port, bytes, TRANSFER_MS)
      : upload(`http://127.0.0.1:${server.port}/`, bytes, TRANSFER_MS);
  }

  async write(): Promise<void> {
    const { report, sizes, rounds } = this;
    const file = new URL("./write_bench.ts", import.meta.url).pathname;
    interface Bench {
      group: string;
      name: string;
      results: { ok?: { avg: number } }[];
    }
    // One `deno bench` process per round; seconds per iteration by bench.
    const runs: ((group: string, prefix: string) => number)[] = [];
    for (let round = 0; round < rounds; round++) {
      const json = await runDeno(
        ["bench", "--json", "--no-lock", "--allow-env=WRITE_BENCH", file],
        300_000,
        { WRITE_BENCH: `${sizes.writes},3` },
      );
      const benches = (JSON.parse(json) as { benches: Bench[] }).benches;
      runs.push((group, prefix) => {
        const ok = benches.find((b) =>
          b.group === group && b.name.startsWith(prefix)
        )?.results[0]?.ok;
        if (ok === undefined) {
          throw new Error(`no result for ${group}/${prefix}`);
        }
        return ok.avg / 1e9;
      });
    }
    // Per round: the figure of `prefix…` in `group`, via `to`.
    const each = (group: string, prefix: string, to: (s: number) => number) =>
      runs.map((avg) => to(avg(group, prefix)));
    const ratios = (a: number[], b: number[]) => a.map((x, i) => x / b[i]!);

    const scenario = `write ${fmt(sizes.writes)}×100 B, in-process (${
      count(rounds, "round")
    })`;
    const rate = (s: number) => sizes.writes * 100 / MiB / s;
    const naive = each("writeString", "naive", rate);
    const tuned = each("writeString", "hand-tuned", rate);
    const ours = each("writeString", "ours", rate);
    const mibs = (values: number[]) => `${fmt(median(values))} MiB/s`;
    report.reference(
      scenario,
      "naive (encode + enqueue per write)",
      mibs(naive),
    );
    report.reference(scenario, "hand-tuned (encodeInto 64 KiB)", mibs(tuned));
    report.compared(
      scenario,
      "ours vs naive",
      mibs(ours),
      ratios(ours, naive),
      5,
      "≥ 5×",
    );
    report.compared(
      scenario,
      "ours vs hand-tuned",
      mibs(ours),
      ratios(ours, tuned),
      0.8,
      "≥ 0.8×",
    );

    const chunks = Math.max(1, Math.round(sizes.writes / 1000));
    const scheduled = `scheduleBigstring ${fmt(chunks)}×64 KiB, in-process (${
      count(rounds, "round")
    })`;
    const perChunk = (s: number) => s / chunks * 1e9;
    const raw = each("scheduleBigstring", "raw", perChunk);
    const our = each("scheduleBigstring", "ours", perChunk);
    const ns = (values: number[]) => `${fmt(median(values))} ns/chunk`;
    report.reference(scheduled, "raw ReadableStream", ns(raw));
    report.compared(
      scheduled,
      "ours (flush per chunk)",
      ns(our),
      ratios(raw, our),
      undefined,
      "— (info)",
    );
  }

  async stream(): Promise<void> {
    const { report, sizes, rounds } = this;
    const bytes = sizes.streamBytes;
    const result = await alternate(
      ["stream_ours.ts", "stream_naive.ts", "stream_hono.ts"],
      rounds,
      async (server) => perMiB(await this.get(server, bytes)),
    );
    const scenario = `HTTP ${bytes / MiB} MiB of 100 B writes (${
      count(rounds, "round")
    })`;
    report.reference(
      scenario,
      "naive stream (encode + enqueue)",
      throughput(result, 1),
    );
    report.reference(
      scenario,
      "Hono stream() (await write)",
      throughput(result, 2),
    );
    report.compared(
      scenario,
      "ours vs naive",
      throughput(result, 0),
      perRound(result, 0, 1),
      4,
      "≥ 4×",
    );
    report.compared(
      scenario,
      "ours vs Hono",
      throughput(result, 0),
      perRound(result, 0, 2),
      1.0001,
      "> 1× (ahead)",
    );
  }

  async download(): Promise<void> {
    const { report, sizes } = this;
    const bytes = sizes.downloadBytes;
    const rounds = this.rounds * 3; // short runs: more of them
    const result = await alternate(
      ["download_ours.ts", "download_raw.ts"],
      rounds,
      async (server) => perMiB(await this.get(server, bytes)),
    );
    const scenario = `HTTP ${bytes / MiB} MiB download, 64 KiB chunks (${
      count(rounds, "round")
    })`;
    report.reference(
      scenario,
      "raw pull ReadableStream",
      throughput(result, 1),
    );
    report.compared(
      scenario,
      "ours (scheduleBigstring)",
      throughput(result, 0),
      perRound(result, 0, 1),
      0.95,
      "≥ 0.95×",
    );
  }

  async upload(): Promise<void> {
    const { report, sizes } = this;
    const bytes = sizes.uploadBytes;
    const rounds = this.rounds * 2; // short runs: more of them
    const names = ["upload_ours.ts", "upload_for_await.ts", "upload_byob.ts"];
    const result = await alternate(
      names,
      rounds,
      async (server) => perMiB(await this.post(server, bytes)),
    );
    const scenario = `HTTP ${bytes / MiB} MiB upload consumed (${
      count(rounds, "round")
    })`;
    report.reference(
      scenario,
      "for await (request.body)",
      throughput(result, 1),
    );
    report.reference(
      scenario,
      "BYOB loop, one 64 KiB buffer",
      throughput(result, 2),
    );
    report.compared(
      scenario,
      "ours vs for-await",
      throughput(result, 0),
      perRound(result, 0, 1),
      0.95,
      "≥ 0.95×",
    );
    report.compared(
      scenario,
      "ours vs BYOB",
      throughput(result, 0),
      perRound(result, 0, 2),
      0.95,
      "≥ 0.95×",
    );

    // Allocation pass: fresh servers tracing GCs; each reply gives the
    // span of its reading, matched against the server's trace lines.
    const replies: UploadReply[][] = names.map(() => []);
    const traced = await alternate(
      names,
      sizes.gcUploads,
      async (server) => {
        const { reply } = await this.post(server, bytes);
        replies[names.indexOf(server.name)]!.push(reply);
        return { value: 0, units: 1 };
      },
      ["--trace-gc", "--expose-gc"],
    );
    // The first upload of each server is its warm-up.
    const spans = traced.servers.map((server, i) =>
      gcSpans(server.lines, replies[i]!.slice(1))
    );
    const full = spans.map((list) => median(list.map((gc) => gc.full)));
    const young = spans.map((list) => median(list.map((gc) => gc.young)));
    const pause = spans.map((list) => median(list.map((gc) => gc.pauseMs)));
    const heap = replies.map((list) => list.slice(1).map((r) => r.allocated));
    const heapMiB = heap.map((list) => median(list) / MiB);
    const gcScenario = `HTTP ${
      bytes / MiB
    } MiB upload: server GCs while reading (${
      count(sizes.gcUploads, "upload")
    })`;
    const figure = (i: number) =>
      `${fmt(full[i]!, 1)} full + ${fmt(young[i]!, 1)} young GCs, ${
        fmt(pause[i]!, 1)
      } ms GC, ${fmt(heapMiB[i]!, 1)} MiB heap alloc`;
    report.reference(gcScenario, "for await (request.body)", figure(1));
    report.row({
      scenario: gcScenario,
      contender: "BYOB loop, one 64 KiB buffer",
      figure: figure(2),
      ratio: "",
      target: "",
      met: "",
    });
    report.row({
      scenario: gcScenario,
      contender: "ours vs for-await",
      figure: figure(0),
      ratio: pause[1] === 0 ? "—" : `${fmt(pause[0]! / pause[1]!, 2)}× GC time`,
      target: "fewer allocations (full GCs) than for-await",
      met: full[1] === 0
        ? "— (no full GC in the reference)"
        : full[0]! < full[1]!
        ? "yes"
        : "**no**",
    });
    report.notes.push(
      "upload GCs: the server's `--trace-gc` lines timed within the reading " +
        "of one body (each reading starts after a forced full GC, so from " +
        'the same heap state; forced GCs not counted). "full" = mark-compacts: ' +
        "for-await gets a fresh 64 KiB ArrayBuffer per chunk, memory outside " +
        "the V8 heap that shows up as full GCs for external memory; " +
        '"young" = scavenges of short-lived JS objects (promises, read ' +
        'results, views). "ms GC" = main-thread pause time, incremental ' +
        'marking steps included. "heap alloc" = `total_allocated_bytes` ' +
        "over the same span (JS objects only, not ArrayBuffer memory).",
    );
  }

  async hello(): Promise<void> {
    const { report, sizes, rounds } = this;
    const wrk = await hasWrk();
    const result = await alternate(
      ["hello_ours.ts", "hello_raw.ts"],
      rounds,
      async (server) => {
        const rps = wrk
          ? await wrkLoad(server.port, sizes)
          : await keepAliveLoad(
            server.port,
            sizes.helloConnections,
            sizes.helloMs,
          ).then((load) => load.requests / load.seconds);
        return { value: rps, units: rps * sizes.helloMs / 1000 };
      },
    );
    const figure = (i: number) =>
      `${fmt(median(result.figures[i]!))} req/s, ${
        fmt(median(result.cpu[i]!) * 1e6, 1)
      } µs CPU/req`;
    const client = wrk ? "wrk" : "Deno raw TCP client";
    const scenario =
      `HTTP 2 KiB hello, ${sizes.helloConnections} keep-alive conns × ${
        sizes.helloMs / 1000
      } s, ${client} (${count(rounds, "round")})`;
    report.reference(scenario, "raw Deno.serve new Response(text)", figure(1));
    report.compared(
      scenario,
      "ours respondWithString",
      figure(0),
      perRound(result, 0, 1),
      0.9,
      "≥ 0.9×",
    );
    const busy = (i: number) =>
      fmt(median(result.figures[i]!) * median(result.cpu[i]!), 2);
    report.notes.push(
      `hello: server CPU use under load (req/s × CPU/req) was ${busy(1)} ` +
        `cores for raw and ${busy(0)} for ours — near 1 means the server ` +
        "(one JS thread) and not the client set the pace. Raw's response " +
        "carries `content-type: text/plain;charset=UTF-8` (added by " +
        "`new Response(string)`); ours, `respondWithString` without init, " +
        "has none: ~40 bytes less per response.",
    );
  }

  async idle(): Promise<void> {
    const { report, sizes } = this;
    const file = new URL("./idle_bodies.ts", import.meta.url).pathname;
    const measure = async (kind: string) => {
      const results: number[] = [];
      for (let i = 0; i < 3; i++) {
        const out = await runDeno(
          [
            "run",
            "--quiet",
            "--no-lock",
            "--v8-flags=--expose-gc",
            file,
            kind,
            String(sizes.idleCount),
          ],
          60_000,
        );
        results.push((JSON.parse(out) as { bytes: number }).bytes);
      }
      return median(results);
    };
    const bare = await measure("bare");
    const ours = await measure("ours");
    const scenario = `${
      fmt(sizes.idleCount)
    } idle streamingBody()s, heap (median of 3)`;
    report.reference(
      scenario,
      "bare new ReadableStream()",
      `${fmt(bare / MiB, 1)} MiB`,
    );
    report.row({
      scenario,
      contender: "ours streamingBody()",
      figure: `${fmt(ours / MiB, 1)} MiB (${
        fmt(ours / sizes.idleCount)
      } B each)`,
      ratio: `${fmt(ours / bare, 2)}×`,
      target: "< 16 MiB",
      met: ours < 16 * MiB ? "yes" : "**no**",
    });
  }

  async stalled(): Promise<void> {
    const { report, sizes } = this;
    const bytes = sizes.stallBytes;
    const scenario = `${bytes / MiB} MiB to a client reading nothing for ${
      sizes.stallMs / 1000
    } s: server RSS growth`;
    const contenders: [string, string, boolean][] = [
      ["stream_ours.ts", "ours writeString 100 B, flush per 64 KiB", true],
      ["download_ours.ts", "ours scheduleBigstring 64 KiB", true],
      ["download_raw.ts", "raw pull ReadableStream (info)", false],
    ];
    for (const [name, contender, targeted] of contenders) {
      const server = await startServer(name);
      let growth: number;
      let baseline: number;
      let cpu: number;
      try {
        // Warm-up: code compiled and buffers allocated before the baseline.
        await this.get(server, Math.min(bytes, 16 * MiB));
        await delay(200);
        const samples = [];
        for (let i = 0; i < 3; i++) {
          samples.push(await server.rss());
          await delay(50);
        }
        baseline = median(samples);
        const cpuBefore = await server.cpu();
        const conn = await stalledRequest(server.port, `/?bytes=${bytes}`);
        let peak = baseline;
        try {
          const until = performance.now() + sizes.stallMs;
          for (let i = 0; i < 10_000 && performance.now() < until; i++) {
            await delay(100);
            peak = Math.max(peak, await server.rss());
          }
          cpu = await server.cpu() - cpuBefore;
        } finally {
          conn.close();
        }
        growth = peak - baseline;
        await delay(200); // the server sees the client gone
      } finally {
        await server.stop();
      }
      report.row({
        scenario,
        contender,
        figure: `${fmt(growth / MiB, 1)} MiB (from ${
          fmt(baseline / MiB)
        } MiB; ${fmt(cpu, 2)} s server CPU meanwhile)`,
        ratio: "",
        target: targeted ? "< 32 MiB" : "",
        met: targeted ? (growth < 32 * MiB ? "yes" : "**no**") : "",
      });
    }
    report.notes.push(
      "stalled: the peak of the server's VmRSS, sampled every 100 ms while " +
        "the client reads nothing, minus its median just before (after a " +
        "16 MiB warm-up download); the server CPU shows the producer " +
        "paused by backpressure rather than buffering.",
    );
  }
}

/** The collections of one bracketed span of `--trace-gc` output. */
interface GcSpan {
  full: number;
  young: number;
  pauseMs: number;
}

/**
 * The collections inside each span, from a server's `--trace-gc` lines.
 * Their timestamps are V8's clock (ms since the isolate started); the
 * server's `gc-clock` line gives `performance.now()` at the end of the
 * first forced ("testing") GC, which maps one clock onto the other (to
 * within that GC's few ms). Forced GCs are not counted.
 *
 * @throws {Error} without a `gc-clock` line or its GC.
 */
function gcSpans(lines: string[], spans: UploadReply[]): GcSpan[] {
  const trace = /^\[\d+:0x[0-9a-f]+\]\s+(\d+) ms: /;
  const clock = lines.find((line) => line.startsWith("gc-clock "));
  const first = lines.find((line) =>
    trace.test(line) && line.includes(" testing;")
  );
  if (clock === undefined || first === undefined) {
    throw new Error("no gc-clock calibration in the server's output");
  }
  const offset = Number(trace.exec(first)![1]) - Number(clock.split(" ")[1]);
  return spans.map(({ start, end }) => {
    const span: GcSpan = { full: 0, young: 0, pauseMs: 0 };
    for (const line of lines) {
      const match = trace.exec(line);
      if (match === null || line.includes(" testing;")) continue;
      const at = Number(match[1]) - offset;
      if (at < start || at > end) continue;
      if (/ ms: (Scavenge|Minor)/.test(line)) span.young++;
      else span.full++;
      const pause = /MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms/.exec(
        line,
      );
      const steps = /\(\+ ([\d.]+) ms in \d+ steps/.exec(line);
      span.pauseMs += Number(pause?.[1] ?? 0) + Number(steps?.[1] ?? 0);
    }
    return span;
  });
}

async function hasWrk(): Promise<boolean> {
  try {
    await new Deno.Command("wrk", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return true; // any exit status: it ran (wrk --version exits 1)
  } catch {
    return false; // not on PATH
  }
}

async function wrkLoad(port: number, sizes: Sizes): Promise<number> {
  const seconds = Math.max(1, Math.round(sizes.helloMs / 1000));
  const output = await new Deno.Command("wrk", {
    args: [
      "-t1",
      `-c${sizes.helloConnections}`,
      `-d${seconds}s`,
      `http://127.0.0.1:${port}/`,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(seconds * 1000 + 30_000),
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const match = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (match === null || /Non-2xx|Socket errors/.test(text)) {
    throw new Error(`wrk: ${text}`);
  }
  return Number(match[1]);
}

/** "abc1234" or "abc1234+dirty" (library files changed): what was measured. */
async function revision(): Promise<string> {
  try {
    const git = (...args: string[]) =>
      new Deno.Command("git", {
        args,
        cwd: new URL("..", import.meta.url).pathname,
        stdout: "piped",
        stderr: "null",
      }).output();
    const head = await git("rev-parse", "--short", "HEAD");
    if (!head.success) return "unknown revision";
    const changed = await git(
      "status",
      "--porcelain",
      "--",
      "body.ts",
      "mod.ts",
      "adapters",
    );
    const dirty = new TextDecoder().decode(changed.stdout).trim() !== "";
    return new TextDecoder().decode(head.stdout).trim() +
      (dirty ? "+dirty" : "");
  } catch {
    return "unknown revision"; // no git
  }
}

async function cpuModel(): Promise<string> {
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    return /^model name\s*:\s*(.+)$/m.exec(info)?.[1] ?? "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

// ---------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions(Deno.args);
  if (options.cpuProf !== null) {
    await Deno.mkdir(options.cpuProf, { recursive: true });
    profileServersInto(options.cpuProf);
  }
  const sizes = options.quick ? QUICK : FULL;
  const bench = new Bench(sizes, options);
  const started = performance.now();
  const header = [
    `@httpaf/body ${await revision()} benchmarks, ` +
    `${new Date().toISOString().slice(0, 10)}: ` +
    `Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ` +
    `${navigator.hardwareConcurrency} cores (${await cpuModel()})`,
    `${options.quick ? "quick (smoke sizes)" : "full"} run, ` +
    `${count(options.rounds, "round")}, ` +
    `${options.client === "raw" ? "raw HTTP/1.1" : "fetch"} clients; sizes: ` +
    `stream ${sizes.streamBytes / MiB} MiB, ` +
    `download ${sizes.downloadBytes / MiB} MiB, ` +
    `upload ${sizes.uploadBytes / MiB} MiB, ` +
    `hello ${sizes.helloConnections} conns × ${sizes.helloMs} ms, ` +
    `idle ${fmt(sizes.idleCount)} bodies, ` +
    `stalled ${sizes.stallBytes / MiB} MiB × ${sizes.stallMs} ms, ` +
    `in-process ${fmt(sizes.writes)} writes`,
  ];
  console.error(header.join("\n"));
  const scenarios: Record<Scenario, () => Promise<void>> = {
    write: () => bench.write(),
    stream: () => bench.stream(),
    download: () => bench.download(),
    upload: () => bench.upload(),
    hello: () => bench.hello(),
    idle: () => bench.idle(),
    stalled: () => bench.stalled(),
  };
  let failed = false;
  for (const name of SCENARIOS) {
    if (!options.only.has(name)) continue;
    const t = performance.now();
    console.error(`… ${name}`);
    try {
      await scenarios[name]();
    } catch (error) {
      // One broken scenario must not hide the others' results.
      failed = true;
      console.error(error);
      bench.report.row({
        scenario: name,
        contender: "—",
        figure: `failed: ${error instanceof Error ? error.message : error}`
          .split("\n")[0]!,
        ratio: "",
        target: "",
        met: "**error**",
      });
    }
    const s = (performance.now() - t) / 1000;
    console.error(`  ${name} done in ${fmt(s, 1)} s`);
  }
  const { report } = bench;
  report.notes.unshift(
    "figures: medians over the rounds (MiB/s = 2^20 B/s), with the " +
      "server's CPU time per unit; ratio = ours / reference, the median of " +
      "per-round ratios measured side by side, [min–max] over the rounds; " +
      "met when the median reaches the target. In-process rows: one " +
      "`deno bench` process a round, its averages.",
  );
  if (options.quick) {
    report.notes.unshift(
      "quick run: smoke sizes and 1 round check that everything runs; its " +
        "figures and verdicts mean nothing.",
    );
  }
  const total = `total time ${fmt((performance.now() - started) / 1000, 1)} s`;
  console.log(`\n${header.join("\n")}\n\n${report.text()}\n`);
  for (const note of report.notes) console.log(`- ${note}`);
  console.log(total);
  if (options.out !== null) {
    const markdown = [
      ...header.map((line) => `${line}  `),
      "",
      report.markdown(),
      "",
      ...report.notes.map((note) => `- ${note}`),
      `- ${total}`,
      "",
    ].join("\n");
    await Deno.writeTextFile(options.out, markdown);
    console.error(`wrote ${options.out}`);
  }
  if (failed) Deno.exitCode = 1;
}

if (import.meta.main) await main();
