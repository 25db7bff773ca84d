// The books of one fault run: every scheduled read and every flush as an
// open entry until its first answer (a second answer is a violation), the
// contract violations seen, the errors that escaped to the process, and
// tallies for the report. Not a test file.

/** What a violation is about; each test of fault_test.ts asserts one. */
export type Category =
  | "read" // a scheduled read answered twice, with len 0, or never
  | "flush" // a flush answered twice, synchronously, or never
  | "incomplete" // an upload the server cannot see complete ended cleanly
  | "consumed" // a body consumed through reqd.request did not fail
  | "limit" // maxBodyBytes: no 413, or an error not naming the option
  | "threw" // reportException / requestBody threw
  | "response" // a fault-free exchange did not get exactly its response
  | "liveness"; // the fresh request, or shutdown, did not finish

export interface Violation {
  category: Category;
  index: number; // the exchange, -1 for the run as a whole
  text: string;
}

/** An uncaught error or unhandled rejection, and who was active before it. */
export interface Escape {
  kind: "uncaught error" | "unhandled rejection";
  error: unknown;
  // The exchange whose handler saw the error thrown by a library call, if
  // it did; else the exchanges that acted last before it, latest first.
  suspects: number[];
}

/** A read or flush awaiting its answer. */
export interface Entry {
  readonly index: number;
  readonly kind: "read" | "flush";
  readonly label: string; // e.g. "#17.0 read 2"
  answer: string | null;
  overdue: boolean; // booked as late already
}

const TRAIL = 8;
// Violations and escapes kept in full (per category); the rest are only
// counted, so the books stay small however long the run (and the heap
// check measures the server, not the books).
const KEEP = 20;

export class Ledger {
  readonly violations: Violation[] = []; // the first KEEP of each category
  readonly escapes: Escape[] = []; // the first KEEP
  readonly counts = new Map<Category | "escape", number>(); // all of them
  readonly tally = new Map<string, number>();
  // Entries not answered yet.
  readonly #open = new Set<Entry>();
  // Requests whose upload the server can never see complete (index*4 + r).
  readonly #incomplete = new Set<number>();
  // Requests whose client must get this status (index*4 + r).
  readonly #expected = new Map<number, number>();
  // The exchanges that acted last: a ring, for attributing escapes.
  readonly #trail: number[] = [];
  // Errors a library call threw at a handler, and the exchange.
  readonly #blamed = new WeakMap<object, number>();

  get open(): number {
    return this.#open.size;
  }

  /** Opens an entry for a read or flush that was just scheduled. */
  enter(index: number, kind: Entry["kind"], label: string): Entry {
    const entry: Entry = { index, kind, label, answer: null, overdue: false };
    this.#open.add(entry);
    return entry;
  }

  /** Records `entry`'s answer; a second one is a violation. */
  answer(entry: Entry, how: string): void {
    this.count(`${entry.kind}: ${how}`);
    if (entry.answer === null) {
      entry.answer = how;
      this.#open.delete(entry);
      return;
    }
    this.violate(
      entry.kind,
      entry.index,
      `${entry.label} answered twice: ${entry.answer}, then ${how}`,
    );
  }

  /** Every entry still open is a violation: `${label} ${why}`. */
  overdue(why: string): void {
    for (const entry of this.#open) {
      entry.overdue = true;
      this.violate(entry.kind, entry.index, `${entry.label} ${why}`);
    }
  }

  /** Every entry still open, not booked as overdue, was never answered. */
  closeBooks(): void {
    for (const entry of this.#open) {
      if (!entry.overdue) {
        this.violate(entry.kind, entry.index, `${entry.label} never answered`);
      }
    }
    this.#open.clear();
  }

  /** Exchanges with an entry still open (at most `max`). */
  openExchanges(max = 20): number[] {
    const out = new Set<number>();
    for (const entry of this.#open) {
      if (out.size === max) break;
      out.add(entry.index);
    }
    return [...out];
  }

  violate(category: Category, index: number, text: string): void {
    const n = this.total(category);
    this.counts.set(category, n + 1);
    if (n < KEEP) this.violations.push({ category, index, text });
  }

  total(what: Category | "escape"): number {
    return this.counts.get(what) ?? 0;
  }

  count(what: string): void {
    this.tally.set(what, (this.tally.get(what) ?? 0) + 1);
  }

  markIncomplete(index: number, r: number): void {
    this.#incomplete.add(index * 4 + r);
  }

  isIncomplete(index: number, r: number): boolean {
    return this.#incomplete.has(index * 4 + r);
  }

  expectStatus(index: number, r: number, status: number): void {
    this.#expected.set(index * 4 + r, status);
  }

  hasExpected(index: number, r: number): boolean {
    return this.#expected.has(index * 4 + r);
  }

  /** The status the client of request r must get, if any (forgotten then). */
  takeExpected(index: number, r: number): number | undefined {
    const status = this.#expected.get(index * 4 + r);
    this.#expected.delete(index * 4 + r);
    return status;
  }

  /** Forgets per-request facts that outlive their exchanges. */
  forgetFacts(): void {
    this.#incomplete.clear();
    this.#expected.clear();
  }

  /** Notes that exchange `index` is acting now. */
  touch(index: number): void {
    if (this.#trail[0] === index) return;
    this.#trail.unshift(index);
    if (this.#trail.length > TRAIL) this.#trail.length = TRAIL;
  }

  escaped(kind: Escape["kind"], error: unknown): void {
    const n = this.total("escape");
    this.counts.set("escape", n + 1);
    if (n >= KEEP) return;
    const blamed = typeof error === "object" && error !== null
      ? this.#blamed.get(error)
      : undefined;
    const suspects = blamed === undefined
      ? [...new Set(this.#trail)]
      : [blamed];
    this.escapes.push({ kind, error, suspects });
  }

  /** `error` was thrown at exchange `index` by a library call. */
  blame(error: unknown, index: number): void {
    if (typeof error === "object" && error !== null) {
      this.#blamed.set(error, index);
    }
  }

  of(category: Category): Violation[] {
    return this.violations.filter((v) => v.category === category);
  }
}

/** The class and message of `error`, for messages and tallies. */
export function describe(error: unknown): string {
  return error instanceof Error
    ? `${error.constructor.name}: ${error.message}`
    : `non-error: ${String(error)}`;
}
