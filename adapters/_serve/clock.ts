/**
 * The coarse clock behind `withBody`'s timeouts (one interval per
 * `withBody`) and `request`'s (one for every request of the process),
 * running only while some body waits on its peer. Nothing
 * per read, flush or chunk starts a timer: a body that begins to wait is
 * added to a set (it does that itself, cheaply, at every wait), and each
 * tick asks every body in the set whether it made progress since the last
 * tick. A body that no longer waits leaves the set; an empty set stops the
 * interval.
 *
 * Precision: a body's idle time is counted from the first tick that saw
 * it idle, and checked every `timeout / 8`, so a timeout fires after at
 * least its time and at most a quarter later. Private.
 *
 * @module
 */

import { describe } from "../../_body/check.ts";

/** A body (or a pair of them) that the clock checks. */
export interface Watched {
  /**
   * Checks the timeouts at `now` (a `performance.now()` reading) and
   * expires what ran out; returns whether anything still waits on the
   * client. Must not throw.
   */
  check(now: number): boolean;
}

// The most often the clock ticks, whatever the timeouts (ms).
const MIN_PERIOD = 5;

/** One interval for every timeout of one `withBody`. */
export class Clock {
  readonly #watched = new Set<Watched>();
  #timer: ReturnType<typeof setInterval> | undefined = undefined;
  #period = Infinity; // the interval's period while it runs

  /**
   * Watches `what` until it no longer waits, checking at least every
   * `timeout / 8` ms. Cheap when `what` is watched already.
   */
  watch(what: Watched, timeout: number): void {
    this.#watched.add(what);
    const period = Math.max(MIN_PERIOD, Math.floor(timeout / 8));
    if (this.#timer !== undefined && period >= this.#period) return;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#period = period;
    const timer = (this.#timer = setInterval(this.#tick, period));
    // The clock alone must never keep a process alive.
    Deno.unrefTimer(timer);
  }

  /**
   * Whether the interval runs: something was watched since the last tick
   * that found nothing to watch.
   */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * Forgets `what` (it waits no more). The interval stops at its next
   * tick if nothing else is watched: no timer is started or stopped per
   * wait.
   */
  unwatch(what: Watched): void {
    this.#watched.delete(what);
  }

  #tick = (): void => {
    const now = performance.now();
    for (const what of this.#watched) {
      if (!what.check(now)) this.#watched.delete(what);
    }
    if (this.#watched.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#period = Infinity;
    }
  };
}

/**
 * Validates a timeout option for `caller`: `undefined` (→ `fallback`),
 * `Infinity`, or a positive safe integer of milliseconds.
 */
export function checkTimeout(
  caller: string,
  name: string,
  value: unknown,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(
      `${caller}: ${name} must be a number of milliseconds, received ${
        describe(value)
      }`,
    );
  }
  if (value !== Infinity && !(Number.isSafeInteger(value) && value > 0)) {
    throw new RangeError(
      `${caller}: ${name} must be a positive integer of milliseconds or Infinity, received ${value}`,
    );
  }
  return value;
}

/**
 * The idle time of one side of a request (its body read, or its response
 * taken): whether it waits on the client, and since which tick nothing
 * happened. Its owner calls `wait()` at every wait and `answered()` at
 * every answer — two field writes, no timer. Exported for the adapters
 * that keep timeouts of their own on a {@linkcode Clock} (`request`'s
 * head, read and write timeouts).
 */
export class IdleTimer {
  /** The timeout in ms (`Infinity`: none). */
  timeout: number;
  /** Whether the side waits on the client now. */
  waits = false;
  #events = 0; // bumped at every wait and answer
  #seen = -1; // #events when a tick last saw a change
  #since = 0; // the time of that tick

  constructor(timeout: number) {
    this.timeout = timeout;
  }

  /** The side waits on the client (again). */
  wait(): void {
    this.waits = true;
    this.#events++;
  }

