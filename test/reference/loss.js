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
function crossEntropy (x, labels, N, C, { reduction = 'mean', labelSmoothing: eps = 0, ignoreIndex = -100 } = {}) {
  const rows = new Float64Array(N)
  let counted = 0
  for (let i = 0; i < N; i++) {
    const y = labels[i]
    if (y === ignoreIndex) continue
    counted++
    const { m, ls, nan } = rowStats(x, i, C)
    if (nan) { rows[i] = NaN; continue }
    if (m === -Infinity) { rows[i] = Infinity; continue }
    const nll = (m - x[i * C + y]) + ls
    if (eps === 0) { rows[i] = nll; continue }
    let gap = 0
    for (let c = 0; c < C; c++) gap += m - x[i * C + c]
    rows[i] = (1 - eps) * nll + eps * (gap / C + ls)
  }
  if (reduction === 'none') return rows
  let total = 0
  for (const r of rows) total += r
  return Float64Array.of(reduction === 'sum' ? total : (counted ? total / counted : NaN))
}

function crossEntropyBackward (dy, x, labels, N, C, { reduction = 'mean', labelSmoothing: eps = 0, ignoreIndex = -100 } = {}) {
  const dx = new Float64Array(N * C)
  let counted = 0
  for (let i = 0; i < N; i++) if (labels[i] !== ignoreIndex) counted++
  for (let i = 0; i < N; i++) {
    const y = labels[i]
    if (y === ignoreIndex) continue
    const g = reduction === 'none' ? dy[i] : reduction === 'sum' ? dy[0] : dy[0] / counted
    const { m, s } = rowStats(x, i, C)
    if (m === -Infinity) continue
    for (let c = 0; c < C; c++) {
      const p = Math.exp(x[i * C + c] - m) / s
      dx[i * C + c] = g * (p - (c === y ? 1 - eps : 0) - eps / C)
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

module.exports = { crossEntropy, crossEntropyBackward, mse, mseBackward }
