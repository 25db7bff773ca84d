// Timers of the fault suite's handlers, counted so that a run can wait
// until none is left (and the test ends with no timer pending). Not a test
// file.

/** The handler's timers, counted so a run can wait until none is left. */
export class Timers {
  #live = 0;

  get live(): number {
    return this.#live;
  }

  after(ms: number, fn: () => void): void {
    this.#live++;
    setTimeout(() => {
      this.#live--;
      fn();
    }, ms);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }
}
