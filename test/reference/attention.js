'use strict'
// Plain float64 reference for attention: the definition, written as directly as possible.
//
//   s[b,h,i,j] = scale·Σ_d q[b,h,i,d]·k[b,g,j,d] + mask[b,h,i,j]      g = ⌊h/(Hq/Hkv)⌋
//   visible j: inside the causal/window interval, j < keyLengths[b], s > −Infinity, and
//   among the topK largest of those (ties to the lower j)
//   P = softmax over the visible keys; out = Σ_j P·Z/(1−p)·v_j with Z the dropout keep mask
//   lse = log Σ_{visible} exp(s)   (−Infinity and out = 0 for a row with none)
//
// dims = { B, Hq, Hkv, Lq, Lk, D, Dv }; opts as fv.ops.attention's (mask given as
// { data, shape } broadcastable to [B,Hq,Lq,Lk]).

// ---- Philox4x32-10, as native/core/rng.h (exact 32×32→64 products in doubles) ----
const STREAM_ATTENTION = 0x6174746e
function mulhilo (a, b) {
  const ah = a >>> 16; const al = a & 0xffff; const bh = b >>> 16; const bl = b & 0xffff
  const mid = ah * bl + al * bh // < 2^33
  const low = mid * 65536 + al * bl // < 2^50: exact
  const hi = (ah * bh + Math.floor(low / 4294967296)) >>> 0
  return [hi, Math.imul(a, b) >>> 0]
}
function philox (c0, c1, c2, c3, seed) {
  let k0 = Number(BigInt.asUintN(32, BigInt(seed))); let k1 = Number(BigInt.asUintN(32, BigInt(seed) >> 32n))
  for (let r = 0; r < 10; r++) {
    const [hi0, lo0] = mulhilo(0xD2511F53, c0)
    const [hi1, lo1] = mulhilo(0xCD9E8D57, c2)
    const n0 = (hi1 ^ c1 ^ k0) >>> 0; const n2 = (hi0 ^ c3 ^ k1) >>> 0
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0
    k0 = (k0 + 0x9E3779B9) >>> 0; k1 = (k1 + 0xBB67AE85) >>> 0
  }
  return [c0, c1, c2, c3]
}
/** 1 if element (bh, i, j) survives dropout p with this seed, else 0. */
function keep (bh, i, j, p, seed) {
  const w = philox(bh >>> 0, i >>> 0, Math.floor(j / 4) >>> 0, STREAM_ATTENTION, seed)[j % 4]
  return (w >>> 8) / 16777216 >= Math.fround(p) ? 1 : 0
}

function maskAt (mask, dims, b, h, i, j) {
  if (!mask) return 0
  const shape = [...Array(4 - mask.shape.length).fill(1), ...mask.shape]
  const idx = [b, h, i, j]
  let off = 0
  for (let a = 0; a < 4; a++) off = off * shape[a] + (shape[a] === 1 ? 0 : idx[a])
  return mask.data[off]
}

/** For each (b,h,i): the scores (−Infinity where hidden) and the probabilities P of the kept keys. */
function rows (q, k, v, dims, opts = {}) {
  const { B, Hq, Hkv, Lq, Lk, D } = dims
  const G = Hq / Hkv
  const scale = opts.scale ?? 1 / Math.sqrt(D)
  const [left, right] = opts.window ?? [-1, -1]
  const out = []
  for (let b = 0; b < B; b++) {
    const klen = opts.keyLengths ? Math.min(Lk, opts.keyLengths[b]) : Lk
    for (let h = 0; h < Hq; h++) {
      const g = Math.floor(h / G)
      for (let i = 0; i < Lq; i++) {
        const diag = i + Lk - Lq
        const s = new Float64Array(Lk).fill(-Infinity)
        for (let j = 0; j < klen; j++) {
          if (left >= 0 && j < diag - left) continue
          if (right >= 0 && j > diag + right) continue
          if (opts.causal && j > diag) continue
          let acc = 0
          for (let d = 0; d < D; d++) acc += q[((b * Hq + h) * Lq + i) * D + d] * k[((b * Hkv + g) * Lk + j) * D + d]
          // opts.float32Scores: the score rounded to float32 as the kernel's is, so one past
          // float32's range is ±∞ (hidden at −∞) and a tiny q·k lost in the mask ties (the
          // fuzzer's 'special' values, and topK's choices)
          s[j] = opts.float32Scores
            ? Math.fround(Math.fround(acc * scale) + maskAt(opts.mask, dims, b, h, i, j))
            : acc * scale + maskAt(opts.mask, dims, b, h, i, j)
        }
        if (opts.topK) {
          const vis = []
          for (let j = 0; j < Lk; j++) if (s[j] > -Infinity) vis.push(j)
          vis.sort((x, y) => (s[y] - s[x]) || (x - y))
          for (const j of vis.slice(opts.topK)) s[j] = -Infinity
        }
        let m = -Infinity
        for (let j = 0; j < Lk; j++) m = Math.max(m, s[j])
        const P = new Float64Array(Lk)
        let l = 0
        if (m > -Infinity) {
          for (let j = 0; j < Lk; j++) { P[j] = Math.exp(s[j] - m); l += P[j] }
          for (let j = 0; j < Lk; j++) P[j] /= l
        }
        out.push({ b, h, g, i, s, P, lse: m > -Infinity ? m + Math.log(l) : -Infinity })
      }
    }
  }
  return out
}

