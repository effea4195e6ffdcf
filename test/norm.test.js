'use strict'
const test = require('ava')
const fv = require('./helpers/fv')
const ref = require('./reference/norm')
const { assertDeterministic, forEachIsa } = require('./helpers/determinism')
const { rand } = require('./helpers/random')
const { assertClose, assertBitIdentical, numericGrad, dot } = require('./helpers/check')

const size = (s) => s.reduce((p, d) => p * d, 1)
// Normalised outputs are O(1): statistics in float sums over fixed chunks added in double
// keep them within a few 1e-6.
const Y_TOL = { rtol: 1e-5, atol: 2e-5 }
const G_TOL = { rtol: 1e-4, atol: 2e-5 }

// ---------------------------------------------------------------- layerNorm

const LN = [
  { x: [4, 10], ns: [10] }, { x: [2, 3, 17], ns: [3, 17] }, { x: [7, 33], ns: 33 }, { x: [300, 768], ns: [768] },
  { x: [1, 5000], ns: [5000] }, { x: [129, 3], ns: [3] }
]

for (const c of LN) {
  const ns = Array.isArray(c.ns) ? c.ns : [c.ns]
  const D = size(ns); const rows = size(c.x) / D
  for (const affine of [true, false]) {
    test(`layerNorm x=[${c.x}] normalizedShape=[${ns}]${affine ? ' affine' : ''} matches the float64 reference`, (t) => {
      const x = rand(c.x, 1, -3, 3); const w = affine ? rand(ns, 2) : null; const b = affine ? rand(ns, 3) : null
      const y = fv.ops.layerNorm(x, c.ns, w, b)
      t.deepEqual(y.shape, c.x)
      assertClose(t, y.data, ref.layerNorm(x.data, rows, D, w?.data, b?.data), { ...Y_TOL, label: 'y' })
    })
    test(`layerNormBackward x=[${c.x}] normalizedShape=[${ns}]${affine ? ' affine' : ''} matches the float64 reference`, (t) => {
      const x = rand(c.x, 4, -3, 3); const dy = rand(c.x, 5); const w = affine ? rand(ns, 6) : null
      const g = fv.ops.layerNormBackward(dy, x, c.ns, w)
      const r = ref.layerNormBackward(dy.data, x.data, rows, D, w?.data)
      t.deepEqual(g.dweight.shape, ns)
      assertClose(t, g.dx.data, r.dx, { ...G_TOL, label: 'dx' })
      assertClose(t, g.dweight.data, r.dweight, { ...G_TOL, atol: 1e-5 * Math.sqrt(rows), label: 'dweight' })
      assertClose(t, g.dbias.data, r.dbias, { ...G_TOL, atol: 1e-5 * Math.sqrt(rows), label: 'dbias' })
    })
  }
}

test('layerNorm x=[3,64] with a large mean (1000 ± 0.01) keeps its precision (two-pass statistics)', (t) => {
  const x = rand([3, 64], 7, 999.99, 1000.01)
  assertClose(t, fv.ops.layerNorm(x, [64]).data, ref.layerNorm(x.data, 3, 64), { rtol: 1e-3, atol: 1e-3, label: 'y' })
})

test('layerNorm x=[3,5]: gradients match finite differences (x, weight, bias)', (t) => {
  const x = rand([3, 5], 11); const w = rand([5], 12); const b = rand([5], 13); const dy = rand([3, 5], 14)
  const g = fv.ops.layerNormBackward(dy, x, [5], w)
  const L = (xv, wv, bv) => dot(dy.data, ref.layerNorm(xv, 3, 5, wv, bv))
  assertClose(t, g.dx.data, numericGrad((v) => L(v, w.data, b.data), x.data), { rtol: 1e-4, atol: 1e-4, label: 'dx' })
  assertClose(t, g.dweight.data, numericGrad((v) => L(x.data, v, b.data), w.data), { rtol: 1e-4, atol: 1e-4, label: 'dweight' })
  assertClose(t, g.dbias.data, numericGrad((v) => L(x.data, w.data, v), b.data), { rtol: 1e-4, atol: 1e-4, label: 'dbias' })
})

// ---------------------------------------------------------------- batchNorm2d

