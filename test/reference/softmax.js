'use strict'
// Plain float64 references for softmax / logSoftmax along an axis, viewed as
// [outer, len, inner], with the design's edge rules: an all −Infinity slice gives zeros
// (softmax) or −Infinity (logSoftmax) and zero gradients.

function slices (outer, len, inner, fn) {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) fn((l) => (o * len + l) * inner + j)
  }
}

function softmax (x, outer, len, inner, log = false) {
  const y = new Float64Array(x.length)
  slices(outer, len, inner, (at) => {
    let m = -Infinity; let nan = false
    for (let l = 0; l < len; l++) { const v = x[at(l)]; if (Number.isNaN(v)) nan = true; else if (v > m) m = v }
    if (nan) { for (let l = 0; l < len; l++) y[at(l)] = NaN; return }
    if (m === -Infinity) { for (let l = 0; l < len; l++) y[at(l)] = log ? -Infinity : 0; return }
    let s = 0
    for (let l = 0; l < len; l++) s += Math.exp(x[at(l)] - m)
    for (let l = 0; l < len; l++) y[at(l)] = log ? x[at(l)] - m - Math.log(s) : Math.exp(x[at(l)] - m) / s
  })
  return y
}

/** dx from dy and the forward's output y (which may be float32). */
function softmaxBackward (dy, y, outer, len, inner, log = false) {
  const dx = new Float64Array(y.length)
  slices(outer, len, inner, (at) => {
    let s = 0; let m = -Infinity
    for (let l = 0; l < len; l++) { s += log ? dy[at(l)] : dy[at(l)] * y[at(l)]; m = Math.max(m, y[at(l)]) }
    if (log && m === -Infinity) return  // nothing was visible: zero gradient
    for (let l = 0; l < len; l++) dx[at(l)] = log ? dy[at(l)] - Math.exp(y[at(l)]) * s : y[at(l)] * (dy[at(l)] - s)
  })
  return dx
}

module.exports = { softmax, softmaxBackward }
