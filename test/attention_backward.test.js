'use strict'
// attentionBackward: the fused FlashAttention-2 backward against the analytic float64
// reference over the option grid, finite-difference gradients through the float64
// forward (masks, windows, GQA, dropout with the same seed, topK), zero gradients for
// empty rows, determinism across runs and thread counts (including the chunked path for
// few kv heads), the out option, Async, ISA variants and bad input.
const test = require('ava')
const fv = require('./helpers/fv')
const ref = require('./reference/attention')
const { rand } = require('./helpers/random')
const { assertClose, assertBitIdentical, numericGrad, dot } = require('./helpers/check')
const { caseName, inputs, maskOf, noNaN, grid, HEAD_DIMS } = require('./helpers/attention')
const { throwsLike } = require('./helpers/errors')

const TOL = { rtol: 1e-4, atol: 1e-5 }

function checkBackward (t, c, seed = 1, tol = TOL) {
  const { q, k, v, dOut, dims } = inputs(c, seed)
  const f = fv.ops.attention(q, k, v, c.opts)
  const g = fv.ops.attentionBackward(dOut, q, k, v, f.out, f.lse, c.opts)
  const e = ref.attentionBackward(dOut.data, q.data, k.data, v.data, dims, c.opts)
  t.deepEqual(g.dq.shape, q.shape)
  t.deepEqual(g.dk.shape, k.shape)
  t.deepEqual(g.dv.shape, v.shape)
  assertClose(t, g.dq, e.dq, { ...tol, label: 'dq' })
  assertClose(t, g.dk, e.dk, { ...tol, label: 'dk' })
  assertClose(t, g.dv, e.dv, { ...tol, label: 'dv' })
  return g
}

for (const c of grid()) {
  test(`attentionBackward ${caseName(c)} matches the float64 reference`, (t) => { checkBackward(t, c) })
}

for (const [D, Dv] of HEAD_DIMS) {
  const c = { B: 1, Hq: 2, Hkv: 1, Lq: 70, Lk: 90, D, Dv, opts: { causal: true } }
  test(`attentionBackward ${caseName(c)} (head dim ${D}) matches the float64 reference`, (t) => { checkBackward(t, c, D) })
}

test('attentionBackward q=[1,2,1000,64] k=[1,2,1000,64] causal (medium) matches the float64 reference', (t) => {
  checkBackward(t, { B: 1, Hq: 2, Hkv: 2, Lq: 1000, Lk: 1000, D: 64, Dv: 64, opts: { causal: true } }, 5, { rtol: 1e-4, atol: 3e-5 })
})

// Finite differences of L = ⟨dOut, out⟩ through the float64 reference forward.
const GRAD_CASES = [
  {},
  { causal: true },
  { window: [2, 1] },
  { mask: maskOf([1, 2, 5, 6], 31) },
  { mask: maskOf([6], 32), keyLengths: Int32Array.from([4]) },
  { dropout: 0.3, seed: 77 },
  { topK: 3 },
  { causal: true, window: [3, -1], mask: maskOf([5, 6], 33), dropout: 0.2, seed: 5, topK: 2, scale: 0.7 }
]
for (const opts of GRAD_CASES) {
  // GQA: two query heads share one kv head, so dk and dv sum over both.
  const c = { B: 1, Hq: 2, Hkv: 1, Lq: 5, Lk: 6, D: 3, Dv: 2, opts }
  test(`attentionBackward ${caseName(c)}: gradients match finite differences`, (t) => {
    const { q, k, v, dOut, dims } = inputs(c, 50)
    const f = fv.ops.attention(q, k, v, opts)
    const g = fv.ops.attentionBackward(dOut, q, k, v, f.out, f.lse, opts)
    const L = (qv, kv, vv) => dot(dOut.data, ref.attention(qv, kv, vv, dims, opts).out)
    const tol = { rtol: 1e-3, atol: 2e-5 }
    assertClose(t, g.dq, numericGrad((x) => L(x, k.data, v.data), q.data), { ...tol, label: 'dq' })
    assertClose(t, g.dk, numericGrad((x) => L(q.data, x, v.data), k.data), { ...tol, label: 'dk' })
    assertClose(t, g.dv, numericGrad((x) => L(q.data, k.data, x), v.data), { ...tol, label: 'dv' })
  })
}

