'use strict'
// Seeded random data, so a failing test fails the same way every time.

// mulberry32: a small, fast, well-mixed 32-bit generator.
function rng (seed) {
  let a = seed >>> 0
  return function next () {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Float32Array of n values uniform in [lo, hi). */
function uniform (n, seed, lo = -1, hi = 1) {
  const r = rng(seed)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r()
  return out
}

/** Float32Array of n standard normal values (Box–Muller). */
function normal (n, seed, std = 1) {
  const r = rng(seed)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i += 2) {
    const u = 1 - r(); const v = r()
    const m = Math.sqrt(-2 * Math.log(u)) * std
    out[i] = m * Math.cos(2 * Math.PI * v)
    if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v)
  }
  return out
}

/** A tensor-like { data, shape } of uniform values. */
function rand (shape, seed, lo = -1, hi = 1) {
  const n = shape.reduce((a, b) => a * b, 1)
  return { data: uniform(n, seed, lo, hi), shape }
}

module.exports = { rng, uniform, normal, rand }
