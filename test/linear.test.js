'use strict'
const test = require('ava')
const fv = require('./helpers/fv')
const ref = require('./reference/linear')
const { rand } = require('./helpers/random')
const { assertClose, assertBitIdentical, numericGrad, dot } = require('./helpers/check')

// Odd sizes on purpose: 1, primes, and non-multiples of any vector width or tile.
const CASES = [
  { x: [1, 1], n: 1 },
  { x: [3, 17], n: 33 },
  { x: [7], n: 5 },
  { x: [2, 5, 255], n: 7 },
  { x: [129, 64], n: 96 },
  { x: [33, 1000], n: 3 }
]

function name (c, extra = '') {
  return `x=[${c.x.join(',')}] w=[${c.n},${c.x[c.x.length - 1]}]${extra}`
}

function setup (c, seed) {
  const K = c.x[c.x.length - 1]
  const M = c.x.slice(0, -1).reduce((a, b) => a * b, 1)
  const x = rand(c.x, seed)
  const w = rand([c.n, K], seed + 1)
  const b = rand([c.n], seed + 2)
  return { x, w, b, M, K, N: c.n }
}

for (const [i, c] of CASES.entries()) {
  for (const bias of [true, false]) {
    test(`linear ${name(c, bias ? ' with bias' : '')} matches the float64 reference`, (t) => {
      const { x, w, b, M, K, N } = setup(c, 10 * i)
      const y = fv.ops.linear(x, w, bias ? b : undefined)
      t.deepEqual(y.shape, [...c.x.slice(0, -1), N])
      t.true(y.data instanceof Float32Array)
      assertClose(t, y.data, ref.linear(x.data, w.data, bias ? b.data : null, M, K, N),
        { rtol: 1e-5, atol: 2e-6 * Math.sqrt(K), label: 'y' })
    })
  }

  test(`linearBackward ${name(c)} matches the float64 reference`, (t) => {
    const { x, w, M, K, N } = setup(c, 10 * i)
    const dy = rand([...c.x.slice(0, -1), N], 99 + i)
    const g = fv.ops.linearBackward(dy, x, w)
    const r = ref.linearBackward(dy.data, x.data, w.data, M, K, N)
    t.deepEqual(g.dx.shape, c.x)
    t.deepEqual(g.dw.shape, [N, K])
    t.deepEqual(g.db.shape, [N])
    assertClose(t, g.dx.data, r.dx, { rtol: 1e-5, atol: 2e-6 * Math.sqrt(N), label: 'dx' })
    assertClose(t, g.dw.data, r.dw, { rtol: 1e-5, atol: 2e-6 * Math.sqrt(M), label: 'dw' })
    assertClose(t, g.db.data, r.db, { rtol: 1e-5, atol: 2e-6 * Math.sqrt(M), label: 'db' })
  })
}

test('linear x=[4,6] w=[5,6]: gradients match finite differences', (t) => {
  const M = 4; const K = 6; const N = 5
  const x = rand([M, K], 1); const w = rand([N, K], 2); const b = rand([N], 3)
  const dy = rand([M, N], 4)
  const g = fv.ops.linearBackward(dy, x, w)
  // L = ⟨dy, linear(x, w, b)⟩, differentiated numerically through the float64 reference.
  const L = (xv, wv, bv) => dot(dy.data, ref.linear(xv, wv, bv, M, K, N))
  assertClose(t, g.dx.data, numericGrad((v) => L(v, w.data, b.data), x.data), { rtol: 1e-4, atol: 1e-5, label: 'dx' })
  assertClose(t, g.dw.data, numericGrad((v) => L(x.data, v, b.data), w.data), { rtol: 1e-4, atol: 1e-5, label: 'dw' })
  assertClose(t, g.db.data, numericGrad((v) => L(x.data, w.data, v), b.data), { rtol: 1e-4, atol: 1e-5, label: 'db' })
})

test('linear x=[0,8] w=[3,8] (empty batch) gives an empty [0,3] result', (t) => {
  const y = fv.ops.linear({ data: new Float32Array(0), shape: [0, 8] }, rand([3, 8], 1))
  t.deepEqual(y.shape, [0, 3])
  t.is(y.data.length, 0)
})

