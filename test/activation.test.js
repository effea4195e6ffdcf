'use strict'
const test = require('ava')
const fv = require('./helpers/fv')
const ref = require('./reference/activation')
const { assertDeterministic, forEachIsa } = require('./helpers/determinism')
const { rand } = require('./helpers/random')
const { assertClose, assertBitIdentical, assertUlps, numericGrad, dot, f32Ulp } = require('./helpers/check')

// Error bounds in float32 ulps, relative to the exact (float64) result, as measured over
// every float by scripts/vmath/ulp.sh (exp ≤ 1, sigmoid ≤ 2.4, tanh ≤ 1.4, Φ ≤ 6.2) plus
// the final multiply by x for gelu.
const ULPS = { relu: 0, gelu: 7, sigmoid: 3, tanh: 2 }
const OPS = [
  { name: 'relu', call: (x) => fv.ops.relu(x), ref: 'relu' },
  { name: 'gelu', call: (x) => fv.ops.gelu(x), ref: 'gelu' },
  { name: "gelu approximate='tanh'", call: (x) => fv.ops.gelu(x, { approximate: 'tanh' }), ref: 'geluTanh' },
  { name: 'sigmoid', call: (x) => fv.ops.sigmoid(x), ref: 'sigmoid' },
  { name: 'tanh', call: (x) => fv.ops.tanh(x), ref: 'tanh' }
]

// gelu's tanh form evaluates σ(z) at z = 2√(2/π)(x + 0.044715x³) rounded to float32, so its
// error grows with |z| (as PyTorch's does): σ'(z)/σ(z)·Δz ≈ |z|·(1 − σ(z))·1.5 ulp(z).
function geluTanhBound (x) {
  const z = 2 * Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)
  return 4 + (Number.isFinite(z) ? 3 * Math.abs(z) * ref.sigmoid(-z) : 0)
}

function checkForward (t, op, x, y, label) {
  const e = ref.activation(op.ref, x)
  if (op.ref !== 'geluTanh') return assertUlps(t, y, e, ULPS[op.ref], label)
  let worst = -1; let excess = 0
  for (let i = 0; i < x.length; i++) {
    const ok = Number.isNaN(e[i]) ? Number.isNaN(y[i]) : y[i] === e[i] || Math.abs(y[i] - e[i]) / f32Ulp(e[i]) <= geluTanhBound(x[i])
    if (!ok && (worst < 0 || Math.abs(y[i] - e[i]) > excess)) { worst = i; excess = Math.abs(y[i] - e[i]) }
  }
  if (worst < 0) t.pass(label)
  else t.fail(`${label}: at x=${x[worst]} got ${y[worst]}, expected ${e[worst]}`)
}

const SHAPES = [[1], [15], [3, 17], [2, 3, 5, 7], [301, 1001]]

for (const op of OPS) {
  for (const shape of SHAPES) {
    test(`${op.name} x=[${shape}] matches the float64 reference`, (t) => {
      const x = rand(shape, shape.length * 31 + 7, -8, 8)
      const y = op.call(x)
      t.deepEqual(y.shape, shape)
      t.true(y.data instanceof Float32Array)
      checkForward(t, op, x.data, y.data, op.name)
    })
  }

  test(`${op.name} on extreme inputs (±80, ±1e30, ±Infinity, NaN, ±0, subnormals)`, (t) => {
    const v = [80, -80, 1e30, -1e30, Infinity, -Infinity, NaN, 0, -0, 1e-40, -1e-40, 15, -15, 5.5, -5.5, 88.5, -88.5, 1e-3]
    const x = fv.tensor(Float32Array.from(v), [v.length])
    const y = op.call(x)
    checkForward(t, op, x.data, y.data, op.name)
    t.true(Number.isNaN(y.data[6]), 'NaN propagates')
    if (op.ref === 'relu') t.true(Object.is(y.data[8], 0), 'relu(−0) = +0, as PyTorch')
    for (let i = 0; i < v.length; i++) if (i !== 6) t.false(Number.isNaN(y.data[i]), `no NaN at x=${v[i]}`)
  })

  test(`${op.name} over a dense sweep of [-20, 20] and ±1e-40…1e30 stays within its error bound`, (t) => {
    const n = 200001
    const x = new Float32Array(n + 2 * 701)
    for (let i = 0; i < n; i++) x[i] = -20 + 40 * i / (n - 1)
    for (let i = 0; i < 701; i++) {
      x[n + 2 * i] = 10 ** (-40 + 70 * i / 700)
      x[n + 2 * i + 1] = -x[n + 2 * i]
    }
    const y = op.call(fv.tensor(x, [x.length]))
    checkForward(t, op, x, y.data, op.name)
  })
}

