/**
 * The result table of the benchmarks (private to `bench/`): rows of
 * scenario, contender, figure, ratio, target, met?; rendered as aligned
 * text for the terminal and as a markdown table for `--out`.
 *
 * @module
 */

/** One line of the table. */
export interface Row {
  scenario: string;
  contender: string;
  figure: string;
  ratio: string;
  target: string;
  met: string;
}

/** What a ratio must reach: its text in the table and the test. */
export interface Target {
  text: string;
  met(ratio: number): boolean;
}

/** Met when the ratio is at least `min` ("≥ 0.95×"). */
export function atLeast(min: number, text = `≥ ${min}×`): Target {
  return { text, met: (ratio) => ratio >= min };
}

/** Met when the ratio is at most `max` (memory: "≤ 1.3×"). */
export function atMost(max: number, text = `≤ ${max}×`): Target {
  return { text, met: (ratio) => ratio <= max };
}

/** No target: the row informs. */
export const INFO: Target = { text: "— (info)", met: () => true };

/** The median of `values` (not empty). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `value` with thousands separators and `digits` decimals. */
export function fmt(value: number, digits = 0): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** "1 round", "5 rounds". */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** "yes" or "**no**". */
export function verdict(met: boolean): string {
  return met ? "yes" : "**no**";
}

/** The rows of one run, and the notes printed under them. */
export class Report {
  readonly rows: Row[] = [];
  readonly notes: string[] = [];

  /** A reference row: its figure, no ratio. */
  reference(scenario: string, contender: string, figure: string): void {
    this.row({ scenario, contender, figure, ratio: "reference" });
  }

  /**
   * A row of ours against a reference: `ratios` are per-round ratios,
   * shown as their median with their range; the median is held to
   * `target` (none, or {@linkcode INFO}: the row informs).
   */
  compared(
    scenario: string,
    contender: string,
    figure: string,
    ratios: number[],
    target: Target = INFO,
  ): void {
    // A round too short to show CPU time (0 / 0) has no ratio.
    const known = ratios.filter(Number.isFinite);
    const row = { scenario, contender, figure, target: target.text };
    if (known.length === 0) return this.row({ ...row, ratio: "—", met: "—" });
    const m = median(known);
    const range = known.length === 1
      ? ""
      : ` [${fmt(Math.min(...known), 2)}–${fmt(Math.max(...known), 2)}]`;
    const met = target === INFO ? "" : verdict(target.met(m));
    this.row({ ...row, ratio: `${fmt(m, 2)}×${range}`, met });
  }

  /** Any other row; missing cells stay empty. */
  row(row: Partial<Row> & { scenario: string; contender: string }): void {
    this.rows.push({ figure: "", ratio: "", target: "", met: "", ...row });
  }

  /** Aligned text; a scenario is named once, on its first row. */
  text(): string {
    const body = this.rows.map((row, i) => {
      const line = cells(row);
      if (i > 0 && this.rows[i - 1]!.scenario === row.scenario) line[0] = "";
      return line;
    });
    const widths = HEADERS.map((_, c) =>
      Math.max(...[HEADERS, ...body].map((line) => line[c]!.length))
    );
    const line = (values: string[]) =>
      values.map((v, c) => v.padEnd(widths[c]!)).join(" | ").trimEnd();
    return [
      line(HEADERS),
      widths.map((w) => "-".repeat(w)).join("-+-"),
      ...body.map(line),
    ].join("\n");
  }

  /** A markdown table, every row naming its scenario. */
  markdown(): string {
    const escape = (v: string) => v.replaceAll("|", "\\|");
    return [
      `| ${HEADERS.join(" | ")} |`,
      `| ${HEADERS.map(() => "---").join(" | ")} |`,
      ...this.rows.map((row) => `| ${cells(row).map(escape).join(" | ")} |`),
    ].join("\n");
  }
}

const HEADERS = ["scenario", "contender", "figure", "ratio", "target", "met?"];

function cells(row: Row): string[] {
  const { scenario, contender, figure, ratio, target, met } = row;
  return [scenario, contender, figure, ratio, target, met];
}
