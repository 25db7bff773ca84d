/**
 * The three timeouts of one `request` — `headersTimeout`, `readTimeout`,
 * `writeTimeout` — on the one coarse clock that every request of the
 * process shares ({@linkcode CLOCK}). Nothing per read, flush or chunk
 * starts a timer: each side marks its own waits with two field writes
 * (`IdleTimer`), and the request is on the clock while one of them waits
 * on the server (and until the next tick after). Private.
 *
 * @module
 */

import { Clock, IdleTimer, type Watched } from "../_serve/clock.ts";

/** The clock of every request: one interval, running only while one waits. */
export const CLOCK: Clock = new Clock();

/** The name of a timeout option. */
export type TimeoutName = "headersTimeout" | "readTimeout" | "writeTimeout";

/** What a request's timers call when one expires. */
export interface OnExpiry {
  /** `name` ran out: `error` is a `Deno.errors.TimedOut` naming it. */
  expired(name: TimeoutName, error: Deno.errors.TimedOut): void;
}

// What each side waited for, in an expiry's message.
const WAITED: Record<TimeoutName, string> = {
  headersTimeout: "no response head arrived",
  readTimeout: "the server sent no response bytes",
  writeTimeout: "the server took no upload bytes",
};

/** The head, read and write timeouts of one request. */
export class Timers implements Watched {
  readonly #owner: OnExpiry;
  readonly #head: IdleTimer;
  readonly #read: IdleTimer;
  readonly #write: IdleTimer;
  // The shortest timeout the clock was asked to check this request for
  // since it last put it on its set; Infinity while off the clock.
  #watching = Infinity;

  constructor(
    owner: OnExpiry,
    headersTimeout: number,
    readTimeout: number,
    writeTimeout: number,
  ) {
    this.#owner = owner;
    this.#head = new IdleTimer(headersTimeout);
    this.#read = new IdleTimer(readTimeout);
    this.#write = new IdleTimer(writeTimeout);
  }

  /** The request went out: its head timeout runs until the response head. */
  headWaits(): void {
    this.#wait(this.#head);
  }

  /** The response head arrived (or the request failed first). */
  headAnswered(): void {
    this.#answered(this.#head);
  }

  /** A response read waits on the network (again). */
  readWaits(): void {
    this.#wait(this.#read);
  }

  /** The network answered the read, or the body ended. */
  readAnswered(): void {
    this.#answered(this.#read);
  }

  /** Upload output waits for `fetch` to take it. */
  writeWaits(): void {
    this.#wait(this.#write);
  }

  /** `fetch` took the output, or the upload ended. */
  writeAnswered(): void {
    this.#answered(this.#write);
  }

  /** The request is over: it leaves the clock now, with its buffers. */
  stop(): void {
    this.#head.answered();
    this.#read.answered();
    this.#write.answered();
    this.#watching = Infinity;
    CLOCK.unwatch(this);
  }

  /** Watched: expires what ran out; never throws. */
  check(now: number): boolean {
    try {
      this.#expire("headersTimeout", this.#head, now);
      this.#expire("readTimeout", this.#read, now);
      this.#expire("writeTimeout", this.#write, now);
    } catch (error) {
      // The owner's expiry never throws by design; if it did, a timer
      // callback must still not: log it.
      console.error("request: expiring a timeout failed:", error);
    }
    const waits = this.#head.waits || this.#read.waits || this.#write.waits;
    if (!waits) this.#watching = Infinity; // the clock drops us now
    return waits;
  }

  #expire(name: TimeoutName, timer: IdleTimer, now: number): void {
    if (!timer.expired(now)) return;
    timer.answered();
    this.#owner.expired(
      name,
      new Deno.errors.TimedOut(
        `request: ${name} (${timer.timeout} ms) expired: ${
          WAITED[name]
        } for that long`,
      ),
    );
  }

  // The hot path (a wait per chunk): the clock is told only when this
  // request is not on it yet, or waits with a shorter timeout than it was
  // put there for; two comparisons otherwise.
  #wait(timer: IdleTimer): void {
    timer.wait();
    const timeout = timer.timeout;
    if (timeout < this.#watching) {
      this.#watching = timeout;
      CLOCK.watch(this, timeout);
    }
  }

  // An answer leaves the request on the clock: the next wait (the next
  // chunk's, mostly) follows at once, and a request nothing waits on is
  // dropped at the next tick (`check`), or at once when it ends (`stop`).
  #answered(timer: IdleTimer): void {
    timer.answered();
  }
}
