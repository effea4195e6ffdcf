'use strict'
// Attention inside CNNs (fv.nn.SpatialGate, SqueezeExcitation, ECA, CBAM, NonLocal2d,
// AttentionPool): forward and lastAttention against float64 references written from the
// definitions (test/helpers/nn_attention_ref.js), dx and every parameter gradient against
// finite differences, Async = sync bit for bit, state dicts, errors naming the class and
// the argument, and the memory rule.
const test = require('ava')
const fv = require('./helpers/fv')
const { assertClose, assertBitIdentical, numericGrad, dot } = require('./helpers/check')
const { uniform } = require('./helpers/random')
const { throwsLike, rejectsLike } = require('./helpers/errors')
const R = require('./helpers/nn_attention_ref')

const nn = fv.nn
const { f64, size } = R
const rand = (shape, seed, lo = -1, hi = 1) => fv.tensor(uniform(size(shape), seed, lo, hi), shape)
const FWD = { rtol: 1e-4, atol: 2e-5 }
const GRAD = { rtol: 2e-3, atol: 2e-4 }

function randomize (m, seed, a = 0.6) {
  let s = seed
  for (const [, p] of m.namedParameters()) p.value.data.set(uniform(p.value.size, s++, -a, a))
  return m
}

// [label, make, x shape, reference (P, x) → { out, attention }, lastAttention shape]
const X = [2, 8, 5, 6]
const BLOCKS = [
  ['SpatialGate(8)', () => new nn.SpatialGate(8), X, (P, x) => { const r = R.spatialGate(P, x); return { out: r.out, attention: r.gate } }, [2, 1, 5, 6]],
  ['SqueezeExcitation(8, 4)', () => new nn.SqueezeExcitation(8, 4), X, (P, x) => R.squeezeExcitation(P, x, 2), [2, 8, 1, 1]],
  ['SqueezeExcitation(8) (reduction 16 → 1 squeeze channel)', () => new nn.SqueezeExcitation(8), X, (P, x) => R.squeezeExcitation(P, x, 1), [2, 8, 1, 1]],
  ['ECA(8, 3)', () => new nn.ECA(8, 3), X, (P, x) => R.eca(P, x, 3), [2, 8, 1, 1]],
  ['ECA(8, 5)', () => new nn.ECA(8, 5), X, (P, x) => R.eca(P, x, 5), [2, 8, 1, 1]],
  ['CBAM(8, 4, 3)', () => new nn.CBAM(8, 4, 3), X, (P, x) => R.cbam(P, x, 2, 3), [2, 1, 5, 6]],
  ['CBAM(8, 2) (7×7)', () => new nn.CBAM(8, 2), [1, 8, 6, 5], (P, x) => R.cbam(P, x, 4, 7), [1, 1, 6, 5]],
  ['NonLocal2d(8, bnLayer=false, keepAttention)', () => new nn.NonLocal2d(8, { bnLayer: false, keepAttention: true }), X,
    (P, x) => R.nonLocal(P, x, 4, false), [2, 5, 6]],
  ['NonLocal2d(8, inter=3) eval({ grad: true }) with BatchNorm', () => {
    const m = new nn.NonLocal2d(8, { inter: 3, keepAttention: true })
    const bn = m.W_z[1]
    bn.runningMean.data.set(uniform(8, 3, -0.3, 0.3)); bn.runningVar.data.set(uniform(8, 4, 0.5, 1.5))
    return m.eval({ grad: true })
  }, X, (P, x) => R.nonLocal(P, x, 3, true), [2, 5, 6]]
]

