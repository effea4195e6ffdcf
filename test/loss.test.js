'use strict'
const test = require('ava')
const fv = require('./helpers/fv')
const ref = require('./reference/loss')
const { assertDeterministic, forEachIsa } = require('./helpers/determinism')
const { rand, rng } = require('./helpers/random')
const { assertClose, assertBitIdentical, numericGrad } = require('./helpers/check')

function labelsFor (N, C, seed, ignoreEvery = 0) {
  const r = rng(seed)
  const l = new Int32Array(N)
  for (let i = 0; i < N; i++) l[i] = ignoreEvery && i % ignoreEvery === ignoreEvery - 1 ? -100 : Math.floor(r() * C)
  return l
}

// Row losses are computed in double from float exp sums: relative 1e-6 is ample.
const L_TOL = { rtol: 2e-6, atol: 1e-6 }
const G_TOL = { rtol: 1e-5, atol: 1e-7 }

const CE = [[1, 1], [3, 5], [17, 10], [64, 1000], [513, 37]]
for (const [N, C] of CE) {
  for (const reduction of ['mean', 'sum', 'none']) {
    for (const labelSmoothing of [0, 0.1]) {
      const opts = { reduction, labelSmoothing }
      const name = `logits=[${N},${C}] reduction=${reduction} labelSmoothing=${labelSmoothing}`
      test(`crossEntropy ${name} matches the float64 reference`, (t) => {
        const x = rand([N, C], N + C, -8, 8); const y = labelsFor(N, C, 3, 4)
        const loss = fv.ops.crossEntropy(x, y, opts)
        t.deepEqual(loss.shape, reduction === 'none' ? [N] : [])
        assertClose(t, loss.data, ref.crossEntropy(x.data, y, N, C, opts), { ...L_TOL, label: 'loss' })
      })
      test(`crossEntropyBackward ${name} matches the float64 reference`, (t) => {
        const x = rand([N, C], N + C + 1, -8, 8); const y = labelsFor(N, C, 4, 4)
        const dy = reduction === 'none' ? rand([N], 5) : fv.tensor(Float32Array.of(0.7), [])
        const g = fv.ops.crossEntropyBackward(dy, x, y, opts)
        t.deepEqual(g.shape, [N, C])
        assertClose(t, g.data, ref.crossEntropyBackward(dy.data, x.data, y, N, C, opts), { ...G_TOL, label: 'dlogits' })
      })
    }
  }
}

for (const reduction of ['mean', 'sum', 'none']) {
  test(`crossEntropy logits=[4,5] reduction=${reduction} labelSmoothing=0.2 one row ignored: gradient matches finite differences`, (t) => {
    const x = rand([4, 5], 9, -3, 3); const y = Int32Array.from([1, -100, 4, 0])
    const opts = { reduction, labelSmoothing: 0.2 }
    const dy = reduction === 'none' ? rand([4], 10) : fv.tensor(Float32Array.of(1.3), [])
    const g = fv.ops.crossEntropyBackward(dy, x, y, opts)
    const L = (v) => { const l = ref.crossEntropy(v, y, 4, 5, opts); let s = 0; for (let i = 0; i < l.length; i++) s += l[i] * dy.data[i]; return s }
    assertClose(t, g.data, numericGrad(L, x.data), { rtol: 1e-4, atol: 1e-5, label: 'dlogits' })
  })
}

test('crossEntropy on extreme logits: 1e30 never overflows, −Infinity entries, all −Infinity and NaN rows', (t) => {
  const rows = [[1e30, 0, -1e30], [1e30, 1e30, 0], [-Infinity, 2, 1], [3, -Infinity, -Infinity], [-Infinity, -Infinity, -Infinity], [NaN, 1, 2], [80, -80, 0]]
  const x = fv.tensor(Float32Array.from(rows.flat()), [rows.length, 3])
  const y = Int32Array.from([0, 1, 1, 0, 2, 1, 1])
  const none = fv.ops.crossEntropy(x, y, { reduction: 'none' })
  assertClose(t, none.data, ref.crossEntropy(x.data, y, rows.length, 3, { reduction: 'none' }), { ...L_TOL, label: 'loss' })
  t.is(none.data[0], 0); t.true(Math.abs(none.data[1] - Math.LN2) < 1e-6, 'two equal huge logits: log 2')
  t.is(none.data[3], 0, 'only the label visible'); t.is(none.data[4], Infinity, 'no class visible: infinite loss')
  t.true(Number.isNaN(none.data[5]))
  t.is(fv.ops.crossEntropy(x, Int32Array.from([1, 0, 0, 0, 0, 0, 0]), { reduction: 'none' }).data[2], Infinity, 'label at −Infinity')
  const smooth = fv.ops.crossEntropy(x, y, { reduction: 'none', labelSmoothing: 0.1 })
  assertClose(t, smooth.data, ref.crossEntropy(x.data, y, rows.length, 3, { reduction: 'none', labelSmoothing: 0.1 }), { ...L_TOL, label: 'smoothed loss' })
  const g = fv.ops.crossEntropyBackward(rand([7], 1), x, y, { reduction: 'none' })
  for (let i = 0; i < 15; i++) t.false(Number.isNaN(g.data[i]), `no NaN gradient at ${i}`)
  for (let i = 12; i < 15; i++) t.is(g.data[i], 0, 'all −Infinity row: zero gradient')
})

