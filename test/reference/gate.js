'use strict'
// Plain float64 references for the gate family: the sigmoid spatial gate
// x·σ(conv1x1(x; wa, ba) ⊙ conv1x1(x; wb, bb)) and the channel pool [mean_c, max_c], with
// their gradients (x as [N, C, S], S = H·W).

const sigmoid = (s) => 1 / (1 + Math.exp(-s))

/** a and b at every pixel, [N·S] each. */
function convs (x, N, C, S, wa, ba, wb, bb) {
  const a = new Float64Array(N * S); const b = new Float64Array(N * S)
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < S; p++) {
      let sa = ba[0]; let sb = bb[0]
      for (let c = 0; c < C; c++) { const v = x[(n * C + c) * S + p]; sa += wa[c] * v; sb += wb[c] * v }
      a[n * S + p] = sa; b[n * S + p] = sb
    }
  }
  return { a, b }
}

function spatialGate (x, N, C, S, wa, ba, wb, bb) {
  const { a, b } = convs(x, N, C, S, wa, ba, wb, bb)
  const gate = a.map((v, i) => sigmoid(v * b[i]))
  const out = new Float64Array(N * C * S)
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let p = 0; p < S; p++) out[(n * C + c) * S + p] = x[(n * C + c) * S + p] * gate[n * S + p]
  return { out, gate }
}

function spatialGateBackward (dOut, x, N, C, S, wa, ba, wb, bb) {
  const { a, b } = convs(x, N, C, S, wa, ba, wb, bb)
  const dx = new Float64Array(N * C * S); const dwa = new Float64Array(C); const dwb = new Float64Array(C)
  let dba = 0; let dbb = 0
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < S; p++) {
      const i = n * S + p
      const g = sigmoid(a[i] * b[i])
      let dg = 0
      for (let c = 0; c < C; c++) dg += dOut[(n * C + c) * S + p] * x[(n * C + c) * S + p]
      const ds = dg * g * (1 - g)
      const da = ds * b[i]; const db = ds * a[i]
      dba += da; dbb += db
      for (let c = 0; c < C; c++) {
        const k = (n * C + c) * S + p
        dx[k] = dOut[k] * g + da * wa[c] + db * wb[c]
        dwa[c] += da * x[k]; dwb[c] += db * x[k]
      }
    }
  }
  return { dx, dwa, dba: Float64Array.of(dba), dwb, dbb: Float64Array.of(dbb) }
}

/** [N, 2, S]: the mean and the max over c (NaN if any is NaN). */
function channelPool (x, N, C, S) {
  const y = new Float64Array(N * 2 * S)
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < S; p++) {
      let s = 0; let m = -Infinity
      for (let c = 0; c < C; c++) { const v = x[(n * C + c) * S + p]; s += v; m = Number.isNaN(v) || Number.isNaN(m) ? NaN : Math.max(m, v) }
      y[(n * 2) * S + p] = s / C; y[(n * 2 + 1) * S + p] = m
    }
  }
  return y
}

/** dy[:,0]/C everywhere, dy[:,1] to the first channel holding the max (the first NaN if any). */
function channelPoolBackward (dy, x, N, C, S) {
  const dx = new Float64Array(N * C * S)
  const y = channelPool(x, N, C, S)
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < S; p++) {
      const m = y[(n * 2 + 1) * S + p]
      let first = -1
      for (let c = 0; c < C && first < 0; c++) {
        const v = x[(n * C + c) * S + p]
        if (v === m || (Number.isNaN(v) && Number.isNaN(m))) first = c
      }
      for (let c = 0; c < C; c++) {
        dx[(n * C + c) * S + p] = dy[(n * 2) * S + p] / C + (c === first ? dy[(n * 2 + 1) * S + p] : 0)
      }
    }
  }
  return dx
}

module.exports = { spatialGate, spatialGateBackward, channelPool, channelPoolBackward }
