'use strict'
// Plain float64 references for layerNorm, batchNorm and groupNorm and their gradients
// (the textbook formulas, two-pass statistics, biased variance in the normalisation).

// Mean and 1/√(var + eps) over the elements idx(0..count-1).
function stats (x, count, idx, eps) {
  let s = 0
  for (let i = 0; i < count; i++) s += x[idx(i)]
  const mean = s / count
  let q = 0
  for (let i = 0; i < count; i++) q += (x[idx(i)] - mean) ** 2
  const v = q / count
  return { mean, var: v, rstd: 1 / Math.sqrt(v + eps) }
}

// Normalises each group (a list of index functions) and applies per-element w/b.
function normalize (x, groups, wAt, bAt, eps) {
  const y = new Float64Array(x.length)
  for (const { count, idx } of groups) {
    const s = stats(x, count, idx, eps)
    for (let i = 0; i < count; i++) {
      const k = idx(i)
      y[k] = (x[k] - s.mean) * s.rstd * wAt(k) + bAt(k)
    }
  }
  return y
}

// dx for a normalised group, g = dy·w: rstd·(g − mean(g) − x̂·mean(g·x̂)).
function normalizeBackward (dy, x, groups, wAt, eps, dx, dw, db, pAt) {
  for (const { count, idx } of groups) {
    const s = stats(x, count, idx, eps)
    let sg = 0; let sgx = 0
    for (let i = 0; i < count; i++) {
      const k = idx(i)
      const g = dy[k] * wAt(k); const xh = (x[k] - s.mean) * s.rstd
      sg += g; sgx += g * xh
      dw[pAt(k)] += dy[k] * xh
      db[pAt(k)] += dy[k]
    }
    for (let i = 0; i < count; i++) {
      const k = idx(i)
      const xh = (x[k] - s.mean) * s.rstd
      dx[k] = s.rstd * (dy[k] * wAt(k) - sg / count - xh * sgx / count)
    }
  }
}

const range = (n) => Array.from({ length: n }, (_, i) => i)

function layerGroups (rows, D) { return range(rows).map((r) => ({ count: D, idx: (i) => r * D + i })) }

function layerNorm (x, rows, D, w, b, eps = 1e-5) {
  return normalize(x, layerGroups(rows, D), (k) => (w ? w[k % D] : 1), (k) => (b ? b[k % D] : 0), eps)
}

function layerNormBackward (dy, x, rows, D, w, eps = 1e-5) {
  const dx = new Float64Array(x.length); const dw = new Float64Array(D); const db = new Float64Array(D)
  normalizeBackward(dy, x, layerGroups(rows, D), (k) => (w ? w[k % D] : 1), eps, dx, dw, db, (k) => k % D)
  return { dx, dweight: dw, dbias: db }
}

const chan = (N, C, S) => (k) => Math.floor(k / S) % C

function channelGroups (N, C, S) {
  return range(C).map((c) => ({ count: N * S, idx: (i) => (Math.floor(i / S) * C + c) * S + (i % S) }))
}

/** { y, runningMean, runningVar } (the updated copies, in training). */
function batchNorm (x, N, C, S, rm, rv, w, b, { training = false, momentum = 0.1, eps = 1e-5 } = {}) {
  const ch = chan(N, C, S)
  const wAt = (k) => (w ? w[ch(k)] : 1); const bAt = (k) => (b ? b[ch(k)] : 0)
  if (!training) {
    const y = new Float64Array(x.length)
    for (let k = 0; k < x.length; k++) y[k] = (x[k] - rm[ch(k)]) / Math.sqrt(rv[ch(k)] + eps) * wAt(k) + bAt(k)
    return { y, runningMean: rm && Float64Array.from(rm), runningVar: rv && Float64Array.from(rv) }
  }
  const groups = channelGroups(N, C, S)
  const y = normalize(x, groups, wAt, bAt, eps)
  let runningMean = null; let runningVar = null
  if (rm) {
    runningMean = new Float64Array(C); runningVar = new Float64Array(C)
    groups.forEach((g, c) => {
      const s = stats(x, g.count, g.idx, eps)
      runningMean[c] = (1 - momentum) * rm[c] + momentum * s.mean
      runningVar[c] = (1 - momentum) * rv[c] + momentum * s.var * g.count / (g.count - 1)
    })
  }
  return { y, runningMean, runningVar }
}

function batchNormBackward (dy, x, N, C, S, rm, rv, w, { training = false, eps = 1e-5 } = {}) {
  const ch = chan(N, C, S)
  const wAt = (k) => (w ? w[ch(k)] : 1)
  const dx = new Float64Array(x.length); const dw = new Float64Array(C); const db = new Float64Array(C)
  if (training) {
    normalizeBackward(dy, x, channelGroups(N, C, S), wAt, eps, dx, dw, db, ch)
  } else {
    for (let k = 0; k < x.length; k++) {
      const c = ch(k); const rstd = 1 / Math.sqrt(rv[c] + eps)
      dx[k] = dy[k] * wAt(k) * rstd
      dw[c] += dy[k] * (x[k] - rm[c]) * rstd
      db[c] += dy[k]
    }
  }
  return { dx, dweight: dw, dbias: db }
}

function groupGroups (N, C, S, G) {
  const M = (C / G) * S
  return range(N * G).map((t) => ({ count: M, idx: (i) => t * M + i }))
}

function groupNorm (x, N, C, S, G, w, b, eps = 1e-5) {
  const ch = chan(N, C, S)
  return normalize(x, groupGroups(N, C, S, G), (k) => (w ? w[ch(k)] : 1), (k) => (b ? b[ch(k)] : 0), eps)
}

function groupNormBackward (dy, x, N, C, S, G, w, eps = 1e-5) {
  const ch = chan(N, C, S)
  const dx = new Float64Array(x.length); const dw = new Float64Array(C); const db = new Float64Array(C)
  normalizeBackward(dy, x, groupGroups(N, C, S, G), (k) => (w ? w[ch(k)] : 1), eps, dx, dw, db, ch)
  return { dx, dweight: dw, dbias: db }
}

module.exports = { layerNorm, layerNormBackward, batchNorm, batchNormBackward, groupNorm, groupNormBackward }