// ---------------------------------------------------------------- backward

const BACKWARD = [
  { name: 'reluBackward', fwd: 'relu', from: 'x', call: (dy, s) => fv.ops.reluBackward(dy, s) },
  { name: 'geluBackward', fwd: 'gelu', from: 'x', call: (dy, s) => fv.ops.geluBackward(dy, s) },
  { name: "geluBackward approximate='tanh'", fwd: 'geluTanh', from: 'x', call: (dy, s) => fv.ops.geluBackward(dy, s, { approximate: 'tanh' }) },
  { name: 'sigmoidBackward', fwd: 'sigmoid', from: 'y', call: (dy, s) => fv.ops.sigmoidBackward(dy, s) },
  { name: 'tanhBackward', fwd: 'tanh', from: 'y', call: (dy, s) => fv.ops.tanhBackward(dy, s) }
]

function forwardOf (b, x) {
  if (b.fwd === 'sigmoid') return fv.ops.sigmoid(x)
  return fv.ops.tanh(x)
}

// The reference for dx: from x through f'(x), or from the float32 y the op is given.
function backwardRef (b, dy, x, y) {
  if (b.from === 'x') return ref.activationBackward(b.fwd, dy, x)
  const out = new Float64Array(dy.length)
  for (let i = 0; i < dy.length; i++) out[i] = b.fwd === 'sigmoid' ? dy[i] * y[i] * (1 - y[i]) : dy[i] * (1 - y[i] * y[i])
  return out
}

for (const b of BACKWARD) {
  for (const shape of [[1], [15], [3, 17], [301, 1001]]) {
    test(`${b.name} x=[${shape}] matches the float64 reference`, (t) => {
      const x = rand(shape, 5, -6, 6)
      const dy = rand(shape, 6)
      const saved = b.from === 'x' ? x : forwardOf(b, x)
      const dx = b.call(dy, saved)
      t.deepEqual(dx.shape, shape)
      assertClose(t, dx.data, backwardRef(b, dy.data, x.data, saved.data), { rtol: 2e-6, atol: 1e-7, label: 'dx' })
    })
  }

  test(`${b.name} x=[3,7]: dx matches finite differences of the forward`, (t) => {
    // Keep x away from relu's kink, where the derivative is undefined.
    const x = rand([3, 7], 11, -3, 3)
    for (let i = 0; i < x.data.length; i++) if (Math.abs(x.data[i]) < 0.05) x.data[i] += 0.1
    const dy = rand([3, 7], 12)
    const saved = b.from === 'x' ? x : forwardOf(b, x)
    const dx = b.call(dy, saved)
    const g = numericGrad((v) => dot(dy.data, ref.activation(b.fwd, v)), x.data, 1e-5)
    assertClose(t, dx.data, g, { rtol: 1e-5, atol: 1e-5, label: 'dx' })
  })
}

