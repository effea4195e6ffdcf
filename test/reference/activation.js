'use strict'
// Plain float64 references for the activations and their derivatives.

// erf / erfc to ~1e-15 relative: the Maclaurin series below 2, a continued fraction (for
// erfc, so the far tail keeps its relative precision) above.
function erfSeries (z) {
  let term = z; let sum = z
  for (let n = 1; n < 200; n++) {
    term *= -z * z / n
    const add = term / (2 * n + 1)
    sum += add
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break
  }
  return sum * 2 / Math.sqrt(Math.PI)
}

function erfcCf (z) {
  // erfc z = e^{−z²}/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + 2/(z + …))))), z > 0
  let f = z
  for (let k = 300; k >= 1; k--) f = z + (k / 2) / f
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / f
}

function erfc (z) {
  if (Number.isNaN(z)) return NaN
  if (z < 0) return 2 - erfc(-z)
  return z < 2 ? 1 - erfSeries(z) : erfcCf(z)
}

/** Φ(x), the standard normal CDF, with full relative precision in the lower tail. */
function ncdf (x) {
  if (Number.isNaN(x)) return NaN
  return 0.5 * erfc(-x / Math.SQRT2)
}

function npdf (x) { return Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI) }

function sigmoid1 (x) {
  if (Number.isNaN(x)) return NaN
  return x < 0 ? Math.exp(x) / (1 + Math.exp(x)) : 1 / (1 + Math.exp(-x))
}

const K = Math.sqrt(2 / Math.PI)
const C = 0.044715

// x·p with p ∈ [0,1]: a zero p gives a signed zero (gelu(−∞) = −0, the limit).
function timesProb (x, p) { return p === 0 ? (x < 0 || Object.is(x, -0) ? -0 : 0) : x * p }

const forward = {
  relu: (x) => (Number.isNaN(x) ? NaN : Math.max(x, 0)),
  gelu: (x) => timesProb(x, ncdf(x)),
  geluTanh: (x) => timesProb(x, sigmoid1(2 * K * (x + C * x * x * x))),
  sigmoid: sigmoid1,
  tanh: Math.tanh
}

// f'(x), as a function of the input.
const derivative = {
  relu: (x) => (x <= 0 ? 0 : 1),
  gelu: (x) => {
    if (!Number.isFinite(x)) return Number.isNaN(x) ? NaN : (x > 0 ? 1 : 0)
    return ncdf(x) + x * npdf(x)
  },
  geluTanh: (x) => {
    if (!Number.isFinite(x)) return Number.isNaN(x) ? NaN : (x > 0 ? 1 : 0)
    const z = 2 * K * (x + C * x * x * x)
    const s = sigmoid1(z); const sc = sigmoid1(-z)
    const ssc = s * sc
    return s + (ssc === 0 ? 0 : x * ssc * 2 * K * (1 + 3 * C * x * x))
  },
  sigmoid: (x) => sigmoid1(x) * sigmoid1(-x),
  tanh: (x) => 1 - Math.tanh(x) ** 2
}

function map (f, a) {
  const out = new Float64Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = f(a[i])
  return out
}

/** y = f(x) for the activation named `name` (relu, gelu, geluTanh, sigmoid, tanh). */
function activation (name, x) { return map(forward[name], x) }

/** dx = dy·f'(x) from the input x. */
function activationBackward (name, dy, x) {
  const out = new Float64Array(x.length)
  for (let i = 0; i < x.length; i++) out[i] = dy[i] * derivative[name](x[i])
  return out
}

module.exports = { activation, activationBackward, ncdf, erfc, sigmoid: sigmoid1 }