test('attentionBackward: rows with no visible key get zero gradients, never NaN', (t) => {
  const c = { B: 2, Hq: 2, Hkv: 1, Lq: 12, Lk: 5, D: 4, Dv: 3 }
  const { q, k, v, dOut } = inputs(c, 2)
  const opts = { causal: true, keyLengths: Int32Array.from([5, 0]) }
  const f = fv.ops.attention(q, k, v, opts)
  const g = fv.ops.attentionBackward(dOut, q, k, v, f.out, f.lse, opts)
  t.true(noNaN(g.dq.data) && noNaN(g.dk.data) && noNaN(g.dv.data))
  // Batch 1 sees no key: all its gradients are 0; in batch 0, rows i < Lq − Lk see none.
  t.true(g.dq.data.subarray(2 * 12 * 4).every((x) => x === 0), 'dq of batch 1')
  t.true(g.dk.data.subarray(5 * 4).every((x) => x === 0), 'dk of batch 1')
  t.true(g.dv.data.subarray(5 * 3).every((x) => x === 0), 'dv of batch 1')
  for (const h of [0, 1]) t.true(g.dq.data.subarray((h * 12) * 4, (h * 12 + 7) * 4).every((x) => x === 0), `dq of empty rows, head ${h}`)
  t.true(g.dq.data.subarray(7 * 4, 12 * 4).some((x) => x !== 0), 'dq of visible rows')
  // Extreme masks: −1e30 everywhere in a row, −Infinity elsewhere.
  const mask = maskOf([12, 5], 4, 0.5)
  for (let j = 0; j < 5; j++) mask.data[2 * 5 + j] = -1e30
  const f2 = fv.ops.attention(q, k, v, { mask })
  const g2 = fv.ops.attentionBackward(dOut, q, k, v, f2.out, f2.lse, { mask })
  t.true(noNaN(g2.dq.data) && noNaN(g2.dk.data) && noNaN(g2.dv.data), 'extreme masks')
})

test('attentionBackward with dropout needs the seed, and the forward\'s returned seed reproduces it', (t) => {
  const c = { B: 1, Hq: 2, Hkv: 1, Lq: 20, Lk: 20, D: 8, Dv: 8 }
  const { q, k, v, dOut, dims } = inputs(c, 6)
  const f = fv.ops.attention(q, k, v, { dropout: 0.4, seed: 2 ** 40 + 3 })
  const err = t.throws(() => fv.ops.attentionBackward(dOut, q, k, v, f.out, f.lse, { dropout: 0.4 }), { instanceOf: TypeError })
  t.true(err.message.startsWith('attentionBackward: seed must be'), err.message)
  const g = fv.ops.attentionBackward(dOut, q, k, v, f.out, f.lse, { dropout: 0.4, seed: f.seed })
  const e = ref.attentionBackward(dOut.data, q.data, k.data, v.data, dims, { dropout: 0.4, seed: f.seed })
  assertClose(t, g.dv, e.dv, { ...TOL, label: 'dv' })
  assertClose(t, g.dq, e.dq, { ...TOL, label: 'dq' })
})

test('attentionBackward is bit-identical across runs and thread counts (one kv head: chunked, and many heads)', (t) => {
  const cases = [
    { B: 1, Hq: 3, Hkv: 1, Lq: 300, Lk: 260, D: 40, Dv: 24, opts: { causal: true, mask: maskOf([300, 260], 5), dropout: 0.1, seed: 9, topK: 50 } },
    { B: 2, Hq: 8, Hkv: 4, Lq: 130, Lk: 100, D: 64, Dv: 64, opts: { window: [30, 5] } }
  ]
  const before = fv.getNumThreads()
  try {
    for (const c of cases) {
      const { q, k, v, dOut } = inputs(c, 7)
      fv.setNumThreads(before)
      const f = fv.ops.attention(q, k, v, c.opts)
      const a = fv.ops.attentionBackward(dOut, q, k, v, f.out, f.lse, c.opts)
      const again = fv.ops.attentionBackward(dOut, q, k, v, f.out, f.lse, c.opts)
      for (const key of ['dq', 'dk', 'dv']) assertBitIdentical(t, again[key], a[key], `${caseName(c)} ${key}, two runs`)
      for (const n of [1, 2, 3]) {
        fv.setNumThreads(n)
        const b = fv.ops.attentionBackward(dOut, q, k, v, f.out, f.lse, c.opts)
        for (const key of ['dq', 'dk', 'dv']) assertBitIdentical(t, b[key], a[key], `${caseName(c)} ${key}, ${n} thread(s)`)
      }
    }
  } finally {
    fv.setNumThreads(before)
  }
})

test('attentionBackward writes into out.dq, out.dk, out.dv; the Async twin equals the sync result', async (t) => {
  const c = { B: 2, Hq: 4, Hkv: 2, Lq: 70, Lk: 80, D: 16, Dv: 8, opts: { causal: true, topK: 9, dropout: 0.2, seed: 1 } }
  const { q, k, v, dOut } = inputs(c, 3)
  const f = fv.ops.attention(q, k, v, c.opts)
  const s = fv.ops.attentionBackward(dOut, q, k, v, f.out, f.lse, c.opts)
  const out = { dq: fv.tensor(new Float32Array(q.data.length).fill(NaN), q.shape), dk: { data: new Float32Array(k.data.length), shape: k.shape }, dv: fv.tensor(new Float32Array(v.data.length), v.shape) }
  const g = fv.ops.attentionBackward(dOut, q, k, v, f.out, f.lse, { ...c.opts, out })
  t.is(g.dq, out.dq)
  t.is(g.dk.data, out.dk.data)
  t.is(g.dv, out.dv)
  const a = await fv.ops.attentionBackwardAsync(dOut, q, k, v, f.out, f.lse, c.opts)
  for (const key of ['dq', 'dk', 'dv']) {
    assertBitIdentical(t, g[key], s[key], `out.${key}`)
    assertBitIdentical(t, a[key], s[key], `Async ${key}`)
  }
})