test('linear x=[2,0] w=[3,0] (no inputs) gives the bias', (t) => {
  const b = rand([3], 5)
  const y = fv.ops.linear({ data: new Float32Array(0), shape: [2, 0] }, { data: new Float32Array(0), shape: [3, 0] }, b)
  t.deepEqual(Array.from(y.data), [...b.data, ...b.data])
})

test('linear accepts onnxruntime-style { data, dims } tensors', (t) => {
  const x = rand([3, 4], 1); const w = rand([2, 4], 2)
  const y1 = fv.ops.linear(x, w)
  const y2 = fv.ops.linear({ data: x.data, dims: x.shape }, { data: w.data, dims: w.shape })
  assertBitIdentical(t, y1.data, y2.data)
})

test('linear writes into out and returns it', (t) => {
  const x = rand([5, 9], 1); const w = rand([4, 9], 2)
  const out = fv.tensor(new Float32Array(20).fill(NaN), [5, 4])
  const y = fv.ops.linear(x, w, null, { out })
  t.is(y, out)
  assertBitIdentical(t, out.data, fv.ops.linear(x, w).data)
  // A plain TensorLike out: a new Tensor over the same memory.
  const plain = { data: new Float32Array(20), shape: [5, 4] }
  const y2 = fv.ops.linear(x, w, null, { out: plain })
  t.is(y2.data, plain.data)
})

test('linearBackward writes into out and accumulates when asked', (t) => {
  const x = rand([6, 5], 1); const w = rand([3, 5], 2); const dy = rand([6, 3], 3)
  const once = fv.ops.linearBackward(dy, x, w)
  const out = { dx: fv.tensor(new Float32Array(30), [6, 5]), dw: fv.tensor(new Float32Array(15), [3, 5]), db: fv.tensor(new Float32Array(3), [3]) }
  const g = fv.ops.linearBackward(dy, x, w, { out })
  t.is(g.dx, out.dx); t.is(g.dw, out.dw); t.is(g.db, out.db)
  assertBitIdentical(t, out.dw.data, once.dw.data)
  fv.ops.linearBackward(dy, x, w, { out, accumulate: true })
  assertClose(t, out.dw.data, once.dw.data.map((v) => 2 * v), { rtol: 1e-6, label: 'dw accumulated' })
  assertClose(t, out.db.data, once.db.data.map((v) => 2 * v), { rtol: 1e-6, label: 'db accumulated' })
  assertClose(t, out.dx.data, once.dx.data.map((v) => 2 * v), { rtol: 1e-6, label: 'dx accumulated' })
})

test('linearBackward accumulate adds into the gradients given in out; the others come back fresh', (t) => {
  const x = rand([6, 5], 1); const w = rand([3, 5], 2); const dy = rand([6, 3], 3)
  const once = fv.ops.linearBackward(dy, x, w)
  const dw = fv.tensor(Float32Array.from(once.dw.data), [3, 5]); const db = fv.tensor(new Float32Array(3).fill(1), [3])
  const g = fv.ops.linearBackward(dy, x, w, { out: { dw, db }, accumulate: true })
  t.is(g.dw, dw); t.is(g.db, db)
  assertBitIdentical(t, g.dx.data, once.dx.data, 'dx fresh, not added to anything')
  assertClose(t, dw.data, once.dw.data.map((v) => 2 * v), { rtol: 1e-6, label: 'dw accumulated' })
  assertClose(t, db.data, once.db.data.map((v) => v + 1), { rtol: 1e-6, label: 'db accumulated' })
  const only = fv.tensor(Float32Array.from(once.db.data), [3])
  const h = fv.ops.linearBackward(dy, x, w, { out: { db: only }, accumulate: true })
  assertBitIdentical(t, h.dw.data, once.dw.data, 'dw fresh')
  assertClose(t, only.data, once.db.data.map((v) => 2 * v), { rtol: 1e-6, label: 'db alone accumulated' })
})

test('linearAsync and linearBackwardAsync equal the sync results bit for bit', async (t) => {
  const x = rand([37, 70], 1); const w = rand([19, 70], 2); const b = rand([19], 3); const dy = rand([37, 19], 4)
  assertBitIdentical(t, (await fv.ops.linearAsync(x, w, b)).data, fv.ops.linear(x, w, b).data, 'y')
  const ga = await fv.ops.linearBackwardAsync(dy, x, w)
  const gs = fv.ops.linearBackward(dy, x, w)
  assertBitIdentical(t, ga.dx.data, gs.dx.data, 'dx')
  assertBitIdentical(t, ga.dw.data, gs.dw.data, 'dw')
  assertBitIdentical(t, ga.db.data, gs.db.data, 'db')
})

