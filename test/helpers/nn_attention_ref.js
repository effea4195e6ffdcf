'use strict'
// Float64 references of the attention modules (test/nn_attention*.test.js), written from
// their definitions with the plain references in test/reference/ and index loops — no
// code shared with lib/. Each takes a parameter getter P(name) → Float64Array (so finite
// differences can replace any one parameter) and plain { data, shape } inputs.
const { linear } = require('../reference/linear')
const { attention } = require('../reference/attention')
const { activation } = require('../reference/activation')
const { conv2d } = require('../reference/conv')
const { permute } = require('../reference/layout')

const size = (shape) => shape.reduce((a, b) => a * b, 1)
const f64 = (a) => Float64Array.from(a.data ?? a)

/** The parameter getter of a module: P(name) is its current value as float64, unless overridden. */
function paramsOf (m, overrides = new Map()) {
  const sd = m.stateDict()
  return (name) => overrides.has(name) ? overrides.get(name) : f64(sd[name])
}

/**
 * MultiheadAttention by definition. cfg: { E, H, Hkv, kdim, vdim, batchFirst, bias };
 * inputs [L, B, ·] / [B, L, ·] / [L, ·]; opts: { keyPaddingMask (Uint8Array, 1 = ignore),
 * attnMask ({ data, shape } floats [Lq,Lk] / [B·H,Lq,Lk], or Uint8Array, 1 = hidden),
 * isCausal, averageAttnWeights, dropout + seed (the kernel's mask) }. Returns { out: Float64Array, weights: Float64Array }.
 */
function mha (P, cfg, query, key, value, opts = {}) {
  const { E, H } = cfg
  const Hkv = cfg.Hkv ?? H
  const D = E / H; const kv = Hkv * D
  const unbatched = query.shape.length === 2
  const bf = cfg.batchFirst || unbatched
  const B = unbatched ? 1 : bf ? query.shape[0] : query.shape[1]
  const Lq = unbatched ? query.shape[0] : bf ? query.shape[1] : query.shape[0]
  const Lk = unbatched ? key.shape[0] : bf ? key.shape[1] : key.shape[0]
  const same = cfg.kdim === undefined || (cfg.kdim === E && cfg.vdim === E)
  const W = same ? P('in_proj_weight') : null
  const bias = cfg.bias === false ? null : P('in_proj_bias')
  const wq = same ? W.subarray(0, E * E) : P('q_proj_weight')
  const wk = same ? W.subarray(E * E, (E + kv) * E) : P('k_proj_weight')
  const wv = same ? W.subarray((E + kv) * E) : P('v_proj_weight')
  const bq = bias && bias.subarray(0, E); const bk = bias && bias.subarray(E, E + kv); const bv = bias && bias.subarray(E + kv)
  const kd = same ? E : cfg.kdim; const vd = same ? E : cfg.vdim
  const proj = (x, w, b, L, inDim, outDim, h) => {
    const y = linear(f64(x), w, b, B * L, inDim, outDim)
    return permute(y, bf ? [B, L, h, D] : [L, B, h, D], bf ? [0, 2, 1, 3] : [1, 2, 0, 3])
  }
  const q = proj(query, wq, bq, Lq, E, E, H)
  const k = proj(key, wk, bk, Lk, kd, kv, Hkv)
  const v = proj(value, wv, bv, Lk, vd, kv, Hkv)
  // One additive mask [B, H, Lq, Lk].
  const mask = new Float64Array(B * H * Lq * Lk)
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Lq; i++) {
        for (let j = 0; j < Lk; j++) {
          let m = 0
          if (opts.keyPaddingMask && opts.keyPaddingMask[b * Lk + j]) m = -Infinity
          if (opts.isCausal && j > i) m = -Infinity
          const am = opts.attnMask
          if (am) {
            const a = am.data ?? am
            const idx = a.length === Lq * Lk ? i * Lk + j : ((b * H + h) * Lq + i) * Lk + j
            m += a instanceof Uint8Array ? (a[idx] ? -Infinity : 0) : a[idx]
          }
          mask[((b * H + h) * Lq + i) * Lk + j] = m
        }
      }
    }
  }
  const r = attention(q, k, v, { B, Hq: H, Hkv, Lq, Lk, D, Dv: D },
    { mask: { data: mask, shape: [B, H, Lq, Lk] }, dropout: opts.dropout, seed: opts.seed })
  const merged = permute(r.out, [B, H, Lq, D], bf ? [0, 2, 1, 3] : [2, 0, 1, 3])
  const out = linear(merged, P('out_proj.weight'), cfg.bias === false ? null : P('out_proj.bias'), B * Lq, E, E)
  let weights = r.weights
  if (opts.averageAttnWeights !== false) {
    weights = new Float64Array(B * Lq * Lk)
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let n = 0; n < Lq * Lk; n++) weights[b * Lq * Lk + n] += r.weights[(b * H + h) * Lq * Lk + n] / H
      }
    }
  }
  return { out, weights }
}

