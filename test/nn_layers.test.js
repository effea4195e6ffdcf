'use strict'
// fv.nn layers: each block's forward against a float64 composition of the references in
// test/reference/, its input and parameter gradients against finite differences of that
// composition, Async = sync bit for bit, state-dict round trips, constructor errors naming
// the class and argument, train/eval semantics, and gradients that accumulate until zeroGrad.
const test = require('ava')
const fv = require('./helpers/fv')
const { assertClose, assertBitIdentical, numericGrad, dot } = require('./helpers/check')
const { uniform } = require('./helpers/random')
const { refForward, refLoss, f64, size } = require('./helpers/nnref')

const nn = fv.nn
const rand = (shape, seed, lo = -1, hi = 1) => fv.tensor(uniform(size(shape), seed, lo, hi), shape)

/**
 * Forward against the float64 reference, then dx and every parameter's gradient against
 * central differences of ⟨dy, reference(x; θ)⟩.
 */
function checkBlock (t, label, make, xShape, seed, { fwd = { rtol: 1e-4, atol: 2e-5 }, grad = { rtol: 2e-3, atol: 2e-4 } } = {}) {
  fv.manualSeed(seed)
  const m = make()
  const x = rand(xShape, seed)
  const y = m.forward(x)
  const ref = refForward(m, { data: f64(x), shape: xShape })
  t.deepEqual([...y.shape], ref.shape, `${label}: output shape`)
  assertClose(t, y.data, ref.data, { ...fwd, label: `${label}: forward` })
  const dy = rand(y.shape, seed + 1)
  const dx = m.backward(dy)
  t.deepEqual([...dx.shape], xShape, `${label}: dx shape`)
  const L = (values, xd) => dot(dy.data, refForward(m, { data: xd, shape: xShape }, values).data)
  const x64 = f64(x)
  assertClose(t, dx.data, numericGrad((xd) => L(new Map(), xd), x64), { ...grad, label: `${label}: dx` })
  for (const [name, p] of m.namedParameters()) {
    const g = numericGrad((pd) => L(new Map([[p, pd]]), x64), f64(p.value))
    assertClose(t, p.grad.data, g, { ...grad, label: `${label}: d${name}` })
  }
}

const BLOCKS = [
  ['Sequential(Conv2d(2,3,3,p=1), BatchNorm2d(3), ReLU, MaxPool2d(2), Flatten, Linear(12,4)) x=[2,2,4,4]', () =>
    new nn.Sequential(new nn.Conv2d(2, 3, 3, { padding: 1 }), new nn.BatchNorm2d(3), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Flatten(), new nn.Linear(12, 4)), [2, 2, 4, 4]],
  ['Sequential(Linear(5,6), LayerNorm(6), GELU, Linear(6,3,bias=false), Tanh) x=[2,3,5]', () =>
    new nn.Sequential(new nn.Linear(5, 6), new nn.LayerNorm(6), new nn.GELU(), new nn.Linear(6, 3, { bias: false }), new nn.Tanh()),
  [2, 3, 5]],
  ['Sequential(ConvTranspose2d(2,3,3,s=2,p=1,op=1), GroupNorm(3,3), Sigmoid, AvgPool2d(3,s=2,p=1,cip=false), AdaptiveAvgPool2d([2,null]), Flatten, Softmax(1)) x=[2,2,3,3]', () =>
    new nn.Sequential(new nn.ConvTranspose2d(2, 3, 3, { stride: 2, padding: 1, outputPadding: 1 }), new nn.GroupNorm(3, 3),
      new nn.Sigmoid(), new nn.AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }), new nn.AdaptiveAvgPool2d([2, null]),
      new nn.Flatten(), new nn.Softmax(1)), [2, 2, 3, 3]],
  ["Sequential(Conv1d(3,4,3,p='same',groups=1), GELU(tanh), Conv1d(4,2,2,s=2,d=1,groups=2), Flatten(1,2)) x=[2,3,6]", () =>
    new nn.Sequential(new nn.Conv1d(3, 4, 3, { padding: 'same' }), new nn.GELU({ approximate: 'tanh' }),
      new nn.Conv1d(4, 2, 2, { stride: 2, groups: 2 }), new nn.Flatten(1, 2)), [2, 3, 6]],
  ['Conv2d(4,6,[3,2],s=[2,1],p=[1,0],d=[1,2],groups=2) x=[2,4,6,7]', () =>
    new nn.Conv2d(4, 6, [3, 2], { stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 2 }), [2, 4, 6, 7]],
  ['ConvTranspose2d(4,2,[2,3],s=[2,1],groups=2,d=2,bias=false) x=[1,4,3,4]', () =>
    new nn.ConvTranspose2d(4, 2, [2, 3], { stride: [2, 1], groups: 2, dilation: 2, bias: false }), [1, 4, 3, 4]],
  ['LayerNorm([3,4], eps=1e-3) x=[2,3,4]', () => new nn.LayerNorm([3, 4], { eps: 1e-3 }), [2, 3, 4]],
  ['BatchNorm2d(3, affine=false) x=[3,3,2,2]', () => new nn.BatchNorm2d(3, { affine: false }), [3, 3, 2, 2]],
  ['BatchNorm2d(2) eval({ grad: true }) x=[2,2,3,3]', () => {
    const bn = new nn.BatchNorm2d(2)
    bn.runningMean.data.set([0.2, -0.1]); bn.runningVar.data.set([0.7, 1.3])
    return bn.eval({ grad: true })
  }, [2, 2, 3, 3]],
  ['MaxPool2d(3, s=2, p=1, d=1, ceilMode) x=[1,2,6,5]', () => new nn.MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }), [1, 2, 6, 5]]
]