test('linear is bit-identical across runs and thread counts', (t) => {
  const x = rand([300, 129], 7); const w = rand([65, 129], 8); const dy = rand([300, 65], 9)
  const before = fv.getNumThreads()
  try {
    const a = fv.ops.linear(x, w); const ga = fv.ops.linearBackward(dy, x, w)
    const b = fv.ops.linear(x, w)
    assertBitIdentical(t, a.data, b.data, 'two runs')
    for (const n of [1, 3]) {
      fv.setNumThreads(n)
      assertBitIdentical(t, fv.ops.linear(x, w).data, a.data, `${n} thread(s)`)
      const g = fv.ops.linearBackward(dy, x, w)
      assertBitIdentical(t, g.dw.data, ga.dw.data, `dw, ${n} thread(s)`)
      assertBitIdentical(t, g.dx.data, ga.dx.data, `dx, ${n} thread(s)`)
    }
  } finally {
    fv.setNumThreads(before)
  }
})

test.serial('every ISA variant this CPU supports matches the reference', (t) => {
  const c = { x: [17, 33], n: 31 }
  const { x, w, b, M, K, N } = setup(c, 3)
  const dy = rand([M, N], 4)
  const r = ref.linear(x.data, w.data, b.data, M, K, N)
  const rb = ref.linearBackward(dy.data, x.data, w.data, M, K, N)
  const supported = fv.info().isa.supported
  t.true(supported.includes('generic'))
  try {
    for (const isa of supported) {
      fv.setIsa(isa)
      t.is(fv.info().isa.active, isa)
      assertClose(t, fv.ops.linear(x, w, b).data, r, { rtol: 1e-5, atol: 1e-5, label: `${isa} forward` })
      assertClose(t, fv.ops.linearBackward(dy, x, w).dw.data, rb.dw, { rtol: 1e-5, atol: 1e-5, label: `${isa} dw` })
    }
  } finally {
    fv.setIsa('auto')
  }
})

// ---- matmul: torch.matmul's batching and broadcasting, on the GEMM core ----

const mref = require('./reference/matmul')

// [a shape, b shape, result shape]: 1-D operands, every broadcast pattern, awkward sizes.
const MATMUL_CASES = [
  [[3, 17], [17, 33], [3, 33]],
  [[17], [17, 5], [5]],
  [[4, 17], [17], [4]],
  [[17], [17], []],
  [[1, 1], [1, 1], [1, 1]],
  [[2, 3, 4, 5], [5, 6], [2, 3, 4, 6]],
  [[5, 6], [2, 6, 7], [2, 5, 7]],
  [[2, 1, 4, 5], [3, 5, 6], [2, 3, 4, 6]],
  [[5], [2, 5, 3], [2, 3]],
  [[2, 3, 255], [255], [2, 3]],
  [[3, 1, 33, 65], [1, 2, 65, 40], [3, 2, 33, 40]],
  [[0, 4, 5], [5, 6], [0, 4, 6]],
  [[2, 300], [300, 257], [2, 257]]
]

for (const [i, [as, bs, ys]] of MATMUL_CASES.entries()) {
  const label = `a=[${as}] b=[${bs}]`
  test(`matmul ${label} matches the float64 reference`, (t) => {
    const a = rand(as, 100 + i); const b = rand(bs, 200 + i)
    const y = fv.ops.matmul(a, b)
    const r = mref.matmul(a.data, as, b.data, bs)
    t.deepEqual(y.shape, ys)
    t.deepEqual(r.shape, ys)
    const K = as[as.length - 1]
    assertClose(t, y.data, r.data, { rtol: 1e-5, atol: 3e-6 * Math.sqrt(K + 1), label: 'y' })
  })

  test(`matmulBackward ${label} matches the float64 reference`, (t) => {
    const a = rand(as, 100 + i); const b = rand(bs, 200 + i); const dy = rand(ys, 300 + i)
    const g = fv.ops.matmulBackward(dy, a, b)
    const r = mref.matmulBackward(dy.data, a.data, as, b.data, bs)
    t.deepEqual(g.da.shape, as)
    t.deepEqual(g.db.shape, bs)
    // Each gradient element sums over N (da) or M (db) and every broadcast batch item.
    const n = Math.max(1, dy.data.length / Math.max(1, as[as.length - 1]))
    assertClose(t, g.da.data, r.da, { rtol: 1e-5, atol: 3e-6 * Math.sqrt(n), label: 'da' })
    assertClose(t, g.db.data, r.db, { rtol: 1e-5, atol: 3e-6 * Math.sqrt(n), label: 'db' })
  })
}

