'use strict'
// Plain float64 references for the pool family, from PyTorch's definitions, sharing no
// code with lib/. x is { data, shape: [N, C, H, W] }; results are { data, shape } with
// Float64Array data.

function pair (v, d) {
  if (v === undefined) return [d[0], d[1]]
  return typeof v === 'number' ? [v, v] : [v[0], v[1]]
}

function pads (p) {
  if (p === undefined) return [0, 0, 0, 0]
  if (typeof p === 'number') return [p, p, p, p]
  if (p.length === 2) return [p[0], p[0], p[1], p[1]]
  return p.slice()
}

// PyTorch's pooling_output_shape, with asymmetric padding.
function outSize (n, k, s, d, p0, p1, ceil) {
  const num = n + p0 + p1 - d * (k - 1) - 1 + (ceil ? s - 1 : 0)
  let out = Math.floor(num / s) + 1
  if (ceil && (out - 1) * s >= n + p0) out--
  return out
}

function geometry (shape, opts) {
  const [N, C, H, W] = shape
  const k = pair(opts.kernel, [1, 1])
  const s = pair(opts.stride, k)
  const d = pair(opts.dilation, [1, 1])
  const [pt, pb, pl, pr] = pads(opts.padding)
  const OH = outSize(H, k[0], s[0], d[0], pt, pb, !!opts.ceilMode)
  const OW = outSize(W, k[1], s[1], d[1], pl, pr, !!opts.ceilMode)
  return { N, C, H, W, k, s, d, pt, pb, pl, pr, OH, OW }
}

/** Max pooling: { y, argmax } where argmax[i] is the flat index into x (or −1 for an empty window). */
function maxPool2d (x, opts) {
  const g = geometry(x.shape, opts)
  const y = new Float64Array(g.N * g.C * g.OH * g.OW)
  const argmax = new Int32Array(y.length)
  let o = 0
  for (let pl = 0; pl < g.N * g.C; pl++) {
    for (let oy = 0; oy < g.OH; oy++) {
      for (let ox = 0; ox < g.OW; ox++, o++) {
        let m = -Infinity; let idx = -1
        for (let ky = 0; ky < g.k[0]; ky++) {
          const iy = oy * g.s[0] - g.pt + ky * g.d[0]
          if (iy < 0 || iy >= g.H) continue
          for (let kx = 0; kx < g.k[1]; kx++) {
            const ix = ox * g.s[1] - g.pl + kx * g.d[1]
            if (ix < 0 || ix >= g.W) continue
            const i = (pl * g.H + iy) * g.W + ix
            const v = x.data[i]
            // PyTorch: the first input cell, then any larger value or any NaN.
            if (idx < 0 || v > m || Number.isNaN(v)) { m = v; idx = i }
          }
        }
        y[o] = m
        argmax[o] = idx
      }
    }
  }
  return { data: y, shape: [g.N, g.C, g.OH, g.OW], argmax }
}

function maxPool2dBackward (dy, x, opts) {
  const { argmax } = maxPool2d(x, opts)
  const dx = new Float64Array(x.data.length)
  for (let o = 0; o < argmax.length; o++) if (argmax[o] >= 0) dx[argmax[o]] += dy.data[o]
  return dx
}

/** Calls f(outIndex, inIndex, divisor) for each input cell of each average window. */
function forEachAvgCell (g, countIncludePad, f) {
  let o = 0
  for (let pl = 0; pl < g.N * g.C; pl++) {
    for (let oy = 0; oy < g.OH; oy++) {
      for (let ox = 0; ox < g.OW; ox++, o++) {
        const hs = oy * g.s[0] - g.pt; const ws = ox * g.s[1] - g.pl
        const he = Math.min(hs + g.k[0], g.H + g.pb); const we = Math.min(ws + g.k[1], g.W + g.pr)
        const h0 = Math.max(hs, 0); const h1 = Math.min(he, g.H)
        const w0 = Math.max(ws, 0); const w1 = Math.min(we, g.W)
        const div = countIncludePad ? (he - hs) * (we - ws) : (h1 - h0) * (w1 - w0)
        for (let iy = h0; iy < h1; iy++) {
          for (let ix = w0; ix < w1; ix++) f(o, (pl * g.H + iy) * g.W + ix, div)
        }
      }
    }
  }
}

function avgPool2d (x, opts) {
  const g = geometry(x.shape, opts)
  const y = new Float64Array(g.N * g.C * g.OH * g.OW)
  forEachAvgCell(g, opts.countIncludePad ?? true, (o, i, div) => { y[o] += x.data[i] / div })
  return { data: y, shape: [g.N, g.C, g.OH, g.OW] }
}

function avgPool2dBackward (dy, x, opts) {
  const g = geometry(x.shape, opts)
  const dx = new Float64Array(x.data.length)
  forEachAvgCell(g, opts.countIncludePad ?? true, (o, i, div) => { dx[i] += dy.data[o] / div })
  return dx
}

function forEachAdaptiveCell (shape, OH, OW, f) {
  const [N, C, H, W] = shape
  let o = 0
  for (let pl = 0; pl < N * C; pl++) {
    for (let oy = 0; oy < OH; oy++) {
      const h0 = Math.floor(oy * H / OH); const h1 = Math.ceil((oy + 1) * H / OH)
      for (let ox = 0; ox < OW; ox++, o++) {
        const w0 = Math.floor(ox * W / OW); const w1 = Math.ceil((ox + 1) * W / OW)
        const n = (h1 - h0) * (w1 - w0)
        for (let iy = h0; iy < h1; iy++) for (let ix = w0; ix < w1; ix++) f(o, (pl * H + iy) * W + ix, n)
      }
    }
  }
}

function adaptiveAvgPool2d (x, OH, OW) {
  const y = new Float64Array(x.shape[0] * x.shape[1] * OH * OW)
  forEachAdaptiveCell(x.shape, OH, OW, (o, i, n) => { y[o] += x.data[i] / n })
  return { data: y, shape: [x.shape[0], x.shape[1], OH, OW] }
}

function adaptiveAvgPool2dBackward (dy, x) {
  const dx = new Float64Array(x.data.length)
  forEachAdaptiveCell(x.shape, dy.shape[2], dy.shape[3], (o, i, n) => { dx[i] += dy.data[o] / n })
  return dx
}

module.exports = {
  outSize, maxPool2d, maxPool2dBackward, avgPool2d, avgPool2dBackward, adaptiveAvgPool2d, adaptiveAvgPool2dBackward
}