BLOCKS.forEach(([label, make, xShape], i) => {
  test(`${label}: forward = float64 reference; dx and every parameter gradient = finite differences`, (t) => {
    // Non-trivial affine parameters for the norm layers (their defaults are ones and zeros).
    const withAffine = () => {
      const m = make()
      for (const mod of m.modules()) {
        if (mod instanceof nn.LayerNorm || mod instanceof nn.BatchNorm2d || mod instanceof nn.GroupNorm) {
          if (mod.weight) nn.init.uniform_(mod.weight, 0.5, 1.5)
          if (mod.bias) nn.init.uniform_(mod.bias, -0.5, 0.5)
        }
      }
      return m
    }
    checkBlock(t, label, withAffine, xShape, 100 + 7 * i)
  })
})

test('losses: CrossEntropyLoss and MSELoss forward = float64 reference, backward = finite differences', (t) => {
  const logits = rand([4, 5], 1, -3, 3)
  for (const opts of [{}, { reduction: 'sum', labelSmoothing: 0.2 }, { reduction: 'none' }, { ignoreIndex: 0 }]) {
    const labels = opts.ignoreIndex === 0 ? Int32Array.of(2, 0, 1, 4) : Int32Array.of(2, 0, -100, 4)
    const ce = new nn.CrossEntropyLoss(opts)
    const loss = ce.forward(logits, labels)
    const ref = refLoss(ce, { data: f64(logits), shape: [4, 5] }, labels)
    t.deepEqual([...loss.shape], opts.reduction === 'none' ? [4] : [])
    assertClose(t, loss.data, ref, { rtol: 1e-5, atol: 1e-6, label: `CE ${JSON.stringify(opts)} forward` })
    const w = opts.reduction === 'none' ? rand([4], 3) : null
    const g = ce.backward(w ?? undefined)
    const L = (xd) => { const r = refLoss(ce, { data: xd, shape: [4, 5] }, labels); return w ? dot(w.data, r) : r[0] }
    assertClose(t, g.data, numericGrad(L, f64(logits)), { rtol: 1e-3, atol: 1e-5, label: `CE ${JSON.stringify(opts)} backward` })
  }
  const pred = rand([3, 4], 4); const target = rand([3, 4], 5)
  for (const reduction of ['mean', 'sum']) {
    const mse = new nn.MSELoss({ reduction })
    const loss = mse.forward(pred, target)
    assertClose(t, loss.data, refLoss(mse, { data: f64(pred) }, { data: f64(target) }), { rtol: 1e-5, label: `MSE ${reduction}` })
    const g = mse.backward(fv.tensor([2], []))
    const L = (xd) => 2 * refLoss(mse, { data: xd }, { data: f64(target) })[0]
    assertClose(t, g.data, numericGrad(L, f64(pred)), { rtol: 1e-3, atol: 1e-5, label: `MSE ${reduction} backward (dy = 2)` })
  }
})