const BN = [[4, 3, 5, 7], [2, 5, 1, 1], [8, 16, 13, 13], [16, 8], [3, 4, 11], [1, 2, 3, 3]]

function bnSetup (shape, seed) {
  const C = shape[1]
  return {
    x: rand(shape, seed, -2, 3),
    rm: rand([C], seed + 1, -0.5, 0.5),
    rv: rand([C], seed + 2, 0.5, 2),
    w: rand([C], seed + 3),
    b: rand([C], seed + 4),
    N: shape[0], C, S: size(shape.slice(2))
  }
}

for (const shape of BN) {
  for (const training of [true, false]) {
    const mode = training ? 'training' : 'eval'
    test(`batchNorm2d x=[${shape}] ${mode} matches the float64 reference (and updates the running stats)`, (t) => {
      const s = bnSetup(shape, 20)
      const rm = fv.tensor(s.rm.data.slice(), [s.C]); const rv = fv.tensor(s.rv.data.slice(), [s.C])
      const y = fv.ops.batchNorm2d(s.x, rm, rv, s.w, s.b, { training, momentum: 0.3 })
      const r = ref.batchNorm(s.x.data, s.N, s.C, s.S, s.rm.data, s.rv.data, s.w.data, s.b.data, { training, momentum: 0.3 })
      t.deepEqual(y.shape, shape)
      assertClose(t, y.data, r.y, { ...Y_TOL, label: 'y' })
      assertClose(t, rm.data, r.runningMean, { rtol: 1e-5, atol: 1e-6, label: 'runningMean' })
      assertClose(t, rv.data, r.runningVar, { rtol: 1e-5, atol: 1e-6, label: 'runningVar' })
    })
    test(`batchNorm2dBackward x=[${shape}] ${mode} matches the float64 reference`, (t) => {
      const s = bnSetup(shape, 30)
      const dy = rand(shape, 36)
      const g = fv.ops.batchNorm2dBackward(dy, s.x, s.rm, s.rv, s.w, { training })
      const r = ref.batchNormBackward(dy.data, s.x.data, s.N, s.C, s.S, s.rm.data, s.rv.data, s.w.data, { training })
      t.deepEqual(g.dweight.shape, [s.C])
      const n = Math.sqrt(s.N * s.S)
      assertClose(t, g.dx.data, r.dx, { ...G_TOL, label: 'dx' })
      assertClose(t, g.dweight.data, r.dweight, { ...G_TOL, atol: 1e-5 * n, label: 'dweight' })
      assertClose(t, g.dbias.data, r.dbias, { ...G_TOL, atol: 1e-5 * n, label: 'dbias' })
    })
  }
}

test('batchNorm2d training without running stats or affine parameters', (t) => {
  const s = bnSetup([4, 3, 5], 40)
  const y = fv.ops.batchNorm2d(s.x, null, null, null, null, { training: true })
  assertClose(t, y.data, ref.batchNorm(s.x.data, 4, 3, 5, null, null, null, null, { training: true }).y, { ...Y_TOL, label: 'y' })
  const dy = rand([4, 3, 5], 41)
  const g = fv.ops.batchNorm2dBackward(dy, s.x, null, null, null, { training: true })
  const r = ref.batchNormBackward(dy.data, s.x.data, 4, 3, 5, null, null, null, { training: true })
  assertClose(t, g.dx.data, r.dx, { ...G_TOL, label: 'dx' })
})

for (const training of [true, false]) {
  test(`batchNorm2d x=[3,2,2,2] ${training ? 'training' : 'eval'}: gradients match finite differences`, (t) => {
    const s = bnSetup([3, 2, 2, 2], 50)
    const dy = rand([3, 2, 2, 2], 55)
    const g = fv.ops.batchNorm2dBackward(dy, s.x, s.rm, s.rv, s.w, { training })
    const L = (xv, wv, bv) => dot(dy.data, ref.batchNorm(xv, 3, 2, 4, s.rm.data, s.rv.data, wv, bv, { training }).y)
    assertClose(t, g.dx.data, numericGrad((v) => L(v, s.w.data, s.b.data), s.x.data), { rtol: 1e-4, atol: 1e-4, label: 'dx' })
    assertClose(t, g.dweight.data, numericGrad((v) => L(s.x.data, v, s.b.data), s.w.data), { rtol: 1e-4, atol: 1e-4, label: 'dweight' })
    assertClose(t, g.dbias.data, numericGrad((v) => L(s.x.data, s.w.data, v), s.b.data), { rtol: 1e-4, atol: 1e-4, label: 'dbias' })
  })
}

