'use strict'
// conv2dTranspose and conv1d (and their backwards): both reuse conv2d's kernels, so these
// tests check the mapping (PyTorch's transposed weight layout, outputPadding, conv1d as
// H = 1) against float64 references written independently of it.
const test = require('ava')
const fv = require('./helpers/fv')
const ref = require('./reference/conv')
const { rand } = require('./helpers/random')
const { assertClose, assertBitIdentical, numericGrad, dot } = require('./helpers/check')

function fmt (v) {
  return JSON.stringify(v).replace(/"/g, "'")
}
function name (c) {
  const o = Object.entries(c.o).map(([k, v]) => `${k} ${fmt(v)}`).join(' ')
  return `x=[${c.x.join(',')}] w=[${c.w.join(',')}]${o ? ' ' + o : ''}`
}
function tol (n) {
  return { rtol: 1e-5, atol: 3e-6 * Math.sqrt(Math.max(n, 1)) }
}

// x [N, Cin, H, W], w [Cin, Cout/groups, kh, kw]
const TRANSPOSE = [
  { x: [2, 4, 5, 6], w: [4, 3, 3, 3], o: { stride: 2, padding: 1, outputPadding: 1 } },
  { x: [1, 3, 4, 7], w: [3, 5, 2, 4], o: { stride: [3, 2], padding: [1, 0, 2, 1], outputPadding: [2, 1] } },
  { x: [2, 4, 6, 5], w: [4, 2, 3, 3], o: { stride: 2, groups: 2, dilation: [1, 2] } },
  { x: [2, 5, 7, 8], w: [5, 4, 3, 3], o: { padding: 1 } },
  { x: [1, 3, 6, 6], w: [3, 2, 5, 3], o: { padding: [3, 0, 0, 2], dilation: 2 } },
  { x: [2, 6, 7, 7], w: [6, 1, 3, 3], o: { groups: 6, padding: 1 } },
  { x: [2, 6, 7, 9], w: [6, 1, 4, 4], o: { groups: 6, stride: 2, padding: 1 } },
  { x: [2, 5, 4, 6], w: [5, 7, 1, 1], o: {} },
  { x: [2, 5, 4, 6], w: [5, 3, 1, 1], o: { stride: 2, outputPadding: 1 } },
  { x: [2, 16, 9, 9], w: [16, 8, 4, 4], o: { stride: 2, padding: 1 } },
  { x: [2, 12, 5, 28], w: [12, 10, 3, 3], o: { padding: 1 } }
]

for (const [i, c] of TRANSPOSE.entries()) {
  test(`conv2dTranspose ${name(c)} with bias matches the float64 reference`, (t) => {
    const x = rand(c.x, 10 * i); const w = rand(c.w, 10 * i + 1)
    const b = rand([c.w[1] * (c.o.groups ?? 1)], 10 * i + 2)
    const y = fv.ops.conv2dTranspose(x, w, b, c.o)
    const r = ref.conv2dTranspose(x, w, b, c.o)
    t.deepEqual(y.shape, r.shape)
    assertClose(t, y.data, r.data, { ...tol(c.w[0] * c.w[2] * c.w[3]), label: 'y' })
    const yr = fv.ops.conv2dTranspose(x, w, b, { ...c.o, activation: 'relu' })
    assertClose(t, yr.data, ref.conv2dTranspose(x, w, b, { ...c.o, activation: 'relu' }).data,
      { ...tol(c.w[0] * c.w[2] * c.w[3]), label: 'relu' })
  })

  test(`conv2dTransposeBackward ${name(c)} matches the float64 reference`, (t) => {
    const x = rand(c.x, 10 * i); const w = rand(c.w, 10 * i + 1)
    const r = ref.conv2dTranspose(x, w, null, c.o)
    const dy = rand(r.shape, 10 * i + 3)
    const g = fv.ops.conv2dTransposeBackward(dy, x, w, c.o)
    const e = ref.conv2dTransposeBackward(dy, x, w, c.o)
    t.deepEqual(g.dx.shape, c.x)
    t.deepEqual(g.dw.shape, c.w)
    t.deepEqual(g.db.shape, [r.shape[1]])
    const P = r.shape[0] * r.shape[2] * r.shape[3]
    assertClose(t, g.dx.data, e.dx, { ...tol(r.shape[1] * c.w[2] * c.w[3]), label: 'dx' })
    assertClose(t, g.dw.data, e.dw, { ...tol(P), label: 'dw' })
    assertClose(t, g.db.data, e.db, { ...tol(P), label: 'db' })
  })
}

test('conv2dTranspose x=[2,3,4,5] w=[3,4,3,3] stride 2: it is the dx of conv2d with the same weight', (t) => {
  const x = rand([2, 3, 4, 5], 1); const w = rand([3, 4, 3, 3], 2)
  const o = { stride: 2, padding: 1, outputPadding: 1 }
  const y = fv.ops.conv2dTranspose(x, w, null, o)
  t.deepEqual(y.shape, [2, 4, 8, 10])
  // conv2d maps [2,4,8,10] to [2,3,4,5] with w as [Cout=3, C=4, 3, 3]; its dx for dy = x is y.
  const g = fv.ops.conv2dBackward(x, rand([2, 4, 8, 10], 3), w, { stride: 2, padding: 1 })
  assertBitIdentical(t, y.data, g.dx.data)
})

const TRANSPOSE_GRAD = [
  { x: [2, 2, 3, 4], w: [2, 3, 3, 2], o: { stride: [2, 1], padding: [1, 0, 0, 1], outputPadding: [1, 0] } },
  { x: [1, 4, 4, 3], w: [4, 1, 3, 3], o: { groups: 2, dilation: 2, padding: 1 } }
]
for (const c of TRANSPOSE_GRAD) {
  test(`conv2dTranspose ${name(c)}: gradients match finite differences`, (t) => {
    const x = rand(c.x, 1); const w = rand(c.w, 2)
    const Cout = c.w[1] * (c.o.groups ?? 1)
    const b = rand([Cout], 3)
    const dy = rand(ref.conv2dTranspose(x, w, b, c.o).shape, 4)
    const g = fv.ops.conv2dTransposeBackward(dy, x, w, c.o)
    const L = (xv, wv, bv) => dot(dy.data, ref.conv2dTranspose({ data: xv, shape: c.x }, { data: wv, shape: c.w },
      { data: bv, shape: [Cout] }, c.o).data)
    const o = { rtol: 1e-4, atol: 1e-4 }
    assertClose(t, g.dx.data, numericGrad((v) => L(v, w.data, b.data), x.data), { ...o, label: 'dx' })
    assertClose(t, g.dw.data, numericGrad((v) => L(x.data, v, b.data), w.data), { ...o, label: 'dw' })
    assertClose(t, g.db.data, numericGrad((v) => L(x.data, w.data, v), b.data), { ...o, label: 'db' })
  })
}

// x [N, C, L], w [Cout, C/groups, k]
const CONV1D = [
  { x: [2, 3, 17], w: [5, 3, 3], o: { padding: 1 } },
  { x: [2, 4, 30], w: [6, 2, 5], o: { groups: 2, stride: 2, padding: [1, 3], dilation: 2 } },
  { x: [3, 6, 25], w: [6, 1, 7], o: { groups: 6, padding: 'same' } },
  { x: [1, 3, 20], w: [4, 3, 4], o: { padding: 'same', stride: 3 } },
  { x: [2, 5, 9], w: [7, 5, 1], o: {} },
  { x: [2, 5, 9], w: [7, 5, 9], o: { padding: 'valid' } },
  { x: [2, 8, 64], w: [16, 8, 3], o: { padding: 1 } }
]

for (const [i, c] of CONV1D.entries()) {
  test(`conv1d ${name(c)} with bias matches the float64 reference, and its backward`, (t) => {
    const x = rand(c.x, 10 * i); const w = rand(c.w, 10 * i + 1); const b = rand([c.w[0]], 10 * i + 2)
    const y = fv.ops.conv1d(x, w, b, c.o)
    const r = ref.conv1d(x, w, b, c.o)
    t.deepEqual(y.shape, r.shape)
    assertClose(t, y.data, r.data, { ...tol(c.w[1] * c.w[2]), label: 'y' })
    const dy = rand(r.shape, 10 * i + 3)
    const g = fv.ops.conv1dBackward(dy, x, w, c.o)
    const e = ref.conv1dBackward(dy, x, w, c.o)
    t.deepEqual(g.dx.shape, c.x)
    t.deepEqual(g.dw.shape, c.w)
    const P = r.shape[0] * r.shape[2]
    assertClose(t, g.dx.data, e.dx, { ...tol(c.w[0] * c.w[2]), label: 'dx' })
    assertClose(t, g.dw.data, e.dw, { ...tol(P), label: 'dw' })
    assertClose(t, g.db.data, e.db, { ...tol(P), label: 'db' })
  })
}

test('conv1d x=[2,3,7] w=[4,3,3] stride 2 padding [2,1]: gradients match finite differences', (t) => {
  const c = { x: [2, 3, 7], w: [4, 3, 3], o: { stride: 2, padding: [2, 1] } }
  const x = rand(c.x, 1); const w = rand(c.w, 2); const b = rand([4], 3)
  const dy = rand(ref.conv1d(x, w, b, c.o).shape, 4)
  const g = fv.ops.conv1dBackward(dy, x, w, c.o)
  const L = (xv, wv, bv) => dot(dy.data, ref.conv1d({ data: xv, shape: c.x }, { data: wv, shape: c.w },
    { data: bv, shape: [4] }, c.o).data)
  const o = { rtol: 1e-4, atol: 1e-4 }
  assertClose(t, g.dx.data, numericGrad((v) => L(v, w.data, b.data), x.data), { ...o, label: 'dx' })
  assertClose(t, g.dw.data, numericGrad((v) => L(x.data, v, b.data), w.data), { ...o, label: 'dw' })
  assertClose(t, g.db.data, numericGrad((v) => L(x.data, w.data, v), b.data), { ...o, label: 'db' })
})

test('conv2dTranspose and conv1d: out, Async twins and thread counts give identical bits', async (t) => {
  const x = rand([3, 8, 9, 11], 1); const w = rand([8, 6, 3, 3], 2); const b = rand([6], 3)
  const o = { stride: 2, padding: 1, outputPadding: [1, 0] }
  const y = fv.ops.conv2dTranspose(x, w, b, o)
  const out = fv.tensor(new Float32Array(y.data.length).fill(NaN), y.shape)
  t.is(fv.ops.conv2dTranspose(x, w, b, { ...o, out }), out)
  assertBitIdentical(t, out.data, y.data, 'out')
  assertBitIdentical(t, (await fv.ops.conv2dTransposeAsync(x, w, b, o)).data, y.data, 'async')
  const dy = rand(y.shape, 4)
  const g = fv.ops.conv2dTransposeBackward(dy, x, w, o)
  const ga = await fv.ops.conv2dTransposeBackwardAsync(dy, x, w, o)
  for (const k of ['dx', 'dw', 'db']) assertBitIdentical(t, ga[k].data, g[k].data, `async ${k}`)

  const x1 = rand([4, 8, 50], 5); const w1 = rand([12, 8, 5], 6)
  const y1 = fv.ops.conv1d(x1, w1, null, { padding: 'same' })
  assertBitIdentical(t, (await fv.ops.conv1dAsync(x1, w1, null, { padding: 'same' })).data, y1.data, 'conv1d async')
  const dy1 = rand(y1.shape, 7)
  const g1 = fv.ops.conv1dBackward(dy1, x1, w1, { padding: 'same' })
  const g1a = await fv.ops.conv1dBackwardAsync(dy1, x1, w1, { padding: 'same' })
  for (const k of ['dx', 'dw', 'db']) assertBitIdentical(t, g1a[k].data, g1[k].data, `conv1d async ${k}`)

  const before = fv.getNumThreads()
  try {
    for (const n of [1, 3]) {
      fv.setNumThreads(n)
      assertBitIdentical(t, fv.ops.conv2dTranspose(x, w, b, o).data, y.data, `${n} thread(s)`)
      const h = fv.ops.conv2dTransposeBackward(dy, x, w, o)
      for (const k of ['dx', 'dw', 'db']) assertBitIdentical(t, h[k].data, g[k].data, `${k}, ${n} thread(s)`)
      assertBitIdentical(t, fv.ops.conv1d(x1, w1, null, { padding: 'same' }).data, y1.data, `conv1d, ${n} thread(s)`)
    }
  } finally {
    fv.setNumThreads(before)
  }
})