test('crossEntropy with every row ignored: mean is NaN (as PyTorch), sum 0, gradients 0', (t) => {
  const x = rand([3, 4], 1); const y = Int32Array.from([7, 7, 7])
  t.true(Number.isNaN(fv.ops.crossEntropy(x, y, { ignoreIndex: 7 }).data[0]))
  t.is(fv.ops.crossEntropy(x, y, { ignoreIndex: 7, reduction: 'sum' }).data[0], 0)
  t.deepEqual(Array.from(fv.ops.crossEntropyBackward(1, x, y, { ignoreIndex: 7 }).data), new Array(12).fill(0))
})

test('crossEntropy labels out of range: RangeError naming the index', async (t) => {
  const x = rand([4, 3], 1)
  t.throws(() => fv.ops.crossEntropy(x, Int32Array.from([0, 1, 3, 2])), { instanceOf: RangeError, message: 'crossEntropy: labels[2] must be an integer from 0 to 2 (or ignoreIndex -100), got 3' })
  t.throws(() => fv.ops.crossEntropy(x, Int32Array.from([0, -1, 0, 0])), { instanceOf: RangeError, message: /^crossEntropy: labels\[1\] must be an integer from 0 to 2 .* got -1$/ })
  t.throws(() => fv.ops.crossEntropyBackward(1, x, Int32Array.from([0, 0, 0, 9])), { instanceOf: RangeError, message: /^crossEntropyBackward: labels\[3\]/ })
  await t.throwsAsync(fv.ops.crossEntropyAsync(x, Int32Array.from([5, 0, 0, 0])), { instanceOf: RangeError, message: /^crossEntropy: labels\[0\]/ })
  t.notThrows(() => fv.ops.crossEntropy(x, Int32Array.from([0, 5, 0, 0]), { ignoreIndex: 5 }))
})

test('crossEntropyBackward accepts dy as a number or a one-element tensor for scalar reductions', (t) => {
  const x = rand([5, 4], 2); const y = labelsFor(5, 4, 3)
  const a = fv.ops.crossEntropyBackward(0.5, x, y)
  assertBitIdentical(t, fv.ops.crossEntropyBackward(fv.tensor(Float32Array.of(0.5), []), x, y).data, a.data, 'shape []')
  assertBitIdentical(t, fv.ops.crossEntropyBackward(fv.tensor(Float32Array.of(0.5), [1]), x, y).data, a.data, 'shape [1]')
  t.throws(() => fv.ops.crossEntropyBackward(0.5, x, y, { reduction: 'none' }), { instanceOf: TypeError, message: /^crossEntropyBackward: dy must be a tensor/ })
})

// ---------------------------------------------------------------- mse

for (const shape of [[1], [7, 3], [2, 3, 1000], [70001]]) {
  for (const reduction of ['mean', 'sum', 'none']) {
    test(`mse pred=[${shape}] reduction=${reduction} and its backward match the float64 reference`, (t) => {
      const p = rand(shape, 1, -3, 3); const q = rand(shape, 2, -3, 3)
      const loss = fv.ops.mse(p, q, { reduction })
      t.deepEqual(loss.shape, reduction === 'none' ? shape : [])
      assertClose(t, loss.data, ref.mse(p.data, q.data, { reduction }), { rtol: 1e-6, atol: 1e-7, label: 'loss' })
      const dy = reduction === 'none' ? rand(shape, 3) : fv.tensor(Float32Array.of(1.5), [])
      const g = fv.ops.mseBackward(dy, p, q, { reduction })
      assertClose(t, g.data, ref.mseBackward(dy.data, p.data, q.data, { reduction }), { rtol: 1e-6, atol: 1e-12, label: 'dpred' })
    })
  }
}