BLOCKS.forEach(([label, make, xShape, ref, attShape], i) => {
  test(`${label} x=[${xShape}]: forward and lastAttention = float64 reference; dx and every parameter gradient = finite differences`, (t) => {
    fv.manualSeed(i)
    const m = randomize(make(), 40 * i)
    const x = rand(xShape, i + 1)
    const y = m.forward(x)
    const r = ref(R.paramsOf(m), x)
    t.deepEqual([...y.shape], xShape)
    assertClose(t, y.data, r.out, { ...FWD, label: 'forward' })
    t.deepEqual([...m.lastAttention.shape], attShape)
    assertClose(t, m.lastAttention.data, r.attention, { ...FWD, label: 'lastAttention' })
    const dy = rand(xShape, i + 2)
    const dx = m.backward(dy)
    t.deepEqual([...dx.shape], xShape)
    const L = (overrides, xd) => dot(dy.data, ref(R.paramsOf(m, overrides), { data: xd, shape: xShape }).out)
    const x64 = f64(x)
    assertClose(t, dx.data, numericGrad((xd) => L(new Map(), xd), x64, 1e-6), { ...GRAD, label: 'dx' })
    for (const [name, p] of m.namedParameters()) {
      const g = numericGrad((pd) => L(new Map([[name, pd]]), x64), f64(p.value), 1e-6)
      assertClose(t, p.grad.data, g, { ...GRAD, label: `d${name}` })
    }
  })

  test(`${label}: Async = sync bit for bit; gradients accumulate until zeroGrad`, async (t) => {
    const a = randomize(make(), 7); const b = randomize(make(), 7)
    const x = rand(xShape, 3); const dy = rand(xShape, 4)
    const ya = a.forward(x)
    const yb = await b.forwardAsync(x)
    assertBitIdentical(t, yb.data, ya.data, 'forward')
    assertBitIdentical(t, b.lastAttention.data, a.lastAttention.data, 'lastAttention')
    assertBitIdentical(t, (await b.backwardAsync(dy)).data, a.backward(dy).data, 'dx')
    b.namedParameters().forEach(([name, p], k) => assertBitIdentical(t, p.grad.data, a.namedParameters()[k][1].grad.data, name))
    const once = a.parameters().map((p) => Float32Array.from(p.grad.data))
    a.forward(x); a.backward(dy)
    a.parameters().forEach((p, k) => assertClose(t, p.grad.data, once[k].map((v) => 2 * v), { rtol: 1e-6, atol: 1e-7, label: 'twice' }))
    a.zeroGrad()
    t.true(a.parameters().every((p) => p.grad.data.every((v) => v === 0)))
  })
})

test('CNN attention blocks: state-dict names and shapes (PyTorch layouts), round trip', (t) => {
  const shapes = (m) => Object.entries(m.stateDict()).map(([k, v]) => [k, [...v.shape]])
  t.deepEqual(shapes(new nn.SpatialGate(64)), [['conv_a.weight', [1, 64, 1, 1]], ['conv_a.bias', [1]], ['conv_b.weight', [1, 64, 1, 1]], ['conv_b.bias', [1]]])
  t.deepEqual(shapes(new nn.SqueezeExcitation(64)), [['fc1.weight', [4, 64, 1, 1]], ['fc1.bias', [4]], ['fc2.weight', [64, 4, 1, 1]], ['fc2.bias', [64]]])
  t.deepEqual(shapes(new nn.SqueezeExcitation(64, 4, { squeezeChannels: 8 })).slice(0, 1), [['fc1.weight', [8, 64, 1, 1]]])
  t.deepEqual(shapes(new nn.ECA(64, 5)), [['conv.weight', [1, 1, 5]]])
  t.deepEqual(shapes(new nn.CBAM(64)), [['ca.fc1.weight', [4, 64, 1, 1]], ['ca.fc2.weight', [64, 4, 1, 1]], ['sa.conv1.weight', [1, 2, 7, 7]]])
  t.deepEqual(shapes(new nn.NonLocal2d(16)).map(([k]) => k), ['g.weight', 'g.bias', 'W_z.0.weight', 'W_z.0.bias', 'W_z.1.weight',
    'W_z.1.bias', 'W_z.1.running_mean', 'W_z.1.running_var', 'W_z.1.num_batches_tracked', 'theta.weight', 'theta.bias', 'phi.weight', 'phi.bias'])
  t.deepEqual(shapes(new nn.NonLocal2d(16, { inter: 4, bnLayer: false })), [['g.weight', [4, 16, 1, 1]], ['g.bias', [4]],
    ['W_z.weight', [16, 4, 1, 1]], ['W_z.bias', [16]], ['theta.weight', [4, 16, 1, 1]], ['theta.bias', [4]], ['phi.weight', [4, 16, 1, 1]], ['phi.bias', [4]]])
  t.deepEqual(shapes(new nn.AttentionPool(32)), [['score.weight', [1, 32]], ['score.bias', [1]]])
  // PyTorch's positional arguments, or an options object in place of the ones left out.
  t.deepEqual(shapes(new nn.CBAM(64, { kernel: 3 })).slice(2), [['sa.conv1.weight', [1, 2, 3, 3]]])
  t.deepEqual(shapes(new nn.CBAM(64, 8, { kernel: 5 })).map(([, s]) => s[0]), [8, 64, 1])
  t.deepEqual(shapes(new nn.SqueezeExcitation(64, { squeezeChannels: 6 })).slice(0, 1), [['fc1.weight', [6, 64, 1, 1]]])
  t.deepEqual(shapes(new nn.SqueezeExcitation(64, { reduction: 8 })).slice(0, 1), [['fc1.weight', [8, 64, 1, 1]]])
  t.deepEqual(shapes(new nn.ECA(64, { kernel: 7 })), [['conv.weight', [1, 1, 7]]])
  throwsLike(t, () => new nn.CBAM(64, 8, { reduction: 4 }), TypeError, 'CBAM', 'reduction', 'given once')
  throwsLike(t, () => new nn.CBAM(64, { kernel: 3 }, 5), TypeError, 'CBAM', 'options')
  throwsLike(t, () => new nn.ECA(64, { k: 3 }), TypeError, 'ECA', "unknown key 'k'")
  // The non-local block starts as the identity (W_z's BatchNorm, or conv, zero).
  const x = rand([1, 16, 3, 3], 1)
  assertBitIdentical(t, new nn.NonLocal2d(16).eval().forward(x).data, x.data, 'identity at init (BatchNorm)')
  assertBitIdentical(t, new nn.NonLocal2d(16, { bnLayer: false }).forward(x).data, x.data, 'identity at init (conv)')
  for (const make of [() => new nn.CBAM(16, 4), () => new nn.NonLocal2d(16), () => new nn.ECA(16)]) {
    const a = randomize(make(), 5); const b = make()
    b.loadStateDict(a.stateDict())
    a.eval(); b.eval()
    assertBitIdentical(t, b.forward(x).data, a.forward(x).data, `${a.constructor.name} round trip`)
  }
})

