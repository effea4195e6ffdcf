'use strict'
const test = require('ava')
const fv = require('./helpers/fv')
const ref = require('./reference/elementwise')
const { assertDeterministic, forEachIsa } = require('./helpers/determinism')
const { rand, rng } = require('./helpers/random')
const { assertClose, assertBitIdentical, numericGrad, dot } = require('./helpers/check')

// A forward is one correctly rounded float32 operation per element, so it must equal the
// float64 reference rounded to float32 exactly. Backward sums get a tolerance that grows
// with the number of terms summed into each gradient element.
function checkForward (t, op, a, b) {
  const y = fv.ops[op](a, b)
  const r = ref.binary(op, a.data, a.shape, b.data, b.shape)
  t.deepEqual(y.shape, r.shape)
  assertBitIdentical(t, y.data, Float32Array.from(r.y), `${op} forward`)
}

function checkBackward (t, op, a, b, seed) {
  const shape = ref.broadcastShape(a.shape, b.shape)
  const dy = rand(shape, seed)
  const g = op === 'add' ? fv.ops.addBackward(dy, a.shape, b.shape) : fv.ops.mulBackward(dy, a, b)
  const r = ref.binaryBackward(op, dy.data, a.data, a.shape, b.data, b.shape)
  t.deepEqual(g.da.shape, a.shape)
  t.deepEqual(g.db.shape, b.shape)
  const terms = (s) => Math.max(1, ref.size(shape) / Math.max(1, ref.size(s)))
  assertClose(t, g.da.data, r.da, { rtol: 1e-5, atol: 1e-6 * Math.sqrt(terms(a.shape)), label: `${op} da` })
  assertClose(t, g.db.data, r.db, { rtol: 1e-5, atol: 1e-6 * Math.sqrt(terms(b.shape)), label: `${op} db` })
}

// Same shapes, scalars, outer products, the CNN gates, a bias, mixed patterns up to rank
// 8, small inner dims, and reductions long enough to span several fixed blocks.
const CASES = [
  [[2, 3], [2, 3]], [[2, 3], []], [[], [7]], [[1], [5, 1]], [[4, 1], [1, 5]],
  [[8, 64, 7, 9], [8, 64, 1, 1]], [[8, 16, 7, 9], [8, 1, 7, 9]], [[2, 16, 5, 5], [1, 16, 1, 1]],
  [[5, 3, 4], [4]], [[3, 1, 5, 1, 2], [4, 1, 6, 1]], [[2, 1, 2, 1, 2, 1, 2, 1], [1, 2, 1, 2, 1, 2, 1, 3]],
  [[2, 50, 3], [2, 1, 3]], [[300, 100], [100]], [[3, 16389], [3, 1]], [[1], [40000]], [[0, 3], [3]], [[2, 0], [1, 1]]
]

for (const [as, bs] of CASES) {
  for (const op of ['add', 'mul']) {
    test(`${op} a=[${as}] b=[${bs}] matches the float64 reference`, (t) => {
      const a = rand(as, 1, -2, 2); const b = rand(bs, 2, -2, 2)
      checkForward(t, op, a, b)
      checkForward(t, op, b, a)
    })
    test(`${op}Backward a=[${as}] b=[${bs}] matches the float64 reference`, (t) => {
      const a = rand(as, 3, -2, 2); const b = rand(bs, 4, -2, 2)
      checkBackward(t, op, a, b, 5)
      checkBackward(t, op, b, a, 6)
    })
  }
}

test('add and mul over 60 random broadcast pairs (rank ≤ 6) match the reference', (t) => {
  const r = rng(2024)
  for (let k = 0; k < 60; k++) {
    const rank = 1 + Math.floor(r() * 6)
    const full = Array.from({ length: rank }, () => [1, 2, 3, 5, 17][Math.floor(r() * 5)])
    const pick = () => full.map((d) => (r() < 0.4 ? 1 : d)).slice(Math.floor(r() * 2))
    const as = pick(); const bs = pick()
    const a = rand(as, 10 + k, -2, 2); const b = rand(bs, 100 + k, -2, 2)
    for (const op of ['add', 'mul']) {
      checkForward(t, op, a, b)
      checkBackward(t, op, a, b, 200 + k)
    }
  }
})

