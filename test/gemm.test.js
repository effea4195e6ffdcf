'use strict'
// fv.ops.gemm: the BLAS-style entry to the GEMM core (cpu/gemm), so every transpose, strided
// and broadcast batches, the fused epilogue and the packed-operand API are checked from JS.
const test = require('ava')
const fv = require('./helpers/fv')
const { binding } = require('../dist/native')
const ref = require('./reference/matmul')
const { rand } = require('./helpers/random')
const { assertClose, assertBitIdentical } = require('./helpers/check')

const TRANS = [[false, false], [false, true], [true, false], [true, true]]
const tname = (ta, tb) => (ta ? 'T' : 'N') + (tb ? 'T' : 'N')

function operands ({ M, K, N, batchA = 0, batchB = 0, transA, transB, seed }) {
  const a2 = transA ? [K, M] : [M, K]
  const b2 = transB ? [N, K] : [K, N]
  const a = rand(batchA ? [batchA, ...a2] : a2, seed)
  const b = rand(batchB ? [batchB, ...b2] : b2, seed + 1)
  return { a, b }
}

// The tolerance of an fp32 sum of K products of values in [-1, 1] against float64.
const tol = (K) => ({ rtol: 1e-5, atol: 3e-6 * Math.sqrt(K + 1) })

// Sizes: 1, primes, tile edges ± 1 (mr 8/6/4, nr 32/16/8), more than one K block (> 256),
// more than one M block (> 256 rows) and more than one N tile of a task (> 256 columns).
const SHAPES = [
  [1, 1, 1], [3, 33, 17], [17, 3, 33], [33, 1000, 3], [7, 1, 5], [1, 257, 65], [100, 37, 1],
  [64, 64, 64], [65, 257, 31], [300, 600, 40], [9, 511, 300]
]

for (const [ta, tb] of TRANS) {
  for (const [M, K, N] of SHAPES) {
    test(`gemm ${tname(ta, tb)} M=${M} K=${K} N=${N} matches the float64 reference`, (t) => {
      const { a, b } = operands({ M, K, N, transA: ta, transB: tb, seed: M * 7 + K * 3 + N })
      const y = fv.ops.gemm(a, b, { transA: ta, transB: tb })
      t.deepEqual(y.shape, [M, N])
      assertClose(t, y.data, ref.gemm({ a: a.data, aShape: a.shape, b: b.data, bShape: b.shape, transA: ta, transB: tb }), tol(K))
    })
  }
}

for (const [ta, tb] of TRANS) {
  test(`gemm ${tname(ta, tb)} batch=3 M=37 K=300 N=45 with alpha, beta, c, biases and relu`, (t) => {
    const M = 37; const K = 300; const N = 45
    const { a, b } = operands({ M, K, N, batchA: 3, batchB: 3, transA: ta, transB: tb, seed: 5 })
    const c = rand([3, M, N], 7); const biasRow = rand([N], 8); const biasCol = rand([M], 9)
    for (const [alpha, beta] of [[1, 0], [1, 1], [0.5, -0.75], [-2, 0], [1, 0.25]]) {
      const opts = { transA: ta, transB: tb, alpha, beta, c, biasRow, biasCol, activation: 'relu' }
      const y = fv.ops.gemm(a, b, opts)
      const r = ref.gemm({ a: a.data, aShape: a.shape, b: b.data, bShape: b.shape, ...opts, c: c.data, cShape: c.shape,
        biasRow: biasRow.data, biasCol: biasCol.data, relu: true })
      assertClose(t, y.data, r, { ...tol(K), label: `alpha=${alpha} beta=${beta}` })
    }
  })
}

