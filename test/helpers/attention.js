'use strict'
// Shared set-up of the attention tests: a case is { B, Hq, Hkv, Lq, Lk, D, Dv, opts }.
const { rand } = require('./random')

/** 'q=[2,4,129,16] k=[2,2,129,16] v=[2,2,129,16] causal topK=3' */
function caseName (c) {
  const o = c.opts || {}
  const parts = []
  for (const [key, val] of Object.entries(o)) {
    if (val === undefined || val === false) continue
    if (key === 'mask') parts.push(`mask=[${val.shape.join(',')}]`)
    else if (key === 'keyLengths') parts.push(`keyLengths=[${Array.from(val).join(',')}]`)
    else if (val === true) parts.push(key)
    else if (Array.isArray(val)) parts.push(`${key}=[${val.join(',')}]`)
    else parts.push(`${key}=${val}`)
  }
  return `q=[${c.B},${c.Hq},${c.Lq},${c.D}] k=[${c.B},${c.Hkv},${c.Lk},${c.D}] v=[${c.B},${c.Hkv},${c.Lk},${c.Dv}]` +
    (parts.length ? ' ' + parts.join(' ') : '')
}

/** Seeded q, k, v, dOut for a case; dims for the reference. */
function inputs (c, seed = 1) {
  return {
    q: rand([c.B, c.Hq, c.Lq, c.D], seed),
    k: rand([c.B, c.Hkv, c.Lk, c.D], seed + 1),
    v: rand([c.B, c.Hkv, c.Lk, c.Dv], seed + 2),
    dOut: rand([c.B, c.Hq, c.Lq, c.Dv], seed + 3),
    dims: { B: c.B, Hq: c.Hq, Hkv: c.Hkv, Lq: c.Lq, Lk: c.Lk, D: c.D, Dv: c.Dv }
  }
}

/** A mask tensor of `shape` with uniform values in [-2, 2) and a few −Infinity entries. */
function maskOf (shape, seed, holes = 0.1) {
  const m = rand(shape, seed, -2, 2)
  const r = rand([m.data.length], seed + 100, 0, 1).data
  for (let i = 0; i < m.data.length; i++) if (r[i] < holes) m.data[i] = -Infinity
  return m
}

/** True when no element is NaN. */
function noNaN (a) {
  for (let i = 0; i < a.length; i++) if (Number.isNaN(a[i])) return false
  return true
}

// Lengths: 1, 7, 129 (odd, past two tiles), Lq ≠ Lk both ways, and pairs at the kernels'
// tile edges (48 query rows, 64 keys per block).
const LENGTHS = [[1, 1], [7, 7], [129, 129], [7, 129], [129, 7], [48, 64], [49, 65], [97, 128]]

/** Options for lengths (Lq, Lk), B=2, Hq=4 — each one alone, then all of them at once. */
function optionGrid (B, Hq, Lq, Lk) {
  return [
    {},
    { causal: true },
    { window: [3, 2] },
    { window: [0, 0] },
    { window: [-1, 5] },
    { window: [6, -1], causal: true },
    { scale: 0.3 },
    { mask: maskOf([Lq, Lk], 11) },
    { mask: maskOf([B, 1, Lq, Lk], 12) },
    { mask: maskOf([B, Hq, Lq, Lk], 13) },
    { mask: maskOf([B, 1, 1, Lk], 14) },
    { mask: maskOf([Lq, 1], 15, 0) },
    { keyLengths: Int32Array.from([Lk, Lk >> 1]) },
    { keyLengths: Int32Array.from([0, 1]) },
    { dropout: 0.25, seed: 42 },
    { topK: 1 },
    { topK: Math.min(3, Lk) },
    {
      causal: true,
      window: [40, -1],
      mask: maskOf([B, 1, Lq, Lk], 16),
      keyLengths: Int32Array.from([Lk, Math.max(1, Lk - 5)]),
      topK: Math.min(5, Lk),
      dropout: 0.1,
      seed: 3
    }
  ]
}

/** The exhaustive grid: every length pair × every option, with GQA (Hq=4, Hkv=2), D ≠ Dv. */
function grid () {
  const cases = []
  const seen = new Set() // at Lq = Lk = 1 some mask shapes coincide
  for (const [Lq, Lk] of LENGTHS) {
    for (const opts of optionGrid(2, 4, Lq, Lk)) {
      const c = { B: 2, Hq: 4, Hkv: 2, Lq, Lk, D: 16, Dv: 24, opts }
      if (!seen.has(caseName(c))) cases.push(c)
      seen.add(caseName(c))
    }
  }
  // Head layouts: multi-query, one kv head per query head.
  cases.push({ B: 2, Hq: 3, Hkv: 1, Lq: 65, Lk: 70, D: 8, Dv: 8, opts: { causal: true } })
  cases.push({ B: 1, Hq: 2, Hkv: 2, Lq: 65, Lk: 70, D: 8, Dv: 8, opts: { mask: maskOf([1, 2, 65, 70], 17) } })
  return cases
}

/** Every head dim from 1 to 256 the contract names, the fast ones (32, 64, 80, 96, 128) included. */
const HEAD_DIMS = [[1, 1], [8, 8], [17, 5], [32, 32], [32, 64], [64, 64], [80, 80], [96, 96], [128, 128], [256, 256]]

module.exports = { caseName, inputs, maskOf, noNaN, grid, HEAD_DIMS }
