/**
 * The result table of `bench/http.ts` (private to `bench/`): rows of
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

/** The rows of one run, and the notes printed under them. */
export class Report {
  readonly rows: Row[] = [];
  readonly notes: string[] = [];

  /** A reference row: its figure, no ratio. */
  reference(scenario: string, contender: string, figure: string): void {
    this.rows.push({
      scenario,
      contender,
      figure,
      ratio: "reference",
      target: "",
      met: "",
    });
  }

  /**
   * A row of ours against a reference: `ratios` are per-round ratios (ours
   * / reference), shown as their median with their range; met when the
   * median reaches `min`. With `min` undefined the row is informative.
   */
  compared(
    scenario: string,
    contender: string,
    figure: string,
    ratios: number[],
    min: number | undefined,
    target: string,
  ): void {
    const m = median(ratios);
    const range = ratios.length === 1
      ? ""
      : ` [${fmt(Math.min(...ratios), 2)}–${fmt(Math.max(...ratios), 2)}]`;
    this.rows.push({
      scenario,
      contender,
      figure,
      ratio: `${fmt(m, 2)}×${range}`,
      target,
      met: min === undefined ? "" : m >= min ? "yes" : "**no**",
    });
  }

  /** Any other row. */
  row(row: Row): void {
    this.rows.push(row);
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
  return [
    row.scenario,
    row.contender,
    row.figure,
    row.ratio,
    row.target,
    row.met,
  ];
}
