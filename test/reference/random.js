'use strict'
// Philox4x32-10 (Salmon et al., SC'11) in plain JS, and the dropout mask foveal derives
// from it (native/core/rng.h, native/cpu/dropout/dropout.h), for bit-exact checks.

const M0 = 0xD2511F53; const M1 = 0xCD9E8D57
const W0 = 0x9E3779B9; const W1 = 0xBB67AE85

// The high 32 bits of a·b for uint32 a, b (exact: 16-bit halves).
function mulhi (a, b) {
  const aH = a >>> 16; const aL = a & 0xffff; const bH = b >>> 16; const bL = b & 0xffff
  const ll = aL * bL; const lh = aL * bH; const hl = aH * bL; const hh = aH * bH
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff)
  return (hh + Math.floor(lh / 65536) + Math.floor(hl / 65536) + Math.floor(mid / 65536)) >>> 0
}

/** The four 32-bit words of Philox4x32-10 for counter (c0..c3) and key (k0, k1). */
function philox4x32 (c0, c1, c2, c3, k0, k1) {
  c0 >>>= 0; c1 >>>= 0; c2 >>>= 0; c3 >>>= 0; k0 >>>= 0; k1 >>>= 0
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(M0, c0); const lo0 = Math.imul(M0, c0) >>> 0
    const hi1 = mulhi(M1, c2); const lo1 = Math.imul(M1, c2) >>> 0
    const n0 = (hi1 ^ c1 ^ k0) >>> 0; const n2 = (hi0 ^ c3 ^ k1) >>> 0
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0
    k0 = (k0 + W0) >>> 0; k1 = (k1 + W1) >>> 0
  }
  return [c0, c1, c2, c3]
}

const STREAM_DROPOUT = 0x64726f70 // "drop"

/** The 64-bit key of a seed (a non-negative safe integer): [low 32 bits, high bits]. */
function seedKey (seed) { return [seed % 2 ** 32, Math.floor(seed / 2 ** 32)] }

/** Uint8Array of keep flags for elements [0, n) (optionally starting at element `from`). */
function dropoutMask (n, p, seed, from = 0) {
  const [k0, k1] = seedKey(seed)
  const threshold = Math.min(2 ** 24, Math.max(0, Math.ceil(p * 2 ** 24)))
  const keep = new Uint8Array(n)
  let words = null; let q = -1
  for (let i = 0; i < n; i++) {
    const e = from + i
    const qe = Math.floor(e / 4)
    if (qe !== q) { q = qe; words = philox4x32(q % 2 ** 32, Math.floor(q / 2 ** 32), 0, STREAM_DROPOUT, k0, k1) }
    keep[i] = (words[e % 4] >>> 8) >= threshold ? 1 : 0
  }
  return keep
}

module.exports = { philox4x32, dropoutMask, seedKey, STREAM_DROPOUT }
