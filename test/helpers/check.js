'use strict'
// Numeric assertions shared by every op's tests.

/**
 * Asserts |actual − expected| ≤ atol + rtol·|expected| element-wise (NaN only matches NaN,
 * ±Infinity only itself) and reports the worst element when it fails.
 */
function assertClose (t, actual, expected, { rtol = 1e-5, atol = 1e-6, label = '' } = {}) {
  const a = actual.data ?? actual
  const e = expected.data ?? expected
  if (a.length !== e.length) {
    t.fail(`${label}: length ${a.length} !== expected ${e.length}`)
    return
  }
  let worst = -1; let worstExcess = 0; let bad = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i]; const y = e[i]
    let excess
    if (Number.isNaN(y) || Number.isNaN(x)) excess = Number.isNaN(x) && Number.isNaN(y) ? 0 : Infinity
    else if (!Number.isFinite(y) || !Number.isFinite(x)) excess = x === y ? 0 : Infinity
    else excess = Math.abs(x - y) - (atol + rtol * Math.abs(y))
    if (excess > 0) {
      bad++
      if (excess > worstExcess) { worstExcess = excess; worst = i }
    }
  }
  if (bad === 0) {
    t.pass(label)
  } else {
    t.fail(`${label}: ${bad}/${a.length} elements off; worst at ${worst}: got ${a[worst]}, expected ${e[worst]} ` +
      `(rtol=${rtol}, atol=${atol})`)
  }
}

/** Asserts two Float32Arrays are identical bit for bit (NaN payloads included). */
function assertBitIdentical (t, a, b, label = '') {
  const x = a.data ?? a; const y = b.data ?? b
  if (x.length !== y.length) return t.fail(`${label}: lengths ${x.length} and ${y.length}`)
  const ux = new Uint32Array(x.buffer, x.byteOffset, x.length)
  const uy = new Uint32Array(y.buffer, y.byteOffset, y.length)
  for (let i = 0; i < ux.length; i++) {
    if (ux[i] !== uy[i]) return t.fail(`${label}: differ at ${i}: ${x[i]} vs ${y[i]}`)
  }
  t.pass(label)
}

/**
 * Finite-difference gradient of a scalar function of a Float64Array, by central
 * differences: grad[i] ≈ (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h. `f` should compute in float64
 * (a reference implementation) so the difference is accurate.
 */
function numericGrad (f, x, h = 1e-4) {
  const xs = Float64Array.from(x)
  const g = new Float64Array(xs.length)
  for (let i = 0; i < xs.length; i++) {
    const keep = xs[i]
    xs[i] = keep + h; const fp = f(xs)
    xs[i] = keep - h; const fm = f(xs)
    xs[i] = keep
    g[i] = (fp - fm) / (2 * h)
  }
  return g
}

/** Σ a[i]·b[i] in float64: the loss L = ⟨dy, y⟩ whose gradient w.r.t. y is dy. */
function dot (a, b) {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i] * b[i]
  return s
}

/** The spacing of float32 numbers at |r| (r a float64): 2^(e−23) for |r| in [2^e, 2^(e+1)), 2^−149 below 2^−126. */
function f32Ulp (r) {
  const a = Math.abs(r)
  if (a < 2 ** -126) return 2 ** -149
  let e = Math.floor(Math.log2(a))
  if (2 ** e > a) e--
  else if (2 ** (e + 1) <= a) e++
  return 2 ** (e - 23)
}

/**
 * Asserts every element is within `maxUlps` float32 ulps of a float64 reference (NaN only
 * matches NaN, ±Infinity only itself; a reference beyond the float32 range must give the
 * same ±Infinity). Reports the worst element.
 */
function assertUlps (t, actual, expected, maxUlps, label = '') {
  const a = actual.data ?? actual
  const e = expected.data ?? expected
  if (a.length !== e.length) return t.fail(`${label}: length ${a.length} !== expected ${e.length}`)
  let worst = -1; let worstUlps = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i]; const y = e[i]
    let u
    if (Number.isNaN(y) || Number.isNaN(x)) u = Number.isNaN(x) && Number.isNaN(y) ? 0 : Infinity
    else if (Math.abs(y) > 3.4028234663852886e38 || !Number.isFinite(x)) u = x === Math.fround(y) ? 0 : Infinity
    else u = Math.abs(x - y) / f32Ulp(y)
    if (u > worstUlps) { worstUlps = u; worst = i }
  }
  if (worstUlps <= maxUlps) t.pass(label)
  else t.fail(`${label}: ${worstUlps.toFixed(2)} ulp at ${worst}: got ${a[worst]}, expected ${e[worst]} (max ${maxUlps} ulp)`)
}

module.exports = { assertClose, assertBitIdentical, numericGrad, dot, f32Ulp, assertUlps }
