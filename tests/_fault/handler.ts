// The seeded random handler of the fault suite: per request it follows the
// HandlerPlan of its exchange (read all, some or none; respond whole,
// streaming or not at all; throw, reject and report at random points) and
// books every scheduled read and every flush in the Ledger, checking what
// can be checked at once. Not a test file.
import type { Body, FlushResult, Reqd } from "../../mod.ts";
import type { BodyHandler } from "../../adapters/serve.ts";
import { describe, type Entry, type Ledger } from "./ledger.ts";
import { type HandlerPlan, planExchange, type Report } from "./plan.ts";
import { parsePath, responseChunks } from "./wire.ts";
import type { Timers } from "./timers.ts";
import { concat } from "../_harness/util.ts";

const decoder = new TextDecoder();

/** A deliberate failure of the random handler. */
export class FaultError extends Error {
  override name = "FaultError";
}

export interface HandlerContext {
  seed: number;
  ledger: Ledger;
  timers: Timers;
  signal: AbortSignal; // withBody's: the run's shutdown
}

/** The fault-run handler; `/fresh` answers `200 fresh`. */
export function faultHandler(context: HandlerContext): BodyHandler {
  return (reqd) => {
    const id = parsePath(reqd.request.url);
    if (id === null) return reqd.respondWithString({ status: 200 }, "fresh\n");
    const [index, r] = id;
    const plan = planExchange(context.seed, index).handlers[r]!;
    return new Scenario(context, reqd, index, r, plan).start();
  };
}

// One request: the plan played against one Reqd.
class Scenario {
  readonly #context: HandlerContext;
  readonly #reqd: Reqd;
  readonly #index: number;
  readonly #r: number;
  readonly #plan: HandlerPlan;
  // "waiting": no response chosen by us yet; "responded": we chose one
  // (withBody may still have answered first, e.g. 500 after a report).
  #state: "waiting" | "responded" = "waiting";
  #faulted = false; // a throw or report happened: no 413 can be promised
  #late = false; // reads started after the response: no faults in them
  #reads = 0; // onRead calls
  #scheduled = 0; // reads scheduled
  #flushes = 0;
  #touchedStopped = false; // requestBody first touched after the shutdown began
  #output: Body<"write"> | null = null;
  #responded = Promise.withResolvers<void>();

  constructor(
    context: HandlerContext,
    reqd: Reqd,
    index: number,
    r: number,
    plan: HandlerPlan,
  ) {
    this.#context = context;
    this.#reqd = reqd;
    this.#index = index;
    this.#r = r;
    this.#plan = plan;
  }