test('mse pred=[3,4]: gradient matches finite differences', (t) => {
  const p = rand([3, 4], 5); const q = rand([3, 4], 6)
  const g = fv.ops.mseBackward(1, p, q)
  assertClose(t, g.data, numericGrad((v) => ref.mse(v, q.data)[0], p.data), { rtol: 1e-4, atol: 1e-6, label: 'dpred' })
})

// ---------------------------------------------------------------- API behaviour

test('losses write into out; Async equals sync bit for bit', async (t) => {
  const x = rand([300, 100], 1, -5, 5); const y = labelsFor(300, 100, 2, 7)
  const out = fv.tensor(new Float32Array(1), [])
  t.is(fv.ops.crossEntropy(x, y, { out }), out)
  assertBitIdentical(t, out.data, fv.ops.crossEntropy(x, y).data, 'out')
  for (const opts of [{}, { reduction: 'none', labelSmoothing: 0.3 }]) {
    assertBitIdentical(t, (await fv.ops.crossEntropyAsync(x, y, opts)).data, fv.ops.crossEntropy(x, y, opts).data, 'crossEntropy')
  }
  assertBitIdentical(t, (await fv.ops.crossEntropyBackwardAsync(2, x, y)).data, fv.ops.crossEntropyBackward(2, x, y).data, 'crossEntropyBackward')
  const q = rand([300, 100], 3)
  assertBitIdentical(t, (await fv.ops.mseAsync(x, q)).data, fv.ops.mse(x, q).data, 'mse')
  assertBitIdentical(t, (await fv.ops.mseBackwardAsync(1, x, q)).data, fv.ops.mseBackward(1, x, q).data, 'mseBackward')
})

test('losses are bit-identical across runs and thread counts', (t) => {
  const x = rand([4096, 1000], 1, -10, 10); const y = labelsFor(4096, 1000, 2, 9)
  const p = rand([3000001], 3); const q = rand([3000001], 4)
  const run = () => [fv.ops.crossEntropy(x, y), fv.ops.crossEntropy(x, y, { labelSmoothing: 0.1, reduction: 'sum' }),
    fv.ops.crossEntropyBackward(1, x, y, { labelSmoothing: 0.1 }), fv.ops.mse(p, q), fv.ops.mseBackward(1, p, q)]
  assertDeterministic(t, run)
})

test('every ISA variant this CPU supports matches the reference', (t) => {
  const x = rand([37, 45], 1, -6, 6); const y = labelsFor(37, 45, 2, 5); const q = rand([37, 45], 3)
  const opts = { labelSmoothing: 0.05, reduction: 'none' }
  forEachIsa((isa) => {
    assertClose(t, fv.ops.crossEntropy(x, y, opts).data, ref.crossEntropy(x.data, y, 37, 45, opts), { ...L_TOL, label: `${isa} crossEntropy` })
    const dy = rand([37], 4)
    assertClose(t, fv.ops.crossEntropyBackward(dy, x, y, opts).data, ref.crossEntropyBackward(dy.data, x.data, y, 37, 45, opts), { ...G_TOL, label: `${isa} crossEntropyBackward` })
    assertClose(t, fv.ops.mse(x, q).data, ref.mse(x.data, q.data), { rtol: 1e-6, label: `${isa} mse` })
  })
})