test('gemm strided batches: a 2-D operand or c serves every batch item (stride 0)', (t) => {
  const M = 19; const K = 70; const N = 41
  for (const [batchA, batchB] of [[4, 0], [0, 4], [4, 4]]) {
    for (const [ta, tb] of TRANS) {
      const { a, b } = operands({ M, K, N, batchA, batchB, transA: ta, transB: tb, seed: 11 })
      const c = rand([M, N], 12)
      const y = fv.ops.gemm(a, b, { transA: ta, transB: tb, c, beta: 0.5 })
      t.deepEqual(y.shape, [4, M, N])
      const r = ref.gemm({ a: a.data, aShape: a.shape, b: b.data, bShape: b.shape, transA: ta, transB: tb,
        c: c.data, cShape: c.shape, beta: 0.5 })
      assertClose(t, y.data, r, { ...tol(K), label: `a batch ${batchA} b batch ${batchB} ${tname(ta, tb)}` })
    }
  }
})

test('gemm batch=6 of 64x64x64 (many small products) matches the reference', (t) => {
  const { a, b } = operands({ M: 64, K: 64, N: 64, batchA: 6, batchB: 6, seed: 3 })
  assertClose(t, fv.ops.gemm(a, b).data, ref.gemm({ a: a.data, aShape: a.shape, b: b.data, bShape: b.shape }), tol(64))
})

test('gemm M=40 K=2100 N=2000 (B packed in more than one group) matches the reference on sampled rows', (t) => {
  // 2100·2000 floats of packed B exceed the 16 MiB a group holds, so B is packed and
  // consumed in column chunks; batch 2 with a batched B packs per batch item.
  const M = 40; const K = 2100; const N = 2000
  for (const [batchA, batchB] of [[0, 0], [2, 2]]) {
    const { a, b } = operands({ M, K, N, batchA, batchB, seed: 21 })
    const y = fv.ops.gemm(a, b)
    const rows = [0, 9, 39]
    const r = ref.gemm({ a: a.data, aShape: a.shape, b: b.data, bShape: b.shape, rows })
    const pick = (x) => x.filter((_, i) => rows.includes(Math.floor(i / N) % M))
    assertClose(t, pick(y.data), pick(r), { ...tol(K), label: `batch ${batchA}` })
  }
})

test('gemm alpha=0 reads neither a nor b; beta=0 never reads c (NaN stays out)', (t) => {
  const a = rand([5, 7], 1); const b = rand([7, 6], 2); const c = rand([5, 6], 3)
  a.data[3] = NaN; b.data[4] = Infinity
  const y = fv.ops.gemm(a, b, { alpha: 0, beta: 2, c })
  assertClose(t, y.data, c.data.map((v) => 2 * v), { rtol: 1e-6, label: 'alpha=0' })
  const cn = { data: new Float32Array(30).fill(NaN), shape: [5, 6] }
  const a2 = rand([5, 7], 4)
  const y2 = fv.ops.gemm(a2, rand([7, 6], 5), { c: cn, beta: 0 })
  t.true(y2.data.every(Number.isFinite))
})

test('gemm relu keeps NaN and clamps negatives, K=0 gives the epilogue alone', (t) => {
  const a = fv.tensor([1, NaN, -1, 2], [2, 2]); const b = fv.tensor([1, 0, 0, 1], [2, 2])
  const y = fv.ops.gemm(a, b, { activation: 'relu' })
  t.true(Number.isNaN(y.data[1]))
  t.is(y.data[2], 0)
  t.is(y.data[3], 2)
  const e = fv.ops.gemm({ data: new Float32Array(0), shape: [2, 0] }, { data: new Float32Array(0), shape: [0, 3] },
    { biasRow: fv.tensor([1, 2, 3], [3]), biasCol: fv.tensor([10, 20], [2]) })
  t.deepEqual(Array.from(e.data), [11, 12, 13, 21, 22, 23])
})

test('gemm with empty dims gives empty results', (t) => {
  t.deepEqual(fv.ops.gemm({ data: new Float32Array(0), shape: [0, 4] }, rand([4, 3], 1)).shape, [0, 3])
  t.deepEqual(fv.ops.gemm(rand([2, 4], 1), { data: new Float32Array(0), shape: [4, 0] }).shape, [2, 0])
  t.deepEqual(fv.ops.gemm({ data: new Float32Array(0), shape: [0, 2, 4] }, rand([4, 3], 1)).shape, [0, 2, 3])
})

