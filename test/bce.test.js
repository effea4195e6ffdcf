'use strict'
// bceWithLogits and its backward: PyTorch's BCEWithLogitsLoss, weight and posWeight
// broadcast as PyTorch does, against the float64 reference in test/reference/loss.js.
const test = require('ava')
const fv = require('./helpers/fv')
const ref = require('./reference/loss')
const { assertDeterministic, forEachIsa } = require('./helpers/determinism')
const { rand } = require('./helpers/random')
const { assertClose, assertBitIdentical, numericGrad } = require('./helpers/check')

// Each element's loss is a few float ulps from the reference (exp, a division, a series);
// sums are added in double over float chunks. A gradient (1 − t)·σ(x) − pw·t·σ(−x) with
// soft targets can cancel: its error is a few ulps of the larger term (≤ pw·w·|dy| ≈ 8
// here), whatever the result.
const L_TOL = { rtol: 1e-5, atol: 1e-6 }
const G_TOL = { rtol: 1e-5, atol: 2e-6 }

const sh = (s) => `[${s.join(',')}]`
const size = (s) => s.reduce((a, b) => a * b, 1)

/** Soft targets in [0, 1], a third of them exactly 0 or 1. */
function targets (shape, seed) {
  const t = rand(shape, seed, 0, 1)
  for (let i = 0; i < t.data.length; i++) if (i % 3 === 0) t.data[i] = i % 2
  return t
}

// [logits shape, weight shape | null, posWeight shape | null]
const CASES = [
  [[1], null, null],
  [[7], null, null],
  [[4, 5], null, null],
  [[4, 5], [5], null],
  [[4, 5], [4, 1], null],
  [[4, 5], null, [5]],
  [[4, 5], [4, 5], [5]],
  [[3, 4, 37], [37], [37]],
  [[3, 4, 37], [4, 1], [1, 4, 37]],
  [[2, 3, 1, 5], [3, 1, 1], [5]],
  [[64, 1000], [1000], [1000]],
  [[5000], [], [1]]
]

for (const [shape, wShape, pShape] of CASES) {
  for (const reduction of ['mean', 'sum', 'none']) {
    const name = `logits=${sh(shape)}${wShape ? ` weight=${sh(wShape)}` : ''}${pShape ? ` posWeight=${sh(pShape)}` : ''} reduction=${reduction}`
    const seed = size(shape) + (wShape ? 7 : 0) + (pShape ? 13 : 0)
    const opts = {
      reduction,
      weight: wShape ? rand(wShape, seed + 1, 0, 2) : undefined,
      posWeight: pShape ? rand(pShape, seed + 2, 0.2, 4) : undefined
    }
    test(`bceWithLogits ${name} matches the float64 reference`, (t) => {
      const x = rand(shape, seed, -9, 9); const y = targets(shape, seed + 3)
      const loss = fv.ops.bceWithLogits(x, y, opts)
      t.deepEqual(loss.shape, reduction === 'none' ? shape : [])
      assertClose(t, loss.data, ref.bceWithLogits(x.data, y.data, shape, opts), { ...L_TOL, label: 'loss' })
    })
    test(`bceWithLogitsBackward ${name} matches the float64 reference`, (t) => {
      const x = rand(shape, seed + 4, -9, 9); const y = targets(shape, seed + 5)
      const dy = reduction === 'none' ? rand(shape, seed + 6) : fv.tensor(Float32Array.of(0.7), [])
      const g = fv.ops.bceWithLogitsBackward(dy, x, y, opts)
      t.deepEqual(g.shape, shape)
      assertClose(t, g.data, ref.bceWithLogitsBackward(dy.data, x.data, y.data, shape, opts), { ...G_TOL, label: 'dlogits' })
    })
  }
}

