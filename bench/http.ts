/**
 * The benchmark driver of @httpaf/body: one table of every scenario, its
 * contenders, their figures and ours / reference ratios against targets.
 *
 * ```sh
 * deno run -A bench/http.ts                      # full run, 5 rounds
 * deno run -A bench/http.ts --quick              # smoke run: tiny sizes, 1 round
 * deno run -A bench/http.ts --out BENCHMARKS.md  # also write the table as markdown
 * deno run -A bench/http.ts --rounds 9           # more rounds (default 5)
 * deno run -A bench/http.ts --only hello,upload  # some scenarios (scenarios/mod.ts)
 * deno run -A bench/http.ts --only timeouts,h2c,h2tls,compress
 * deno run -A bench/http.ts --client fetch       # fetch instead of raw clients and h2load
 * deno run -A bench/http.ts --only hello --cpu-prof prof
 * deno run --allow-read bench/cpu_top.ts prof/CPU.*.cpuprofile 20
 * deno bench bench/write_bench.ts                # the in-process benches alone
 * ```
 *
 * Layout: a scenario is one file of `scenarios/` (listed in
 * `scenarios/mod.ts`) that names its contenders — servers of `servers/`,
 * each run in its own subprocess on 127.0.0.1 — and adds rows to the
 * report (`_report.ts`). HTTP scenarios go through the shared runner
 * (`_runner.ts`): it starts all servers, warms each up with one full-size
 * run, then alternates rounds, the order rotated per round. A figure is
 * the median over the rounds, next to the server's CPU time per unit
 * (from `/proc/<pid>/task/<tid>/schedstat`: immune to a slow client). A
 * ratio is the median of the per-round ratios (each measured side by
 * side), with their range in brackets; a target is met when that median
 * reaches it. On a shared 2-core machine only ratios mean something.
 *
 * Clients (`_load.ts`): raw HTTP/1.1 over `Deno.connect` by default, reading
 * into one reused buffer and decoding chunked framing in place; `wrk` for
 * the hello load and `h2load` (Debian: `nghttp2-client`) for HTTP/2 when
 * they are on PATH (`_h2.ts`: Deno's fetch otherwise). `fetch`
 * (`--client fetch`, for HTTP/2 also instead of h2load) delivers each HTTP
 * chunk as its own read: against the 100-byte-chunk servers it is the
 * bottleneck (measured 2–4× below curl).
 *
 * Bounds: every transfer has a timeout, every load loop a deadline and a
 * count, every subprocess a readiness and exit deadline. Subprocesses run
 * with `--no-lock` (Hono is pinned in its specifier), so the run never
 * rewrites a lockfile. Servers may read the test certificate of
 * `tests/fixtures/` (TLS). Permissions: `-A`, or `--allow-run
 * --allow-net=127.0.0.1 --allow-read --allow-env --allow-write` (writes:
 * h2load's upload file, a temporary file removed after the scenario;
 * `--out`; `--cpu-prof`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createContext, FULL, QUICK } from "./_context.ts";
import { header } from "./_header.ts";
import { profileServersInto } from "./_process.ts";
import { fmt, Report } from "./_report.ts";
import { SCENARIOS } from "./scenarios/mod.ts";

/** The command line, checked. */
interface Options {
  rounds: number;
  quick: boolean;
  out: string | null;
  only: string[];
  client: "raw" | "fetch";
  cpuProf: string | null;
}

/** @throws {TypeError | RangeError} naming the option and what it received. */
function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      rounds: { type: "string" },
      quick: { type: "boolean", default: false },
      out: { type: "string" },
      only: { type: "string", default: Object.keys(SCENARIOS).join(",") },
      client: { type: "string", default: "raw" },
      "cpu-prof": { type: "string" },
    },
  });
  const { quick, client } = values;
  const rounds = Number(values.rounds ?? (quick ? 1 : 5));
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) {
    throw new RangeError(`--rounds must be 1..100, received ${values.rounds}`);
  }
  if (client !== "raw" && client !== "fetch") {
    throw new TypeError(`--client: raw or fetch, received ${client}`);
  }
  const names = values.only.split(",");
  const unknown = names.find((name) => !Object.hasOwn(SCENARIOS, name));
  if (unknown !== undefined) {
    throw new TypeError(
      `--only: unknown scenario ${unknown} (${
        Object.keys(SCENARIOS).join(", ")
      })`,
    );
  }
  const only = Object.keys(SCENARIOS).filter((name) => names.includes(name));
  const [out, cpuProf] = [values.out ?? null, values["cpu-prof"] ?? null];
  return { rounds, quick, out, only, client, cpuProf };
}

/** Runs each scenario; one that fails becomes an error row, not the end. */
async function runAll(options: Options, report: Report): Promise<boolean> {
  const sizes = options.quick ? QUICK : FULL;
  const ctx = createContext(sizes, options.rounds, report, options.client);
  let failed = false;
  for (const name of options.only) {
    const t = performance.now();
    console.error(`… ${name}`);
    try {
      await SCENARIOS[name]!(ctx);
    } catch (error) {
      failed = true;
      console.error(error);
      const message = error instanceof Error ? error.message : String(error);
      report.row({
        scenario: name,
        contender: "—",
        figure: `failed: ${message.split("\n")[0]}`,
        met: "**error**",
      });
    }
    console.error(
      `  ${name} done in ${fmt((performance.now() - t) / 1000, 1)} s`,
    );
  }
  return failed;
}

async function main(): Promise<void> {
  const options = parseOptions(Deno.args);
  if (options.cpuProf !== null) {
    await Deno.mkdir(options.cpuProf, { recursive: true });
    profileServersInto(options.cpuProf);
  }
  const started = performance.now();
  const head = await header(options.quick ? QUICK : FULL, options);
  console.error(head.join("\n"));
  const report = new Report();
  const failed = await runAll(options, report);
  report.notes.unshift(
    "figures: medians over the rounds (MiB/s = 2^20 B/s), with the " +
      "server's CPU time per unit; ratio = ours / reference for speed, " +
      "memory and time (the last two: lower is better, targets ≤), " +
      "reference / ours for CPU per unit; the median of per-round ratios " +
      "measured side by side, [min–max] over the rounds; met when the " +
      "median reaches the target. In-process rows: one `deno bench` " +
      "process a round, its averages.",
  );
  if (options.quick) {
    report.notes.unshift(
      "quick run: smoke sizes and 1 round check that everything runs; its " +
        "figures and verdicts mean nothing.",
    );
  }
  const notes = [
    ...report.notes,
    `total time ${fmt((performance.now() - started) / 1000, 1)} s`,
  ].map((note) => `- ${note}`);
  console.log(
    `\n${head.join("\n")}\n\n${report.text()}\n\n${notes.join("\n")}`,
  );
  if (options.out !== null) {
    const lines = [...head.map((l) => `${l}  `), "", report.markdown(), ""];
    await Deno.writeTextFile(options.out, [...lines, ...notes, ""].join("\n"));
    console.error(`wrote ${options.out}`);
  }
  if (failed) Deno.exitCode = 1;
}

if (import.meta.main) await main();