test('Async twins equal the sync forward and backward bit for bit (outputs, dx, every gradient)', async (t) => {
  for (const [label, make, xShape] of BLOCKS) {
    fv.manualSeed(3)
    const m = make()
    const x = rand(xShape, 9)
    const run = (y, dx) => ({ y: Float32Array.from(y.data), dx: Float32Array.from(dx.data), g: m.parameters().map((p) => Float32Array.from(p.grad.data)) })
    m.zeroGrad()
    const y1 = m.forward(x)
    const dy = rand(y1.shape, 10)
    const a = run(y1, m.backward(dy))
    m.zeroGrad()
    const y2 = await m.forwardAsync(x)
    const b = run(y2, await m.backwardAsync(dy))
    assertBitIdentical(t, b.y, a.y, `${label}: forwardAsync`)
    assertBitIdentical(t, b.dx, a.dx, `${label}: backwardAsync dx`)
    a.g.forEach((g, i) => assertBitIdentical(t, b.g[i], g, `${label}: grad ${i}`))
  }
  // Dropout draws its seed in forward: the same seed stream gives the same mask either way.
  const d = new nn.Dropout(0.3)
  const x = rand([4, 33], 1)
  fv.manualSeed(8); const y1 = d.forward(x); const dx1 = d.backward(x)
  fv.manualSeed(8); const y2 = await d.forwardAsync(x); const dx2 = await d.backwardAsync(x)
  assertBitIdentical(t, y2, y1, 'Dropout forwardAsync'); assertBitIdentical(t, dx2, dx1, 'Dropout backwardAsync')
  const ce = new nn.CrossEntropyLoss({ labelSmoothing: 0.1 })
  const logits = rand([3, 4], 2); const labels = Int32Array.of(1, 0, 3)
  const l1 = ce.forward(logits, labels); const g1 = ce.backward()
  const l2 = await ce.forwardAsync(logits, labels); const g2 = await ce.backwardAsync()
  assertBitIdentical(t, l2, l1, 'CrossEntropyLoss forwardAsync'); assertBitIdentical(t, g2, g1, 'CrossEntropyLoss backwardAsync')
})

test('gradients accumulate over two backwards until zeroGrad()', (t) => {
  fv.manualSeed(1)
  const m = new nn.Sequential(new nn.Conv2d(2, 3, 3), new nn.GroupNorm(1, 3), new nn.ReLU(), new nn.Flatten(), new nn.Linear(12, 2),
    new nn.LayerNorm(2))
  const x = rand([2, 2, 4, 4], 2); const dy = rand([2, 2], 3)
  m.forward(x); m.backward(dy)
  const once = m.parameters().map((p) => Float32Array.from(p.grad.data))
  m.forward(x); m.backward(dy)
  // old + new: the norms add exactly; the GEMM-based layers (beta = 1) may round in another order.
  m.parameters().forEach((p, i) => assertClose(t, p.grad.data, once[i].map((v) => 2 * v), { rtol: 1e-6, atol: 0, label: `${p.name}: twice` }))
  const grads = m.parameters().map((p) => p.grad)
  m.zeroGrad()
  m.parameters().forEach((p, i) => {
    t.is(p.grad, grads[i], `${p.name}: zeroGrad keeps the gradient's memory`)
    t.true(p.grad.data.every((v) => v === 0), `${p.name}: zeroed`)
  })
  m.forward(x); m.backward(dy)
  m.parameters().forEach((p, i) => assertBitIdentical(t, p.grad.data, once[i], `${p.name}: after zeroGrad`))
})

test('frozen parameters (requiresGrad = false) keep their gradient untouched', (t) => {
  const lin = new nn.Linear(3, 2)
  lin.weight.requiresGrad = false
  lin.forward(rand([4, 3], 1)); lin.backward(rand([4, 2], 2))
  t.is(lin.weight.grad, null)
  t.truthy(lin.bias.grad)
  const bn = new nn.BatchNorm2d(2)
  bn.bias.requiresGrad = false
  bn.forward(rand([2, 2, 2, 2], 3)); bn.backward(rand([2, 2, 2, 2], 4))
  t.is(bn.bias.grad, null)
  t.truthy(bn.weight.grad)
})