for (const reduction of ['mean', 'sum', 'none']) {
  test(`bceWithLogits logits=[3,4] weight=[3,1] posWeight=[4] reduction=${reduction}: gradient matches finite differences`, (t) => {
    const shape = [3, 4]
    const x = rand(shape, 21, -3, 3); const y = targets(shape, 22)
    const opts = { reduction, weight: rand([3, 1], 23, 0.5, 2), posWeight: rand([4], 24, 0.5, 3) }
    const dy = reduction === 'none' ? rand(shape, 25) : fv.tensor(Float32Array.of(1.3), [])
    const g = fv.ops.bceWithLogitsBackward(dy, x, y, opts)
    const L = (v) => { const l = ref.bceWithLogits(v, y.data, shape, opts); let s = 0; for (let i = 0; i < l.length; i++) s += l[i] * dy.data[i]; return s }
    assertClose(t, g.data, numericGrad(L, x.data), { rtol: 1e-4, atol: 1e-6, label: 'dlogits' })
  })
}

test('bceWithLogits on extreme logits: ±1e30 and ±100 never overflow, tiny losses keep their precision', (t) => {
  const xs = [1e30, -1e30, 100, -100, 30, -30, 0, -0, 88, -88, 1e-7]
  const x = fv.tensor(Float32Array.from([...xs, ...xs]), [2, xs.length])
  const y = fv.tensor(Float32Array.from([...xs.map(() => 0), ...xs.map(() => 1)]), [2, xs.length])
  for (const posWeight of [undefined, fv.tensor(new Float32Array(xs.length).fill(3), [xs.length])]) {
    const l = fv.ops.bceWithLogits(x, y, { reduction: 'none', posWeight })
    const r = ref.bceWithLogits(x.data, y.data, [2, xs.length], { reduction: 'none', posWeight })
    for (let i = 0; i < l.data.length; i++) t.true(Number.isFinite(l.data[i]), `finite loss at ${i}`)
    // x = −30, t = 0: the loss is log1p(e^{−30}) ≈ 9.4e-14, not 0 (no x − x cancellation).
    assertClose(t, l.data, r, { rtol: 1e-5, atol: 1e-30, label: `loss posWeight=${!!posWeight}` })
    const g = fv.ops.bceWithLogitsBackward(1, x, y, { reduction: 'sum', posWeight })
    assertClose(t, g.data, ref.bceWithLogitsBackward([1], x.data, y.data, [2, xs.length], { reduction: 'sum', posWeight }), { rtol: 1e-5, atol: 1e-30, label: 'dlogits' })
  }
  const nan = fv.ops.bceWithLogits(fv.tensor(Float32Array.of(NaN, 1), [2]), fv.tensor(Float32Array.of(1, 1), [2]), { reduction: 'none' })
  t.true(Number.isNaN(nan.data[0])); t.false(Number.isNaN(nan.data[1]))
})

test('bceWithLogits with no elements: mean is NaN (as PyTorch), sum 0', (t) => {
  const x = fv.tensor(new Float32Array(0), [0, 3])
  t.true(Number.isNaN(fv.ops.bceWithLogits(x, x).data[0]))
  t.is(fv.ops.bceWithLogits(x, x, { reduction: 'sum' }).data[0], 0)
  t.deepEqual(fv.ops.bceWithLogits(x, x, { reduction: 'none' }).shape, [0, 3])
  t.deepEqual(fv.ops.bceWithLogitsBackward(1, x, x).shape, [0, 3])
})

test('bceWithLogits writes into out; Async equals sync bit for bit; dy as a number or a one-element tensor', async (t) => {
  const x = rand([300, 100], 1, -5, 5); const y = targets([300, 100], 2)
  const opts = { weight: rand([300, 1], 3, 0, 1), posWeight: rand([100], 4, 1, 2) }
  const out = fv.tensor(new Float32Array(1), [])
  t.is(fv.ops.bceWithLogits(x, y, { ...opts, out }), out)
  assertBitIdentical(t, out.data, fv.ops.bceWithLogits(x, y, opts).data, 'out')
  const gOut = fv.tensor(new Float32Array(30000), [300, 100])
  t.is(fv.ops.bceWithLogitsBackward(2, x, y, { ...opts, out: gOut }), gOut)
  assertBitIdentical(t, gOut.data, fv.ops.bceWithLogitsBackward(2, x, y, opts).data, 'backward out')
  for (const o of [{}, opts, { ...opts, reduction: 'none' }, { ...opts, reduction: 'sum' }]) {
    assertBitIdentical(t, (await fv.ops.bceWithLogitsAsync(x, y, o)).data, fv.ops.bceWithLogits(x, y, o).data, 'bceWithLogits')
  }
  assertBitIdentical(t, (await fv.ops.bceWithLogitsBackwardAsync(2, x, y, opts)).data, fv.ops.bceWithLogitsBackward(2, x, y, opts).data, 'backward')
  const a = fv.ops.bceWithLogitsBackward(0.5, x, y)
  assertBitIdentical(t, fv.ops.bceWithLogitsBackward(fv.tensor(Float32Array.of(0.5), []), x, y).data, a.data, 'shape []')
  assertBitIdentical(t, fv.ops.bceWithLogitsBackward(fv.tensor(Float32Array.of(0.5), [1]), x, y).data, a.data, 'shape [1]')
})