test('activation backwards on extreme inputs: no NaN except from NaN', (t) => {
  const v = [80, -80, 1e30, -1e30, Infinity, -Infinity, 0, 15, -15]
  const x = fv.tensor(Float32Array.from(v), [v.length])
  const dy = fv.tensor(new Float32Array(v.length).fill(1), [v.length])
  for (const approximate of ['none', 'tanh']) {
    const dx = fv.ops.geluBackward(dy, x, { approximate })
    const e = ref.activationBackward(approximate === 'none' ? 'gelu' : 'geluTanh', dy.data, x.data)
    assertClose(t, dx.data, e, { rtol: 1e-6, atol: 1e-7, label: `gelu ${approximate}` })
  }
  assertClose(t, fv.ops.reluBackward(dy, x).data, [1, 0, 1, 0, 1, 0, 0, 1, 0], { label: 'relu' })
  const s = fv.ops.sigmoid(x)
  assertClose(t, fv.ops.sigmoidBackward(dy, s).data, backwardRef(BACKWARD[3], dy.data, x.data, s.data), { rtol: 1e-6, atol: 1e-40, label: 'sigmoid' })
  const nan = fv.tensor(Float32Array.of(NaN), [1])
  const one = fv.tensor(Float32Array.of(1), [1])
  t.true(Number.isNaN(fv.ops.geluBackward(one, nan).data[0]))
  t.true(Number.isNaN(fv.ops.sigmoidBackward(one, nan).data[0]))
  t.true(Number.isNaN(fv.ops.tanhBackward(one, nan).data[0]))
  t.is(fv.ops.reluBackward(one, nan).data[0], 1, "relu passes dy at a NaN input (PyTorch's rule)")
})

// ---------------------------------------------------------------- API behaviour

test('activations write into out and return it; out must not alias x', (t) => {
  const x = rand([4, 9], 1)
  const out = fv.tensor(new Float32Array(36).fill(NaN), [4, 9])
  t.is(fv.ops.gelu(x, { out }), out)
  assertBitIdentical(t, out.data, fv.ops.gelu(x).data)
  const plain = { data: new Float32Array(36), shape: [4, 9] }
  t.is(fv.ops.sigmoid(x, { out: plain }).data, plain.data)
  const dOut = fv.tensor(new Float32Array(36), [4, 9])
  t.is(fv.ops.tanhBackward(x, fv.ops.tanh(x), { out: dOut }), dOut)
  t.throws(() => fv.ops.relu(x, { out: x }), { instanceOf: RangeError, message: /^relu: out must be memory not shared with x/ })
})

test('activation Async twins equal the sync results bit for bit', async (t) => {
  const x = rand([77, 131], 3, -5, 5); const dy = rand([77, 131], 4)
  for (const [f, b] of [['relu', 'reluBackward'], ['gelu', 'geluBackward'], ['sigmoid', null], ['tanh', null]]) {
    assertBitIdentical(t, (await fv.ops[f + 'Async'](x)).data, fv.ops[f](x).data, f)
    if (b) assertBitIdentical(t, (await fv.ops[b + 'Async'](dy, x)).data, fv.ops[b](dy, x).data, b)
  }
  const y = fv.ops.sigmoid(x)
  assertBitIdentical(t, (await fv.ops.sigmoidBackwardAsync(dy, y)).data, fv.ops.sigmoidBackward(dy, y).data, 'sigmoidBackward')
  assertBitIdentical(t, (await fv.ops.geluAsync(x, { approximate: 'tanh' })).data, fv.ops.gelu(x, { approximate: 'tanh' }).data, 'gelu tanh')
  await t.throwsAsync(fv.ops.tanhBackwardAsync(dy, rand([3], 1)), { instanceOf: RangeError, message: /^tanhBackward: dy/ })
})

test('activations are bit-identical across runs and thread counts', (t) => {
  const x = rand([513, 1031], 9, -10, 10); const dy = rand([513, 1031], 10)
  assertDeterministic(t, () => [fv.ops.relu(x), fv.ops.gelu(x), fv.ops.gelu(x, { approximate: 'tanh' }), fv.ops.sigmoid(x),
    fv.ops.tanh(x), fv.ops.geluBackward(dy, x), fv.ops.sigmoidBackward(dy, x), fv.ops.tanhBackward(dy, x), fv.ops.reluBackward(dy, x)])
})