// ---------------------------------------------------------------- groupNorm

const GN = [{ x: [2, 6, 5, 5], G: 3 }, { x: [3, 8, 7], G: 8 }, { x: [2, 4, 3, 3], G: 1 }, { x: [4, 64, 9, 9], G: 32 }, { x: [2, 6], G: 2 }]

for (const c of GN) {
  const [N, C] = c.x; const S = size(c.x.slice(2))
  test(`groupNorm x=[${c.x}] numGroups=${c.G} matches the float64 reference`, (t) => {
    const x = rand(c.x, 60, -2, 3); const w = rand([C], 61); const b = rand([C], 62)
    assertClose(t, fv.ops.groupNorm(x, c.G, w, b).data, ref.groupNorm(x.data, N, C, S, c.G, w.data, b.data), { ...Y_TOL, label: 'y affine' })
    assertClose(t, fv.ops.groupNorm(x, c.G).data, ref.groupNorm(x.data, N, C, S, c.G), { ...Y_TOL, label: 'y' })
  })
  test(`groupNormBackward x=[${c.x}] numGroups=${c.G} matches the float64 reference`, (t) => {
    const x = rand(c.x, 63, -2, 3); const w = rand([C], 64); const dy = rand(c.x, 65)
    const g = fv.ops.groupNormBackward(dy, x, c.G, w)
    const r = ref.groupNormBackward(dy.data, x.data, N, C, S, c.G, w.data)
    assertClose(t, g.dx.data, r.dx, { ...G_TOL, label: 'dx' })
    assertClose(t, g.dweight.data, r.dweight, { ...G_TOL, atol: 1e-5 * Math.sqrt(N * S), label: 'dweight' })
    assertClose(t, g.dbias.data, r.dbias, { ...G_TOL, atol: 1e-5 * Math.sqrt(N * S), label: 'dbias' })
    const g1 = fv.ops.groupNormBackward(dy, x, c.G)
    assertClose(t, g1.dx.data, ref.groupNormBackward(dy.data, x.data, N, C, S, c.G).dx, { ...G_TOL, label: 'dx without weight' })
  })
}

test('groupNorm x=[2,4,3] numGroups=2: gradients match finite differences', (t) => {
  const x = rand([2, 4, 3], 70); const w = rand([4], 71); const b = rand([4], 72); const dy = rand([2, 4, 3], 73)
  const g = fv.ops.groupNormBackward(dy, x, 2, w)
  const L = (xv, wv, bv) => dot(dy.data, ref.groupNorm(xv, 2, 4, 3, 2, wv, bv))
  assertClose(t, g.dx.data, numericGrad((v) => L(v, w.data, b.data), x.data), { rtol: 1e-4, atol: 1e-4, label: 'dx' })
  assertClose(t, g.dweight.data, numericGrad((v) => L(x.data, v, b.data), w.data), { rtol: 1e-4, atol: 1e-4, label: 'dweight' })
  assertClose(t, g.dbias.data, numericGrad((v) => L(x.data, w.data, v), b.data), { rtol: 1e-4, atol: 1e-4, label: 'dbias' })
})

// ---------------------------------------------------------------- API behaviour