  get #label(): string {
    return `#${this.#index}.${this.#r}`;
  }

  start(): void | Promise<void> {
    const { consume, fault } = this.#plan;
    this.#context.ledger.touch(this.#index);
    if (consume || fault === "reject" || fault === "rejectAfterRespond") {
      return this.#startAsync();
    }
    this.#begin();
  }

  async #startAsync(): Promise<void> {
    const { consume, fault, faultDelay } = this.#plan;
    if (consume) {
      try {
        await this.#reqd.request.text();
      } catch {
        // A truncated upload rejects text(); the requestBody read that
        // follows must still report the consumed body, which is checked.
      }
    }
    this.#begin();
    if (fault === "rejectAfterRespond") await this.#responded.promise;
    if (fault === "reject" || fault === "rejectAfterRespond") {
      await this.#context.timers.sleep(faultDelay);
      this.#fault(fault);
    }
  }

  #begin(): void {
    const plan = this.#plan;
    for (const report of plan.reports) {
      if (report.at === "timer") {
        this.#after(report.delay, () => this.#report(report, "timer"));
      }
    }
    if (plan.at === "timer") this.#after(plan.delay, () => this.#respond());
    if (plan.at === "start") this.#respond();
    if (plan.read !== "none" || plan.consume) this.#scheduleRead();
    if (plan.fault === "sync") this.#fault("sync");
  }

  #after(ms: number, fn: () => void): void {
    this.#context.timers.after(ms, () => {
      this.#context.ledger.touch(this.#index);
      fn();
    });
  }

  // ------------------------------------------------------------------
  // Reading
  // ------------------------------------------------------------------

  #scheduleRead(): void {
    if (this.#scheduled === 0) {
      this.#touchedStopped = this.#context.signal.aborted;
    }
    const body = this.#must("requestBody", () => this.#reqd.requestBody);
    const entry = this.#context.ledger.enter(
      this.#index,
      "read",
      `${this.#label} read ${++this.#scheduled}`,
    );
    body.scheduleRead({
      onRead: (_buffer, _off, len) => this.#onRead(entry, len),
      onEof: (error?: unknown) => this.#onEof(entry, error),
    });
  }

  #onRead(entry: Entry, len: number): void {
    const { ledger } = this.#context;
    ledger.touch(this.#index);
    ledger.answer(entry, len > 0 ? "onRead" : "onRead(len 0)");
    if (len <= 0) {
      ledger.violate("read", this.#index, `${entry.label}: len ${len}`);
    }
    if (this.#late) return this.#scheduleRead(); // drain what is left
    const plan = this.#plan;
    const n = ++this.#reads;
    if (n === 1) this.#reportsAt("onRead");
    if (plan.at === "read" && n === plan.atRead) this.#respond();
    const more = plan.read === "all" ||
      (plan.read === "some" && n < plan.reads);
    if (n === plan.faultAt && plan.fault === "onReadScheduled") {
      if (more) this.#scheduleRead(); // must not be stranded by the throw
      this.#fault("onRead");
    }
    if (n === plan.faultAt && plan.fault === "onRead") this.#fault("onRead");
    if (more) this.#scheduleRead();
  }

  #onEof(entry: Entry, error: unknown): void {
    const { ledger } = this.#context;
    ledger.touch(this.#index);
    ledger.answer(entry, error === undefined ? "onEof()" : "onEof(error)");
    this.#checkEof(entry, error);
    if (this.#late) return;
    this.#reportsAt("onEof");
    if (this.#plan.fault === "onEof") this.#fault("onEof");
    if (error !== undefined && this.#plan.reportEofErrors) {
      this.#limitExpectation(error);
      this.#must("reportException", () => this.#reqd.reportException(error));
    } else if (error !== undefined || this.#plan.at !== "timer") {
      this.#respond();
    }
  }

  // What an EOF must be, whatever the handler does next.
  #checkEof(entry: Entry, error: unknown): void {
    const { ledger } = this.#context;
    const where = entry.label;
    if (error === undefined && ledger.isIncomplete(this.#index, this.#r)) {
      ledger.violate("incomplete", this.#index, `${where}: a clean onEof()`);
    }
    // A consumed body says so; touched after the shutdown began, its
    // reason will do.
    const late = this.#touchedStopped && error === this.#context.signal.reason;
    if (this.#plan.consume && this.#scheduled === 1 && !late) {
      if (!(error instanceof TypeError)) {
        ledger.violate(
          "consumed",
          this.#index,
          `${where}: a body consumed by request.text() answered ${
            error === undefined ? "onEof()" : `onEof(${describe(error)})`
          }, not onEof(TypeError)`,
        );
      }
    }
    if (error instanceof RangeError && !/maxBodyBytes/.test(error.message)) {
      ledger.violate(
        "limit",
        this.#index,
        `${where}: the limit's error does not name maxBodyBytes: ${
          describe(error)
        }`,
      );
    }
  }

  // The README read loop reporting the limit's RangeError before any
  // response must get its client a 413.
  #limitExpectation(error: unknown): void {
    if (!(error instanceof RangeError) || this.#plan.consume) return;
    if (this.#state === "waiting" && !this.#faulted) {
      this.#context.ledger.expectStatus(this.#index, this.#r, 413);
    }
  }

  // ------------------------------------------------------------------
  // Responding
  // ------------------------------------------------------------------

  #respond(): void {
    const plan = this.#plan;
    if (this.#state !== "waiting" || plan.respond === "none") return;
    this.#state = "responded";
    const chunks = responseChunks(this.#index, this.#r, plan);
    try {
      if (plan.respond === "string") {
        const text = decoder.decode(concat(chunks));
        this.#reqd.respondWithString({ status: 200 }, text);
      } else if (plan.respond === "bigstring") {
        this.#reqd.respondWithBigstring({ status: 200 }, concat(chunks));
      } else {
        this.#output = this.#reqd.respondWithStreaming({ status: 200 });
      }
    } catch (error) {
      // A fault answered first (500, 413, 503): there is nothing to send.
      if (!String(error).includes("response already started")) throw error;
      this.#context.ledger.count("respond: already answered");
      return;
    }
    this.#afterRespond();
    if (this.#output !== null) this.#write(chunks, 0);
  }

  #afterRespond(): void {
    this.#responded.resolve();
    for (const report of this.#plan.reports) {
      if (report.at === "afterRespond") {
        this.#after(report.delay, () => this.#report(report, "afterRespond"));
      }
    }
    if (this.#plan.touchLate >= 0) {
      this.#after(this.#plan.touchLate, () => {
        this.#late = true; // first touch of requestBody, after the response
        this.#scheduleRead();
      });
    }
  }

  // Writes chunk k, then flushes; the next chunk waits for "written".
  #write(chunks: Uint8Array[], k: number): void {
    const output = this.#output!;
    if (output.isClosed()) return this.#lastFlush(); // aborted, or the client left
    if (k === chunks.length) {
      if (this.#plan.respond === "streaming") output.closeWriter();
      return this.#lastFlush();
    }
    const chunk = chunks[k]!;
    if (k % 3 === 0) output.writeString(decoder.decode(chunk));
    else if (k % 3 === 1) output.writeBigstring(chunk);
    else output.scheduleBigstring(chunk.slice()); // handed over for good
    this.#flush((result) => this.#onFlush(result, chunks, k));
  }

  // A flush of a closed body (or of an open one with nothing new) is
  // answered too: once, and not inside flush().
  #lastFlush(): void {
    if (this.#plan.lateFlush) this.#flush(() => {});
  }

  #flush(then: (result: FlushResult) => void): void {
    const { ledger } = this.#context;
    const entry = ledger.enter(
      this.#index,
      "flush",
      `${this.#label} flush ${++this.#flushes}`,
    );
    let inside = true;
    this.#output!.flush((result) => {
      ledger.touch(this.#index);
      ledger.answer(entry, result);
      if (inside) {
        ledger.violate(
          "flush",
          this.#index,
          `${entry.label}: answered inside flush()`,
        );
      }
      then(result);
    });
    inside = false;
  }

  #onFlush(result: FlushResult, chunks: Uint8Array[], k: number): void {
    if (k === 0) this.#reportsAt("flush");
    if (this.#plan.fault === "flush" && k + 1 === this.#plan.faultAt) {
      this.#fault("flush");
    }
    if (result === "written") this.#write(chunks, k + 1);
    else this.#lastFlush();
  }

  // ------------------------------------------------------------------
  // Faults
  // ------------------------------------------------------------------

  #reportsAt(at: Report["at"]): void {
    for (const report of this.#plan.reports) {
      if (report.at === at) this.#report(report, at);
    }
  }

  #report(report: Report, where: string): void {
    this.#faulted = true;
    const error = new FaultError(`${this.#label}: reported in ${where}`);
    this.#must("reportException", () => this.#reqd.reportException(error));
    if (report.twice) {
      this.#must("reportException", () => this.#reqd.reportException(error));
    }
  }

  #fault(where: string): never {
    this.#faulted = true;
    this.#context.ledger.touch(this.#index);
    throw new FaultError(`${this.#label}: thrown in ${where}`);
  }

  // A library call that must never throw: a throw is booked, then let go
  // on its way, as it would in a server (where it escapes is asserted).
  #must<T>(call: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      this.#context.ledger.blame(error, this.#index);
      this.#context.ledger.violate(
        "threw",
        this.#index,
        `${this.#label}: reqd.${call} threw ${describe(error)}`,
      );
      throw error;
    }
  }
}