/** LayerNorm over the last dim. */
function layerNorm (x, D, w, b, eps) {
  const y = new Float64Array(x.length)
  for (let r = 0; r < x.length / D; r++) {
    let mean = 0
    for (let d = 0; d < D; d++) mean += x[r * D + d]
    mean /= D
    let v = 0
    for (let d = 0; d < D; d++) v += (x[r * D + d] - mean) ** 2
    const inv = 1 / Math.sqrt(v / D + eps)
    for (let d = 0; d < D; d++) y[r * D + d] = (x[r * D + d] - mean) * inv * (w ? w[d] : 1) + (b ? b[d] : 0)
  }
  return y
}

const addArrays = (a, b) => a.map((v, i) => v + b[i])

/** TransformerEncoderLayer in eval mode (dropout off). cfg: { E, H, F, activation, normFirst, batchFirst, eps, bias }. */
function encoderLayer (P, cfg, src, opts = {}, prefix = '') {
  const p = (n) => P(prefix + n)
  const pb = (n) => cfg.bias === false ? null : p(n)
  const sa = (x) => mha((n) => p('self_attn.' + n), { E: cfg.E, H: cfg.H, batchFirst: cfg.batchFirst, bias: cfg.bias }, { data: x, shape: src.shape },
    { data: x, shape: src.shape }, { data: x, shape: src.shape }, { keyPaddingMask: opts.srcKeyPaddingMask, attnMask: opts.srcMask, isCausal: opts.isCausal }).out
  const M = src.data.length / cfg.E
  const ff = (x) => {
    const h = activation(cfg.activation === 'gelu' ? 'gelu' : 'relu', linear(x, p('linear1.weight'), pb('linear1.bias'), M, cfg.E, cfg.F))
    return linear(h, p('linear2.weight'), pb('linear2.bias'), M, cfg.F, cfg.E)
  }
  const n1 = (x) => layerNorm(x, cfg.E, p('norm1.weight'), pb('norm1.bias'), cfg.eps ?? 1e-5)
  const n2 = (x) => layerNorm(x, cfg.E, p('norm2.weight'), pb('norm2.bias'), cfg.eps ?? 1e-5)
  let x = f64(src)
  if (cfg.normFirst) {
    x = addArrays(x, sa(n1(x)))
    x = addArrays(x, ff(n2(x)))
  } else {
    x = n1(addArrays(x, sa(x)))
    x = n2(addArrays(x, ff(x)))
  }
  return x
}

const sigmoid = (z) => 1 / (1 + Math.exp(-z))

/** SpatialGate: x·σ(conv_a(x) ⊙ conv_b(x)); returns { out, gate }. */
function spatialGate (P, x) {
  const [N, C, H, W] = x.shape; const S = H * W
  const wa = P('conv_a.weight'); const ba = P('conv_a.bias'); const wb = P('conv_b.weight'); const bb = P('conv_b.bias')
  const xd = f64(x)
  const out = new Float64Array(xd.length); const gate = new Float64Array(N * S)
  for (let n = 0; n < N; n++) {
    for (let s = 0; s < S; s++) {
      let a = ba[0]; let b = bb[0]
      for (let c = 0; c < C; c++) { a += wa[c] * xd[(n * C + c) * S + s]; b += wb[c] * xd[(n * C + c) * S + s] }
      const g = sigmoid(a * b)
      gate[n * S + s] = g
      for (let c = 0; c < C; c++) out[(n * C + c) * S + s] = xd[(n * C + c) * S + s] * g
    }
  }
  return { out, gate }
}