test('state dicts: PyTorch names and shapes, and a round trip gives the same outputs', (t) => {
  fv.manualSeed(5)
  const make = () => new nn.Sequential(new nn.Conv2d(1, 2, 3, { bias: false }), new nn.BatchNorm2d(2), new nn.ReLU(),
    new nn.Flatten(), new nn.Linear(8, 3), new nn.LayerNorm(3), new nn.GroupNorm(1, 3))
  const a = make()
  const sd = a.stateDict()
  t.deepEqual(Object.entries(sd).map(([k, v]) => [k, [...v.shape]]), [
    ['0.weight', [2, 1, 3, 3]], ['1.weight', [2]], ['1.bias', [2]], ['1.running_mean', [2]], ['1.running_var', [2]],
    ['1.num_batches_tracked', []], ['4.weight', [3, 8]], ['4.bias', [3]], ['5.weight', [3]], ['5.bias', [3]],
    ['6.weight', [3]], ['6.bias', [3]]
  ])
  t.deepEqual(Object.entries(new nn.ConvTranspose2d(4, 6, [2, 3], { groups: 2 }).stateDict()).map(([k, v]) => [k, [...v.shape]]),
    [['weight', [4, 3, 2, 3]], ['bias', [6]]])
  t.deepEqual(Object.entries(new nn.Conv1d(4, 6, 5, { groups: 2, bias: false }).stateDict()).map(([k, v]) => [k, [...v.shape]]),
    [['weight', [6, 2, 5]]])
  t.true(sd['1.num_batches_tracked'].data instanceof BigInt64Array)
  const x = rand([2, 1, 4, 4], 1)
  a.train(); a.forward(x.reshape([2, 1, 4, 4])) // updates the running statistics and the batch count
  a.eval()
  const ya = a.forward(x)
  fv.manualSeed(6)
  const b = make().eval()
  t.notDeepEqual(b.forward(x).data, ya.data)
  b.loadStateDict(a.stateDict())
  assertBitIdentical(t, b.forward(x), ya, 'same outputs after loadStateDict')
  t.is(b.stateDict()['1.num_batches_tracked'].data[0], 1n)
  const err = t.throws(() => b.loadStateDict({ ...a.stateDict(), extra: fv.tensor([1], [1]), '4.bias': fv.tensor([1, 2], [2]) }),
    { instanceOf: RangeError })
  t.regex(err.message, /shape mismatches: 4\.bias: expected \[3\], got \[2\]; unexpected keys: extra/)
})

test('Dropout: a fresh mask per training forward from the seed stream, reused by its backward; the identity in eval', (t) => {
  const d = new nn.Dropout(0.4)
  const x = rand([8, 50], 1, 0.5, 1.5)
  fv.manualSeed(11)
  const y1 = d.forward(x)
  const dx1 = d.backward(fv.tensor(new Float32Array(400).fill(1), [8, 50]))
  for (let i = 0; i < 400; i++) {
    const kept = y1.data[i] !== 0
    t.is(kept ? Math.fround(x.data[i] * Math.fround(1 / 0.6)) : 0, y1.data[i])
    if (dx1.data[i] !== (kept ? Math.fround(1 / 0.6) : 0)) return t.fail(`dx at ${i}`)
  }
  const y2 = d.forward(x)
  t.notDeepEqual(y2.data, y1.data, 'the next forward draws a new mask')
  fv.manualSeed(11)
  assertBitIdentical(t, d.forward(x), y1, 'manualSeed replays the masks')
  const kept = y1.data.filter((v) => v !== 0).length / 400
  t.true(kept > 0.5 && kept < 0.7, `kept ${kept}`)
  d.eval()
  const ye = d.forward(x)
  t.is(ye.data, x.data, 'eval: the input itself (no copy)')
  t.throws(() => d.backward(x), { instanceOf: Error, message: /^Dropout: backward needs a forward first/ })
})