test('bceWithLogits is bit-identical across runs and thread counts', (t) => {
  const shape = [2048, 1000]
  const x = rand(shape, 1, -10, 10); const y = targets(shape, 2)
  const opts = { weight: rand([2048, 1], 3, 0, 2), posWeight: rand([1000], 4, 0.5, 3) }
  const run = () => [fv.ops.bceWithLogits(x, y), fv.ops.bceWithLogits(x, y, { ...opts, reduction: 'sum' }),
    fv.ops.bceWithLogits(x, y, { ...opts, reduction: 'none' }), fv.ops.bceWithLogitsBackward(1, x, y, opts),
    fv.ops.bceWithLogitsBackward(rand(shape, 5), x, y, { reduction: 'none' })]
  assertDeterministic(t, run)
})

test.serial('bceWithLogits: every ISA variant this CPU supports matches the reference', (t) => {
  const shape = [37, 45]
  const x = rand(shape, 1, -12, 12); const y = targets(shape, 2)
  for (const opts of [{ reduction: 'none' }, { weight: rand([45], 3, 0, 1), posWeight: rand([37, 1], 4, 0.5, 2), reduction: 'none' }, { reduction: 'mean' }]) {
    forEachIsa((isa) => {
      assertClose(t, fv.ops.bceWithLogits(x, y, opts).data, ref.bceWithLogits(x.data, y.data, shape, opts), { ...L_TOL, label: `${isa} bceWithLogits` })
      const dy = opts.reduction === 'none' ? rand(shape, 5) : fv.tensor(Float32Array.of(1), [])
      assertClose(t, fv.ops.bceWithLogitsBackward(dy, x, y, opts).data, ref.bceWithLogitsBackward(dy.data, x.data, y.data, shape, opts), { ...G_TOL, label: `${isa} bceWithLogitsBackward` })
    })
  }
})

