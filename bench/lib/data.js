'use strict'
// Deterministic inputs for the bench suites (and the peer processes they start), so every
// implementation in a row sees the same numbers.

/** n floats in [-0.5, 0.5) from a linear congruential generator seeded by `seed`. */
function rand (n, seed) {
  const a = new Float32Array(n)
  let s = seed
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; a[i] = (s / 2 ** 32) - 0.5 }
  return a
}

module.exports = { rand }
