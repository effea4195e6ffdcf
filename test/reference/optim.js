'use strict'
// Float64 references for the optim family: the reductions, and the update rules written
// from native/cpu/optim/optim.h's formulas in plain float64 (the bit-exact check of the
// updates is against PyTorch's own trajectories in test/fixtures/optim/; these are for
// random shapes and options, within a tolerance).

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

/**
 * One Adam / AdamW step in float64 on copies: { param, expAvg, expAvgSq, maxExpAvgSq }.
 * o: { lr, beta1, beta2, eps, weightDecay, step, amsgrad, decoupled, maximize } (defaults as fv.ops.adamStep).
 */
function adamStep (param, grad, expAvg, expAvgSq, maxExpAvgSq, o) {
  const { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay: wd = 0, step, amsgrad = false, decoupled = false, maximize = false } = o
  const p = Float64Array.from(param); const m = Float64Array.from(expAvg); const v = Float64Array.from(expAvgSq)
  const vm = maxExpAvgSq ? Float64Array.from(maxExpAvgSq) : null
  const bc1 = 1 - beta1 ** step; const bc2 = 1 - beta2 ** step
  for (let i = 0; i < p.length; i++) {
    let g = maximize ? -grad[i] : grad[i]
    if (decoupled) p[i] *= 1 - lr * wd
    else if (wd !== 0) g += wd * p[i]
    m[i] = beta1 * m[i] + (1 - beta1) * g
    v[i] = beta2 * v[i] + (1 - beta2) * g * g
    let vh = v[i]
    if (amsgrad) { vm[i] = Math.max(vm[i], v[i]); vh = vm[i] }
    p[i] -= (lr / bc1) * m[i] / (Math.sqrt(vh) / Math.sqrt(bc2) + eps)
  }
  return { param: p, expAvg: m, expAvgSq: v, maxExpAvgSq: vm }
}

/** One SGD step in float64 on copies: { param, momentumBuffer }. o as fv.ops.sgdStep's options. */
function sgdStep (param, grad, momentumBuffer, o) {
  const { lr = 1e-3, momentum = 0, dampening = 0, weightDecay: wd = 0, nesterov = false, maximize = false, initBuffer = false } = o
  const p = Float64Array.from(param); const b = momentumBuffer ? Float64Array.from(momentumBuffer) : null
  for (let i = 0; i < p.length; i++) {
    let d = maximize ? -grad[i] : grad[i]
    if (wd !== 0) d += wd * p[i]
    if (momentum !== 0) {
      b[i] = initBuffer ? d : b[i] * momentum + (1 - dampening) * d
      d = nesterov ? d + momentum * b[i] : b[i]
    }
    p[i] -= lr * d
  }
  return { param: p, momentumBuffer: b }
}

module.exports = { vectorNorm, adamStep, sgdStep }
