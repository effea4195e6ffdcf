'use strict'
// embedding (a row gather) and embeddingBackward (a deterministic scatter-add), against the
// float64 reference in test/reference/embedding.js.
const test = require('ava')
const fv = require('./helpers/fv')
const ref = require('./reference/embedding')
const { assertDeterministic, forEachIsa } = require('./helpers/determinism')
const { rand, rng } = require('./helpers/random')
const { assertClose, assertBitIdentical, numericGrad } = require('./helpers/check')

const sh = (s) => `[${s.join(',')}]`
const size = (s) => s.reduce((a, b) => a * b, 1)

/** n indices in [0, num), some repeated. */
function indicesFor (n, num, seed) {
  const r = rng(seed)
  return Int32Array.from({ length: n }, () => Math.floor(r() * num))
}

// [indices shape, numEmbeddings, dim]: dims below, at and past a vector and a cache line.
const CASES = [[[1], 1, 1], [[5], 10, 3], [[2, 3], 10, 16], [[4, 7, 3], 10, 1], [[64], 50, 37], [[8, 128], 1000, 64], [[3, 9], 7, 300], [[], 4, 5]]

for (const [ishape, num, dim] of CASES) {
  const name = `indices=${sh(ishape)} weight=[${num},${dim}]`
  const n = size(ishape)
  test(`embedding ${name} gathers the rows exactly`, (t) => {
    const idx = indicesFor(n, num, n + num)
    const w = rand([num, dim], dim, -2, 2)
    const y = fv.ops.embedding({ data: idx, shape: ishape }, w)
    t.deepEqual(y.shape, [...ishape, dim])
    assertBitIdentical(t, y.data, Float32Array.from(ref.embedding(idx, w.data, num, dim)), 'rows')
  })
  for (const paddingIdx of [null, 0]) {
    test(`embeddingBackward ${name} paddingIdx=${paddingIdx} matches the float64 reference`, (t) => {
      const idx = indicesFor(n, num, n + num + 1)
      const dy = rand([...ishape, dim], n + dim, -1, 1)
      const g = fv.ops.embeddingBackward(dy, { data: idx, shape: ishape }, num, { paddingIdx })
      t.deepEqual(g.shape, [num, dim])
      assertClose(t, g.data, ref.embeddingBackward(dy.data, idx, num, dim, { paddingIdx }), { rtol: 1e-6, atol: 1e-6, label: 'dweight' })
    })
  }
}

test('embedding indices as a bare Int32Array, { data, shape } or { data, dims }', (t) => {
  const w = rand([6, 4], 1); const idx = Int32Array.of(5, 0, 5, 2, 3, 1)
  const a = fv.ops.embedding(idx, w)
  t.deepEqual(a.shape, [6, 4])
  const b = fv.ops.embedding({ data: idx, dims: [2, 3] }, w)
  t.deepEqual(b.shape, [2, 3, 4])
  assertBitIdentical(t, a.data, b.data, 'same rows')
  assertBitIdentical(t, fv.ops.embeddingBackward(a, idx, 6).data, fv.ops.embeddingBackward(b, { data: idx, dims: [2, 3] }, 6).data, 'same gradient')
  t.deepEqual(fv.ops.embedding(new Int32Array(0), w).shape, [0, 4])
  t.deepEqual(Array.from(fv.ops.embeddingBackward(fv.tensor(new Float32Array(0), [0, 4]), new Int32Array(0), 6).data), new Array(24).fill(0))
})

