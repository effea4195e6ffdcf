'use strict'
// Plain float64 references for embedding (a row gather) and its backward (a scatter-add).

/** out[i] = weight[indices[i]], [n, dim]. */
function embedding (indices, weight, num, dim) {
  const out = new Float64Array(indices.length * dim)
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]
    if (r < 0 || r >= num) throw new RangeError(`reference: index ${r} out of range`)
    for (let d = 0; d < dim; d++) out[i * dim + d] = weight[r * dim + d]
  }
  return out
}

/** dweight[r] = Σ_{i: indices[i] = r} dy[i] (0 for the padding row), [num, dim]. */
function embeddingBackward (dy, indices, num, dim, { paddingIdx = null } = {}) {
  const pad = paddingIdx === null ? -1 : paddingIdx < 0 ? paddingIdx + num : paddingIdx
  const dw = new Float64Array(num * dim)
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]
    if (r === pad) continue
    for (let d = 0; d < dim; d++) dw[r * dim + d] += dy[i * dim + d]
  }
  return dw
}

module.exports = { embedding, embeddingBackward }
