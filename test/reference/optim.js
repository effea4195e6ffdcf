'use strict'
// Float64 references for the optim family's reductions (the update rules themselves are
// checked against PyTorch's trajectories in test/fixtures/optim/).

/** torch.linalg.vector_norm(x, ord) in float64, summing in index order. */
function vectorNorm (x, ord = 2) {
  let acc = ord === -Infinity ? Infinity : 0
  for (const v of x) {
    const a = Math.abs(v)
    if (Number.isNaN(a) && ord !== 0) return NaN
    if (ord === Infinity) acc = Math.max(acc, a)
    else if (ord === -Infinity) acc = Math.min(acc, a)
    else if (ord === 0) acc += a !== 0 ? 1 : 0
    else acc += a ** ord
  }
  return ord === 0 || !Number.isFinite(ord) ? acc : acc ** (1 / ord)
}

module.exports = { vectorNorm }