function dropoutFactors (r, dims, opts) {
  const p = opts.dropout ?? 0
  const Z = new Float64Array(dims.Lk).fill(1)
  if (p > 0) {
    const inv = 1 / (1 - Math.fround(p))
    for (let j = 0; j < dims.Lk; j++) Z[j] = keep(r.b * dims.Hq + r.h, r.i, j, p, opts.seed) * inv
  }
  return Z
}

function attention (q, k, v, dims, opts = {}) {
  const { Hkv, Lk, Dv } = dims
  const R = rows(q, k, v, dims, opts)
  const out = new Float64Array(R.length * Dv)
  const lse = new Float64Array(R.length)
  const weights = new Float64Array(R.length * Lk)
  R.forEach((r, n) => {
    lse[n] = r.lse
    const Z = dropoutFactors(r, dims, opts)
    for (let j = 0; j < Lk; j++) {
      weights[n * Lk + j] = r.P[j]
      const w = r.P[j] * Z[j]
      if (w === 0) continue
      const vj = ((r.b * Hkv + r.g) * Lk + j) * Dv
      for (let e = 0; e < Dv; e++) out[n * Dv + e] += w * v[vj + e]
    }
  })
  return { out, lse, weights }
}

/** Analytic float64 gradients of ⟨dOut, out⟩ w.r.t. q, k, v (the mask and topK set held fixed). */
function attentionBackward (dOut, q, k, v, dims, opts = {}) {
  const { Hkv, Lk, D, Dv } = dims
  const scale = opts.scale ?? 1 / Math.sqrt(D)
  const R = rows(q, k, v, dims, opts)
  const dq = new Float64Array(q.length)
  const dk = new Float64Array(k.length)
  const dv = new Float64Array(v.length)
  R.forEach((r, n) => {
    const Z = dropoutFactors(r, dims, opts)
    const qi = n * D
    const dP = new Float64Array(Lk)
    let Di = 0
    // A hidden key (s = −∞) is not in the function: its gradient is 0 even in a NaN row.
    const skip = (j) => r.P[j] === 0 || r.s[j] === -Infinity
    for (let j = 0; j < Lk; j++) {
      if (skip(j)) continue
      const vj = ((r.b * Hkv + r.g) * Lk + j) * Dv
      let acc = 0
      for (let e = 0; e < Dv; e++) {
        acc += dOut[n * Dv + e] * v[vj + e]
        if (Z[j] !== 0) dv[vj + e] += r.P[j] * Z[j] * dOut[n * Dv + e]  // dropped: nothing (a select, as the kernel's)
      }
      dP[j] = acc * Z[j]
      Di += r.P[j] * dP[j]
    }
    for (let j = 0; j < Lk; j++) {
      if (skip(j)) continue
      const dS = r.P[j] * (dP[j] - Di) * scale
      const kj = ((r.b * Hkv + r.g) * Lk + j) * D
      for (let d = 0; d < D; d++) {
        dq[qi + d] += dS * k[kj + d]
        dk[kj + d] += dS * q[qi + d]
      }
    }
  })
  return { dq, dk, dv }
}

module.exports = { attention, attentionBackward, philox, keep }