test('matmul a=[2,1,3,4] b=[3,4,2]: gradients match finite differences through the broadcast', (t) => {
  const as = [2, 1, 3, 4]; const bs = [3, 4, 2]
  const a = rand(as, 1); const b = rand(bs, 2)
  const dy = rand([2, 3, 3, 2], 3)
  const g = fv.ops.matmulBackward(dy, a, b)
  const L = (av, bv) => dot(dy.data, mref.matmul(av, as, bv, bs).data)
  assertClose(t, g.da.data, numericGrad((v) => L(v, b.data), a.data), { rtol: 1e-4, atol: 1e-5, label: 'da' })
  assertClose(t, g.db.data, numericGrad((v) => L(a.data, v), b.data), { rtol: 1e-4, atol: 1e-5, label: 'db' })
})

test('matmul a=[5] b=[5]: gradients of the dot product match finite differences', (t) => {
  const a = rand([5], 4); const b = rand([5], 5); const dy = fv.tensor([0.7], [])
  const g = fv.ops.matmulBackward(dy, a, b)
  const L = (av, bv) => 0.7 * mref.matmul(av, [5], bv, [5]).data[0]
  assertClose(t, g.da.data, numericGrad((v) => L(v, b.data), a.data), { rtol: 1e-4, atol: 1e-5, label: 'da' })
  assertClose(t, g.db.data, numericGrad((v) => L(a.data, v), b.data), { rtol: 1e-4, atol: 1e-5, label: 'db' })
})

test('matmul and matmulBackward are bit-identical across runs and thread counts', (t) => {
  // Broadcast on both sides, so both gradients reduce over a batch dim.
  const a = rand([6, 1, 40, 70], 7); const b = rand([1, 5, 70, 50], 8); const dy = rand([6, 5, 40, 50], 9)
  const before = fv.getNumThreads()
  try {
    const y = fv.ops.matmul(a, b); const g = fv.ops.matmulBackward(dy, a, b)
    assertBitIdentical(t, fv.ops.matmul(a, b).data, y.data, 'two runs')
    for (const n of [1, 3, 2]) {
      fv.setNumThreads(n)
      assertBitIdentical(t, fv.ops.matmul(a, b).data, y.data, `y, ${n} thread(s)`)
      const h = fv.ops.matmulBackward(dy, a, b)
      assertBitIdentical(t, h.da.data, g.da.data, `da, ${n} thread(s)`)
      assertBitIdentical(t, h.db.data, g.db.data, `db, ${n} thread(s)`)
    }
  } finally {
    fv.setNumThreads(before)
  }
})

test.serial('matmul: every ISA variant this CPU supports matches the reference', (t) => {
  const as = [3, 37, 70]; const bs = [70, 45]
  const a = rand(as, 11); const b = rand(bs, 12); const dy = rand([3, 37, 45], 13)
  const r = mref.matmul(a.data, as, b.data, bs)
  const rb = mref.matmulBackward(dy.data, a.data, as, b.data, bs)
  try {
    for (const isa of fv.info().isa.supported) {
      fv.setIsa(isa)
      assertClose(t, fv.ops.matmul(a, b).data, r.data, { rtol: 1e-5, atol: 1e-5, label: `${isa} forward` })
      const g = fv.ops.matmulBackward(dy, a, b)
      assertClose(t, g.da.data, rb.da, { rtol: 1e-5, atol: 1e-5, label: `${isa} da` })
      assertClose(t, g.db.data, rb.db, { rtol: 1e-5, atol: 1e-4, label: `${isa} db` })
    }
  } finally {
    fv.setIsa('auto')
  }
})