for (const op of ['add', 'mul']) {
  test(`${op} a=[3,1,4] b=[1,2,4]: gradients match finite differences`, (t) => {
    const a = rand([3, 1, 4], 1); const b = rand([1, 2, 4], 2); const dy = rand([3, 2, 4], 3)
    const g = op === 'add' ? fv.ops.addBackward(dy, a.shape, b.shape) : fv.ops.mulBackward(dy, a, b)
    const L = (av, bv) => dot(dy.data, ref.binary(op, av, a.shape, bv, b.shape).y)
    assertClose(t, g.da.data, numericGrad((v) => L(v, b.data), a.data), { rtol: 1e-4, atol: 1e-5, label: 'da' })
    assertClose(t, g.db.data, numericGrad((v) => L(a.data, v), b.data), { rtol: 1e-4, atol: 1e-5, label: 'db' })
  })
}

test('add and mul keep IEEE semantics (NaN, ±Infinity, signed zeros)', (t) => {
  const a = fv.tensor(Float32Array.from([NaN, Infinity, -Infinity, 0, -0, 1e30]), [6])
  const b = fv.tensor(Float32Array.from([1, -Infinity, 0, -0, -0, 1e30]), [6])
  for (const op of ['add', 'mul']) checkForward(t, op, a, b)
  t.true(Object.is(fv.ops.add(a, b).data[4], -0))
  t.true(Number.isNaN(fv.ops.add(a, b).data[1]))
})

test('writes into out and the gradients into out.da / out.db', (t) => {
  const a = rand([4, 5], 1); const b = rand([5], 2); const dy = rand([4, 5], 3)
  const out = fv.tensor(new Float32Array(20), [4, 5])
  t.is(fv.ops.mul(a, b, { out }), out)
  assertBitIdentical(t, out.data, fv.ops.mul(a, b).data)
  const da = fv.tensor(new Float32Array(20), [4, 5]); const db = fv.tensor(new Float32Array(5), [5])
  const g = fv.ops.mulBackward(dy, a, b, { out: { da, db } })
  t.is(g.da, da); t.is(g.db, db)
  const g2 = fv.ops.mulBackward(dy, a, b)
  assertBitIdentical(t, da.data, g2.da.data); assertBitIdentical(t, db.data, g2.db.data)
  const shared = new Float32Array(25)
  t.throws(() => fv.ops.addBackward(dy, [4, 5], [5], { out: { da: { data: shared.subarray(0, 20), shape: [4, 5] }, db: { data: shared.subarray(18, 23), shape: [5] } } }),
    { instanceOf: RangeError, message: /^addBackward: out\.db must be memory not shared with out\.da/ })
})

test('Async twins equal the sync results bit for bit', async (t) => {
  const a = rand([6, 32, 9, 9], 1); const g = rand([6, 32, 1, 1], 2); const dy = rand([6, 32, 9, 9], 3)
  assertBitIdentical(t, (await fv.ops.mulAsync(a, g)).data, fv.ops.mul(a, g).data, 'mul')
  assertBitIdentical(t, (await fv.ops.addAsync(a, g)).data, fv.ops.add(a, g).data, 'add')
  const ga = await fv.ops.mulBackwardAsync(dy, a, g); const gs = fv.ops.mulBackward(dy, a, g)
  assertBitIdentical(t, ga.da.data, gs.da.data, 'mul da'); assertBitIdentical(t, ga.db.data, gs.db.data, 'mul db')
  const ha = await fv.ops.addBackwardAsync(dy, a.shape, g.shape); const hs = fv.ops.addBackward(dy, a.shape, g.shape)
  assertBitIdentical(t, ha.db.data, hs.db.data, 'add db')
  await t.throwsAsync(fv.ops.addAsync(a, rand([5], 1)), { instanceOf: RangeError, message: /^add: b must be a shape that broadcasts/ })
})

test('broadcast reductions are bit-identical across runs and thread counts', (t) => {
  const x = rand([8, 64, 28, 28], 1); const dy = rand([8, 64, 28, 28], 2)
  const gc = rand([8, 64, 1, 1], 3); const gs = rand([8, 1, 28, 28], 4)
  const h = rand([4096, 768], 5); const dh = rand([4096, 768], 6); const bias = rand([768], 7)
  const run = () => {
    const c = fv.ops.mulBackward(dy, x, gc); const s = fv.ops.mulBackward(dy, x, gs)
    const bb = fv.ops.addBackward(dh, h.shape, bias.shape)
    const sc = fv.ops.addBackward(dh, h.shape, [1])
    return [fv.ops.mul(x, gc), fv.ops.mul(x, gs), c.da, c.db, s.da, s.db, bb.db, sc.db]
  }
  assertDeterministic(t, run)
})