test('bceWithLogits rejects bad input with TypeError / RangeError naming the op and argument', async (t) => {
  const x = rand([4, 3], 1); const y = rand([4, 3], 2, 0, 1)
  t.throws(() => fv.ops.bceWithLogits(x, rand([3, 4], 1)), { instanceOf: RangeError, message: 'bceWithLogits: target must be [4,3] (the shape of logits), got [3,4]' })
  t.throws(() => fv.ops.bceWithLogits(x, new Float32Array(12)), { instanceOf: TypeError, message: /^bceWithLogits: target must be a tensor/ })
  t.throws(() => fv.ops.bceWithLogits([1, 2], y), { instanceOf: TypeError, message: /^bceWithLogits: logits must be a tensor/ })
  t.throws(() => fv.ops.bceWithLogits(x, y, { weight: rand([4], 3) }), { instanceOf: RangeError, message: 'bceWithLogits: weight must be a shape that broadcasts to logits [4,3], got [4]' })
  t.throws(() => fv.ops.bceWithLogits(x, y, { weight: rand([2, 4, 3], 3) }), { instanceOf: RangeError, message: /^bceWithLogits: weight must be a shape that broadcasts to logits \[4,3\], got \[2,4,3\]/ })
  t.throws(() => fv.ops.bceWithLogits(x, y, { posWeight: rand([2], 3) }), { instanceOf: RangeError, message: /^bceWithLogits: posWeight must be a shape that broadcasts to logits/ })
  t.throws(() => fv.ops.bceWithLogits(x, y, { posWeight: [1, 2, 3] }), { instanceOf: TypeError, message: /^bceWithLogits: posWeight must be a tensor/ })
  t.throws(() => fv.ops.bceWithLogits(x, y, { reduction: 'avg' }), { instanceOf: RangeError, message: /^bceWithLogits: reduction must be 'mean', 'sum' or 'none'/ })
  t.throws(() => fv.ops.bceWithLogits(x, y, { pos_weight: x }), { instanceOf: TypeError, message: /^bceWithLogits: options must be an object with keys among/ })
  t.throws(() => fv.ops.bceWithLogits(x, y, { out: fv.tensor(new Float32Array(12), [4, 3]) }), { instanceOf: RangeError, message: 'bceWithLogits: out.shape must be [], got [4,3]' })
  t.throws(() => fv.ops.bceWithLogits(x, y, { reduction: 'none', out: x }), { instanceOf: RangeError, message: /^bceWithLogits: out must be memory not shared with logits/ })
  t.throws(() => fv.ops.bceWithLogitsBackward(rand([3], 1), x, y, { reduction: 'none' }), { instanceOf: RangeError, message: /^bceWithLogitsBackward: dy must be \[4,3\] \(the shape of the loss\), got \[3\]/ })
  t.throws(() => fv.ops.bceWithLogitsBackward(rand([2], 1), x, y), { instanceOf: RangeError, message: /^bceWithLogitsBackward: dy must be \[\] \(the shape of the loss\) or a number, got \[2\]/ })
  await t.throwsAsync(fv.ops.bceWithLogitsAsync(x, rand([2], 1)), { instanceOf: RangeError, message: /^bceWithLogits: target must be/ })
  t.throws(() => fv.ops.bceWithLogits(rand([1, 1, 1, 1, 1, 1, 1, 1, 2], 1), rand([1, 1, 1, 1, 1, 1, 1, 1, 2], 1)), { instanceOf: RangeError, message: /^bceWithLogits: logits must be at most 8 dimensions/ })
  // The native re-check: nothing a caller passes straight to the binding can crash it.
  const { binding } = require('../dist/native')
  const f = (n) => new Float32Array(n)
  t.throws(() => binding.bceWithLogits(f(12), f(11), null, null, null, [4, 3], null, null, 1), { instanceOf: RangeError, message: /bceWithLogits: target must have 12 elements/ })
  t.throws(() => binding.bceWithLogits(f(12), f(12), f(4), null, null, [4, 3], [4], null, 1), { instanceOf: RangeError, message: /bceWithLogits: weight and posWeight must broadcast/ })
  t.throws(() => binding.bceWithLogits(f(12), f(12), f(4), null, null, [4, 3], [3], null, 1), { instanceOf: RangeError, message: /bceWithLogits: weight must have 3 elements/ })
  t.throws(() => binding.bceWithLogits(f(12), f(12), f(3), null, null, [4, 3], null, null, 1), { instanceOf: TypeError, message: /bceWithLogits: a weight and its shape must be given together/ })
  t.throws(() => binding.bceWithLogits(f(12), f(12), null, null, null, [4, 3], null, null, 3), { instanceOf: RangeError, message: /bceWithLogits: reduction must be an integer from 0 to 2/ })
  t.throws(() => binding.bceWithLogits(f(12), f(12), null, null, null, [4, -3], null, null, 1), { instanceOf: RangeError, message: /bceWithLogits: shape must hold non-negative integers/ })
  t.throws(() => binding.bceWithLogits(f(12), f(12), null, null, null, [1, 1, 1, 1, 1, 1, 1, 4, 3], null, null, 1), { instanceOf: RangeError, message: /bceWithLogits: shape must have at most 8 dimensions/ })
  t.throws(() => binding.bceWithLogits(f(2), f(2), null, f(2), null, [2], null, [1, 2], 1), { instanceOf: RangeError, message: /bceWithLogits: weight and posWeight must broadcast/ })
  t.throws(() => binding.bceWithLogitsBackward(f(2), f(12), f(12), null, null, null, [4, 3], null, null, 1), { instanceOf: RangeError, message: /bceWithLogitsBackward: dy must have 1 elements/ })
  t.throws(() => binding.bceWithLogits(f(12), new Int32Array(12), null, null, null, [4, 3], null, null, 1), { instanceOf: TypeError, message: /bceWithLogits: target must be a Float32Array/ })
})