test('gemm is bit-identical across runs and thread counts (1, 2, 3)', (t) => {
  const before = fv.getNumThreads()
  try {
    for (const [ta, tb] of TRANS) {
      const { a, b } = operands({ M: 300, K: 600, N: 290, batchA: 2, transA: ta, transB: tb, seed: 31 })
      const c = rand([300, 290], 33)
      const opts = { transA: ta, transB: tb, c, alpha: 0.5, beta: 0.25 }
      const y = fv.ops.gemm(a, b, opts)
      assertBitIdentical(t, fv.ops.gemm(a, b, opts).data, y.data, `${tname(ta, tb)} two runs`)
      for (const n of [1, 3, 2]) {
        fv.setNumThreads(n)
        assertBitIdentical(t, fv.ops.gemm(a, b, opts).data, y.data, `${tname(ta, tb)} ${n} thread(s)`)
      }
    }
  } finally {
    fv.setNumThreads(before)
  }
})

test.serial('gemm: every ISA variant this CPU supports matches the reference and the packed API', (t) => {
  const M = 45; const K = 300; const N = 70
  const supported = fv.info().isa.supported
  try {
    for (const isa of supported) {
      fv.setIsa(isa)
      for (const [ta, tb] of TRANS) {
        const { a, b } = operands({ M, K, N, transA: ta, transB: tb, seed: 41 })
        const biasRow = rand([N], 42); const biasCol = rand([M], 43)
        const y = fv.ops.gemm(a, b, { transA: ta, transB: tb, alpha: 1.5, biasRow, biasCol, activation: 'relu' })
        const r = ref.gemm({ a: a.data, aShape: a.shape, b: b.data, bShape: b.shape, transA: ta, transB: tb, alpha: 1.5,
          biasRow: biasRow.data, biasCol: biasCol.data, relu: true })
        assertClose(t, y.data, r, { ...tol(K), label: `${isa} ${tname(ta, tb)}` })
        for (const packA of [true, false]) {
          const p = binding.gemmPacked(a.data, b.data, null, biasRow.data, biasCol.data, { M, K, N, transA: ta, transB: tb, alpha: 1.5, relu: true, packA })
          assertBitIdentical(t, p, y.data, `${isa} ${tname(ta, tb)} packed ${packA ? 'A and B' : 'B'}`)
        }
      }
    }
  } finally {
    fv.setIsa('auto')
  }
})

test('gemm packed API matches plain gemm bit for bit on awkward shapes', (t) => {
  for (const [M, K, N] of [[1, 1, 1], [13, 600, 33], [70, 3, 1], [257, 70, 65]]) {
    for (const [ta, tb] of TRANS) {
      const { a, b } = operands({ M, K, N, transA: ta, transB: tb, seed: M + K + N })
      const y = fv.ops.gemm(a, b, { transA: ta, transB: tb })
      // Shapes the plain gemm sends down its dot-product path are compared to the reference.
      const dotPath = (M === 1 && tb) || (N === 1 && !ta)
      for (const packA of [true, false]) {
        const p = binding.gemmPacked(a.data, b.data, null, null, null, { M, K, N, transA: ta, transB: tb, alpha: 1, relu: false, packA })
        const label = `M=${M} K=${K} N=${N} ${tname(ta, tb)} packA=${packA}`
        if (dotPath) assertClose(t, p, y.data, { ...tol(K), label })
        else assertBitIdentical(t, p, y.data, label)
      }
    }
  }
})

test('gemm writes into out and returns it; gemmAsync equals gemm bit for bit', async (t) => {
  const { a, b } = operands({ M: 30, K: 40, N: 50, transA: true, transB: false, seed: 51 })
  const out = fv.tensor(new Float32Array(1500).fill(NaN), [30, 50])
  const y = fv.ops.gemm(a, b, { transA: true, out })
  t.is(y, out)
  assertBitIdentical(t, out.data, fv.ops.gemm(a, b, { transA: true }).data, 'out')
  assertBitIdentical(t, (await fv.ops.gemmAsync(a, b, { transA: true })).data, out.data, 'async')
})

