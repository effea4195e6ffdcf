'use strict'
// Plain float64 reference for linear: y[m,n] = Σ_k x[m,k]·w[n,k] + b[n].

function linear (x, w, b, M, K, N) {
  const y = new Float64Array(M * N)
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = b ? b[n] : 0
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k]
      y[m * N + n] = s
    }
  }
  return y
}

function linearBackward (dy, x, w, M, K, N) {
  const dx = new Float64Array(M * K)
  const dw = new Float64Array(N * K)
  const db = new Float64Array(N)
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const g = dy[m * N + n]
      db[n] += g
      for (let k = 0; k < K; k++) {
        dx[m * K + k] += g * w[n * K + k]
        dw[n * K + k] += g * x[m * K + k]
      }
    }
  }
  return { dx, dw, db }
}

module.exports = { linear, linearBackward }