test('matmul writes into out; matmulAsync and matmulBackwardAsync equal the sync results', async (t) => {
  const a = rand([2, 9, 13], 1); const b = rand([13, 6], 2); const dy = rand([2, 9, 6], 3)
  const out = fv.tensor(new Float32Array(108).fill(NaN), [2, 9, 6])
  t.is(fv.ops.matmul(a, b, { out }), out)
  assertBitIdentical(t, out.data, fv.ops.matmul(a, b).data, 'out')
  assertBitIdentical(t, (await fv.ops.matmulAsync(a, b)).data, out.data, 'async')
  const gs = fv.ops.matmulBackward(dy, a, b)
  const ga = await fv.ops.matmulBackwardAsync(dy, a, b)
  assertBitIdentical(t, ga.da.data, gs.da.data, 'da async')
  assertBitIdentical(t, ga.db.data, gs.db.data, 'db async')
  const outs = { da: fv.tensor(new Float32Array(234), [2, 9, 13]), db: fv.tensor(new Float32Array(78), [13, 6]) }
  const go = fv.ops.matmulBackward(dy, a, b, { out: outs })
  t.is(go.da, outs.da); t.is(go.db, outs.db)
  assertBitIdentical(t, outs.db.data, gs.db.data, 'db out')
})

test('matmul bad inputs throw TypeError / RangeError naming the op and the argument', (t) => {
  const a = rand([2, 3, 4], 1); const b = rand([4, 5], 2)
  const cases = [
    [() => fv.ops.matmul(null, b), TypeError, /^matmul: a must be a tensor/],
    [() => fv.ops.matmul(a, { data: new Float64Array(20), shape: [4, 5] }), TypeError, /^matmul: b\.data must be a Float32Array/],
    [() => fv.ops.matmul(a, rand([3, 5], 1)), RangeError, /^matmul: b must be \[\.\.\., K, N\] with K=4 as the last dim of a, got \[3,5\]/],
    [() => fv.ops.matmul(a, rand([3], 1)), RangeError, /^matmul: b must be \[K\] with K=4/],
    [() => fv.ops.matmul(fv.tensor([1], []), b), RangeError, /^matmul: a must be at least 1-D, got \[\]/],
    [() => fv.ops.matmul(a, rand([3, 4, 5], 1)), RangeError, /^matmul: b must be batch dims broadcastable with a's \[2\], got \[3,4,5\]/],
    [() => fv.ops.matmul(rand([1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 4], 1), b), RangeError, /^matmul: a must be at most 8 batch dims/],
    [() => fv.ops.matmul(a, b, { out: rand([2, 3, 4], 1) }), RangeError, /^matmul: out\.shape must be \[2,3,5\], got \[2,3,4\]/],
    [() => fv.ops.matmul(a, b, { transpose: true }), TypeError, /^matmul: options must be an object with keys among out/],
    [() => fv.ops.matmulBackward(rand([2, 3, 4], 1), a, b), RangeError, /^matmulBackward: dy must be \[2,3,5\] \(the shape of matmul's result\), got \[2,3,4\]/],
    [() => fv.ops.matmulBackward(rand([2, 3, 5], 1), a, b, { out: 3 }), TypeError, /^matmulBackward: out must be an object \{ da\?, db\? \}, got 3/],
    [() => fv.ops.matmulBackward(rand([2, 3, 5], 1), a, b, { out: { db: rand([5, 4], 1) } }), RangeError, /^matmulBackward: out\.db\.shape must be \[4,5\]/]
  ]
  for (const [fn, type, message] of cases) t.throws(fn, { instanceOf: type, message })
  // The binding re-checks the batch structure and the lengths on its own.
  const { binding } = require('../dist/native')
  t.throws(() => binding.matmul(a.data, b.data, null, 3, 4, 5, [2], [3], [1]), { instanceOf: RangeError, message: /^matmul: batch dim 0 does not broadcast/ })
  t.throws(() => binding.matmul(a.data, b.data, null, 3, 4, 5, [3], [3], [1]), { instanceOf: RangeError, message: /^matmul: a must have 36 elements/ })
  t.throws(() => binding.matmul(a.data, b.data, null, 3, 4, 5, [2], [2]), { instanceOf: TypeError, message: /^matmul: bBatch must be an array/ })
})
