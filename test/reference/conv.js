'use strict'
// Plain float64 references for the conv family, written from the contract (PyTorch's
// definitions; 'same' as ONNX SAME_UPPER) without sharing code with lib/: options are
// resolved here again, and every op is a direct sum over the kernel taps.
//
// Tensors are { data, shape } with row-major data; results are { data: Float64Array, shape }.

function pair (v, d) {
  if (v === undefined) return [d, d]
  return typeof v === 'number' ? [v, v] : [v[0], v[1]]
}

/** [top, bottom, left, right] for conv2d's padding forms. */
function pads2d (padding, H, W, kh, kw, stride, dil) {
  if (padding === undefined || padding === 'valid') return [0, 0, 0, 0]
  if (padding === 'same') {
    const axis = (n, k, s, d) => {
      const out = Math.ceil(n / s)
      const total = Math.max(0, (out - 1) * s + d * (k - 1) + 1 - n)
      return [Math.floor(total / 2), total - Math.floor(total / 2)]
    }
    return [...axis(H, kh, stride[0], dil[0]), ...axis(W, kw, stride[1], dil[1])]
  }
  if (typeof padding === 'number') return [padding, padding, padding, padding]
  if (padding.length === 2) return [padding[0], padding[0], padding[1], padding[1]]
  return padding.slice()
}

/** The resolved geometry of conv2d(x, w, opts). */
function geometry (xShape, wShape, opts = {}) {
  const [N, C, H, W] = xShape
  const [Cout, Cg, kh, kw] = wShape
  const groups = opts.groups ?? 1
  const stride = pair(opts.stride, 1)
  const dil = pair(opts.dilation, 1)
  const [pt, pb, pl, pr] = pads2d(opts.padding, H, W, kh, kw, stride, dil)
  const OH = Math.floor((H + pt + pb - dil[0] * (kh - 1) - 1) / stride[0]) + 1
  const OW = Math.floor((W + pl + pr - dil[1] * (kw - 1) - 1) / stride[1]) + 1
  return { N, C, H, W, Cout, Cg, Mg: Cout / groups, kh, kw, stride, dil, pt, pl, OH, OW, groups }
}

/**
 * Calls f(yIndex, xIndex, wIndex) for every product x·w that conv2d sums into y: the
 * definition of the convolution, shared by the forward and both gradients below.
 */
function forEachTap (g, f) {
  const { N, C, H, W, Cout, Cg, Mg, kh, kw, stride, dil, pt, pl, OH, OW } = g
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Cout; co++) {
      const grp = Math.floor(co / Mg)
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          const yi = ((n * Cout + co) * OH + oy) * OW + ox
          for (let ci = 0; ci < Cg; ci++) {
            const c = grp * Cg + ci
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * stride[0] - pt + ky * dil[0]
              if (iy < 0 || iy >= H) continue
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * stride[1] - pl + kx * dil[1]
                if (ix < 0 || ix >= W) continue
                f(yi, ((n * C + c) * H + iy) * W + ix, ((co * Cg + ci) * kh + ky) * kw + kx)
              }
            }
          }
        }
      }
    }
  }
}

function relu (a) {
  for (let i = 0; i < a.length; i++) a[i] = a[i] > 0 ? a[i] : 0
  return a
}

/** y = act(conv2d(x, w) + b) */
function conv2d (x, w, b, opts = {}) {
  const g = geometry(x.shape, w.shape, opts)
  const P = g.OH * g.OW
  const y = new Float64Array(g.N * g.Cout * P)
  forEachTap(g, (yi, xi, wi) => { y[yi] += x.data[xi] * w.data[wi] })
  if (b) for (let i = 0; i < y.length; i++) y[i] += b.data[Math.floor(i / P) % g.Cout]
  if (opts.activation === 'relu') relu(y)
  return { data: y, shape: [g.N, g.Cout, g.OH, g.OW] }
}

/** Gradients of conv2d given dy: { dx, dw, db } (Float64Arrays). */
function conv2dBackward (dy, x, w, opts = {}) {
  const g = geometry(x.shape, w.shape, opts)
  const P = g.OH * g.OW
  const dx = new Float64Array(x.data.length)
  const dw = new Float64Array(w.data.length)
  const db = new Float64Array(g.Cout)
  forEachTap(g, (yi, xi, wi) => {
    dx[xi] += dy.data[yi] * w.data[wi]
    dw[wi] += dy.data[yi] * x.data[xi]
  })
  for (let i = 0; i < dy.data.length; i++) db[Math.floor(i / P) % g.Cout] += dy.data[i]
  return { dx, dw, db }
}