// x [N, C, S] → the per-channel mean and max [N, C].
function channelStats (xd, N, C, S) {
  const avg = new Float64Array(N * C); const max = new Float64Array(N * C).fill(-Infinity)
  for (let i = 0; i < N * C; i++) {
    for (let s = 0; s < S; s++) { avg[i] += xd[i * S + s] / S; max[i] = Math.max(max[i], xd[i * S + s]) }
  }
  return { avg, max }
}

// A 1×1-conv MLP C → R → C (fc1, ReLU, fc2) on rows [M, C].
function mlp (P, prefix, z, M, C, R, bias = true) {
  const h = activation('relu', linear(z, P(prefix + 'fc1.weight'), bias ? P(prefix + 'fc1.bias') : null, M, C, R))
  return linear(h, P(prefix + 'fc2.weight'), bias ? P(prefix + 'fc2.bias') : null, M, R, C)
}

function scaleChannels (xd, g, N, C, S) {
  const out = new Float64Array(xd.length)
  for (let i = 0; i < N * C; i++) for (let s = 0; s < S; s++) out[i * S + s] = xd[i * S + s] * g[i]
  return out
}

/** SqueezeExcitation: x·σ(fc2(relu(fc1(avgpool(x))))). */
function squeezeExcitation (P, x, R) {
  const [N, C, H, W] = x.shape; const S = H * W
  const xd = f64(x)
  const { avg } = channelStats(xd, N, C, S)
  const g = mlp(P, '', avg, N, C, R).map(sigmoid)
  return { out: scaleChannels(xd, g, N, C, S), attention: g }
}

/** ECA: x·σ(conv1d over the channel means, k taps, zero padding (k−1)/2, no bias). */
function eca (P, x, k) {
  const [N, C, H, W] = x.shape; const S = H * W
  const xd = f64(x)
  const { avg } = channelStats(xd, N, C, S)
  const w = P('conv.weight'); const pad = (k - 1) >> 1
  const g = new Float64Array(N * C)
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      let z = 0
      for (let t = 0; t < k; t++) {
        const cc = c + t - pad
        if (cc >= 0 && cc < C) z += w[t] * avg[n * C + cc]
      }
      g[n * C + c] = sigmoid(z)
    }
  }
  return { out: scaleChannels(xd, g, N, C, S), attention: g }
}

/** CBAM: channel attention (shared bias-free MLP ca.fc1/ca.fc2 on avg and max), then spatial attention (k×k conv sa.conv1 on [mean, max] over C). */
function cbam (P, x, R, k) {
  const [N, C, H, W] = x.shape; const S = H * W
  const xd = f64(x)
  const { avg, max } = channelStats(xd, N, C, S)
  const a = mlp(P, 'ca.', avg, N, C, R, false); const m = mlp(P, 'ca.', max, N, C, R, false)
  const g = a.map((v, i) => sigmoid(v + m[i]))
  const x1 = scaleChannels(xd, g, N, C, S)
  const pooled = new Float64Array(N * 2 * S)
  for (let n = 0; n < N; n++) {
    for (let s = 0; s < S; s++) {
      let sum = 0; let mx = -Infinity
      for (let c = 0; c < C; c++) { const v = x1[(n * C + c) * S + s]; sum += v; mx = Math.max(mx, v) }
      pooled[(n * 2) * S + s] = sum / C
      pooled[(n * 2 + 1) * S + s] = mx
    }
  }
  const conv = conv2d({ data: pooled, shape: [N, 2, H, W] }, { data: P('sa.conv1.weight'), shape: [1, 2, k, k] }, null,
    { padding: (k - 1) >> 1 })
  const map = Float64Array.from(conv.data, sigmoid)
  const out = new Float64Array(xd.length)
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let s = 0; s < S; s++) out[(n * C + c) * S + s] = x1[(n * C + c) * S + s] * map[n * S + s]
  return { out, attention: map }
}

