'use strict'
// fv.nn's own cost: a Sequential's forward + backward against the same ops called by hand
// (the same out/accumulate into the parameters' gradients, the same disposes of the
// intermediates), on an MNIST-sized CNN and on a small MLP where per-call overhead shows
// most. Samples alternate between the two so drift on a shared machine hits both alike;
// each row is the median. The target: modules within 5% of the hand-written chain.

function median (a) {
  const s = a.slice().sort((x, y) => x - y)
  return s[s.length >> 1]
}

// Alternating samples of two sync functions after warm-up, each sample `reps` calls (so a
// sample of a microsecond-sized step still lasts ~4 ms): the medians in ms per call, and
// the median of the per-pair ratios b/a (neighbours in time share the machine's load, so
// the ratio is steadier than either median on a shared, noisy machine).
async function paired (a, b, { warmup = 10, runs = 100, minMs = 3000, maxRuns = 400 } = {}) {
  for (let i = 0; i < warmup; i++) { a(); b(); await new Promise(setImmediate) }
  const t0 = performance.now(); a(); b()
  const reps = Math.max(1, Math.ceil(4 / (performance.now() - t0)))
  const time = (f) => { const t = performance.now(); for (let r = 0; r < reps; r++) f(); return (performance.now() - t) / reps }
  const ta = []; const tb = []; const ratio = []
  const start = performance.now()
  for (let i = 0; (i < runs || performance.now() - start < minMs) && ta.length < maxRuns; i++) {
    if (i % 2 === 0) { ta.push(time(a)); tb.push(time(b)) } else { tb.push(time(b)); ta.push(time(a)) }
    ratio.push(tb[tb.length - 1] / ta[ta.length - 1])
    await new Promise(setImmediate)
  }
  return { a: median(ta), b: median(tb), ratio: median(ratio), runs: ta.length, reps }
}

function rand (fv, shape, seed) {
  const t = fv.tensor(new Float32Array(shape.reduce((p, d) => p * d, 1)), shape)
  return fv.ops.uniform_(t, -1, 1, seed)
}

// The CNN: conv(1→16) relu pool conv(16→32) relu pool flatten linear(1568→10).
function cnnCase (fv, N) {
  const nn = fv.nn
  fv.manualSeed(1)
  const model = new nn.Sequential(
    new nn.Conv2d(1, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(16, 32, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(32 * 7 * 7, 10))
  const x = rand(fv, [N, 1, 28, 28], 2)
  const dy = rand(fv, [N, 10], 3)
  const [c1, , , c2, , , , fc] = model
  const ops = fv.ops
  const pool = { kernel: 2 }
  const conv = { padding: 1 }
  for (const p of model.parameters()) p.ensureGrad()
  const byModule = () => { model.forward(x); model.backward(dy).dispose() }
  const byHand = () => {
    const a1 = ops.conv2d(x, c1.weight.value, c1.bias.value, conv)
    const a2 = ops.relu(a1)
    const a3 = ops.maxPool2d(a2, pool)
    const a4 = ops.conv2d(a3, c2.weight.value, c2.bias.value, conv)
    const a5 = ops.relu(a4)
    const a6 = ops.maxPool2d(a5, pool)
    const a7 = a6.reshape([N, 32 * 7 * 7])
    const y = ops.linear(a7, fc.weight.value, fc.bias.value)
    const g7 = ops.linearBackward(dy, a7, fc.weight.value, { out: { dw: fc.weight.grad, db: fc.bias.grad }, accumulate: true }).dx
    const g5 = ops.maxPool2dBackward(g7.reshape([N, 32, 7, 7]), a5, pool); g7.dispose(); a6.dispose()
    const g4 = ops.reluBackward(g5, a4); g5.dispose(); a5.dispose()
    const g3 = ops.conv2dBackward(g4, a3, c2.weight.value, { ...conv, out: { dw: c2.weight.grad, db: c2.bias.grad }, accumulate: true }).dx
    g4.dispose(); a4.dispose()
    const g2 = ops.maxPool2dBackward(g3, a2, pool); g3.dispose(); a3.dispose()
    const g1 = ops.reluBackward(g2, a1); g2.dispose(); a2.dispose()
    const g0 = ops.conv2dBackward(g1, x, c1.weight.value, { ...conv, out: { dw: c1.weight.grad, db: c1.bias.grad }, accumulate: true }).dx
    g1.dispose(); a1.dispose()
    y.dispose(); g0.dispose()
  }
  // Forward FLOPs (the two convs and the linear) × 3: backward computes dx and dw of each.
  const flop = 3 * 2 * N * (16 * 784 * 9 + 32 * 196 * 9 * 16 + 1568 * 10)
  return { group: `CNN mnist x=[${N},1,28,28] fwd+bwd`, byModule, byHand, flop }
}

// The MLP: linear(64→128) relu linear(128→10), batch 8: microseconds of math per op.
function mlpCase (fv) {
  const nn = fv.nn
  fv.manualSeed(2)
  const model = new nn.Sequential(new nn.Linear(64, 128), new nn.ReLU(), new nn.Linear(128, 10))
  const x = rand(fv, [8, 64], 4)
  const dy = rand(fv, [8, 10], 5)
  const [l1, , l2] = model
  const ops = fv.ops
  for (const p of model.parameters()) p.ensureGrad()
  const byModule = () => { model.forward(x); model.backward(dy).dispose() }
  const byHand = () => {
    const a1 = ops.linear(x, l1.weight.value, l1.bias.value)
    const a2 = ops.relu(a1)
    const y = ops.linear(a2, l2.weight.value, l2.bias.value)
    const g2 = ops.linearBackward(dy, a2, l2.weight.value, { out: { dw: l2.weight.grad, db: l2.bias.grad }, accumulate: true }).dx
    const g1 = ops.reluBackward(g2, a1); g2.dispose(); a2.dispose()
    const g0 = ops.linearBackward(g1, x, l1.weight.value, { out: { dw: l1.weight.grad, db: l1.bias.grad }, accumulate: true }).dx
    g1.dispose(); a1.dispose(); y.dispose(); g0.dispose()
  }
  return { group: 'MLP x=[8,64] 64→128→10 fwd+bwd', byModule, byHand, flop: 3 * 2 * 8 * (64 * 128 + 128 * 10) }
}

async function run ({ fv, report, quick }) {
  const suite = 'nn'
  for (const c of [cnnCase(fv, quick ? 16 : 64), mlpCase(fv)]) {
    const r = await paired(c.byHand, c.byModule, quick ? { warmup: 5, runs: 30, minMs: 500 } : {})
    report.add({ suite, group: c.group, impl: 'ops by hand', flop: c.flop, ms: r.a, note: `${r.runs} paired samples of ${r.reps} call(s)` })
    report.add({
      suite, group: c.group, impl: 'fv.nn.Sequential', flop: c.flop, ms: r.b,
      note: `module overhead ${((r.ratio - 1) * 100).toFixed(1)}% (median of paired ratios; target ≤ 5%)`
    })
  }
}

module.exports = { run, cnnCase, mlpCase, paired }