test.serial('attentionBackward: every ISA variant this CPU supports matches the reference', (t) => {
  const c = { B: 2, Hq: 4, Hkv: 2, Lq: 97, Lk: 70, D: 24, Dv: 40, opts: { causal: true, mask: maskOf([2, 1, 1, 70], 8), dropout: 0.2, seed: 4, topK: 30 } }
  const { q, k, v, dOut, dims } = inputs(c, 2)
  const e = ref.attentionBackward(dOut.data, q.data, k.data, v.data, dims, c.opts)
  try {
    for (const isa of fv.info().isa.supported) {
      fv.setIsa(isa)
      const f = fv.ops.attention(q, k, v, c.opts)
      const g = fv.ops.attentionBackward(dOut, q, k, v, f.out, f.lse, c.opts)
      for (const key of ['dq', 'dk', 'dv']) assertClose(t, g[key], e[key], { ...TOL, label: `${isa} ${key}` })
    }
  } finally {
    fv.setIsa('auto')
  }
})

test('attentionBackward: mismatched dOut, out, lse and bad options are RangeErrors/TypeErrors naming the argument', async (t) => {
  const q = rand([2, 4, 8, 16], 1); const k = rand([2, 2, 9, 16], 2); const v = rand([2, 2, 9, 5], 3)
  const o = rand([2, 4, 8, 5], 4); const lse = rand([2, 4, 8], 5)
  throwsLike(t, () => fv.ops.attentionBackward(rand([2, 4, 8, 4], 1), q, k, v, o, lse), RangeError, 'attentionBackward: dOut must be [2,4,8,5]', 'got [2,4,8,4]')
  throwsLike(t, () => fv.ops.attentionBackward(o, q, k, v, rand([2, 4, 9, 5], 1), lse), RangeError, 'attentionBackward: out must be [2,4,8,5]')
  throwsLike(t, () => fv.ops.attentionBackward(o, q, k, v, o, rand([2, 4, 9], 1)), RangeError, 'attentionBackward: lse must be [2,4,8]')
  throwsLike(t, () => fv.ops.attentionBackward(o, q, rand([2, 3, 9, 16], 1), v, o, lse), RangeError, 'attentionBackward: k', 'Hq=4')
  throwsLike(t, () => fv.ops.attentionBackward(o, q, k, v, o, lse, { topK: 10 }), RangeError, 'attentionBackward: topK')
  throwsLike(t, () => fv.ops.attentionBackward(o, q, k, v, o, lse, { window: [-3, 0] }), RangeError, 'attentionBackward: window')
  throwsLike(t, () => fv.ops.attentionBackward(o, q, k, v, o, lse, { dropout: 1.5, seed: 1 }), RangeError, 'attentionBackward: dropout')
  throwsLike(t, () => fv.ops.attentionBackward(o, q, k, v, o, lse, { out: { dq: rand([2, 4, 8, 15], 1) } }), RangeError, 'attentionBackward: out.dq.shape')
  throwsLike(t, () => fv.ops.attentionBackward(o, q, k, v, o, lse, { out: { dx: q } }), TypeError, "'dx'")
  throwsLike(t, () => fv.ops.attentionBackward(o, q, k, v, o, lse, { out: { dk: { data: k.data, shape: k.shape } } }), RangeError, 'attentionBackward: out.dk', 'k')
  throwsLike(t, () => fv.ops.attentionBackward(o, 'q', k, v, o, lse), TypeError, 'attentionBackward: q')
  await t.throwsAsync(fv.ops.attentionBackwardAsync(o, q, k, v, o, lse, { topK: 0 }), { instanceOf: RangeError, message: /attentionBackward: topK/ })
  const { binding } = require('../dist/native')
  const problem = {
    B: 2, Hq: 4, Hkv: 2, Lq: 8, Lk: 9, D: 16, Dv: 5, scale: 0.25, causal: false, windowLeft: -1, windowRight: -1,
    maskStrideB: 0, maskStrideH: 0, maskStrideQ: 0, maskStrideK: 0, dropout: 0, seed: 0, topK: 0
  }
  const raw = (lseData, pb) => binding.attentionBackward(o.data, q.data, k.data, v.data, o.data, lseData, null, null, null, null, null, pb)
  t.is(raw(lse.data, problem).dq.length, q.data.length)
  throwsLike(t, () => raw(lse.data.subarray(1), problem), RangeError, 'attentionBackward: lse')
  throwsLike(t, () => raw(lse.data, { ...problem, windowLeft: 'x' }), TypeError, 'attentionBackward: windowLeft must be a number')
})
