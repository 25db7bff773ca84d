// A raw TCP connection for the fault suite's clients: a read loop that
// collects what arrives (up to a bound), writes that report failure rather
// than throw, and bounded waits on what was received. Not a test file.
import { parseResponse, type RawResponse } from "../_harness/raw_http.ts";

/** How a wait on a connection ended. */
export type Outcome = "done" | "eof" | "error" | "closed" | "timeout";

const KEEP = 1 << 20; // received bytes kept; the rest is counted, not stored

/** One TCP connection: a read loop collects what arrives, `wait` watches it. */
export class Conn {
  readonly #conn: Deno.TcpConn;
  #data = new Uint8Array(4096); // received: #data[0, #length)
  #length = 0;
  #state: "open" | Exclude<Outcome, "done" | "timeout"> = "open";
  #waiter: (() => void) | null = null;
  readonly reading: Promise<void>;

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.reading = this.#readLoop();
  }

  get received(): Uint8Array {
    return this.#data.subarray(0, this.#length);
  }

  async #readLoop(): Promise<void> {
    const scratch = new Uint8Array(16384);
    for (let i = 0; i < 100_000 && this.#state === "open"; i++) {
      let n: number | null;
      try {
        n = await this.#conn.read(scratch);
      } catch {
        // Reset by the server, or closed by us: the state says which.
        if (this.#state === "open") this.#state = "error";
        break;
      }
      if (n === null) {
        if (this.#state === "open") this.#state = "eof";
        break;
      }
      this.#keep(scratch.subarray(0, n));
      this.#waiter?.();
    }
    this.#waiter?.();
  }

  #keep(bytes: Uint8Array): void {
    const room = Math.min(bytes.length, KEEP - this.#length);
    if (this.#length + room > this.#data.length) {
      const grown = new Uint8Array(Math.min(KEEP, 2 * (this.#length + room)));
      grown.set(this.received);
      this.#data = grown;
    }
    this.#data.set(bytes.subarray(0, room), this.#length);
    this.#length += room;
  }

  /** Writes all of `bytes`; false if the connection failed first. */
  async send(bytes: Uint8Array): Promise<boolean> {
    try {
      for (let off = 0, i = 0; off < bytes.length && i < 10_000; i++) {
        off += await this.#conn.write(bytes.subarray(off));
      }
      return true;
    } catch {
      // The server closed or reset the connection (after a 413, a
      // malformed body...), or we did: the exchange's outcome says which.
      return false;
    }
  }

  async closeWrite(): Promise<boolean> {
    try {
      await this.#conn.closeWrite();
      return true;
    } catch {
      // Already reset by the server: the read loop sees it too.
      return false;
    }
  }

  /** Until `done(received)`, the end of the connection, or `ms`. */
  wait(done: (data: Uint8Array) => boolean, ms: number): Promise<Outcome> {
    return new Promise((resolve) => {
      const finish = (outcome: Outcome) => {
        clearTimeout(timer);
        this.#waiter = null;
        resolve(outcome);
      };
      const timer = setTimeout(() => finish("timeout"), ms);
      this.#waiter = () => {
        if (done(this.received)) finish("done");
        else if (this.#state !== "open") finish(this.#state);
      };
      this.#waiter();
    });
  }

  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#conn.close();
    this.#waiter?.();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The complete responses at the start of `data`, in order. */
export function responses(data: Uint8Array, max: number): RawResponse[] {
  const out: RawResponse[] = [];
  for (let at = 0; out.length < max;) {
    const response = parseResponse(data.subarray(at));
    if (response === null || !response.complete) break;
    out.push(response);
    at += response.size;
  }
  return out;
}
