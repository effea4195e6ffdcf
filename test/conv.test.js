'use strict'
// conv2d and conv2dBackward against the float64 reference over the grid of options
// (odd sizes, non-square kernels, asymmetric padding, 'same'/'valid', dilation with
// stride, groups that are neither 1 nor C, depthwise, 1×1), finite-difference gradients,
// out/accumulate, async, determinism across runs and thread counts, every ISA variant.
// Bad input lives in conv_errors.test.js, the transposed conv and conv1d in conv_transpose.test.js.
const test = require('ava')
const fv = require('./helpers/fv')
const ref = require('./reference/conv')
const { rand } = require('./helpers/random')
const { assertClose, assertBitIdentical, numericGrad, dot } = require('./helpers/check')

// Each case: x shape, w shape, options. Names come from them.
const CASES = [
  { x: [2, 3, 7, 9], w: [4, 3, 3, 3], o: { padding: 1 } },
  { x: [1, 3, 8, 11], w: [5, 3, 2, 5], o: { padding: [1, 0, 2, 1] } },
  { x: [2, 4, 13, 10], w: [6, 4, 3, 2], o: { stride: [2, 3], dilation: [2, 1], padding: [2, 1] } },
  { x: [2, 4, 9, 9], w: [6, 2, 3, 3], o: { groups: 2, padding: 1 } },
  { x: [1, 6, 8, 7], w: [9, 2, 3, 3], o: { groups: 3, stride: 2, padding: [0, 1, 1, 0] } },
  { x: [2, 5, 10, 19], w: [5, 1, 3, 3], o: { groups: 5, padding: 1 } },
  { x: [2, 5, 11, 9], w: [5, 1, 3, 3], o: { groups: 5, stride: 2, padding: 1 } },
  { x: [1, 4, 9, 21], w: [4, 1, 5, 3], o: { groups: 4, dilation: [1, 2], padding: [2, 3, 0, 4] } },
  { x: [2, 3, 6, 6], w: [6, 1, 3, 3], o: { groups: 3, padding: 1 } },
  { x: [2, 4, 11, 23], w: [4, 1, 5, 5], o: { groups: 4, padding: [2, 1, 3, 2] } },
  { x: [1, 3, 9, 40], w: [3, 1, 3, 3], o: { groups: 3, padding: [0, 2, 1, 1] } },
  { x: [2, 7, 5, 6], w: [10, 7, 1, 1], o: {} },
  { x: [2, 6, 7, 9], w: [4, 3, 1, 1], o: { groups: 2 } },
  { x: [2, 7, 9, 8], w: [5, 7, 1, 1], o: { stride: 2 } },
  { x: [1, 3, 5, 5], w: [4, 3, 1, 1], o: { padding: 1 } },
  { x: [2, 3, 9, 10], w: [4, 3, 4, 4], o: { padding: 'same' } },
  { x: [2, 3, 9, 10], w: [4, 3, 3, 2], o: { padding: 'same', stride: 2 } },
  { x: [1, 2, 11, 7], w: [3, 2, 3, 3], o: { padding: 'same', stride: [3, 2], dilation: [2, 1] } },
  { x: [2, 3, 9, 10], w: [4, 3, 3, 3], o: { padding: 'valid' } },
  { x: [2, 1, 28, 28], w: [8, 1, 3, 3], o: { padding: 1 } },
  { x: [1, 3, 32, 32], w: [8, 3, 3, 3], o: { padding: 1 } },
  { x: [2, 16, 20, 20], w: [24, 16, 3, 3], o: { padding: 1 } },
  { x: [1, 64, 14, 14], w: [12, 64, 3, 3], o: { padding: 1 } },
  // Winograd F(2×2,3×3) (3×3, stride 1, ≥ 8 channels each side): odd maps, asymmetric and
  // large padding (the dx convolution crops), groups, tile rows wider than one group.
  // (It needs output rows of ~14+ tiles: OW of 28–32 or 58–64.)
  { x: [2, 16, 7, 30], w: [8, 16, 3, 3], o: { padding: [2, 0, 1, 1] } },
  { x: [1, 16, 5, 61], w: [16, 8, 3, 3], o: { groups: 2, padding: 1 } },
  { x: [2, 8, 4, 26], w: [9, 8, 3, 3], o: { padding: 3 } },
  { x: [1, 12, 10, 32], w: [10, 12, 3, 3], o: {} },
  { x: [1, 3, 4, 4], w: [2, 3, 6, 6], o: { padding: 1 } },
  { x: [2, 2, 13, 3], w: [3, 2, 3, 3], o: {} },
  { x: [1, 2, 17, 1], w: [3, 2, 3, 1], o: { padding: [1, 1, 0, 0], dilation: [3, 1] } },
  { x: [1, 4, 12, 12], w: [4, 4, 3, 3], o: { dilation: 3, padding: 2, stride: 2 } },
  { x: [1, 2, 3, 4], w: [3, 2, 1, 1], o: { padding: [2, 0, 0, 3] } },
  { x: [1, 2, 5, 5], w: [3, 2, 2, 2], o: { padding: 4 } }
]