/**
 * The transposed convolution, written as PyTorch documents it (a scatter): each input
 * cell x[n, ci, iy, ix] adds x·w[ci, co, ky, kx] to y[n, g·Cog + co, iy·s − pt + ky·d, …].
 * Calls f(yIndex, xIndex, wIndex) for each product; returns the output shape.
 */
function forEachTransposeTap (xShape, wShape, opts, f) {
  const [N, Cin, H, W] = xShape
  const [, Cog, kh, kw] = wShape
  const groups = opts.groups ?? 1
  const Cout = Cog * groups
  const Cig = Cin / groups
  const stride = pair(opts.stride, 1)
  const dil = pair(opts.dilation, 1)
  const op = pair(opts.outputPadding, 0)
  const [pt, pb, pl, pr] = pads2d(opts.padding, 0, 0, kh, kw, stride, dil)
  const OH = (H - 1) * stride[0] - pt - pb + dil[0] * (kh - 1) + op[0] + 1
  const OW = (W - 1) * stride[1] - pl - pr + dil[1] * (kw - 1) + op[1] + 1
  if (f) {
    for (let n = 0; n < N; n++) {
      for (let ci = 0; ci < Cin; ci++) {
        const grp = Math.floor(ci / Cig)
        for (let iy = 0; iy < H; iy++) {
          for (let ix = 0; ix < W; ix++) {
            const xi = ((n * Cin + ci) * H + iy) * W + ix
            for (let co = 0; co < Cog; co++) {
              const c = grp * Cog + co
              for (let ky = 0; ky < kh; ky++) {
                const oy = iy * stride[0] - pt + ky * dil[0]
                if (oy < 0 || oy >= OH) continue
                for (let kx = 0; kx < kw; kx++) {
                  const ox = ix * stride[1] - pl + kx * dil[1]
                  if (ox < 0 || ox >= OW) continue
                  f(((n * Cout + c) * OH + oy) * OW + ox, xi, ((ci * Cog + co) * kh + ky) * kw + kx)
                }
              }
            }
          }
        }
      }
    }
  }
  return [N, Cout, OH, OW]
}

function conv2dTranspose (x, w, b, opts = {}) {
  const shape = forEachTransposeTap(x.shape, w.shape, opts, null)
  const y = new Float64Array(shape.reduce((a, c) => a * c, 1))
  forEachTransposeTap(x.shape, w.shape, opts, (yi, xi, wi) => { y[yi] += x.data[xi] * w.data[wi] })
  const P = shape[2] * shape[3]
  if (b) for (let i = 0; i < y.length; i++) y[i] += b.data[Math.floor(i / P) % shape[1]]
  if (opts.activation === 'relu') relu(y)
  return { data: y, shape }
}

function conv2dTransposeBackward (dy, x, w, opts = {}) {
  const shape = forEachTransposeTap(x.shape, w.shape, opts, null)
  const dx = new Float64Array(x.data.length)
  const dw = new Float64Array(w.data.length)
  const db = new Float64Array(shape[1])
  forEachTransposeTap(x.shape, w.shape, opts, (yi, xi, wi) => {
    dx[xi] += dy.data[yi] * w.data[wi]
    dw[wi] += dy.data[yi] * x.data[xi]
  })
  const P = shape[2] * shape[3]
  for (let i = 0; i < dy.data.length; i++) db[Math.floor(i / P) % shape[1]] += dy.data[i]
  return { dx, dw, db }
}

/** conv1d's options as conv2d's over [N, C, 1, L]. */
function opts1d (opts = {}) {
  const p = opts.padding
  let padding
  if (p === undefined || p === 'valid') padding = [0, 0, 0, 0]
  else if (typeof p === 'number') padding = [0, 0, p, p]
  else if (Array.isArray(p)) padding = [0, 0, p[0], p[1]]
  else padding = p // 'same': the H axis (k = 1) gets no padding
  return {
    stride: [1, opts.stride ?? 1],
    dilation: [1, opts.dilation ?? 1],
    padding,
    groups: opts.groups,
    activation: opts.activation
  }
}

function as2d (t) { return { data: t.data, shape: [t.shape[0], t.shape[1], 1, t.shape[2]] } }

function conv1d (x, w, b, opts = {}) {
  const y = conv2d(as2d(x), as2d(w), b, opts1d(opts))
  return { data: y.data, shape: [y.shape[0], y.shape[1], y.shape[3]] }
}

function conv1dBackward (dy, x, w, opts = {}) {
  return conv2dBackward(as2d(dy), as2d(x), as2d(w), opts1d(opts))
}

module.exports = {
  geometry, conv2d, conv2dBackward, conv2dTranspose, conv2dTransposeBackward, conv1d, conv1dBackward
}