test('every ISA variant this CPU supports matches the reference', (t) => {
  const x = rand([37, 29], 3, -12, 12)
  const dy = rand([37, 29], 4)
  t.true(fv.info().isa.supported.includes('generic'))
  forEachIsa((isa) => {
    t.is(fv.info().isa.active, isa)
    for (const op of OPS) checkForward(t, op, x.data, op.call(x).data, `${isa} ${op.name}`)
    assertClose(t, fv.ops.geluBackward(dy, x).data, ref.activationBackward('gelu', dy.data, x.data),
      { rtol: 2e-6, atol: 1e-7, label: `${isa} geluBackward` })
    assertClose(t, fv.ops.geluBackward(dy, x, { approximate: 'tanh' }).data, ref.activationBackward('geluTanh', dy.data, x.data),
      { rtol: 2e-6, atol: 1e-7, label: `${isa} geluBackward tanh` })
  })
})

test('activations reject bad input with TypeError / RangeError naming the op and argument', (t) => {
  const x = rand([2, 3], 1)
  t.throws(() => fv.ops.relu(new Float32Array(3)), { instanceOf: TypeError, message: /^relu: x must be a tensor/ })
  t.throws(() => fv.ops.sigmoid({ data: [1, 2], shape: [2] }), { instanceOf: TypeError, message: /^sigmoid: x\.data must be a Float32Array/ })
  t.throws(() => fv.ops.tanh({ data: new Float32Array(5), shape: [2, 3] }), { instanceOf: RangeError, message: /^tanh: x\.data must be 6 elements/ })
  t.throws(() => fv.ops.gelu(x, { approximate: 'erf' }), { instanceOf: RangeError, message: /^gelu: approximate must be 'none' or 'tanh', got a string "erf"/ })
  t.throws(() => fv.ops.gelu(x, { approximate: true }), { instanceOf: TypeError, message: /^gelu: approximate must be/ })
  t.throws(() => fv.ops.relu(x, { outt: x }), { instanceOf: TypeError, message: /^relu: options must be an object with keys among out/ })
  t.throws(() => fv.ops.relu(x, { out: rand([3, 2], 1) }), { instanceOf: RangeError, message: /^relu: out\.shape must be \[2,3\], got \[3,2\]/ })
  t.throws(() => fv.ops.reluBackward(rand([2, 3], 1), rand([6], 2)), { instanceOf: RangeError, message: /^reluBackward: dy must be \[6\] \(the shape of x\), got \[2,3\]/ })
  t.throws(() => fv.ops.sigmoidBackward(rand([2], 1), null), { instanceOf: TypeError, message: /^sigmoidBackward: y must be a tensor/ })
  t.throws(() => fv.ops.geluBackward(x, x, { approximate: 'fast' }), { instanceOf: RangeError, message: /^geluBackward: approximate/ })
})

test('activations of an empty tensor x=[0,5] give an empty result', (t) => {
  const x = { data: new Float32Array(0), shape: [0, 5] }
  for (const f of ['relu', 'gelu', 'sigmoid', 'tanh']) t.deepEqual(fv.ops[f](x).shape, [0, 5])
  t.is(fv.ops.reluBackward(x, x).data.length, 0)
})

test('the native binding re-checks lengths (a direct call cannot read out of bounds)', (t) => {
  const { binding } = require('../dist/native')
  t.throws(() => binding.tanhBackward(new Float32Array(4), new Float32Array(3), null), { instanceOf: RangeError, message: /tanhBackward: y must have 4 elements/ })
  t.throws(() => binding.relu(new Float32Array(4), new Float32Array(3)), { instanceOf: RangeError, message: /relu: out must have 4 elements/ })
  t.throws(() => binding.gelu(new Float32Array(4), null, 1), { instanceOf: TypeError, message: /gelu: approximateTanh must be a boolean/ })
})