test('norms write into out; Async equals sync bit for bit (running stats included)', async (t) => {
  const s = bnSetup([4, 6, 9, 9], 80); const dy = rand([4, 6, 9, 9], 81)
  const out = fv.tensor(new Float32Array(size([4, 6, 9, 9])), [4, 6, 9, 9])
  t.is(fv.ops.groupNorm(s.x, 3, s.w, s.b, { out }), out)
  assertBitIdentical(t, out.data, fv.ops.groupNorm(s.x, 3, s.w, s.b).data, 'groupNorm out')
  const rm1 = fv.tensor(s.rm.data.slice(), [6]); const rv1 = fv.tensor(s.rv.data.slice(), [6])
  const rm2 = fv.tensor(s.rm.data.slice(), [6]); const rv2 = fv.tensor(s.rv.data.slice(), [6])
  const ya = await fv.ops.batchNorm2dAsync(s.x, rm1, rv1, s.w, s.b, { training: true })
  const ys = fv.ops.batchNorm2d(s.x, rm2, rv2, s.w, s.b, { training: true })
  assertBitIdentical(t, ya.data, ys.data, 'batchNorm2d'); assertBitIdentical(t, rm1.data, rm2.data, 'runningMean')
  assertBitIdentical(t, rv1.data, rv2.data, 'runningVar')
  const ga = await fv.ops.batchNorm2dBackwardAsync(dy, s.x, null, null, s.w, { training: true })
  const gs = fv.ops.batchNorm2dBackward(dy, s.x, null, null, s.w, { training: true })
  for (const k of ['dx', 'dweight', 'dbias']) assertBitIdentical(t, ga[k].data, gs[k].data, `batchNorm2dBackward ${k}`)
  const x2 = rand([5, 40], 82); const dy2 = rand([5, 40], 83)
  assertBitIdentical(t, (await fv.ops.layerNormAsync(x2, [40], s.w.data.length ? null : null)).data, fv.ops.layerNorm(x2, [40]).data, 'layerNorm')
  const la = await fv.ops.layerNormBackwardAsync(dy2, x2, 40); const ls = fv.ops.layerNormBackward(dy2, x2, 40)
  assertBitIdentical(t, la.dx.data, ls.dx.data, 'layerNormBackward dx')
  const gna = await fv.ops.groupNormBackwardAsync(dy, s.x, 2, s.w); const gns = fv.ops.groupNormBackward(dy, s.x, 2, s.w)
  assertBitIdentical(t, gna.dweight.data, gns.dweight.data, 'groupNormBackward dweight')
  const dOut = { dx: fv.tensor(new Float32Array(200), [5, 40]), dweight: fv.tensor(new Float32Array(40), [40]) }
  const g = fv.ops.layerNormBackward(dy2, x2, [40], null, { out: dOut })
  t.is(g.dx, dOut.dx); t.is(g.dweight, dOut.dweight)
  await t.throwsAsync(fv.ops.groupNormAsync(s.x, 4), { instanceOf: RangeError, message: /^groupNorm: numGroups must be a divisor of the channel count C=6, got 4/ })
})

test('norm backwards accumulate into the gradients given in out (old + new exactly); the others come back fresh', (t) => {
  const cases = [
    ['layerNormBackward', [5, 6], (dy, x, w, o) => fv.ops.layerNormBackward(dy, x, [6], w, o), [6]],
    ['layerNormBackward 300 rows', [300, 7], (dy, x, w, o) => fv.ops.layerNormBackward(dy, x, 7, w, o), [7]],
    ['batchNorm2dBackward training', [3, 4, 2, 2], (dy, x, w, o) => fv.ops.batchNorm2dBackward(dy, x, null, null, w, { ...o, training: true }), [4]],
    ['batchNorm2dBackward eval', [3, 4, 2, 2], (dy, x, w, o) => fv.ops.batchNorm2dBackward(dy, x, rand([4], 9), rand([4], 10, 0.5, 1.5), w, o), [4]],
    ['groupNormBackward', [2, 4, 3], (dy, x, w, o) => fv.ops.groupNormBackward(dy, x, 2, w, o), [4]]
  ]
  for (const [label, xShape, run, pShape] of cases) {
    const x = rand(xShape, 1); const dy = rand(xShape, 2); const w = rand(pShape, 3)
    const once = run(dy, x, w, {})
    const dweight = fv.tensor(new Float32Array(size(pShape)).fill(0.5), pShape)
    const dxOut = fv.tensor(new Float32Array(size(xShape)).fill(-1), xShape)
    const g = run(dy, x, w, { out: { dweight, dx: dxOut }, accumulate: true })
    t.is(g.dweight, dweight); t.is(g.dx, dxOut)
    assertBitIdentical(t, dweight.data, once.dweight.data.map((v) => v + 0.5), `${label}: dweight accumulated`)
    assertBitIdentical(t, dxOut.data, once.dx.data.map((v) => v - 1), `${label}: dx accumulated`)
    assertBitIdentical(t, g.dbias.data, once.dbias.data, `${label}: dbias fresh`)
    const dbias = fv.tensor(Float32Array.from(once.dbias.data), pShape)
    const h = run(dy, x, w, { out: { dbias }, accumulate: true })
    assertBitIdentical(t, dbias.data, once.dbias.data.map((v) => 2 * v), `${label}: dbias accumulated`)
    assertBitIdentical(t, h.dx.data, once.dx.data, `${label}: dx fresh`)
    t.throws(() => run(dy, x, w, { accumulate: true }), { instanceOf: RangeError, message: /must be at least one of dx, dweight and dbias when accumulate is true/ })
  }
})