test('gemm bad inputs throw TypeError / RangeError naming gemm and the argument', async (t) => {
  const a = { data: new Float32Array(16).subarray(0, 12), shape: [3, 4] }; a.data.set(rand([3, 4], 1).data)
  const b = rand([4, 5], 2)
  const cases = [
    [() => fv.ops.gemm([1, 2], b), TypeError, /^gemm: a must be a tensor/],
    [() => fv.ops.gemm(a, { data: [1], shape: [1] }), TypeError, /^gemm: b\.data must be a Float32Array/],
    [() => fv.ops.gemm(a, rand([5, 4], 3)), RangeError, /^gemm: b must be \[\.\.\., K, N\] with K=4/],
    [() => fv.ops.gemm(rand([4], 3), b), RangeError, /^gemm: a must be \[M, K\] or \[batch, M, K\], got \[4\]/],
    [() => fv.ops.gemm(rand([2, 3, 4], 3), rand([3, 4, 5], 4)), RangeError, /^gemm: b must be batch 2 as a/],
    [() => fv.ops.gemm(a, b, { beta: 1 }), RangeError, /^gemm: beta must be 0 when c is not given, got 1/],
    [() => fv.ops.gemm(a, b, { alpha: NaN }), RangeError, /^gemm: alpha must be a finite number, got NaN/],
    [() => fv.ops.gemm(a, b, { alpha: '2' }), TypeError, /^gemm: alpha must be a number/],
    [() => fv.ops.gemm(a, b, { transA: 1 }), TypeError, /^gemm: transA must be a boolean, got 1/],
    [() => fv.ops.gemm(a, b, { c: rand([3, 4], 1) }), RangeError, /^gemm: c must be \[3,5\], got \[3,4\]/],
    [() => fv.ops.gemm(a, b, { biasRow: rand([3], 1) }), RangeError, /^gemm: biasRow must be \[5\] \(N\), got \[3\]/],
    [() => fv.ops.gemm(a, b, { biasCol: rand([5], 1) }), RangeError, /^gemm: biasCol must be \[3\] \(M\), got \[5\]/],
    [() => fv.ops.gemm(a, b, { activation: 'gelu' }), RangeError, /^gemm: activation must be 'none' or 'relu'/],
    [() => fv.ops.gemm(a, b, { trans: true }), TypeError, /^gemm: options must be an object with keys among/],
    [() => fv.ops.gemm(a, b, { out: rand([5, 3], 1) }), RangeError, /^gemm: out\.shape must be \[3,5\], got \[5,3\]/],
    [() => fv.ops.gemm(a, b, { out: a }), RangeError, /^gemm: out\.shape must be/],
    [() => fv.ops.gemm(a, b, { out: { data: new Float32Array(a.data.buffer, 4, 15), shape: [3, 5] } }), RangeError, /^gemm: out must be memory not shared with a/]
  ]
  for (const [fn, type, message] of cases) t.throws(fn, { instanceOf: type, message })
  await t.throwsAsync(fv.ops.gemmAsync(a, b, { beta: 1 }), { instanceOf: RangeError, message: /^gemm: beta/ })
  // The binding re-checks sizes on its own (a caller may reach it directly).
  const problem = { batch: 1, M: 3, K: 5, N: 5, transA: false, transB: false, alpha: 1, beta: 0, aBatched: false, bBatched: false, cBatched: false, relu: false }
  t.throws(() => binding.gemm(a.data, b.data, null, null, null, null, problem),
    { instanceOf: RangeError, message: /^gemm: a must have 15 elements/ })
  t.throws(() => binding.gemm(a.data, b.data, null, null, null, null, { ...problem, batch: 2, K: 4, aBatched: true }),
    { instanceOf: RangeError, message: /^gemm: a must have 24 elements/ })
  t.throws(() => binding.gemm(a.data, b.data, null, null, null, null, { ...problem, relu: undefined }),
    { instanceOf: TypeError, message: /^gemm: relu must be a boolean, got undefined/ })
  t.throws(() => binding.gemm(a.data, b.data, null, null, null, null, 1, 3, 5),
    { instanceOf: TypeError, message: /^gemm: problem must be an object, got 1/ })
})