test('BatchNorm2d: running statistics and num_batches_tracked in training, used in eval, as PyTorch', (t) => {
  const bn = new nn.BatchNorm2d(2, { momentum: 0.25 })
  const x = rand([3, 2, 2, 2], 1, -2, 3)
  bn.forward(x)
  const N = 12
  for (let c = 0; c < 2; c++) {
    const vals = []
    for (let n = 0; n < 3; n++) for (let s = 0; s < 4; s++) vals.push(x.data[(n * 2 + c) * 4 + s])
    const mean = vals.reduce((a, b) => a + b, 0) / N
    const uvar = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / (N - 1)
    t.true(Math.abs(bn.runningMean.data[c] - 0.25 * mean) < 1e-6)
    t.true(Math.abs(bn.runningVar.data[c] - (0.75 + 0.25 * uvar)) < 1e-6)
  }
  t.is(bn.numBatchesTracked, 1n)
  bn.forward(x)
  t.is(bn.numBatchesTracked, 2n)
  bn.eval()
  const rm = Float32Array.from(bn.runningMean.data)
  const y = bn.forward(x)
  t.is(bn.numBatchesTracked, 2n, 'eval counts nothing')
  t.deepEqual(bn.runningMean.data, rm, 'eval leaves the statistics')
  assertClose(t, y.data, refForward(bn, { data: f64(x), shape: x.shape }).data, { rtol: 1e-5, atol: 1e-6, label: 'eval uses the running stats' })
  t.throws(() => bn.backward(y), { message: /^BatchNorm2d: backward needs a forward first/ }, 'plain eval caches nothing')
  // momentum null: a cumulative average
  const cum = new nn.BatchNorm2d(1, { momentum: null })
  const a = rand([4, 1, 1, 1], 2); const b = rand([4, 1, 1, 1], 3)
  cum.forward(a); cum.forward(b)
  const mean = (v) => v.data.reduce((s, q) => s + q, 0) / 4
  t.true(Math.abs(cum.runningMean.data[0] - (mean(a) + mean(b)) / 2) < 1e-6)
  // trackRunningStats false: no buffers, batch statistics in eval too
  const free = new nn.BatchNorm2d(2, { trackRunningStats: false }).eval()
  t.deepEqual(Object.keys(free.stateDict()), ['weight', 'bias'])
  assertClose(t, free.forward(x).data, new nn.BatchNorm2d(2).forward(x).data, { rtol: 0, atol: 0, label: 'batch stats in eval' })
  t.throws(() => bn.forward(rand([2, 3, 2, 2], 1)), { instanceOf: RangeError, message: /^BatchNorm2d: x must be \[N, C, H, W\] with C=2, got \[2,3,2,2\]/ })
})

test('train()/eval() reach every descendant; a plain eval forward caches nothing and backward says why', (t) => {
  const m = new nn.Sequential(new nn.Linear(3, 3), new nn.Dropout(0.5), new nn.Sequential(new nn.BatchNorm2d(1)))
  m.eval()
  t.true([...m.modules()].every((c) => c.training === false && c.gradInEval === false))
  m.train()
  t.true([...m.modules()].every((c) => c.training === true))
  m.eval({ grad: true })
  t.true([...m.modules()].every((c) => c.gradInEval === true))
  const lin = new nn.Linear(2, 2).eval()
  lin.forward(rand([1, 2], 1))
  t.throws(() => lin.backward(rand([1, 2], 2)), { instanceOf: Error, message: /^Linear: backward needs a forward first, in training mode or after eval\(\{ grad: true \}\)/ })
  lin.train()
  lin.forward(rand([1, 2], 1)); lin.backward(rand([1, 2], 2))
  t.throws(() => lin.backward(rand([1, 2], 2)), { message: /each forward is gone back through once/ })
})

test('Flatten reshapes without a copy; startDim/endDim as options or positional', (t) => {
  const x = rand([2, 3, 4, 5], 1)
  const y = new nn.Flatten().forward(x)
  t.deepEqual([...y.shape], [2, 60]); t.is(y.data, x.data)
  t.deepEqual([...new nn.Flatten({ startDim: 0, endDim: 1 }).forward(x).shape], [6, 4, 5])
  t.deepEqual([...new nn.Flatten(-2).forward(x).shape], [2, 3, 20])
  const f = new nn.Flatten(1, 2)
  f.forward(x)
  const dx = f.backward(rand([2, 12, 5], 2))
  t.deepEqual([...dx.shape], [2, 3, 4, 5])
  t.throws(() => new nn.Flatten(3).forward(rand([2, 3], 1)), { instanceOf: RangeError, message: /^Flatten: startDim must be a dim of x/ })
})