test('norms are bit-identical across runs and thread counts', (t) => {
  const x = rand([8, 64, 28, 28], 90); const dy = rand([8, 64, 28, 28], 91)
  const w = rand([64], 92); const b = rand([64], 93); const rm = rand([64], 94); const rv = rand([64], 95, 0.5, 2)
  const h = rand([1000, 257], 96); const dh = rand([1000, 257], 97); const hw = rand([257], 98)
  const run = () => {
    const r = []
    r.push(fv.ops.batchNorm2d(x, null, null, w, b, { training: true }), fv.ops.batchNorm2d(x, rm, rv, w, b))
    for (const training of [true, false]) {
      const g = fv.ops.batchNorm2dBackward(dy, x, rm, rv, w, { training })
      r.push(g.dx, g.dweight, g.dbias)
    }
    const gg = fv.ops.groupNormBackward(dy, x, 32, w)
    r.push(fv.ops.groupNorm(x, 32, w, b), gg.dx, gg.dweight, gg.dbias)
    const lg = fv.ops.layerNormBackward(dh, h, [257], hw)
    r.push(fv.ops.layerNorm(h, [257], hw, hw), lg.dx, lg.dweight, lg.dbias)
    return r
  }
  assertDeterministic(t, run)
})

test('every ISA variant this CPU supports matches the reference', (t) => {
  const s = bnSetup([3, 5, 7, 3], 100); const dy = rand([3, 5, 7, 3], 101)
  forEachIsa((isa) => {
    const r = ref.batchNormBackward(dy.data, s.x.data, 3, 5, 21, null, null, s.w.data, { training: true })
    assertClose(t, fv.ops.batchNorm2dBackward(dy, s.x, null, null, s.w, { training: true }).dx.data, r.dx, { ...G_TOL, label: `${isa} batchNorm dx` })
    assertClose(t, fv.ops.groupNorm(s.x, 5, s.w, s.b).data, ref.groupNorm(s.x.data, 3, 5, 21, 5, s.w.data, s.b.data), { ...Y_TOL, label: `${isa} groupNorm` })
    const lr = ref.layerNormBackward(dy.data, s.x.data, 15, 21, null)
    const lg = fv.ops.layerNormBackward(dy, s.x, [7, 3])
    assertClose(t, lg.dx.data, lr.dx, { ...G_TOL, label: `${isa} layerNorm dx` })
    assertClose(t, lg.dweight.data, lr.dweight, { ...G_TOL, label: `${isa} layerNorm dweight` })
  })
})