test('embedding weight=[5,3] indices=[2,4]: gradient matches finite differences', (t) => {
  const idx = Int32Array.of(1, 3, 1, 4, 0, 1, 3, 3); const ishape = [2, 4]
  const w = rand([5, 3], 2); const dy = rand([2, 4, 3], 3)
  for (const paddingIdx of [null, 3, -1]) {
    const pad = paddingIdx === null ? -1 : paddingIdx < 0 ? paddingIdx + 5 : paddingIdx
    // PyTorch's padding row takes no gradient: the loss sees it as a constant.
    const L = (v) => {
      const rows = ref.embedding(idx, v.map((x, i) => (Math.floor(i / 3) === pad ? w.data[i] : x)), 5, 3)
      let s = 0; for (let i = 0; i < rows.length; i++) s += rows[i] * dy.data[i]; return s
    }
    const g = fv.ops.embeddingBackward(dy, { data: idx, shape: ishape }, 5, { paddingIdx })
    assertClose(t, g.data, numericGrad(L, w.data), { rtol: 1e-4, atol: 1e-6, label: `dweight paddingIdx=${paddingIdx}` })
  }
})

test('embedding paddingIdx: the forward returns the row as is, the backward gives it nothing (accumulate leaves it)', (t) => {
  const w = rand([4, 3], 1); const idx = Int32Array.of(2, 2, 0, 3)
  assertBitIdentical(t, fv.ops.embedding(idx, w, { paddingIdx: 2 }).data, fv.ops.embedding(idx, w).data, 'forward')
  const dy = rand([4, 3], 2)
  const g = fv.ops.embeddingBackward(dy, idx, 4, { paddingIdx: -2 })
  t.deepEqual(Array.from(g.data.subarray(6, 9)), [0, 0, 0])
  const out = fv.tensor(new Float32Array(12).fill(0.5), [4, 3])
  t.is(fv.ops.embeddingBackward(dy, idx, 4, { paddingIdx: 2, out, accumulate: true }), out)
  const expected = ref.embeddingBackward(dy.data, idx, 4, 3, { paddingIdx: 2 }).map((v) => v + 0.5)
  assertClose(t, out.data, expected, { rtol: 1e-6, label: 'accumulated' })
  t.deepEqual(Array.from(out.data.subarray(6, 9)), [0.5, 0.5, 0.5])
})

test('embedding index out of range: RangeError naming the position and value, also from the native check', async (t) => {
  const w = rand([10, 4], 1)
  t.throws(() => fv.ops.embedding(Int32Array.of(0, 9, 3, 3, 10), w), { instanceOf: RangeError, message: 'embedding: indices[4] must be an index from 0 to 9, got 10' })
  t.throws(() => fv.ops.embedding({ data: Int32Array.of(0, -1, 3, 3), shape: [2, 2] }, w), { instanceOf: RangeError, message: 'embedding: indices[1] must be an index from 0 to 9, got -1' })
  await t.throwsAsync(fv.ops.embeddingAsync(Int32Array.of(11), w), { instanceOf: RangeError, message: /^embedding: indices\[0\] must be an index from 0 to 9, got 11/ })
  t.throws(() => fv.ops.embeddingBackward(rand([3, 4], 1), Int32Array.of(0, 2, 7), 5), { instanceOf: RangeError, message: 'embeddingBackward: indices[2] must be an index from 0 to 4, got 7' })
  await t.throwsAsync(fv.ops.embeddingBackwardAsync(rand([1, 4], 1), Int32Array.of(-3), 5), { instanceOf: RangeError, message: /^embeddingBackward: indices\[0\]/ })
  const { binding } = require('../dist/native')
  t.throws(() => binding.embedding(Int32Array.of(0, 12), new Float32Array(40), null, 2, 10, 4), { instanceOf: RangeError, message: /embedding: indices\[1\] must be an index from 0 to 9, got 12/ })
})

test('embedding writes into out; Async equals sync bit for bit', async (t) => {
  const w = rand([100, 48], 1); const idx = { data: indicesFor(300, 100, 2), shape: [10, 30] }
  const out = fv.tensor(new Float32Array(300 * 48), [10, 30, 48])
  t.is(fv.ops.embedding(idx, w, { out }), out)
  assertBitIdentical(t, out.data, fv.ops.embedding(idx, w).data, 'out')
  assertBitIdentical(t, (await fv.ops.embeddingAsync(idx, w)).data, out.data, 'async')
  const dy = rand([10, 30, 48], 3)
  const gOut = fv.tensor(new Float32Array(4800).fill(7), [100, 48])
  t.is(fv.ops.embeddingBackward(dy, idx, 100, { out: gOut }), gOut)
  assertBitIdentical(t, gOut.data, fv.ops.embeddingBackward(dy, idx, 100).data, 'backward out (overwritten)')
  assertBitIdentical(t, (await fv.ops.embeddingBackwardAsync(dy, idx, 100, { paddingIdx: 5 })).data, fv.ops.embeddingBackward(dy, idx, 100, { paddingIdx: 5 }).data, 'backward async')
})