test('default initialisation follows PyTorch: bounds 1/√fanIn, ones and zeros for the norms', (t) => {
  fv.manualSeed(0)
  const lin = new nn.Linear(400, 300)
  const bound = 1 / Math.sqrt(400)
  const w = lin.weight.value.data
  t.true(w.every((v) => v >= -bound && v < bound))
  const mean = w.reduce((a, b) => a + b, 0) / w.length
  const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length)
  t.true(Math.abs(mean) < 2e-4, `mean ${mean}`)
  t.true(Math.abs(std - bound / Math.sqrt(3)) < 2e-4, `std ${std}`)
  t.true(lin.bias.value.data.every((v) => v >= -bound && v < bound))
  const conv = new nn.Conv2d(6, 8, 3, { groups: 2 })
  const cb = 1 / Math.sqrt(3 * 9)
  t.true(conv.weight.value.data.every((v) => Math.abs(v) <= cb))
  t.true(conv.weight.value.data.some((v) => Math.abs(v) > 0.9 * cb))
  const ct = new nn.ConvTranspose2d(2, 6, 3, { groups: 2 }) // fanIn = weight dim 1 × k = 3·9
  t.true(ct.weight.value.data.every((v) => Math.abs(v) <= cb) && ct.bias.value.data.every((v) => Math.abs(v) <= cb))
  const ln = new nn.LayerNorm([2, 3])
  t.true(ln.weight.value.data.every((v) => v === 1) && ln.bias.value.data.every((v) => v === 0))
  const bn = new nn.BatchNorm2d(3)
  t.true(bn.runningVar.data.every((v) => v === 1) && bn.runningMean.data.every((v) => v === 0))
  t.is(new nn.LayerNorm(4, { bias: false }).bias, null)
  t.is(new nn.LayerNorm(4, { elementwiseAffine: false }).weight, null)
  t.is(new nn.GroupNorm(2, 4, { affine: false }).numParameters(), 0)
})

test('fv.manualSeed makes initialisation reproducible; different seeds differ', (t) => {
  const make = () => new nn.Sequential(new nn.Conv2d(3, 4, 3), new nn.Linear(5, 6))
  fv.manualSeed(42); const a = make()
  fv.manualSeed(42); const b = make()
  fv.manualSeed(43); const c = make()
  a.parameters().forEach((p, i) => assertBitIdentical(t, b.parameters()[i].value, p.value, p.name))
  t.notDeepEqual(c.parameters()[0].value.data, a.parameters()[0].value.data)
  t.is(fv.initialSeed(), 43n)
  fv.manualSeed(-1); t.is(fv.initialSeed(), 2n ** 64n - 1n)
  fv.manualSeed(2n ** 63n); t.is(fv.initialSeed(), 2n ** 63n)
  t.throws(() => fv.manualSeed(1.5), { instanceOf: RangeError, message: /^manualSeed: seed must be a safe integer, got 1\.5$/ })
  t.throws(() => fv.manualSeed('1'), { instanceOf: TypeError, message: /^manualSeed: seed must be an integer or a bigint/ })
})