test('AttentionPool over [N, L, dim] and [N, C, H, W]: = float64 reference, gradients = finite differences, Async = sync', async (t) => {
  for (const [i, shape] of [[0, [3, 5, 6]], [1, [2, 6, 3, 4]]]) {
    const m = randomize(new nn.AttentionPool(6), 10 + i, 1)
    const x = rand(shape, i + 1, -2, 2)
    const r = m.forward(x)
    const ref = R.attentionPool(R.paramsOf(m), x)
    const L = shape.length === 4 ? 12 : 5
    t.deepEqual([...r.out.shape], [shape[0], 6]); t.deepEqual([...r.weights.shape], [shape[0], L])
    assertClose(t, r.out.data, ref.out, { ...FWD, label: 'out' })
    assertClose(t, r.weights.data, ref.weights, { ...FWD, label: 'weights' })
    t.is(m.lastAttention, r.weights)
    const dOut = rand(r.out.shape, 5)
    const dx = m.backward(dOut)
    t.deepEqual([...dx.shape], shape)
    const Lf = (overrides, xd) => dot(dOut.data, R.attentionPool(R.paramsOf(m, overrides), { data: xd, shape }).out)
    assertClose(t, dx.data, numericGrad((xd) => Lf(new Map(), xd), f64(x)), { ...GRAD, label: `dx ${shape}` })
    for (const [name, p] of m.namedParameters()) {
      assertClose(t, p.grad.data, numericGrad((pd) => Lf(new Map([[name, pd]]), f64(x)), f64(p.value)), { ...GRAD, label: `d${name} ${shape}` })
    }
    const b = randomize(new nn.AttentionPool(6), 10 + i, 1)
    const ra = await b.forwardAsync(x)
    assertBitIdentical(t, ra.out.data, r.out.data, 'async out')
    assertBitIdentical(t, (await b.backwardAsync(dOut)).data, dx.data, 'async dx')
    // The weights were returned: the caller's, never disposed by the next forward.
    m.forward(x)
    t.false(r.weights.isDisposed)
  }
})

test('lastAttention is kept (outside tidy) until the next forward, which disposes the map the block made', (t) => {
  const m = new nn.SpatialGate(4)
  const x = rand([1, 4, 3, 3], 1)
  const y = fv.tidy(() => m.forward(x))
  const first = m.lastAttention
  t.false(first.isDisposed, 'survives the tidy')
  t.true(y instanceof fv.Tensor)
  m.backward(rand([1, 4, 3, 3], 2))
  t.false(first.isDisposed, 'backward leaves it')
  m.forward(x)
  t.true(first.isDisposed, 'replaced and disposed')
  t.not(m.lastAttention, first)
  // Disposing it yourself is allowed: backward recomputes the gate.
  m.lastAttention.dispose()
  t.deepEqual([...m.backward(rand([1, 4, 3, 3], 2)).shape], [1, 4, 3, 3])
  const nl = new nn.NonLocal2d(4)
  nl.forward(x)
  t.is(nl.lastAttention, null, 'no map unless keepAttention')
  nl.keepAttention = true
  nl.forward(x)
  t.deepEqual([...nl.lastAttention.shape], [1, 3, 3])
})