test('every ISA variant this CPU supports matches the reference', (t) => {
  forEachIsa((isa) => {
    for (const [as, bs] of [[[3, 37, 5], [3, 1, 5]], [[2, 7, 33], [2, 7, 1]], [[70, 41], [41]]]) {
      const a = rand(as, 1); const b = rand(bs, 2)
      for (const op of ['add', 'mul']) { checkForward(t, op, a, b); checkBackward(t, op, a, b, 3) }
    }
  })
})

test('add and mul reject bad input with TypeError / RangeError naming the op and argument', (t) => {
  const a = rand([2, 3], 1)
  t.throws(() => fv.ops.add(a, rand([4], 1)), { instanceOf: RangeError, message: /^add: b must be a shape that broadcasts with a \[2,3\], got \[4\]/ })
  t.throws(() => fv.ops.mul(rand([1, 1, 1, 1, 1, 1, 1, 1, 1], 1), a), { instanceOf: RangeError, message: /^mul: a must be at most 8 dimensions, got \[1,1,1,1,1,1,1,1,1\]/ })
  t.throws(() => fv.ops.mul(a, 3), { instanceOf: TypeError, message: /^mul: b must be a tensor/ })
  t.throws(() => fv.ops.add(a, a, { out: rand([3, 2], 1) }), { instanceOf: RangeError, message: /^add: out\.shape must be \[2,3\], got \[3,2\]/ })
  t.throws(() => fv.ops.add(a, a, { out: a }), { instanceOf: RangeError, message: /^add: out must be memory not shared with a/ })
  t.throws(() => fv.ops.addBackward(rand([2, 3], 1), [2, 3], [4]), { instanceOf: RangeError, message: /^addBackward: bShape must be a shape that broadcasts/ })
  t.throws(() => fv.ops.addBackward(rand([3, 3], 1), [2, 3], [3]), { instanceOf: RangeError, message: /^addBackward: dy must be \[2,3\] \(the broadcast shape of a and b\), got \[3,3\]/ })
  t.throws(() => fv.ops.addBackward(a, 'x', [3]), { instanceOf: TypeError, message: /^addBackward: aShape must be an array of integers/ })
  t.throws(() => fv.ops.mulBackward(a, a, a, { out: 3 }), { instanceOf: TypeError, message: /^mulBackward: out must be an object \{ da\?, db\? \}, got 3/ })
  const { binding } = require('../dist/native')
  t.throws(() => binding.add(new Float32Array(6), [2, 3], new Float32Array(3), [4], null), { instanceOf: RangeError, message: /add: b must have 4 elements/ })
  t.throws(() => binding.add(new Float32Array(6), [2, 3], new Float32Array(4), [4], null), { instanceOf: RangeError, message: /add: the shapes of a and b do not broadcast/ })
  t.throws(() => binding.mul(new Float32Array(1), [1, 1, 1, 1, 1, 1, 1, 1, 1], new Float32Array(1), [1], null), { instanceOf: RangeError, message: /mul: aShape must have at most 8 dimensions/ })
  t.throws(() => binding.addBackward(new Float32Array(5), [2, 3], [3], null, null), { instanceOf: RangeError, message: /addBackward: dy must have 6 elements/ })
  t.throws(() => binding.mul(new Float32Array(6), [2, -3], new Float32Array(1), [1], null), { instanceOf: RangeError, message: /mul: aShape must hold non-negative integers/ })
  t.throws(() => binding.add(new Float32Array(0), [2 ** 40, 0, 1], new Float32Array(0), [0, 1, 2 ** 40], null), { instanceOf: RangeError, message: /add: the shapes of a and b do not broadcast/ })
  t.deepEqual(fv.ops.add({ data: new Float32Array(0), shape: [2 ** 30, 1, 0] }, { data: new Float32Array(0), shape: [1, 2 ** 30, 0] }).shape, [2 ** 30, 2 ** 30, 0], 'huge but empty')
})
