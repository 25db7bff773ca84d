/**
 * `write`: the in-process benches of `bench/write_bench.ts`, one
 * `deno bench --json` subprocess a round (3 iterations of the first two
 * groups): 1M × 100-byte `writeString` (ours vs naive vs hand-tuned),
 * `scheduleBigstring` 64 KiB chunks vs a raw stream, and what reading
 * `pendingBytes` after each of 10,000 writes costs. Figures: the
 * `deno bench` averages; ratios: per round.
 *
 * @module
 */

import type { Context } from "../_context.ts";
import { runDeno } from "../_process.ts";
import { atLeast, count, fmt, INFO, median } from "../_report.ts";

interface Bench {
  group: string;
  name: string;
  results: { ok?: { avg: number } }[];
}

/** Seconds per iteration of the bench `group`/`prefix…`, for one round. */
type Round = (group: string, prefix: string) => number;

export async function write(ctx: Context): Promise<void> {
  const rounds: Round[] = [];
  for (let round = 0; round < ctx.rounds; round++) rounds.push(await run(ctx));
  const each = (group: string, prefix: string, to: (s: number) => number) =>
    rounds.map((avg) => to(avg(group, prefix)));
  const ratios = (a: number[], b: number[]) => a.map((x, i) => x / b[i]!);
  const { report, sizes } = ctx;
  const when = `in-process (${count(ctx.rounds, "round")})`;

  const scenario = `write ${fmt(sizes.writes)}×100 B, ${when}`;
  const rate = (s: number) => sizes.writes * 100 / 2 ** 20 / s;
  const [naive, tuned, ours] = ["naive", "hand-tuned", "ours"]
    .map((name) => each("writeString", name, rate));
  const mibs = (values: number[]) => `${fmt(median(values))} MiB/s`;
  report.reference(
    scenario,
    "naive (encode + enqueue per write)",
    mibs(naive!),
  );
  report.reference(scenario, "hand-tuned (encodeInto 64 KiB)", mibs(tuned!));
  report.compared(
    scenario,
    "ours vs naive",
    mibs(ours!),
    ratios(ours!, naive!),
    atLeast(5),
  );
  report.compared(
    scenario,
    "ours vs hand-tuned",
    mibs(ours!),
    ratios(ours!, tuned!),
    atLeast(2.5),
  );

  const chunks = Math.max(1, Math.round(sizes.writes / 1000));
  const scheduled = `scheduleBigstring ${fmt(chunks)}×64 KiB, ${when}`;
  const ns = (values: number[]) => `${fmt(median(values))} ns/chunk`;
  const raw = each("scheduleBigstring", "raw", (s) => s / chunks * 1e9);
  const our = each("scheduleBigstring", "ours", (s) => s / chunks * 1e9);
  report.reference(scheduled, "raw ReadableStream", ns(raw));
  report.compared(
    scheduled,
    "ours (flush per chunk)",
    ns(our),
    ratios(raw, our),
    INFO,
  );

  const pending =
    `pendingBytes read after each of 10,000×100 B writeString, ${when}`;
  const us = (values: number[]) =>
    `${fmt(median(values))} µs per 10,000 writes`;
  const without = each("pendingBytes", "without:", (s) => s * 1e6);
  const withReads = each("pendingBytes", "with:", (s) => s * 1e6);
  report.reference(pending, "writes alone", us(without));
  report.compared(
    pending,
    "writes, each followed by pendingBytes (time)",
    us(withReads),
    ratios(withReads, without),
    INFO, // exact, so it encodes; README ("Limits") says where to read it
  );
}

/** One `deno bench` process: its averages by group and name prefix. */
async function run(ctx: Context): Promise<Round> {
  const file = new URL("../write_bench.ts", import.meta.url).pathname;
  const json = await runDeno(
    ["bench", "--json", "--no-lock", "--allow-env=WRITE_BENCH", file],
    300_000,
    { WRITE_BENCH: `${ctx.sizes.writes},3` },
  );
  const benches = (JSON.parse(json) as { benches: Bench[] }).benches;
  return (group, prefix) => {
    const ok = benches.find((b) =>
      b.group === group && b.name.startsWith(prefix)
    )?.results[0]?.ok;
    if (ok === undefined) throw new Error(`no result for ${group}/${prefix}`);
    return ok.avg / 1e9;
  };
}