  /** The client answered: the side waits no more. */
  answered(): void {
    this.waits = false;
    this.#events++;
  }

  /** A new timeout, counted from the next tick. */
  restart(timeout: number): void {
    this.timeout = timeout;
    this.#seen = -1;
  }

  /** Whether it has waited `timeout` ms without an event, seen at `now`. */
  expired(now: number): boolean {
    if (!this.waits || this.timeout === Infinity) return false;
    if (this.#events !== this.#seen) {
      this.#seen = this.#events;
      this.#since = now;
      return false;
    }
    return now - this.#since >= this.timeout;
  }
}

/** What a request's deadlines call when one expires. */
export interface Expiry {
  /** A read waited `readTimeout` on the client: `error` names it. */
  readExpired(error: Deno.errors.TimedOut): void;
  /** Output waited `writeTimeout` on the client: `error` names it. */
  writeExpired(error: Deno.errors.TimedOut): void;
}

/**
 * The read and write timeouts of one request, watched by the clock while
 * either side waits on the client.
 */
export class Deadlines implements Watched {
  readonly #clock: Clock;
  readonly #owner: Expiry;
  readonly #read: IdleTimer;
  readonly #write: IdleTimer;

  constructor(
    clock: Clock,
    owner: Expiry,
    readTimeout: number,
    writeTimeout: number,
  ) {
    this.#clock = clock;
    this.#owner = owner;
    this.#read = new IdleTimer(readTimeout);
    this.#write = new IdleTimer(writeTimeout);
  }

  /** The timeouts now in force, in ms. */
  get readTimeout(): number {
    return this.#read.timeout;
  }

  get writeTimeout(): number {
    return this.#write.timeout;
  }

  /** Whether a read waits on the client now. */
  get reading(): boolean {
    return this.#read.waits;
  }

  /** A read waits on the client (again): its timeout runs. */
  readWaits(): void {
    this.#wait(this.#read);
  }

  /** The client answered the read (or the read was given up). */
  readAnswered(): void {
    this.#read.answered();
    this.#forget();
  }

  /** Output waits for the client to take it: its timeout runs. */
  writeWaits(): void {
    this.#wait(this.#write);
  }

  /** The client took the output (or the output ended). */
  writeAnswered(): void {
    this.#write.answered();
    this.#forget();
  }

  /** New timeouts, counted afresh from the next tick. */
  set(readTimeout: number, writeTimeout: number): void {
    this.#read.restart(readTimeout);
    this.#write.restart(writeTimeout);
    if (this.#read.waits) this.#watch(this.#read);
    if (this.#write.waits) this.#watch(this.#write);
  }

  /** Watched: expires what ran out; never throws. */
  check(now: number): boolean {
    const read = this.#read;
    const write = this.#write;
    try {
      if (read.expired(now)) {
        read.answered();
        this.#owner.readExpired(
          timedOut("readTimeout", read.timeout, "sent nothing"),
        );
      }
      if (write.expired(now)) {
        write.answered();
        this.#owner.writeExpired(
          timedOut("writeTimeout", write.timeout, "took no response bytes"),
        );
      }
    } catch (error) {
      console.error("withBody: expiring a timeout failed:", error);
    }
    return read.waits || write.waits;
  }

  #wait(timer: IdleTimer): void {
    timer.wait();
    this.#watch(timer);
  }

  #watch(timer: IdleTimer): void {
    if (timer.timeout !== Infinity) this.#clock.watch(this, timer.timeout);
  }

  // Nothing waits: a finished request must not wait for a tick to be
  // collected, with its buffers.
  #forget(): void {
    if (!this.#read.waits && !this.#write.waits) this.#clock.unwatch(this);
  }
}

function timedOut(
  name: string,
  ms: number,
  what: string,
): Deno.errors.TimedOut {
  return new Deno.errors.TimedOut(
    `withBody: ${name} (${ms} ms) expired: the client ${what} for that long`,
  );
}