/** NonLocal2d (embedded Gaussian): z = W_z(softmax(θᵀφ)·g) + x, W_z a 1×1 conv (+ BatchNorm in eval: running stats). */
function nonLocal (P, x, inter, bn) {
  const [N, C, H, W] = x.shape; const L = H * W
  const xd = f64(x)
  const proj = (name, cin, cout, input) => {
    const w = P(name + '.weight'); const b = P(name + '.bias')
    const y = new Float64Array(N * cout * L)
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < cout; o++) {
        for (let l = 0; l < L; l++) {
          let s = b[o]
          for (let c = 0; c < cin; c++) s += w[o * cin + c] * input[(n * cin + c) * L + l]
          y[(n * cout + o) * L + l] = s
        }
      }
    }
    return y
  }
  const th = proj('theta', C, inter, xd); const ph = proj('phi', C, inter, xd); const g = proj('g', C, inter, xd)
  const y = new Float64Array(N * inter * L)
  const weights = new Float64Array(N * L * L)
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < L; i++) {
      const s = new Float64Array(L)
      let mx = -Infinity
      for (let j = 0; j < L; j++) {
        for (let c = 0; c < inter; c++) s[j] += th[(n * inter + c) * L + i] * ph[(n * inter + c) * L + j]
        mx = Math.max(mx, s[j])
      }
      let sum = 0
      for (let j = 0; j < L; j++) { s[j] = Math.exp(s[j] - mx); sum += s[j] }
      for (let j = 0; j < L; j++) {
        const p = s[j] / sum
        weights[(n * L + i) * L + j] = p
        for (let c = 0; c < inter; c++) y[(n * inter + c) * L + i] += p * g[(n * inter + c) * L + j]
      }
    }
  }
  let wy = proj(bn ? 'W_z.0' : 'W_z', inter, C, y)
  if (bn) {
    const gamma = P('W_z.1.weight'); const beta = P('W_z.1.bias'); const rm = P('W_z.1.running_mean'); const rv = P('W_z.1.running_var')
    wy = wy.map((v, i) => { const c = Math.floor(i / L) % C; return (v - rm[c]) / Math.sqrt(rv[c] + 1e-5) * gamma[c] + beta[c] })
  }
  const centre = Math.floor(H / 2) * W + Math.floor(W / 2)
  const map = new Float64Array(N * L)
  for (let n = 0; n < N; n++) for (let j = 0; j < L; j++) map[n * L + j] = weights[(n * L + centre) * L + j]
  return { out: addArrays(wy, xd), attention: map }
}

/** AttentionPool: Σᵢ softmax(w·xᵢ + b) xᵢ over positions of x [N, L, dim] or [N, C, H, W]. */
function attentionPool (P, x) {
  const nchw = x.shape.length === 4
  const N = x.shape[0]
  const dim = nchw ? x.shape[1] : x.shape[2]
  const L = nchw ? x.shape[2] * x.shape[3] : x.shape[1]
  const xd = f64(x)
  const at = (n, i, d) => nchw ? xd[(n * dim + d) * L + i] : xd[(n * L + i) * dim + d]
  const w = P('score.weight'); const b = P('score.bias')
  const out = new Float64Array(N * dim); const weights = new Float64Array(N * L)
  for (let n = 0; n < N; n++) {
    const s = new Float64Array(L)
    let mx = -Infinity
    for (let i = 0; i < L; i++) {
      s[i] = b[0]
      for (let d = 0; d < dim; d++) s[i] += w[d] * at(n, i, d)
      mx = Math.max(mx, s[i])
    }
    let sum = 0
    for (let i = 0; i < L; i++) { s[i] = Math.exp(s[i] - mx); sum += s[i] }
    for (let i = 0; i < L; i++) {
      const a = s[i] / sum
      weights[n * L + i] = a
      for (let d = 0; d < dim; d++) out[n * dim + d] += a * at(n, i, d)
    }
  }
  return { out, weights }
}

module.exports = {
  size, f64, paramsOf, permute, mha, encoderLayer, layerNorm, spatialGate, squeezeExcitation, eca, cbam, nonLocal, attentionPool
}