test('fv.nn.init schemes: bounds, moments and gains', (t) => {
  fv.manualSeed(7)
  const w = fv.tensor(new Float32Array(256 * 128), [256, 128])
  const moments = (a) => {
    const m = a.reduce((s, v) => s + v, 0) / a.length
    return [m, Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length)]
  }
  const within = (a, b, tol, label) => t.true(Math.abs(a - b) <= tol, `${label}: ${a} vs ${b}`)
  nn.init.kaimingUniform_(w)
  let b = Math.sqrt(2) * Math.sqrt(3 / 128)
  t.true(w.data.every((v) => Math.abs(v) <= b)); within(moments(w.data)[1], b / Math.sqrt(3), 2e-3, 'kaimingUniform_ std')
  nn.init.kaimingNormal_(w, { mode: 'fan_out', nonlinearity: 'relu' })
  within(moments(w.data)[1], Math.sqrt(2 / 256), 1e-3, 'kaimingNormal_ fan_out std')
  nn.init.kaimingNormal_(w, 0, 'fan_out', 'relu')
  within(moments(w.data)[1], Math.sqrt(2 / 256), 1e-3, 'kaimingNormal_ positional')
  nn.init.xavierUniform_(w, 2)
  b = 2 * Math.sqrt(6 / 384)
  t.true(w.data.every((v) => Math.abs(v) <= b)); within(moments(w.data)[1], b / Math.sqrt(3), 2e-3, 'xavierUniform_ std')
  nn.init.xavierNormal_(w, { gain: 0.5 })
  within(moments(w.data)[1], 0.5 * Math.sqrt(2 / 384), 5e-4, 'xavierNormal_ std')
  nn.init.normal_(w, 3, 0.5)
  // Within 5 standard errors (n = 32768).
  const [m, s] = moments(w.data); within(m, 3, 5 * 0.5 / 181, 'normal_ mean'); within(s, 0.5, 5 * 0.5 / 256, 'normal_ std')
  nn.init.uniform_(w, -1, 2)
  t.true(w.data.every((v) => v >= -1 && v < 2)); within(moments(w.data)[0], 0.5, 5 * 3 / Math.sqrt(12) / 181, 'uniform_ mean')
  t.is(nn.init.constant_(w, 0.25), w); t.true(w.data.every((v) => v === 0.25))
  const p = new nn.Parameter(fv.tensor(new Float32Array(3), [3]))
  t.is(nn.init.ones_(p), p); t.deepEqual([...p.value.data], [1, 1, 1])
  nn.init.zeros_(p); t.deepEqual([...p.value.data], [0, 0, 0])
  t.is(nn.init.calculateGain('tanh'), 5 / 3)
  t.is(nn.init.calculateGain('leaky_relu', 0.2), Math.sqrt(2 / 1.04))
  t.is(nn.init.calculateGain('conv2d'), 1)
  t.throws(() => nn.init.kaimingUniform_(fv.tensor([1, 2], [2])), { instanceOf: RangeError, message: /^kaimingUniform_: tensor must be at least 2 dimensions/ })
  t.throws(() => nn.init.kaimingUniform_(w, { mode: 'fan' }), { instanceOf: RangeError, message: /^kaimingUniform_: mode must be/ })
  t.throws(() => nn.init.uniform_([1, 2]), { instanceOf: TypeError, message: /^uniform_: tensor must be a Tensor or a Parameter/ })
  t.throws(() => nn.init.calculateGain('swish'), { instanceOf: RangeError, message: /^calculateGain: nonlinearity must be/ })
})