test('embeddingBackward is bit-identical across runs and thread counts', (t) => {
  // Few rows, many repeats: each row is a long sum whose order must not depend on threads.
  const idx = { data: indicesFor(16384, 37, 5), shape: [64, 256] }
  const dy = rand([64, 256, 200], 6); const w = rand([37, 200], 7)
  const acc = fv.tensor(new Float32Array(37 * 200), [37, 200])
  const run = () => {
    acc.data.fill(0.25)
    fv.ops.embeddingBackward(dy, idx, 37, { out: acc, accumulate: true })
    return [fv.ops.embedding(idx, w), fv.ops.embeddingBackward(dy, idx, 37), fv.ops.embeddingBackward(dy, idx, 37, { paddingIdx: 3 }), acc.data.slice()]
  }
  assertDeterministic(t, run)
})

test.serial('embeddingBackward: every ISA variant this CPU supports matches the reference', (t) => {
  const idx = indicesFor(200, 13, 1); const dy = rand([200, 37], 2)
  forEachIsa((isa) => {
    assertClose(t, fv.ops.embeddingBackward(dy, idx, 13, { paddingIdx: 4 }).data, ref.embeddingBackward(dy.data, idx, 13, 37, { paddingIdx: 4 }), { rtol: 1e-6, atol: 1e-6, label: `${isa} embeddingBackward` })
  })
})

