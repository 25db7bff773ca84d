// A small seeded PRNG for the fault suite (sfc32, seeded through
// splitmix32). Each exchange draws from its own stream, `Rng.for(seed, i)`,
// so its plan depends only on the seed and its index — never on the order
// in which concurrent exchanges happen to run. Not a test file.

// splitmix32: spreads a 32-bit state into a well-mixed 32-bit value.
function splitmix32(state: number): number {
  let z = (state + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** sfc32: four 32-bit words of state, a period of about 2^127. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = splitmix32(seed);
    this.#b = splitmix32(this.#a);
    this.#c = splitmix32(this.#b);
    this.#d = 1;
    for (let i = 0; i < 12; i++) this.next(); // leave the seeding behind
  }

  /** The stream of exchange `index` of a run seeded with `seed`. */
  static for(seed: number, index: number): Rng {
    return new Rng(splitmix32(seed ^ Math.imul(index + 1, 0x27d4eb2d)));
  }

  /** The next 32-bit unsigned value. */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + (this.next() % (hi - lo + 1));
  }

  /** `true` with probability `p`. */
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  /** A key of `weights`, drawn in proportion to its weight. */
  pick<K extends string>(weights: Readonly<Record<K, number>>): K {
    const keys = Object.keys(weights) as K[];
    const total = keys.reduce((sum, k) => sum + weights[k], 0);
    let x = this.next() % total;
    for (const key of keys) {
      if ((x -= weights[key]) < 0) return key;
    }
    return keys[keys.length - 1]!;
  }
}
