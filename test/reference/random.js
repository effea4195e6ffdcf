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

const STREAM_UNIFORM = 0x756e6966 // "unif"
const STREAM_NORMAL = 0x6e6f726d // "norm"

// Element i = 64·b + 16·j + l takes word j of counter q = 16·b + l (whole blocks: the last
// block's words past n still pair with the elements before n in Box–Muller).
function words (n, seed, stream) {
  const [k0, k1] = seedKey(seed)
  const w = new Array(Math.ceil(n / 64) * 64)
  for (let b = 0; b * 64 < n; b++) {
    for (let l = 0; l < 16; l++) {
      const q = 16 * b + l
      const r = philox4x32(q % 2 ** 32, Math.floor(q / 2 ** 32), 0, stream, k0, k1)
      for (let j = 0; j < 4; j++) w[64 * b + 16 * j + l] = r[j]
    }
  }
  return w
}

/** uniform_'s values: 24 random bits per element, lo + (hi − lo)·u rounded to float32, kept below hi. */
function uniform (n, lo, hi, seed) {
  const below = (() => { const f = new Float32Array([hi]); const u = new Uint32Array(f.buffer); u[0] += hi > 0 ? -1 : 1; return hi === 0 ? -(2 ** -149) : f[0] })()
  return Float32Array.from(words(n, seed, STREAM_UNIFORM).slice(0, n), (w) => {
    const v = Math.fround(lo + (hi - lo) * ((w >>> 8) * 2 ** -24))
    return v < hi ? v : (hi > lo ? below : lo)
  })
}

/** normal_'s values in float64 (Box–Muller in double, as the kernel). */
function normal (n, mean, std, seed) {
  const w = words(n, seed, STREAM_NORMAL)
  const out = new Float64Array(n)
  for (let b = 0; b * 64 < n; b++) {
    for (let pair = 0; pair < 2; pair++) {
      for (let l = 0; l < 16; l++) {
        const k0 = 64 * b + 32 * pair + l; const k1 = k0 + 16
        if (k0 >= n) break
        const u1 = (w[k0] + 1) * 2 ** -32; const u2 = w[k1] * 2 ** -32
        const r = Math.sqrt(-2 * Math.log(u1)); const th = 2 * Math.PI * u2
        out[k0] = mean + std * (r * Math.cos(th))
        if (k1 < n) out[k1] = mean + std * (r * Math.sin(th))
      }
    }
  }
  return out
}

module.exports = { philox4x32, dropoutMask, seedKey, STREAM_DROPOUT, uniform, normal }
