'use strict'
const test = require('ava')
const fv = require('./helpers/fv')
const ref = require('./reference/softmax')
const { assertDeterministic, forEachIsa } = require('./helpers/determinism')
const { rand } = require('./helpers/random')
const { assertClose, assertBitIdentical, numericGrad, dot } = require('./helpers/check')

// The [outer, len, inner] view of shape around axis.
function view (shape, axis) {
  const a = axis < 0 ? axis + Math.max(shape.length, 1) : axis
  let outer = 1; let inner = 1
  for (let i = 0; i < a; i++) outer *= shape[i]
  for (let i = a + 1; i < shape.length; i++) inner *= shape[i]
  return [outer, shape.length === 0 ? 1 : shape[a], inner]
}

// Tolerances. softmax: e^{x−m} is within 1 ulp, but x − m is rounded to float first (as
// in PyTorch), an absolute error of up to |x − m|·2^-24 in the exponent, so the relative
// bound grows with |x − m| (≈ |logSoftmax|): 2^-23·(10 + |x − m|) covers that, the sum
// and the scaling. logSoftmax = (x − m) − log Σ: absolute error ~1e-6 for these inputs.
const ULP = 2 ** -23
function checkForward (t, op, y, x, v, label) {
  const e = ref.softmax(x, ...v, op === 'logSoftmax')
  if (op === 'logSoftmax') return assertClose(t, y, e, { rtol: 1e-6, atol: 1e-6, label })
  const lsm = ref.softmax(x, ...v, true)
  let bad = -1
  for (let i = 0; i < y.length; i++) {
    const ok = Number.isNaN(e[i]) ? Number.isNaN(y[i]) : y[i] === e[i] || Math.abs(y[i] - e[i]) <= 1e-44 + ULP * (10 + Math.abs(lsm[i])) * Math.abs(e[i])
    if (!ok) { bad = i; break }
  }
  if (bad < 0) t.pass(label)
  else t.fail(`${label}: at ${bad} got ${y[bad]}, expected ${e[bad]} (x − m ≈ ${lsm[bad]})`)
}

// Last axis (rows), inner axes with inner < one vector, a few vectors, more than a block
// of columns, a rank-1 tensor, a scalar.
const CASES = [
  { shape: [1, 1], axis: -1 }, { shape: [3, 17], axis: -1 }, { shape: [5, 1000], axis: 1 },
  { shape: [2, 5, 33], axis: 1 }, { shape: [4, 300, 7], axis: 1 }, { shape: [6, 40, 100], axis: -2 },
  { shape: [2, 3, 4, 5], axis: 0 }, { shape: [1000], axis: 0 }, { shape: [], axis: -1 },
  { shape: [513, 700], axis: -1 }, { shape: [8, 257, 300], axis: 1 }
]

for (const op of ['softmax', 'logSoftmax']) {
  for (const c of CASES) {
    test(`${op} x=[${c.shape}] axis=${c.axis} matches the float64 reference`, (t) => {
      const x = rand(c.shape, c.shape.length + 3, -10, 10)
      const y = fv.ops[op](x, c.axis)
      t.deepEqual(y.shape, c.shape)
      checkForward(t, op, y.data, x.data, view(c.shape, c.axis), op)
    })

    test(`${op}Backward x=[${c.shape}] axis=${c.axis} matches the float64 reference`, (t) => {
      const x = rand(c.shape, 7, -4, 4); const dy = rand(c.shape, 8)
      const y = fv.ops[op](x, c.axis)
      const dx = fv.ops[op + 'Backward'](dy, y, c.axis)
      t.deepEqual(dx.shape, c.shape)
      assertClose(t, dx.data, ref.softmaxBackward(dy.data, y.data, ...view(c.shape, c.axis), op === 'logSoftmax'),
        { rtol: 1e-5, atol: 1e-6, label: 'dx' })
    })
  }

  for (const c of [{ shape: [3, 5], axis: -1 }, { shape: [3, 4, 5], axis: 1 }]) {
    test(`${op} x=[${c.shape}] axis=${c.axis}: gradient matches finite differences`, (t) => {
      const x = rand(c.shape, 21, -3, 3); const dy = rand(c.shape, 22)
      const v = view(c.shape, c.axis)
      const dx = fv.ops[op + 'Backward'](dy, fv.ops[op](x, c.axis), c.axis)
      const g = numericGrad((xs) => dot(dy.data, ref.softmax(xs, ...v, op === 'logSoftmax')), x.data)
      assertClose(t, dx.data, g, { rtol: 1e-4, atol: 1e-5, label: 'dx' })
    })
  }

  for (const axis of [-1, 0]) {
    test(`${op} on extreme inputs along axis ${axis}: huge logits, −Infinity slices, NaN`, (t) => {
      // Rows: huge, all −∞, one visible, ±80, NaN, +∞, all-equal huge, subnormal spread.
      const rows = [[1e30, -1e30, 0, 5], [-Infinity, -Infinity, -Infinity, -Infinity], [-Infinity, 3, -Infinity, -Infinity],
        [80, -80, 0, 80], [NaN, 1, 2, 3], [Infinity, 1, 2, 3], [1e30, 1e30, 1e30, 1e30], [-1e30, -1e30, -1e30, 1e-40]]
      let x = Float32Array.from(rows.flat())
      let shape = [rows.length, 4]
      if (axis === 0) { // the same slices as columns
        const tr = new Float32Array(x.length)
        for (let i = 0; i < rows.length; i++) for (let j = 0; j < 4; j++) tr[j * rows.length + i] = x[i * 4 + j]
        x = tr; shape = [4, rows.length]
      }
      const v = view(shape, axis)
      const y = fv.ops[op]({ data: x, shape }, axis)
      checkForward(t, op, y.data, x, v, op)
      let nans = 0
      for (const val of y.data) if (Number.isNaN(val)) nans++
      t.is(nans, 8, 'only the NaN and +Infinity slices are NaN')
      // All −∞ slice: zeros / −∞, and zero gradients from the backward.
      const dy = fv.tensor(new Float32Array(x.length).fill(1), shape)
      const dx = fv.ops[op + 'Backward'](dy, y, axis)
      const at = (i, j) => (axis === -1 ? i * 4 + j : j * rows.length + i)
      for (let j = 0; j < 4; j++) {
        t.is(y.data[at(1, j)], op === 'softmax' ? 0 : -Infinity)
        t.is(dx.data[at(1, j)], 0)
        t.false(Number.isNaN(dx.data[at(2, j)]))
      }
      t.is(y.data[at(2, 1)], op === 'softmax' ? 1 : 0)
    })
  }
}

