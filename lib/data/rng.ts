// A small seeded PRNG for shuffling and augmentation: xoshiro128** (Blackman & Vigna),
// its state filled from the seed by splitmix32. Not Math.random: a run is repeatable from
// its --seed, on any machine and Node version.

export class Rng {
  #s0 = 0
  #s1 = 0
  #s2 = 0
  #s3 = 0

  /** seed: any integer in [0, 2^32); the same seed gives the same sequence everywhere. */
  constructor (seed = 0) {
    let x = seed >>> 0
    const next = (): number => {
      // splitmix32: spreads a small seed (0, 1, 2…) over the whole state, never all zero.
      x = (x + 0x9e3779b9) >>> 0
      let z = x
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.#s0 = next(); this.#s1 = next(); this.#s2 = next(); this.#s3 = next()
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextU32 (): number {
    const s1 = this.#s1
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0
    const t = s1 << 9
    this.#s2 ^= this.#s0
    this.#s3 ^= this.#s1
    this.#s1 ^= this.#s2
    this.#s0 ^= this.#s3
    this.#s2 ^= t
    this.#s3 = rotl(this.#s3, 11)
    return result
  }

  /** A uniform float in [0, 1). */
  float (): number { return this.nextU32() / 4294967296 }

  /** A uniform integer in [0, n), n ≤ 2^32, without modulo bias (rejection of the short tail). */
  int (n: number): number {
    const limit = 4294967296 - (4294967296 % n)
    let r: number
    do r = this.nextU32(); while (r >= limit)
    return r % n
  }

  /** Fisher–Yates: shuffles `a` in place, uniformly. */
  shuffle (a: Int32Array): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const t = a[i]
      a[i] = a[j]
      a[j] = t
    }
  }
}

function rotl (x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}
