/**
 * The shared runner of the HTTP scenarios (private to `bench/`): starts the
 * contenders' servers, warms each up, alternates rounds (order rotated per
 * round), measures each run next to the server's CPU time from `/proc`, and
 * turns the rounds into report rows: medians, per-round ratios, targets.
 *
 * @module
 */

import type { Context } from "./_context.ts";
import { type Server, startServer } from "./_process.ts";
import { count, fmt, median, type Target } from "./_report.ts";
import type { Transfer } from "./_load.ts";

const MiB = 1024 * 1024;

/** One run: its figure (MiB/s, req/s), and how many units it moved. */
export interface Measure {
  value: number;
  units: number;
}

/** A transfer as a Measure: MiB/s, counted per MiB. */
export function perMiB({ bytes, seconds }: Transfer): Measure {
  return { value: bytes / MiB / seconds, units: bytes / MiB };
}

/** How a contender's figure reads: from medians of its value and CPU/unit. */
export type Unit = (value: number, cpuSeconds: number) => string;

/** "953 MiB/s, 0.94 ms CPU/MiB". */
export const MIB_S: Unit = (value, cpu) =>
  `${fmt(value)} MiB/s, ${fmt(cpu * 1000, cpu < 0.01 ? 2 : 1)} ms CPU/MiB`;

/** "73,706 req/s, 13.2 µs CPU/req". */
export const REQ_S: Unit = (value, cpu) =>
  `${fmt(value)} req/s, ${fmt(cpu * 1e6, 1)} µs CPU/req`;

/** Per contender key, per round; the servers are stopped by then. */
export interface Rounds<K extends string> {
  figures: Record<K, number[]>;
  /** Server CPU seconds per unit. */
  cpu: Record<K, number[]>;
  /** Their `lines` are complete. */
  servers: Record<K, Server>;
}

/**
 * Starts every server of `contenders` (key → `bench/servers/` file and its
 * arguments), warms each up with one run, then runs `rounds` rounds, each
 * running every contender once, the order rotated per round.
 */
export async function alternate<K extends string>(
  contenders: Record<K, string>,
  rounds: number,
  run: (server: Server, key: K) => Promise<Measure>,
  v8Flags: string[] = [],
): Promise<Rounds<K>> {
  const keys = Object.keys(contenders) as K[];
  const result = { figures: {}, cpu: {}, servers: {} } as Rounds<K>;
  try {
    for (const key of keys) {
      result.servers[key] = await startServer(contenders[key], v8Flags);
      result.figures[key] = [];
      result.cpu[key] = [];
    }
    for (const key of keys) await run(result.servers[key], key); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < keys.length; k++) {
        const key = keys[(k + round) % keys.length]!;
        const server = result.servers[key];
        const before = await server.cpu();
        const { value, units } = await run(server, key);
        result.figures[key].push(value);
        result.cpu[key].push((await server.cpu() - before) / units);
      }
    }
    return result;
  } finally {
    for (const key of keys) await result.servers[key]?.stop();
  }
}

/** A row of a side-by-side scenario. */
export type RowSpec<K extends string> =
  /** A reference: its figure. */
  | { ref: K; label: string }
  /**
   * `ours` against `vs`, round by round: figure ours / vs (`by: "speed"`,
   * the default), or with `by: "cpu"` server CPU per unit vs / ours
   * (higher is better for both).
   */
  | {
    ours: K;
    vs: K;
    label: string;
    target?: Target;
    by?: "speed" | "cpu";
  };

/**
 * The two rows of most scenarios: the reference `raw`, then `ours`
 * against it held to `target`.
 */
export function oursVsRaw(
  raw: string,
  ours: string,
  target: Target,
): RowSpec<"ours" | "raw">[] {
  return [{ ref: "raw", label: raw }, {
    ours: "ours",
    vs: "raw",
    label: ours,
    target,
  }];
}

/** A throughput scenario: contenders, how one run goes, which rows. */
export interface SideBySide<K extends string> {
  /** The scenario column, without its "(N rounds)". */
  scenario: string;
  rounds: number;
  contenders: Record<K, string>;
  run(server: Server, key: K): Promise<Measure>;
  unit: Unit;
  rows: RowSpec<K>[];
}

/** Runs `spec` through {@linkcode alternate} and adds its rows. */
export async function sideBySide<K extends string>(
  ctx: Context,
  spec: SideBySide<K>,
): Promise<Rounds<K>> {
  const result = await alternate(spec.contenders, spec.rounds, spec.run);
  const scenario = `${spec.scenario} (${count(spec.rounds, "round")})`;
  const figure = (key: K) =>
    spec.unit(median(result.figures[key]), median(result.cpu[key]));
  for (const row of spec.rows) {
    if ("ref" in row) {
      ctx.report.reference(scenario, row.label, figure(row.ref));
      continue;
    }
    // Higher is better: figures ours / vs, CPU per unit vs / ours.
    const [over, under] = row.by === "cpu"
      ? [result.cpu[row.vs], result.cpu[row.ours]]
      : [result.figures[row.ours], result.figures[row.vs]];
    const ratios = over.map((value, i) => value / under[i]!);
    ctx.report.compared(
      scenario,
      row.label,
      figure(row.ours),
      ratios,
      row.target,
    );
  }
  return result;
}