test('embedding rejects bad input with TypeError / RangeError naming the op and argument', (t) => {
  const w = rand([10, 4], 1); const idx = Int32Array.of(1, 2)
  t.throws(() => fv.ops.embedding(Float32Array.of(1, 2), w), { instanceOf: TypeError, message: /^embedding: indices must be an Int32Array or \{ data: Int32Array, shape \}, got Float32Array\(2\)/ })
  t.throws(() => fv.ops.embedding([1, 2], w), { instanceOf: TypeError, message: /^embedding: indices must be an Int32Array/ })
  t.throws(() => fv.ops.embedding({ data: Float32Array.of(1, 2), shape: [2] }, w), { instanceOf: TypeError, message: /^embedding: indices.data must be an Int32Array, got Float32Array\(2\)/ })
  t.throws(() => fv.ops.embedding({ data: idx, shape: [3] }, w), { instanceOf: RangeError, message: 'embedding: indices.data must be 3 elements for shape [3], got 2' })
  t.throws(() => fv.ops.embedding({ data: idx, shape: [2.5] }, w), { instanceOf: RangeError, message: /^embedding: indices.shape must be non-negative integer dimensions/ })
  t.throws(() => fv.ops.embedding(idx, rand([10], 1)), { instanceOf: RangeError, message: 'embedding: weight must be [numEmbeddings, dim] (rank 2), got [10]' })
  t.throws(() => fv.ops.embedding(idx, new Float32Array(40)), { instanceOf: TypeError, message: /^embedding: weight must be a tensor/ })
  t.throws(() => fv.ops.embedding(idx, w, { paddingIdx: 10 }), { instanceOf: RangeError, message: 'embedding: paddingIdx must be an integer from -10 to 9 (numEmbeddings 10), got 10' })
  t.throws(() => fv.ops.embedding(idx, w, { paddingIdx: '1' }), { instanceOf: TypeError, message: /^embedding: paddingIdx must be an integer, got a string/ })
  t.throws(() => fv.ops.embedding(idx, w, { padding_idx: 1 }), { instanceOf: TypeError, message: /^embedding: options must be an object with keys among paddingIdx, out/ })
  t.throws(() => fv.ops.embedding(idx, w, { out: rand([2, 5], 1) }), { instanceOf: RangeError, message: 'embedding: out.shape must be [2,4], got [2,5]' })
  t.throws(() => fv.ops.embedding(idx, w, { out: { data: w.data.subarray(0, 8), shape: [2, 4] } }), { instanceOf: RangeError, message: /^embedding: out must be memory not shared with weight/ })
  const dy = rand([2, 4], 2)
  t.throws(() => fv.ops.embeddingBackward(rand([3, 4], 1), idx, 10), { instanceOf: RangeError, message: 'embeddingBackward: dy must be [...indices.shape, dim] = [2,dim], got [3,4]' })
  t.throws(() => fv.ops.embeddingBackward(rand([2], 1), idx, 10), { instanceOf: RangeError, message: /^embeddingBackward: dy must be \[...indices.shape, dim\]/ })
  t.throws(() => fv.ops.embeddingBackward(dy, idx, 2.5), { instanceOf: RangeError, message: /^embeddingBackward: numEmbeddings must be an integer from 0 to/ })
  t.throws(() => fv.ops.embeddingBackward(dy, idx, '10'), { instanceOf: TypeError, message: /^embeddingBackward: numEmbeddings must be an integer, got a string/ })
  t.throws(() => fv.ops.embeddingBackward(dy, idx, 10, { accumulate: true }), { instanceOf: RangeError, message: /^embeddingBackward: out must be a tensor when accumulate is true/ })
  t.throws(() => fv.ops.embeddingBackward(dy, idx, 10, { accumulate: 1, out: rand([10, 4], 1) }), { instanceOf: TypeError, message: /^embeddingBackward: accumulate must be a boolean/ })
  t.throws(() => fv.ops.embeddingBackward(dy, idx, 10, { out: rand([4, 10], 1) }), { instanceOf: RangeError, message: 'embeddingBackward: out.shape must be [10,4], got [4,10]' })
  t.throws(() => fv.ops.embeddingBackward(dy, idx, 10, { paddingIdx: -11 }), { instanceOf: RangeError, message: /^embeddingBackward: paddingIdx must be an integer from -10 to 9/ })
  // The native re-check: nothing a caller passes straight to the binding can crash it.
  const { binding } = require('../dist/native')
  const f = (n) => new Float32Array(n)
  t.throws(() => binding.embedding(Float32Array.of(1, 2), f(40), null, 2, 10, 4), { instanceOf: TypeError, message: /embedding: indices must be an Int32Array/ })
  t.throws(() => binding.embedding(idx, f(40), null, 3, 10, 4), { instanceOf: RangeError, message: /embedding: indices must have 3 elements/ })
  t.throws(() => binding.embedding(idx, f(39), null, 2, 10, 4), { instanceOf: RangeError, message: /embedding: weight must have 40 elements/ })
  t.throws(() => binding.embedding(idx, f(40), f(7), 2, 10, 4), { instanceOf: RangeError, message: /embedding: out must have 8 elements/ })
  t.throws(() => binding.embedding(idx, f(40), null, 2, 10, 2 ** 53), { instanceOf: RangeError })
  t.throws(() => binding.embeddingBackward(f(8), idx, null, 2, 10, 4, 10, false), { instanceOf: RangeError, message: /embeddingBackward: paddingIdx must be an integer from -1 to 9/ })
  t.throws(() => binding.embeddingBackward(f(8), idx, null, 2, 10, 4, -1, true), { instanceOf: RangeError, message: /embeddingBackward: accumulate needs out/ })
  t.throws(() => binding.embeddingBackward(f(7), idx, null, 2, 10, 4, -1, false), { instanceOf: RangeError, message: /embeddingBackward: dy must have 8 elements/ })
  t.throws(() => binding.embeddingBackward(f(8), idx, null, 2, 10, 4, -1, 'no'), { instanceOf: TypeError, message: /embeddingBackward: accumulate must be a boolean/ })
})