test('losses reject bad input with TypeError / RangeError naming the op and argument', (t) => {
  const x = rand([4, 3], 1)
  t.throws(() => fv.ops.crossEntropy(x, [0, 1, 2, 0]), { instanceOf: TypeError, message: /^crossEntropy: labels must be an Int32Array, got \[0,1,2,0\]/ })
  t.throws(() => fv.ops.crossEntropy(x, new Int32Array(3)), { instanceOf: RangeError, message: /^crossEntropy: labels must be 4 elements \(one per row of logits\), got 3/ })
  t.throws(() => fv.ops.crossEntropy(rand([4], 1), new Int32Array(4)), { instanceOf: RangeError, message: /^crossEntropy: logits must be \[N, C\] \(rank 2\), got \[4\]/ })
  t.throws(() => fv.ops.crossEntropy(x, new Int32Array(4), { reduction: 'avg' }), { instanceOf: RangeError, message: /^crossEntropy: reduction must be 'mean', 'sum' or 'none'/ })
  t.throws(() => fv.ops.crossEntropy(x, new Int32Array(4), { labelSmoothing: 1.5 }), { instanceOf: RangeError, message: /^crossEntropy: labelSmoothing must be a number from 0 to 1/ })
  t.throws(() => fv.ops.crossEntropy(x, new Int32Array(4), { ignoreIndex: 0.5 }), { instanceOf: RangeError, message: /^crossEntropy: ignoreIndex must be an integer/ })
  t.throws(() => fv.ops.crossEntropyBackward(rand([3], 1), x, new Int32Array(4), { reduction: 'none' }), { instanceOf: RangeError, message: /^crossEntropyBackward: dy must be \[4\] \(the shape of the loss\), got \[3\]/ })
  t.throws(() => fv.ops.mse(x, rand([3, 4], 1)), { instanceOf: RangeError, message: /^mse: target must be \[4,3\] \(the shape of pred\), got \[3,4\]/ })
  t.throws(() => fv.ops.mseBackward(rand([2], 1), x, x), { instanceOf: RangeError, message: /^mseBackward: dy must be \[\] \(the shape of the loss\) or a number, got \[2\]/ })
  const { binding } = require('../dist/native')
  t.throws(() => binding.crossEntropy(new Float32Array(12), new Float32Array(4), null, 4, 3, 1, 0, -100), { instanceOf: TypeError, message: /crossEntropy: labels must be an Int32Array/ })
  t.throws(() => binding.crossEntropy(new Float32Array(12), new Int32Array(5), null, 4, 3, 1, 0, -100), { instanceOf: RangeError, message: /crossEntropy: labels must have 4 elements/ })
  t.throws(() => binding.crossEntropy(new Float32Array(11), new Int32Array(4), null, 4, 3, 1, 0, -100), { instanceOf: RangeError, message: /crossEntropy: logits must have 12 elements/ })
  t.throws(() => binding.mse(new Float32Array(4), new Float32Array(4), null, 3), { instanceOf: RangeError, message: /mse: reduction must be an integer from 0 to 2/ })
})

// Class weights (PyTorch's weight): every reduction, with and without smoothing and an
// ignored row, against the float64 reference; the gradient also by finite differences.
for (const [N, C] of [[3, 5], [17, 10], [64, 37]]) {
  for (const reduction of ['mean', 'sum', 'none']) {
    for (const labelSmoothing of [0, 0.15]) {
      const name = `logits=[${N},${C}] weight=[${C}] reduction=${reduction} labelSmoothing=${labelSmoothing}`
      test(`crossEntropy ${name} matches the float64 reference, forward and backward`, (t) => {
        const x = rand([N, C], 7 * N + C, -6, 6); const y = labelsFor(N, C, 11, 5)
        const weight = rand([C], 13, 0.1, 3)
        const opts = { reduction, labelSmoothing, weight }
        const refOpts = { reduction, labelSmoothing, weight: weight.data }
        const loss = fv.ops.crossEntropy(x, y, opts)
        assertClose(t, loss.data, ref.crossEntropy(x.data, y, N, C, refOpts), { ...L_TOL, label: 'loss' })
        const dy = reduction === 'none' ? rand([N], 5) : fv.tensor(Float32Array.of(0.7), [])
        const g = fv.ops.crossEntropyBackward(dy, x, y, opts)
        assertClose(t, g.data, ref.crossEntropyBackward(dy.data, x.data, y, N, C, refOpts), { ...G_TOL, label: 'dlogits' })
        if (N === 3) {
          const L = (v) => { const l = ref.crossEntropy(v, y, N, C, refOpts); let s = 0; for (let i = 0; i < l.length; i++) s += l[i] * dy.data[i]; return s }
          assertClose(t, g.data, numericGrad(L, x.data), { rtol: 1e-4, atol: 1e-5, label: 'finite differences' })
        }
      })
    }
  }
}

test('crossEntropy: a weight of the wrong shape is a RangeError naming it; Async agrees with sync', async (t) => {
  const x = rand([4, 3], 1); const y = Int32Array.from([0, 1, 2, 1])
  const err = t.throws(() => fv.ops.crossEntropy(x, y, { weight: rand([4], 2) }), { instanceOf: RangeError })
  t.is(err.message, 'crossEntropy: weight must be [3] (one per class of logits), got [4]')
  const w = rand([3], 3, 0.5, 2)
  assertBitIdentical(t, (await fv.ops.crossEntropyAsync(x, y, { weight: w })).data, fv.ops.crossEntropy(x, y, { weight: w }).data)
})
