'use strict'
// What the property fuzzers feed the ops: tensor data drawn from a named profile and a
// seed (so a counterexample prints as a few numbers and reproduces exactly, and
// fast-check shrinks shapes and options rather than thousands of floats), and the
// arbitraries for small shapes with zero-size and odd dimensions.
const fc = require('fast-check')
const { rng } = require('../helpers/random')

// Profiles. The first four are finite and are compared with the float64 references
// within tolerance; 'special' mixes in NaN, ±Infinity and values near the float32 limit,
// where only the documented behaviour is asserted (no crash, the right shape, NaN where
// the reference has NaN).
const FINITE = ['normal', 'wide', 'tiny', 'ints']
const PROFILES = [...FINITE, 'special']

const SUBNORMALS = [2 ** -149, 3 * 2 ** -149, 2 ** -140, 2 ** -127, 1.1754942e-38 - 2 ** -149]

function sample (r, kind) {
  const u = r()
  switch (kind) {
    case 'normal': return 4 * u - 2
    case 'wide': return (r() < 0.5 ? -1 : 1) * 2 ** (-20 + 24 * u)  // 1e-6 … 16
    case 'tiny':
      if (u < 0.25) return (r() < 0.5 ? -1 : 1) * SUBNORMALS[Math.floor(r() * SUBNORMALS.length)]
      if (u < 0.4) return r() < 0.5 ? 0 : -0
      return 4 * r() - 2
    case 'ints': return Math.floor(7 * u) - 3  // ties everywhere: max/topK tie-breaking
    case 'special':
      if (u < 0.06) return NaN
      if (u < 0.12) return Infinity
      if (u < 0.18) return -Infinity
      if (u < 0.22) return (r() < 0.5 ? -1 : 1) * 3e38
      if (u < 0.26) return r() < 0.5 ? 0 : -0
      if (u < 0.3) return (r() < 0.5 ? -1 : 1) * SUBNORMALS[Math.floor(r() * SUBNORMALS.length)]
      return 4 * r() - 2
    default: throw new Error(`unknown value profile ${kind}`)
  }
}

/** n float32 values of profile `kind` from `seed`. */
function data (n, kind, seed) {
  const r = rng(seed)
  const a = new Float32Array(n)
  for (let i = 0; i < n; i++) a[i] = sample(r, kind)
  return a
}

/** n values uniform in [lo, hi) (targets, variances, weights that must be in range). */
function between (n, lo, hi, seed) {
  const r = rng(seed)
  const a = new Float32Array(n)
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r()
  return a
}

const size = (shape) => shape.reduce((a, b) => a * b, 1)

/**
 * How a tensor argument is handed over: { data, shape }, onnxruntime's { data, dims },
 * an fv.Tensor, a view into the middle of a larger buffer at an odd element offset, or
 * a Float32Array over a SharedArrayBuffer.
 */
const FORMS = ['shape', 'dims', 'tensor', 'view', 'shared']

function tensorOf (fv, values, shape, form = 'shape') {
  switch (form) {
    case 'dims': return { data: values, dims: shape }
    case 'tensor': return fv.tensor(values, shape)
    case 'view': {
      const big = new Float32Array(values.length + 7)
      big.fill(NaN)  // a kernel that reads outside its view reads NaN
      const v = big.subarray(3, 3 + values.length)
      v.set(values)
      return { data: v, shape }
    }
    case 'shared': {
      const v = new Float32Array(new SharedArrayBuffer(4 * values.length))
      v.set(values)
      return { data: v, shape }
    }
    default: return { data: values, shape }
  }
}

/** A dimension: mostly small, sometimes 0, sometimes odd and past a vector width. */
function dim ({ min = 0, max = 6, zero = true } = {}) {
  const lo = zero ? min : Math.max(min, 1)
  return fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: Math.max(lo, 1), max }) },
    { weight: zero && lo === 0 ? 1 : 0, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.constantFrom(...[17, 33].filter((d) => d >= lo)) }
  )
}

const profile = fc.constantFrom(...PROFILES)
const seed = fc.integer({ min: 1, max: 2 ** 31 - 1 })
const form = fc.constantFrom(...FORMS)

module.exports = { FINITE, PROFILES, FORMS, data, between, size, tensorOf, dim, profile, seed, form, sample }