function fmt (v) {
  return JSON.stringify(v).replace(/"/g, "'")
}

function name (c) {
  const o = Object.entries(c.o).map(([k, v]) => `${k} ${fmt(v)}`).join(' ')
  return `x=[${c.x.join(',')}] w=[${c.w.join(',')}]${o ? ' ' + o : ''}`
}

function setup (c, seed) {
  return { x: rand(c.x, seed), w: rand(c.w, seed + 1), b: rand([c.w[0]], seed + 2) }
}

// Sums of n products of values in [-1, 1]: float32 rounding grows like √n.
function tol (n) {
  return { rtol: 1e-5, atol: 3e-6 * Math.sqrt(Math.max(n, 1)) }
}

for (const [i, c] of CASES.entries()) {
  const K = c.w[1] * c.w[2] * c.w[3]
  test(`conv2d ${name(c)} with bias matches the float64 reference`, (t) => {
    const { x, w, b } = setup(c, 10 * i)
    const y = fv.ops.conv2d(x, w, b, c.o)
    const r = ref.conv2d(x, w, b, c.o)
    t.deepEqual(y.shape, r.shape)
    t.true(y.data instanceof Float32Array)
    assertClose(t, y.data, r.data, { ...tol(K), label: 'y' })
  })

  test(`conv2dBackward ${name(c)} matches the float64 reference`, (t) => {
    const { x, w } = setup(c, 10 * i)
    const r = ref.conv2d(x, w, null, c.o)
    const dy = rand(r.shape, 10 * i + 5)
    const g = fv.ops.conv2dBackward(dy, x, w, c.o)
    const e = ref.conv2dBackward(dy, x, w, c.o)
    t.deepEqual(g.dx.shape, c.x)
    t.deepEqual(g.dw.shape, c.w)
    t.deepEqual(g.db.shape, [c.w[0]])
    const P = r.shape[0] * r.shape[2] * r.shape[3]
    assertClose(t, g.dx.data, e.dx, { ...tol(c.w[0] * c.w[2] * c.w[3]), label: 'dx' })
    assertClose(t, g.dw.data, e.dw, { ...tol(P), label: 'dw' })
    assertClose(t, g.db.data, e.db, { ...tol(P), label: 'db' })
  })
}

test('conv2d x=[2,3,7,9] w=[5,3,3,3] activation relu equals relu of the plain result', (t) => {
  const x = rand([2, 3, 7, 9], 1); const w = rand([5, 3, 3, 3], 2); const b = rand([5], 3)
  for (const o of [{ padding: 1 }, { padding: 1, stride: 2 }]) {
    const y = fv.ops.conv2d(x, w, b, { ...o, activation: 'relu' })
    const r = ref.conv2d(x, w, b, { ...o, activation: 'relu' })
    assertClose(t, y.data, r.data, { ...tol(27), label: `relu ${fmt(o)}` })
    t.true(y.data.some((v) => v === 0) && y.data.every((v) => v >= 0))
  }
  // The Winograd, depthwise and 1×1 paths fuse it too.
  const xw = rand([2, 16, 6, 30], 9); const ww = rand([12, 16, 3, 3], 10); const bw = rand([12], 11)
  assertClose(t, fv.ops.conv2d(xw, ww, bw, { padding: 1, activation: 'relu' }).data,
    ref.conv2d(xw, ww, bw, { padding: 1, activation: 'relu' }).data, tol(144))
  const xd = rand([2, 4, 6, 6], 4)
  const yd = fv.ops.conv2d(xd, rand([4, 1, 3, 3], 5), rand([4], 6), { groups: 4, padding: 1, activation: 'relu' })
  assertClose(t, yd.data, ref.conv2d(xd, rand([4, 1, 3, 3], 5), rand([4], 6), { groups: 4, padding: 1, activation: 'relu' }).data, tol(9))
  const yp = fv.ops.conv2d(xd, rand([3, 4, 1, 1], 7), rand([3], 8), { activation: 'relu' })
  assertClose(t, yp.data, ref.conv2d(xd, rand([3, 4, 1, 1], 7), rand([3], 8), { activation: 'relu' }).data, tol(4))
})

test('conv2d x=[0,3,5,5] (empty batch) and w=[0,3,3,3] (no output channels) give empty results', (t) => {
  const w = rand([4, 3, 3, 3], 1)
  const y = fv.ops.conv2d({ data: new Float32Array(0), shape: [0, 3, 5, 5] }, w, null, { padding: 1 })
  t.deepEqual(y.shape, [0, 4, 5, 5])
  const y2 = fv.ops.conv2d(rand([2, 3, 5, 5], 2), { data: new Float32Array(0), shape: [0, 3, 3, 3] })
  t.deepEqual(y2.shape, [2, 0, 3, 3])
  t.is(y2.data.length, 0)
  const g = fv.ops.conv2dBackward({ data: new Float32Array(0), shape: [0, 4, 5, 5] },
    { data: new Float32Array(0), shape: [0, 3, 5, 5] }, w, { padding: 1 })
  t.deepEqual(Array.from(g.dw.data), new Array(w.data.length).fill(0))
  t.deepEqual(Array.from(g.db.data), [0, 0, 0, 0])
})

test('conv2d x=[2,0,5,5] w=[3,0,3,3] (no input channels) gives the bias', (t) => {
  const b = rand([3], 1)
  const y = fv.ops.conv2d({ data: new Float32Array(0), shape: [2, 0, 5, 5] }, { data: new Float32Array(0), shape: [3, 0, 3, 3] }, b)
  t.deepEqual(y.shape, [2, 3, 3, 3])
  for (let i = 0; i < y.data.length; i++) t.is(y.data[i], b.data[Math.floor(i / 9) % 3])
})

const GRAD_CASES = [
  { x: [2, 3, 5, 6], w: [4, 3, 3, 2], o: { stride: [2, 1], padding: [1, 0, 1, 1], dilation: [1, 2] } },
  { x: [1, 4, 5, 5], w: [6, 2, 2, 3], o: { groups: 2, padding: 'same' } },
  { x: [2, 3, 6, 5], w: [3, 1, 3, 3], o: { groups: 3, stride: 2, padding: 1 } },
  { x: [2, 3, 4, 4], w: [3, 3, 1, 1], o: {} }
]

for (const c of GRAD_CASES) {
  test(`conv2d ${name(c)}: gradients match finite differences`, (t) => {
    const x = rand(c.x, 1); const w = rand(c.w, 2); const b = rand([c.w[0]], 3)
    const yShape = ref.conv2d(x, w, b, c.o).shape
    const dy = rand(yShape, 4)
    const g = fv.ops.conv2dBackward(dy, x, w, c.o)
    // L = ⟨dy, conv2d(x, w, b)⟩, differentiated numerically through the float64 reference.
    const L = (xv, wv, bv) => dot(dy.data, ref.conv2d({ data: xv, shape: c.x }, { data: wv, shape: c.w },
      { data: bv, shape: [c.w[0]] }, c.o).data)
    const o = { rtol: 1e-4, atol: 1e-4 }
    assertClose(t, g.dx.data, numericGrad((v) => L(v, w.data, b.data), x.data), { ...o, label: 'dx' })
    assertClose(t, g.dw.data, numericGrad((v) => L(x.data, v, b.data), w.data), { ...o, label: 'dw' })
    assertClose(t, g.db.data, numericGrad((v) => L(x.data, w.data, v), b.data), { ...o, label: 'db' })
  })
}

test('conv2d writes into out and returns it', (t) => {
  const x = rand([2, 3, 6, 7], 1); const w = rand([4, 3, 3, 3], 2)
  const out = fv.tensor(new Float32Array(2 * 4 * 6 * 7).fill(NaN), [2, 4, 6, 7])
  const y = fv.ops.conv2d(x, w, null, { padding: 1, out })
  t.is(y, out)
  assertBitIdentical(t, out.data, fv.ops.conv2d(x, w, null, { padding: 1 }).data)
  const plain = { data: new Float32Array(2 * 4 * 4 * 5), shape: [2, 4, 4, 5] }
  t.is(fv.ops.conv2d(x, w, null, { out: plain }).data, plain.data)
})

test('conv2dBackward writes into out and accumulates when asked', (t) => {
  for (const o of [{ padding: 1 }, { padding: 1, stride: 2 }, { groups: 3, padding: 1 }, {}, { pointwise: true }]) {
    const wShape = o.groups ? [3, 1, 3, 3] : o.pointwise ? [5, 3, 1, 1] : [4, 3, 3, 3]
    delete o.pointwise
    const x = rand([2, 3, 7, 6], 1); const w = rand(wShape, 2)
    const dy = rand(ref.conv2d(x, w, null, o).shape, 3)
    const once = fv.ops.conv2dBackward(dy, x, w, o)
    const out = {
      dx: fv.tensor(new Float32Array(x.data.length).fill(NaN), x.shape),
      dw: fv.tensor(new Float32Array(w.data.length).fill(NaN), wShape),
      db: fv.tensor(new Float32Array(wShape[0]).fill(NaN), [wShape[0]])
    }
    const g = fv.ops.conv2dBackward(dy, x, w, { ...o, out })
    t.is(g.dx, out.dx); t.is(g.dw, out.dw); t.is(g.db, out.db)
    assertBitIdentical(t, out.dx.data, once.dx.data, `dx ${fmt(o)}`)
    assertBitIdentical(t, out.dw.data, once.dw.data, `dw ${fmt(o)}`)
    fv.ops.conv2dBackward(dy, x, w, { ...o, out, accumulate: true })
    for (const k of ['dx', 'dw', 'db']) {
      assertClose(t, out[k].data, once[k].data.map((v) => 2 * v), { rtol: 1e-5, atol: 1e-6, label: `${k} accumulated ${fmt(o)}` })
    }
  }
})

test('conv2dBackward / conv2dTransposeBackward accumulate into the gradients given in out; dx comes back fresh', (t) => {
  const x = rand([2, 3, 7, 6], 1); const w = rand([4, 3, 3, 3], 2)
  const o = { padding: 1, stride: 2 }
  const dy = rand(ref.conv2d(x, w, null, o).shape, 3)
  const once = fv.ops.conv2dBackward(dy, x, w, o)
  const dw = fv.tensor(Float32Array.from(once.dw.data), w.shape); const db = fv.tensor(Float32Array.from(once.db.data), [4])
  const g = fv.ops.conv2dBackward(dy, x, w, { ...o, out: { dw, db }, accumulate: true })
  t.is(g.dw, dw); t.is(g.db, db)
  assertBitIdentical(t, g.dx.data, once.dx.data, 'dx fresh')
  assertClose(t, dw.data, once.dw.data.map((v) => 2 * v), { rtol: 1e-5, atol: 1e-6, label: 'dw accumulated' })
  assertClose(t, db.data, once.db.data.map((v) => 2 * v), { rtol: 1e-5, atol: 1e-6, label: 'db accumulated' })
  const wt = rand([3, 2, 3, 3], 4); const xt = rand([2, 3, 4, 4], 5)
  const dyt = rand(fv.ops.conv2dTranspose(xt, wt, null, o).shape, 6)
  const onceT = fv.ops.conv2dTransposeBackward(dyt, xt, wt, o)
  const dwt = fv.tensor(Float32Array.from(onceT.dw.data), wt.shape)
  const gt = fv.ops.conv2dTransposeBackward(dyt, xt, wt, { ...o, out: { dw: dwt }, accumulate: true })
  assertBitIdentical(t, gt.dx.data, onceT.dx.data, 'transpose dx fresh')
  assertClose(t, dwt.data, onceT.dw.data.map((v) => 2 * v), { rtol: 1e-5, atol: 1e-6, label: 'transpose dw accumulated' })
  t.throws(() => fv.ops.conv2dBackward(dy, x, w, { ...o, accumulate: true }), { instanceOf: RangeError, message: /^conv2dBackward: out must be at least one of dx, dw and db when accumulate is true/ })
})

test('conv2dAsync and conv2dBackwardAsync equal the sync results bit for bit', async (t) => {
  const x = rand([3, 5, 11, 13], 1); const w = rand([7, 5, 3, 3], 2); const b = rand([7], 3)
  const o = { padding: 1, stride: [1, 2] }
  assertBitIdentical(t, (await fv.ops.conv2dAsync(x, w, b, o)).data, fv.ops.conv2d(x, w, b, o).data, 'y')
  const dy = rand(ref.conv2d(x, w, b, o).shape, 4)
  const ga = await fv.ops.conv2dBackwardAsync(dy, x, w, o)
  const gs = fv.ops.conv2dBackward(dy, x, w, o)
  for (const k of ['dx', 'dw', 'db']) assertBitIdentical(t, ga[k].data, gs[k].data, k)
})

// Shapes that reach every algorithm: im2col + GEMM (several tiles), stride-2 col2im dx,
// depthwise, 1×1, and the MNIST-sized rows.
const DETERMINISM = [
  { x: [3, 16, 23, 21], w: [24, 16, 3, 3], o: { padding: 1 } },
  { x: [2, 16, 9, 30], w: [24, 16, 3, 3], o: { padding: 1 } },
  { x: [3, 8, 19, 17], w: [12, 8, 3, 3], o: { padding: 1, stride: 2 } },
  { x: [4, 12, 15, 15], w: [12, 1, 3, 3], o: { padding: 1, groups: 12 } },
  { x: [4, 12, 15, 15], w: [12, 1, 3, 3], o: { padding: 1, groups: 12, stride: 2 } },
  { x: [4, 32, 9, 9], w: [40, 32, 1, 1], o: {} },
  { x: [16, 1, 28, 28], w: [8, 1, 3, 3], o: { padding: 1 } }
]

test('conv2d and conv2dBackward are bit-identical across runs and thread counts', (t) => {
  const before = fv.getNumThreads()
  try {
    for (const c of DETERMINISM) {
      const { x, w, b } = setup(c, 3)
      const y = fv.ops.conv2d(x, w, b, c.o)
      const dy = rand(y.shape, 9)
      const g = fv.ops.conv2dBackward(dy, x, w, c.o)
      assertBitIdentical(t, fv.ops.conv2d(x, w, b, c.o).data, y.data, `${name(c)} two runs`)
      for (const n of [1, 2, 3]) {
        fv.setNumThreads(n)
        assertBitIdentical(t, fv.ops.conv2d(x, w, b, c.o).data, y.data, `${name(c)} y, ${n} thread(s)`)
        const h = fv.ops.conv2dBackward(dy, x, w, c.o)
        for (const k of ['dx', 'dw', 'db']) assertBitIdentical(t, h[k].data, g[k].data, `${name(c)} ${k}, ${n} thread(s)`)
      }
      fv.setNumThreads(before)
    }
  } finally {
    fv.setNumThreads(before)
  }
})

test.serial('every ISA variant this CPU supports matches the reference', (t) => {
  const cases = [
    { x: [2, 3, 9, 21], w: [5, 3, 3, 3], o: { padding: [1, 2, 0, 1] } },
    { x: [2, 3, 9, 21], w: [5, 3, 3, 3], o: { padding: 1, stride: [2, 3] } },
    { x: [2, 6, 11, 37], w: [6, 1, 3, 3], o: { padding: 1, groups: 6 } },
    { x: [2, 6, 11, 37], w: [6, 1, 3, 5], o: { padding: 2, groups: 6, stride: 2 } },
    { x: [2, 4, 7, 7], w: [5, 4, 1, 1], o: {} },
    { x: [2, 16, 5, 30], w: [12, 16, 3, 3], o: { padding: 1 } }
  ]
  const supported = fv.info().isa.supported
  t.true(supported.includes('generic'))
  try {
    for (const isa of supported) {
      fv.setIsa(isa)
      t.is(fv.info().isa.active, isa)
      for (const c of cases) {
        const { x, w, b } = setup(c, 7)
        const r = ref.conv2d(x, w, b, c.o)
        assertClose(t, fv.ops.conv2d(x, w, b, c.o).data, r.data, { ...tol(c.w[1] * c.w[2] * c.w[3]), label: `${isa} ${name(c)} y` })
        const dy = rand(r.shape, 8)
        const g = fv.ops.conv2dBackward(dy, x, w, c.o)
        const e = ref.conv2dBackward(dy, x, w, c.o)
        for (const k of ['dx', 'dw', 'db']) assertClose(t, g[k].data, e[k], { ...tol(1000), label: `${isa} ${name(c)} ${k}` })
      }
    }
  } finally {
    fv.setIsa('auto')
  }
})

test('conv2d propagates NaN and Infinity from x through the sums they enter', (t) => {
  const x = rand([1, 2, 6, 6], 1); const w = rand([3, 2, 3, 3], 2)
  x.data[0 * 36 + 2 * 6 + 2] = NaN
  x.data[1 * 36 + 5 * 6 + 5] = Infinity
  const y = fv.ops.conv2d(x, w, null, { padding: 1 })
  const r = ref.conv2d(x, w, null, { padding: 1 })
  for (let i = 0; i < y.data.length; i++) {
    if (Number.isNaN(r.data[i])) t.true(Number.isNaN(y.data[i]), `NaN at ${i}`)
    else if (!Number.isFinite(r.data[i])) t.is(y.data[i], r.data[i], `±Infinity at ${i}`)
  }
  t.true(y.data.some(Number.isNaN))
})