const BAD = [
  [() => new nn.Conv2d(1, 8, 0), RangeError, 'Conv2d: kernelSize must be a positive integer or [h, w], got 0'],
  [() => new nn.Conv2d(1, 8, 'a'), TypeError, 'Conv2d: kernelSize must be a positive integer or [h, w], got a string "a"'],
  [() => new nn.Conv2d(1, 8, [3, 0]), RangeError, 'Conv2d: kernelSize must be a positive integer or [h, w], got [3,0]'],
  [() => new nn.Conv2d(0, 8, 3), RangeError, 'Conv2d: inChannels must be a positive integer, got 0'],
  [() => new nn.Conv2d(3, 8, 3, { groups: 2 }), RangeError, 'Conv2d: groups must be a divisor of inChannels=3, got 2'],
  [() => new nn.Conv2d(1, 8, 3, { padding: -1 }), RangeError, 'Conv2d: padding must be'],
  [() => new nn.Conv2d(1, 8, 3, { stride: [1, 0] }), RangeError, 'Conv2d: stride must be a positive integer or [h, w], got [1,0]'],
  [() => new nn.Conv2d(1, 8, 3, { paddng: 1 }), TypeError, "Conv2d: options must be an object with keys among stride, padding, dilation, groups, bias, paddingMode, got unknown key 'paddng'"],
  [() => new nn.Conv2d(1, 8, 3, { paddingMode: 'reflect' }), RangeError, "Conv2d: paddingMode must be 'zeros'"],
  [() => new nn.Conv1d(2, 4, [3, 3]), TypeError, 'Conv1d: kernelSize must be a positive integer, got [3,3]'],
  [() => new nn.ConvTranspose2d(2, 2, 3, { stride: 2, outputPadding: 2 }), RangeError, 'ConvTranspose2d: outputPadding must be smaller than either stride or dilation, got 2'],
  [() => new nn.ConvTranspose2d(2, 3, 3, { groups: 2 }), RangeError, 'ConvTranspose2d: groups must be a divisor of outChannels=3, got 2'],
  [() => new nn.Linear(0, 3), RangeError, 'Linear: inFeatures must be a positive integer, got 0'],
  [() => new nn.Linear(3.5, 3), RangeError, 'Linear: inFeatures must be a positive integer, got 3.5'],
  [() => new nn.Linear('3', 3), TypeError, 'Linear: inFeatures must be a positive integer, got a string "3"'],
  [() => new nn.Linear(3, 3, { bias: 1 }), TypeError, 'Linear: bias must be a boolean, got 1'],
  [() => new nn.Linear(3, 3, 'bias'), TypeError, 'Linear: options must be an object'],
  [() => new nn.MaxPool2d(), TypeError, 'MaxPool2d: kernelSize must be a positive integer or [h, w], got undefined'],
  [() => new nn.AvgPool2d(2, { padding: [1, 2, 3] }), RangeError, 'AvgPool2d: padding must be'],
  [() => new nn.AdaptiveAvgPool2d(0), RangeError, 'AdaptiveAvgPool2d: outputSize must be'],
  [() => new nn.Dropout(1.5), RangeError, 'Dropout: p must be a number from 0 to 1, got 1.5'],
  [() => new nn.Dropout(0.5, { inplace: true }), RangeError, 'Dropout: inplace must be false'],
  [() => new nn.GELU({ approximate: 'fast' }), RangeError, "GELU: approximate must be 'none' or 'tanh', got a string \"fast\""],
  [() => new nn.Softmax(), TypeError, 'Softmax: dim must be an integer, got undefined'],
  [() => new nn.ReLU({ inplace: true }), TypeError, 'ReLU: options must be'],
  [() => new nn.LayerNorm([]), TypeError, 'LayerNorm: normalizedShape must be a positive integer or a non-empty array'],
  [() => new nn.LayerNorm([4, 0]), RangeError, 'LayerNorm: normalizedShape[1] must be a positive integer, got 0'],
  [() => new nn.LayerNorm(4, { eps: -1 }), RangeError, 'LayerNorm: eps must be'],
  [() => new nn.BatchNorm2d(0), RangeError, 'BatchNorm2d: numFeatures must be a positive integer, got 0'],
  [() => new nn.BatchNorm2d(3, { momentum: 2 }), RangeError, 'BatchNorm2d: momentum must be a number from 0 to 1, got 2'],
  [() => new nn.GroupNorm(4, 6), RangeError, 'GroupNorm: numGroups must be a divisor of numChannels=6, got 4'],
  [() => new nn.Flatten({ startDim: 1.5 }), RangeError, 'Flatten: startDim must be an integer, got 1.5'],
  [() => new nn.Sequential(new nn.ReLU(), 1), TypeError, 'Sequential: module 1 must be a Module, got 1'],
  [() => new nn.ModuleList([new nn.ReLU(), {}]), TypeError, 'ModuleList: module 1 must be a Module, got an object'],
  [() => new nn.ModuleDict({ 'a.b': new nn.ReLU() }), RangeError, 'ModuleDict: key must be a non-empty string without dots, got a string "a.b"'],
  [() => new nn.CrossEntropyLoss({ reduction: 'avg' }), RangeError, "CrossEntropyLoss: reduction must be 'mean', 'sum' or 'none', got a string \"avg\""],
  [() => new nn.CrossEntropyLoss({ labelSmoothing: 2 }), RangeError, 'CrossEntropyLoss: labelSmoothing must be a number from 0 to 1, got 2'],
  [() => new nn.MSELoss({ weight: 1 }), TypeError, "MSELoss: options must be an object with keys among reduction, got unknown key 'weight'"]
]

test('bad constructor arguments: TypeError or RangeError naming the class and the argument', (t) => {
  for (const [fn, Err, prefix] of BAD) {
    const err = t.throws(fn, { instanceOf: Err }, prefix)
    if (err) t.true(err.message.startsWith(prefix), `"${err.message}" should start with "${prefix}"`)
  }
})