test('softmax writes into out; Async equals sync bit for bit', async (t) => {
  const x = rand([37, 91], 1, -5, 5); const dy = rand([37, 91], 2)
  const out = fv.tensor(new Float32Array(37 * 91), [37, 91])
  t.is(fv.ops.softmax(x, -1, { out }), out)
  assertBitIdentical(t, out.data, fv.ops.softmax(x).data, 'out')
  for (const axis of [-1, 0]) {
    for (const op of ['softmax', 'logSoftmax']) {
      const y = fv.ops[op](x, axis)
      assertBitIdentical(t, (await fv.ops[op + 'Async'](x, axis)).data, y.data, `${op} axis ${axis}`)
      assertBitIdentical(t, (await fv.ops[op + 'BackwardAsync'](dy, y, axis)).data, fv.ops[op + 'Backward'](dy, y, axis).data, `${op}Backward axis ${axis}`)
    }
  }
  await t.throwsAsync(fv.ops.softmaxAsync(x, 2), { instanceOf: RangeError, message: /^softmax: axis/ })
})

test('softmax is bit-identical across runs and thread counts', (t) => {
  const x = rand([300, 517], 5, -20, 20); const dy = rand([300, 517], 6)
  const x3 = rand([6, 301, 129], 7, -20, 20); const dy3 = rand([6, 301, 129], 8)
  const run = () => ['softmax', 'logSoftmax'].flatMap((op) => {
    const y = fv.ops[op](x); const y3 = fv.ops[op](x3, 1)
    return [y, fv.ops[op + 'Backward'](dy, y), y3, fv.ops[op + 'Backward'](dy3, y3, 1)]
  })
  assertDeterministic(t, run)
})

test('every ISA variant this CPU supports matches the reference', (t) => {
  const c = [{ shape: [9, 45], axis: -1 }, { shape: [3, 45, 21], axis: 1 }]
  forEachIsa((isa) => {
    for (const { shape, axis } of c) {
      const x = rand(shape, 3, -9, 9); const dy = rand(shape, 4)
      for (const op of ['softmax', 'logSoftmax']) {
        const y = fv.ops[op](x, axis)
        checkForward(t, op, y.data, x.data, view(shape, axis), `${isa} ${op}`)
        assertClose(t, fv.ops[op + 'Backward'](dy, y, axis).data, ref.softmaxBackward(dy.data, y.data, ...view(shape, axis), op === 'logSoftmax'),
          { rtol: 1e-5, atol: 1e-6, label: `${isa} ${op}Backward` })
      }
    }
  })
})

test('softmax rejects bad input with TypeError / RangeError naming the op and argument', (t) => {
  const x = rand([2, 3], 1)
  t.throws(() => fv.ops.softmax(x, 2), { instanceOf: RangeError, message: /^softmax: axis must be an integer from -2 to 1 \(x has rank 2\), got 2/ })
  t.throws(() => fv.ops.logSoftmax(x, 0.5), { instanceOf: RangeError, message: /^logSoftmax: axis must be an integer/ })
  t.throws(() => fv.ops.softmax(x, '1'), { instanceOf: TypeError, message: /^softmax: axis must be an integer, got a string/ })
  t.throws(() => fv.ops.softmax([1, 2]), { instanceOf: TypeError, message: /^softmax: x must be a tensor/ })
  t.throws(() => fv.ops.softmaxBackward(rand([3, 2], 1), x), { instanceOf: RangeError, message: /^softmaxBackward: dy must be \[2,3\] \(the shape of y\), got \[3,2\]/ })
  t.throws(() => fv.ops.logSoftmaxBackward(x, x, -3), { instanceOf: RangeError, message: /^logSoftmaxBackward: axis/ })
  t.throws(() => fv.ops.softmax(x, -1, { out: rand([6], 1) }), { instanceOf: RangeError, message: /^softmax: out\.shape must be \[2,3\], got \[6\]/ })
  t.throws(() => fv.ops.softmax(x, -1, { axis: 0 }), { instanceOf: TypeError, message: /^softmax: options must be an object with keys among out/ })
  const { binding } = require('../dist/native')
  t.throws(() => binding.softmax(new Float32Array(6), null, 2, 4, 1), { instanceOf: RangeError, message: /softmax: x must have 8 elements/ })
  t.throws(() => binding.logSoftmaxBackward(new Float32Array(6), new Float32Array(5), null, 2, 3, 1), { instanceOf: RangeError, message: /logSoftmaxBackward: y must have 6 elements/ })
})

test('softmax of an empty tensor x=[0,4] and x=[3,0] gives an empty result', (t) => {
  t.deepEqual(fv.ops.softmax({ data: new Float32Array(0), shape: [0, 4] }).shape, [0, 4])
  t.deepEqual(fv.ops.logSoftmax({ data: new Float32Array(0), shape: [3, 0] }, 0).shape, [3, 0])
})