test('norms reject bad input with TypeError / RangeError naming the op and argument', (t) => {
  const x = rand([2, 3, 4], 1)
  t.throws(() => fv.ops.layerNorm(x, [3]), { instanceOf: RangeError, message: /^layerNorm: x must be \[\.\.\., 3\] \(ending in normalizedShape\), got \[2,3,4\]/ })
  t.throws(() => fv.ops.layerNorm(x, [4], rand([5], 1)), { instanceOf: RangeError, message: /^layerNorm: weight must be \[4\], got \[5\]/ })
  t.throws(() => fv.ops.layerNorm(x, 'x'), { instanceOf: TypeError, message: /^layerNorm: normalizedShape must be an array of integers/ })
  t.throws(() => fv.ops.layerNorm(x, [4], null, null, { eps: -1 }), { instanceOf: RangeError, message: /^layerNorm: eps must be a number from 0/ })
  t.throws(() => fv.ops.layerNormBackward(rand([2, 3], 1), x, [4]), { instanceOf: RangeError, message: /^layerNormBackward: dy must be \[2,3,4\] \(the shape of x\)/ })
  t.throws(() => fv.ops.batchNorm2d(x, null, null), { instanceOf: RangeError, message: /^batchNorm2d: runningMean must be a tensor \[3\] in eval mode/ })
  t.throws(() => fv.ops.batchNorm2d(x, rand([3], 1), null, null, null, { training: true }), { instanceOf: RangeError, message: /^batchNorm2d: runningVar must be given together with runningMean/ })
  t.throws(() => fv.ops.batchNorm2d(x, rand([4], 1), rand([4], 2)), { instanceOf: RangeError, message: /^batchNorm2d: runningMean must be \[3\], got \[4\]/ })
  t.throws(() => fv.ops.batchNorm2d(rand([1, 3, 1, 1], 1), null, null, null, null, { training: true }), { instanceOf: RangeError, message: /^batchNorm2d: x must be more than one value per channel in training/ })
  t.throws(() => fv.ops.batchNorm2d(rand([5], 1), null, null, null, null, { training: true }), { instanceOf: RangeError, message: /^batchNorm2d: x must be \[N, C, \.\.\.\] \(rank ≥ 2\), got \[5\]/ })
  t.throws(() => fv.ops.batchNorm2d(x, null, null, null, null, { training: 1 }), { instanceOf: TypeError, message: /^batchNorm2d: training must be a boolean/ })
  t.throws(() => fv.ops.batchNorm2d(x, null, null, null, null, { training: true, momentum: 2 }), { instanceOf: RangeError, message: /^batchNorm2d: momentum must be a number from 0 to 1/ })
  t.throws(() => fv.ops.groupNorm(x, 2), { instanceOf: RangeError, message: /^groupNorm: numGroups must be a divisor of the channel count C=3, got 2/ })
  t.throws(() => fv.ops.groupNorm(x, 0), { instanceOf: RangeError, message: /^groupNorm: numGroups must be an integer from 1/ })
  t.throws(() => fv.ops.groupNormBackward(x, x, 3, null, { out: { dx: rand([3], 1) } }), { instanceOf: RangeError, message: /^groupNormBackward: out\.dx\.shape must be \[2,3,4\]/ })
  const { binding } = require('../dist/native')
  t.throws(() => binding.groupNorm(new Float32Array(24), null, null, null, 2, 3, 4, 2, 1e-5), { instanceOf: RangeError, message: /groupNorm: numGroups must divide C/ })
  t.throws(() => binding.batchNorm2d(new Float32Array(24), new Float32Array(3), new Float32Array(2), null, null, null, 2, 3, 4, false, 0.1, 1e-5), { instanceOf: RangeError, message: /batchNorm2d: runningVar must have 3 elements/ })
  t.throws(() => binding.layerNorm(new Float32Array(24), null, null, null, 5, 5, 1e-5), { instanceOf: RangeError, message: /layerNorm: x must have 25 elements/ })
  t.throws(() => binding.batchNorm2d(new Float32Array(24), null, null, null, null, null, 2, 3, 4, false, 0.1, 1e-5), { instanceOf: RangeError, message: /batchNorm2d: runningMean and runningVar are needed in eval mode/ })
})

test('empty batches: layerNorm x=[0,8] and groupNorm x=[0,4,3] give empty results and zero parameter gradients', (t) => {
  const e = { data: new Float32Array(0), shape: [0, 8] }
  t.deepEqual(fv.ops.layerNorm(e, [8]).shape, [0, 8])
  const g = fv.ops.layerNormBackward(e, e, [8])
  t.deepEqual(Array.from(g.dweight.data), new Array(8).fill(0))
  const e2 = { data: new Float32Array(0), shape: [0, 4, 3] }
  t.deepEqual(Array.from(fv.ops.groupNormBackward(e2, e2, 2).dbias.data), [0, 0, 0, 0])
})