test('CNN attention blocks: a training step gives back every block it made, through dispose; eval keeps nothing for backward', (t) => {
  const x = rand([4, 32, 16, 16], 1); const dy = rand([4, 32, 16, 16], 2)
  for (const m of [new nn.SpatialGate(32), new nn.SqueezeExcitation(32), new nn.ECA(32), new nn.CBAM(32), new nn.NonLocal2d(32), new nn.NonLocal2d(32, { keepAttention: true, bnLayer: false })]) {
    const step = () => { m.forward(x).dispose(); m.backward(dy).dispose() }
    step()
    const s0 = fv.poolStats().results
    for (let i = 0; i < 3; i++) step()
    const s1 = fv.poolStats().results
    t.true(s1.lent > s0.lent, `${m.constructor.name} uses the pool`)
    t.is(s1.byDispose - s0.byDispose, s1.lent - s0.lent, `${m.constructor.name}: every block back by dispose`)
    m.eval()
    const e0 = fv.poolStats().results
    for (let i = 0; i < 2; i++) m.forward(x).dispose()
    const e1 = fv.poolStats().results
    t.is(e1.byDispose - e0.byDispose, e1.lent - e0.lent, `${m.constructor.name}: eval forwards keep nothing`)
    throwsLike(t, () => m.backward(dy), Error, 'backward needs a forward first')
  }
  t.false(x.isDisposed); t.false(dy.isDisposed)
})

test('CNN attention blocks: bad arguments name the class and the argument', async (t) => {
  throwsLike(t, () => new nn.SpatialGate(0), RangeError, 'SpatialGate', 'channels')
  throwsLike(t, () => new nn.SpatialGate(4, { bias: false }), TypeError, 'SpatialGate', "unknown key 'bias'")
  throwsLike(t, () => new nn.SqueezeExcitation(8, 0), RangeError, 'SqueezeExcitation', 'reduction')
  throwsLike(t, () => new nn.ECA(8, 4), RangeError, 'ECA', 'kernel', 'odd')
  throwsLike(t, () => new nn.CBAM(8, 2, 6), RangeError, 'CBAM', 'kernel', 'odd')
  throwsLike(t, () => new nn.CBAM('8'), TypeError, 'CBAM', 'channels')
  throwsLike(t, () => new nn.NonLocal2d(8, { inter: 0 }), RangeError, 'NonLocal2d', 'inter')
  throwsLike(t, () => new nn.NonLocal2d(8, { bn: true }), TypeError, 'NonLocal2d', "unknown key 'bn'")
  throwsLike(t, () => new nn.AttentionPool(2.5), RangeError, 'AttentionPool', 'dim')
  const x = rand([1, 4, 3, 3], 1)
  for (const [cls, m] of [['SpatialGate', new nn.SpatialGate(8)], ['SqueezeExcitation', new nn.SqueezeExcitation(8)], ['ECA', new nn.ECA(8)],
    ['CBAM', new nn.CBAM(8)], ['NonLocal2d', new nn.NonLocal2d(8)]]) {
    throwsLike(t, () => m.forward(x), RangeError, cls, 'x', '[N, C, H, W] with C=8', '[1,4,3,3]')
    throwsLike(t, () => m.forward({ data: [1], shape: [1] }), TypeError, cls, 'x')
    await rejectsLike(t, m.forwardAsync(x), RangeError, cls, 'x')
    throwsLike(t, () => m.backward(x), Error, cls, 'backward needs a forward first')
  }
  const ap = new nn.AttentionPool(4)
  throwsLike(t, () => ap.forward(rand([2, 3, 5], 1)), RangeError, 'AttentionPool', 'x', '[N, L, 4] or [N, 4, H, W]')
  ap.forward(rand([2, 3, 4], 1))
  throwsLike(t, () => ap.backward(rand([2, 3], 1)), RangeError, 'AttentionPool', 'dOut', '[2, 4]')
})

test('a forward inside tidy() and a backward outside it: what the blocks cache and their maps survive the tidy', (t) => {
  const x = rand([2, 8, 4, 4], 1); const dy = rand([2, 8, 4, 4], 2)
  for (const make of [() => new nn.SpatialGate(8), () => new nn.SqueezeExcitation(8, 2), () => new nn.ECA(8), () => new nn.CBAM(8, 2, 3),
    () => new nn.NonLocal2d(8, { keepAttention: true, bnLayer: false })]) {
    const a = randomize(make(), 3); const b = randomize(make(), 3)
    const y = fv.tidy(() => a.forward(x))
    const map = a.lastAttention
    const dx = a.backward(dy)
    assertBitIdentical(t, y.data, b.forward(x).data, `${a.constructor.name} out`)
    assertBitIdentical(t, map.data, b.lastAttention.data, `${a.constructor.name} lastAttention after the tidy`)
    assertBitIdentical(t, dx.data, b.backward(dy).data, `${a.constructor.name} dx`)
  }
})
