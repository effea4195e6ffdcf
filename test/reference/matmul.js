'use strict'
// Plain float64 references for matmul (torch.matmul's broadcasting), its backward, and the
// BLAS-style gemm. Straight loops over the definitions, nothing clever.

function size (shape) { return shape.reduce((a, b) => a * b, 1) }

// Element (i, j) of op(x) for a [rows, cols] matrix stored at offset `off`.
function at (x, off, cols, trans, i, j, ldRows) {
  return trans ? x[off + j * ldRows + i] : x[off + i * cols + j]
}

/**
 * alpha·op(a)·op(b) + beta·c + biasRow[j] + biasCol[i], then relu, for 2-D or 3-D
 * operands (a 2-D one serving every batch item). `rows` (optional) limits the rows
 * computed; the others stay NaN.
 */
function gemm ({ a, aShape, b, bShape, transA = false, transB = false, alpha = 1, beta, c = null, cShape = null,
  biasRow = null, biasCol = null, relu = false, rows = null }) {
  if (beta === undefined) beta = c ? 1 : 0
  const a2 = aShape.slice(-2); const b2 = bShape.slice(-2)
  const [M, K] = transA ? [a2[1], a2[0]] : a2
  const N = transB ? b2[0] : b2[1]
  const batch = aShape.length === 3 ? aShape[0] : bShape.length === 3 ? bShape[0] : 1
  const aStride = aShape.length === 3 ? M * K : 0
  const bStride = bShape.length === 3 ? K * N : 0
  const cStride = cShape && cShape.length === 3 ? M * N : 0
  const y = new Float64Array(batch * M * N).fill(NaN)
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < M; i++) {
      if (rows && !rows.includes(i)) continue
      for (let j = 0; j < N; j++) {
        let s = 0
        if (alpha !== 0) {
          for (let k = 0; k < K; k++) {
            s += at(a, t * aStride, K, transA, i, k, M) * at(b, t * bStride, N, transB, k, j, K)
          }
        }
        let v = alpha * s
        if (beta !== 0) v += beta * c[t * cStride + i * N + j]
        if (biasRow) v += biasRow[j]
        if (biasCol) v += biasCol[i]
        if (relu && v < 0) v = 0
        y[t * M * N + i * N + j] = v
      }
    }
  }
  return y
}

// torch.matmul's shapes: { M, K, N, batch, aBatch, bBatch, yShape }.
function matmulShapes (aShape, bShape) {
  const a1 = aShape.length === 1; const b1 = bShape.length === 1
  const M = a1 ? 1 : aShape[aShape.length - 2]
  const K = aShape[aShape.length - 1]
  const N = b1 ? 1 : bShape[bShape.length - 1]
  const aB = a1 ? [] : aShape.slice(0, -2)
  const bB = b1 ? [] : bShape.slice(0, -2)
  const rank = Math.max(aB.length, bB.length)
  const aBatch = [...Array(rank - aB.length).fill(1), ...aB]
  const bBatch = [...Array(rank - bB.length).fill(1), ...bB]
  const batch = aBatch.map((d, i) => (d === 1 ? bBatch[i] : d))
  const yShape = [...batch, ...(a1 ? [] : [M]), ...(b1 ? [] : [N])]
  return { M, K, N, batch, aBatch, bBatch, yShape }
}

// Flat index into a broadcast operand's batch for the multi-index `idx` of the result's batch.
function batchIndex (idx, dims) {
  let f = 0
  for (let d = 0; d < dims.length; d++) f = f * dims[d] + (dims[d] === 1 ? 0 : idx[d])
  return f
}

function forEachBatch (batch, fn) {
  const n = size(batch)
  const idx = new Array(batch.length).fill(0)
  for (let o = 0; o < n; o++) {
    let r = o
    for (let d = batch.length - 1; d >= 0; d--) { idx[d] = r % batch[d]; r = Math.floor(r / batch[d]) }
    fn(o, idx)
  }
}

function matmul (a, aShape, b, bShape) {
  const s = matmulShapes(aShape, bShape)
  const { M, K, N } = s
  const y = new Float64Array(size(s.batch) * M * N)
  forEachBatch(s.batch, (o, idx) => {
    const ao = batchIndex(idx, s.aBatch) * M * K
    const bo = batchIndex(idx, s.bBatch) * K * N
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0
        for (let k = 0; k < K; k++) acc += a[ao + i * K + k] * b[bo + k * N + j]
        y[o * M * N + i * N + j] = acc
      }
    }
  })
  return { data: y, shape: s.yShape }
}

function matmulBackward (dy, a, aShape, b, bShape) {
  const s = matmulShapes(aShape, bShape)
  const { M, K, N } = s
  const da = new Float64Array(size(aShape))
  const db = new Float64Array(size(bShape))
  forEachBatch(s.batch, (o, idx) => {
    const ao = batchIndex(idx, s.aBatch) * M * K
    const bo = batchIndex(idx, s.bBatch) * K * N
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        const g = dy[o * M * N + i * N + j]
        for (let k = 0; k < K; k++) {
          da[ao + i * K + k] += g * b[bo + k * N + j]
          db[bo + k * N + j] += g * a[ao + i * K + k]
        }
      }
    }
  })
  return { da, db }
}

module.exports = { gemm, matmul, matmulBackward, matmulShapes }
