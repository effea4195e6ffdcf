'use strict'
// Plain float64 references for crossEntropy (with label smoothing and an ignored label)
// and mse, and their gradients.

function rowStats (x, i, C) {
  let m = -Infinity; let nan = false
  for (let c = 0; c < C; c++) { const v = x[i * C + c]; if (Number.isNaN(v)) nan = true; else if (v > m) m = v }
  let s = 0
  for (let c = 0; c < C; c++) s += Math.exp(x[i * C + c] - m)
  return { m, s, ls: Math.log(s), nan }
}

/** Per-row losses (0 for ignored rows) and the reduced loss. */
// weight (class weights [C], PyTorch's): row i is scaled by w[y_i] (the ε part by each
// class's own weight), and mean divides by Σ w[y_i].
function crossEntropy (x, labels, N, C, { reduction = 'mean', labelSmoothing: eps = 0, ignoreIndex = -100, weight = null } = {}) {
  const w = (c) => weight ? weight[c] : 1
  const rows = new Float64Array(N)
  let counted = 0
  for (let i = 0; i < N; i++) {
    const y = labels[i]
    if (y === ignoreIndex) continue
    counted += w(y)
    const { m, ls, nan } = rowStats(x, i, C)
    if (nan) { rows[i] = NaN; continue }
    if (m === -Infinity) { rows[i] = Infinity; continue }
    const nll = w(y) * ((m - x[i * C + y]) + ls)
    if (eps === 0) { rows[i] = nll; continue }
    let smooth = 0
    for (let c = 0; c < C; c++) smooth += w(c) * ((m - x[i * C + c]) + ls)
    rows[i] = (1 - eps) * nll + eps * smooth / C
  }
  if (reduction === 'none') return rows
  let total = 0
  for (const r of rows) total += r
  return Float64Array.of(reduction === 'sum' ? total : (counted ? total / counted : NaN))
}

function crossEntropyBackward (dy, x, labels, N, C, { reduction = 'mean', labelSmoothing: eps = 0, ignoreIndex = -100, weight = null } = {}) {
  const w = (c) => weight ? weight[c] : 1
  let wsum = 0
  for (let k = 0; k < C; k++) wsum += w(k)
  const dx = new Float64Array(N * C)
  let counted = 0
  for (let i = 0; i < N; i++) if (labels[i] !== ignoreIndex) counted += w(labels[i])
  for (let i = 0; i < N; i++) {
    const y = labels[i]
    if (y === ignoreIndex) continue
    const g = reduction === 'none' ? dy[i] : reduction === 'sum' ? dy[0] : dy[0] / counted
    const { m, s } = rowStats(x, i, C)
    if (m === -Infinity) continue
    for (let c = 0; c < C; c++) {
      const p = Math.exp(x[i * C + c] - m) / s
      // ∂/∂x_c of (1−ε)·w_y·(lse − x_y) + ε/C·Σ_k w_k·(lse − x_k)
      dx[i * C + c] = g * ((1 - eps) * w(y) * (p - (c === y ? 1 : 0)) + eps / C * (wsum * p - w(c)))
    }
  }
  return dx
}

function mse (p, t, { reduction = 'mean' } = {}) {
  const e = new Float64Array(p.length)
  let total = 0
  for (let i = 0; i < p.length; i++) { e[i] = (p[i] - t[i]) ** 2; total += e[i] }
  if (reduction === 'none') return e
  return Float64Array.of(reduction === 'sum' ? total : total / p.length)
}

function mseBackward (dy, p, t, { reduction = 'mean' } = {}) {
  const d = new Float64Array(p.length)
  for (let i = 0; i < p.length; i++) {
    const g = reduction === 'none' ? dy[i] : dy[0]
    d[i] = 2 * (p[i] - t[i]) * g / (reduction === 'mean' ? p.length : 1)
  }
  return d
}

// ---------------------------------------------------------------- bceWithLogits

/** For each flat index of `shape`, the flat index of a tensor of shape `sub` broadcast to it (aligned at the right). */
function broadcastIndex (shape, sub) {
  const n = shape.reduce((a, b) => a * b, 1)
  const map = new Float64Array(n)
  const rank = shape.length
  for (let e = 0; e < n; e++) {
    let rest = e; let idx = 0; let stride = 1
    for (let d = rank - 1; d >= 0; d--) {
      const i = rest % shape[d]; rest = Math.floor(rest / shape[d])
      const k = d - (rank - sub.length)
      if (k >= 0) { if (sub[k] !== 1) idx += i * stride; stride *= sub[k] }
    }
    map[e] = idx
  }
  return map
}

function bceParts (x, shape, { weight, posWeight }) {
  const n = x.length
  const wi = weight && broadcastIndex(shape, weight.shape)
  const pi = posWeight && broadcastIndex(shape, posWeight.shape)
  return { n, w: (e) => (weight ? weight.data[wi[e]] : 1), pw: (e) => (posWeight ? posWeight.data[pi[e]] : null) }
}

/**
 * PyTorch's BCEWithLogitsLoss in float64: max(x,0) − x·t + log1p(e^{−|x|}) without
 * posWeight; with it PyTorch's (1 − t)·x + (1 + (pw − 1)·t)·(log1p(e^{−|x|}) + max(−x, 0)),
 * its x terms regrouped as (1 − t)·max(x,0) + pw·t·max(−x,0) (equal in exact arithmetic;
 * as written, x + (−x + 1e-13) at x = −30 loses three digits even in float64); times weight.
 */
function bceWithLogits (x, t, shape, { weight, posWeight, reduction = 'mean' } = {}) {
  const { n, w, pw } = bceParts(x, shape, { weight, posWeight })
  const l = new Float64Array(n)
  let total = 0
  for (let e = 0; e < n; e++) {
    const soft = Math.log1p(Math.exp(-Math.abs(x[e])))
    const p = pw(e)
    const v = p === null
      ? Math.max(x[e], 0) - x[e] * t[e] + soft
      : (1 - t[e]) * Math.max(x[e], 0) + p * t[e] * Math.max(-x[e], 0) + (1 + (p - 1) * t[e]) * soft
    l[e] = v * w(e)
    total += l[e]
  }
  if (reduction === 'none') return l
  return Float64Array.of(reduction === 'sum' ? total : total / n)
}

/**
 * ∂/∂x: dy·w·((1 + (pw − 1)·t)·σ(x) − pw·t), ÷ n for 'mean', written as
 * (1 − t)·σ(x) − pw·t·σ(−x): the same value, but σ(30) − 1 would cancel even in float64.
 */
function bceWithLogitsBackward (dy, x, t, shape, { weight, posWeight, reduction = 'mean' } = {}) {
  const { n, w, pw } = bceParts(x, shape, { weight, posWeight })
  const d = new Float64Array(n)
  for (let e = 0; e < n; e++) {
    const g = reduction === 'none' ? dy[e] : reduction === 'sum' ? dy[0] : dy[0] / n
    const p = pw(e) === null ? 1 : pw(e)
    const s = 1 / (1 + Math.exp(-x[e])); const sc = 1 / (1 + Math.exp(x[e]))
    d[e] = g * w(e) * ((1 - t[e]) * s - p * t[e] * sc)
  }
  return d
}

module.exports = { crossEntropy, crossEntropyBackward, mse, mseBackward, bceWithLogits, bceWithLogitsBackward, broadcastIndex }
