'use strict'
// attention forward: the fused kernel against the float64 reference over every option and
// their combination, odd lengths and tile edges, every head dim; the probabilities it
// returns; rows with nothing to see; extreme scores; the out option; Async; determinism;
// ISA variants; and bad input.
const test = require('ava')
const fv = require('./helpers/fv')
const ref = require('./reference/attention')
const { rand } = require('./helpers/random')
const { assertClose, assertBitIdentical } = require('./helpers/check')
const { caseName, inputs, maskOf, noNaN, grid, HEAD_DIMS } = require('./helpers/attention')
const { throwsLike } = require('./helpers/errors')
const { binding } = require('../dist/native')

const TOL = { rtol: 2e-5, atol: 2e-6 }

function checkForward (t, c, seed = 1) {
  const { q, k, v, dims } = inputs(c, seed)
  const r = fv.ops.attention(q, k, v, { ...c.opts, returnWeights: true })
  const e = ref.attention(q.data, k.data, v.data, dims, c.opts)
  t.deepEqual(r.out.shape, [c.B, c.Hq, c.Lq, c.Dv])
  t.deepEqual(r.lse.shape, [c.B, c.Hq, c.Lq])
  t.deepEqual(r.weights.shape, [c.B, c.Hq, c.Lq, c.Lk])
  assertClose(t, r.out, e.out, { ...TOL, label: 'out' })
  assertClose(t, r.lse, e.lse, { ...TOL, label: 'lse' })
  assertClose(t, r.weights, e.weights, { ...TOL, label: 'weights' })
  return { r, e }
}

for (const c of grid()) {
  test(`attention ${caseName(c)} matches the float64 reference`, (t) => { checkForward(t, c) })
}

for (const [D, Dv] of HEAD_DIMS) {
  const c = { B: 1, Hq: 2, Hkv: 1, Lq: 70, Lk: 90, D, Dv, opts: { causal: true } }
  test(`attention ${caseName(c)} (head dim ${D}) matches the float64 reference`, (t) => { checkForward(t, c, D) })
}

test('attention q=[1,2,1000,64] k=[1,2,1000,64] causal (medium) matches the float64 reference', (t) => {
  checkForward(t, { B: 1, Hq: 2, Hkv: 2, Lq: 1000, Lk: 1000, D: 64, Dv: 64, opts: { causal: true } }, 5)
})

test('attention q=[2,4,33,16] weights: rows sum to 1, hidden keys are exactly 0, returnWeights leaves out unchanged', (t) => {
  const c = { B: 2, Hq: 4, Hkv: 2, Lq: 33, Lk: 40, D: 16, Dv: 16, opts: { causal: true, keyLengths: Int32Array.from([40, 20]) } }
  const { q, k, v } = inputs(c, 9)
  const r = fv.ops.attention(q, k, v, { ...c.opts, returnWeights: true })
  const plain = fv.ops.attention(q, k, v, c.opts)
  assertBitIdentical(t, r.out, plain.out, 'out with and without returnWeights')
  t.is(plain.weights, undefined)
  let worst = 0; let leaks = 0
  for (let row = 0; row < c.B * c.Hq * c.Lq; row++) {
    const b = Math.floor(row / (c.Hq * c.Lq)); const i = row % c.Lq
    let s = 0
    for (let j = 0; j < c.Lk; j++) {
      const w = r.weights.data[row * c.Lk + j]
      s += w
      const visible = j <= i + c.Lk - c.Lq && j < c.opts.keyLengths[b]
      if (!visible && w !== 0) leaks++
    }
    worst = Math.max(worst, Math.abs(s - 1))
  }
  t.is(leaks, 0, 'hidden keys have weight exactly 0')
  t.true(worst < 1e-5, `row sums off by ${worst}`)
})

test('attention q=[1,1,64,64] dropout: the kept fraction is 1−p, kept weights are scaled by 1/(1−p), the mask is the reference\'s', (t) => {
  // q = 0: uniform weights 1/Lk; v = identity: out[i, j] = weight[i, j]·Z/(1−p).
  const L = 64; const p = 0.3
  const q = { data: new Float32Array(L * 8), shape: [1, 1, L, 8] }
  const k = rand([1, 1, L, 8], 1)
  const v = { data: new Float32Array(L * L), shape: [1, 1, L, L] }
  for (let j = 0; j < L; j++) v.data[j * L + j] = 1
  const r = fv.ops.attention(q, k, v, { dropout: p, seed: 1234 })
  t.is(r.seed, 1234)
  let kept = 0; let wrong = 0; let mismatch = 0
  const scaled = Math.fround((1 / L) / (1 - Math.fround(p)))
  for (let i = 0; i < L; i++) {
    for (let j = 0; j < L; j++) {
      const o = r.out.data[i * L + j]
      if (o !== 0) { kept++; if (Math.abs(o - scaled) > 1e-6) wrong++ }
      if ((o !== 0) !== (ref.keep(0, i, j, p, 1234) === 1)) mismatch++
    }
  }
  t.is(wrong, 0, 'kept weights are 1/Lk/(1−p)')
  t.is(mismatch, 0, 'the same keep mask as the reference Philox')
  const frac = kept / (L * L)
  t.true(Math.abs(frac - (1 - p)) < 0.03, `kept fraction ${frac}`)
  // Another seed gives another mask; the same seed the same one.
  const r2 = fv.ops.attention(q, k, v, { dropout: p, seed: 1235 })
  t.notDeepEqual(Array.from(r2.out.data), Array.from(r.out.data))
  assertBitIdentical(t, fv.ops.attention(q, k, v, { dropout: p, seed: 1234 }).out, r.out, 'same seed')
})

test('attention dropout follows fv.ops.dropout\'s contract: the seed is required when p > 0, and returned', (t) => {
  const c = { B: 1, Hq: 1, Hkv: 1, Lq: 9, Lk: 9, D: 4, Dv: 4 }
  const { q, k, v } = inputs(c)
  throwsLike(t, () => fv.ops.attention(q, k, v, { dropout: 0.5 }), TypeError, 'attention: seed must be a non-negative safe integer when dropout > 0', 'got undefined')
  throwsLike(t, () => fv.ops.dropout(q, { p: 0.5 }), TypeError, 'dropout: seed must be a non-negative safe integer when p > 0', 'got undefined')
  const a = fv.ops.attention(q, k, v, { dropout: 0.5, seed: 77 })
  t.is(a.seed, 77)
  t.is(fv.ops.attention(q, k, v).seed, undefined)
  t.is(fv.ops.attention(q, k, v, { dropout: 0 }).seed, undefined, 'p = 0 needs no seed')
})

test('attention dropout=1 drops every weight, as fv.ops.dropout p=1: out = 0, zero gradients, lse and weights as p = 0', async (t) => {
  const c = { B: 2, Hq: 2, Hkv: 1, Lq: 7, Lk: 9, D: 8, Dv: 5 }
  const { q, k, v } = inputs(c, 3)
  const opts = { causal: true, returnWeights: true }
  const kept = fv.ops.attention(q, k, v, opts)
  for (const r of [fv.ops.attention(q, k, v, { ...opts, dropout: 1, seed: 4 }), await fv.ops.attentionAsync(q, k, v, { ...opts, dropout: 1, seed: 4 })]) {
    t.true(r.out.data.every((x) => x === 0), 'out = 0')
    assertBitIdentical(t, r.lse, kept.lse, 'lse')
    assertBitIdentical(t, r.weights, kept.weights, 'weights (taken before dropout)')
  }
  const dOut = rand([2, 2, 7, 5], 9)
  const g = fv.ops.attentionBackward(dOut, q, k, v, kept.out, kept.lse, { causal: true, dropout: 1, seed: 4 })
  for (const name of ['dq', 'dk', 'dv']) t.true(g[name].data.every((x) => x === 0), `${name} = 0`)
})

test('attention topK=1 is hard attention: out is the v row of the best visible key', (t) => {
  const c = { B: 1, Hq: 2, Hkv: 1, Lq: 20, Lk: 30, D: 8, Dv: 6 }
  const { q, k, v } = inputs(c, 4)
  const r = fv.ops.attention(q, k, v, { topK: 1, causal: true, returnWeights: true })
  for (let row = 0; row < 40; row++) {
    const w = r.weights.data.subarray(row * 30, row * 30 + 30)
    const j = w.indexOf(1)
    t.true(j >= 0, `row ${row} has one weight of 1`)
    t.is(w.reduce((a, b) => a + (b !== 0), 0), 1)
    assertClose(t, r.out.data.subarray(row * 6, row * 6 + 6), v.data.subarray(j * 6, j * 6 + 6), { rtol: 0, atol: 0, label: `row ${row}` })
  }
})

test('attention topK: ties go to the lower key index', (t) => {
  // Every score equal: topK=3 keeps keys 0, 1, 2 (and after a causal cut, still the lowest).
  const q = { data: new Float32Array(2 * 4), shape: [1, 1, 2, 4] }
  const k = { data: new Float32Array(10 * 4).fill(0.5), shape: [1, 1, 10, 4] }
  const v = rand([1, 1, 10, 3], 2)
  const r = fv.ops.attention(q, k, v, { topK: 3, returnWeights: true })
  const w = Array.from(r.weights.data.subarray(0, 10)).map((x) => Math.round(x * 3))
  t.deepEqual(w, [1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
})

test('attention rows with no visible key: out = 0, lse = −Infinity, weights 0, never NaN', (t) => {
  const c = { B: 2, Hq: 2, Hkv: 1, Lq: 12, Lk: 5, D: 4, Dv: 3 }
  const { q, k, v } = inputs(c, 2)
  const mask = { data: new Float32Array(12 * 5), shape: [12, 5] }
  for (let j = 0; j < 5; j++) mask.data[3 * 5 + j] = -Infinity // row 3: all hidden by the mask
  const opts = { causal: true, keyLengths: Int32Array.from([5, 0]), mask, returnWeights: true }
  const r = fv.ops.attention(q, k, v, opts)
  t.true(noNaN(r.out.data) && noNaN(r.lse.data) && noNaN(r.weights.data))
  for (let bh = 0; bh < 4; bh++) {
    for (let i = 0; i < 12; i++) {
      // causal with Lq > Lk: rows i < Lq − Lk see nothing; batch 1 has no keys at all.
      const empty = bh >= 2 || i < 7 || i === 3
      const n = bh * 12 + i
      if (empty) {
        t.is(r.lse.data[n], -Infinity, `lse of row ${n}`)
        t.true(r.out.data.subarray(n * 3, n * 3 + 3).every((x) => x === 0), `out of row ${n}`)
        t.true(r.weights.data.subarray(n * 5, n * 5 + 5).every((x) => x === 0), `weights of row ${n}`)
      } else {
        t.true(Number.isFinite(r.lse.data[n]), `lse of row ${n}`)
      }
    }
  }
  // A window that excludes every key, and Lk = 0.
  const w = fv.ops.attention(q, k, v, { window: [0, 0], causal: true, keyLengths: Int32Array.from([0, 0]) })
  t.true(w.lse.data.every((x) => x === -Infinity) && w.out.data.every((x) => x === 0))
  const none = fv.ops.attention(q, { data: new Float32Array(0), shape: [2, 1, 0, 4] }, { data: new Float32Array(0), shape: [2, 1, 0, 3] })
  t.true(none.lse.data.every((x) => x === -Infinity) && none.out.data.every((x) => x === 0))
})

test('attention with extreme scores (±1e30 masks, −Infinity, huge q) never gives NaN and matches the reference', (t) => {
  const c = { B: 1, Hq: 2, Hkv: 1, Lq: 70, Lk: 80, D: 8, Dv: 8 }
  const { q, k, v, dims } = inputs(c, 3)
  const mask = maskOf([70, 80], 21, 0.3)
  for (let i = 0; i < mask.data.length; i += 7) mask.data[i] = -1e30
  for (let i = 3; i < mask.data.length; i += 29) mask.data[i] = 1e30
  for (let j = 0; j < 80; j++) mask.data[5 * 80 + j] = -1e30 // a row of only −1e30: uniform weights
  for (const scale of [1, 1e12]) {
    const opts = { mask, scale }
    const r = fv.ops.attention(q, k, v, opts)
    t.true(noNaN(r.out.data) && noNaN(r.lse.data), `scale ${scale}`)
    const e = ref.attention(q.data, k.data, v.data, dims, opts)
    assertClose(t, r.out, e.out, { rtol: 1e-4, atol: 1e-5, label: `out, scale ${scale}` })
  }
  const big = { data: q.data.map((x) => x * 1e15), shape: q.shape }
  const r = fv.ops.attention(big, k, v, { causal: true })
  t.true(noNaN(r.out.data) && noNaN(r.lse.data), 'q·1e15')
})

test('attention writes into out.out, out.lse and out.weights and returns them', (t) => {
  const c = { B: 1, Hq: 2, Hkv: 2, Lq: 9, Lk: 11, D: 4, Dv: 5 }
  const { q, k, v } = inputs(c)
  const out = { out: fv.tensor(new Float32Array(90).fill(NaN), [1, 2, 9, 5]), lse: fv.tensor(new Float32Array(18), [1, 2, 9]), weights: { data: new Float32Array(198), shape: [1, 2, 9, 11] } }
  const r = fv.ops.attention(q, k, v, { returnWeights: true, out })
  const fresh = fv.ops.attention(q, k, v, { returnWeights: true })
  t.is(r.out, out.out)
  t.is(r.lse, out.lse)
  t.is(r.weights.data, out.weights.data)
  assertBitIdentical(t, out.out, fresh.out, 'out')
  assertBitIdentical(t, out.lse, fresh.lse, 'lse')
  assertBitIdentical(t, out.weights.data, fresh.weights, 'weights')
})

test('attention accepts onnxruntime-style { data, dims } tensors, and tf32 computes exact fp32', (t) => {
  const c = { B: 1, Hq: 2, Hkv: 1, Lq: 17, Lk: 19, D: 8, Dv: 8 }
  const { q, k, v } = inputs(c)
  const a = fv.ops.attention(q, k, v, { causal: true })
  const b = fv.ops.attention({ data: q.data, dims: q.shape }, { data: k.data, dims: k.shape }, { data: v.data, dims: v.shape }, { causal: true, precision: 'tf32', backend: 'cpu' })
  assertBitIdentical(t, a.out, b.out, 'out')
  assertBitIdentical(t, fv.ops.attention(q, k, v, { causal: true, precision: 'fp32' }).out, a.out, 'fp32')
})

test('attentionAsync equals attention bit for bit', async (t) => {
  const c = { B: 2, Hq: 4, Hkv: 2, Lq: 100, Lk: 130, D: 32, Dv: 16, opts: { causal: true, dropout: 0.2, seed: 5, topK: 20, mask: maskOf([2, 1, 100, 130], 3), returnWeights: true } }
  const { q, k, v } = inputs(c)
  const [a, s] = [await fv.ops.attentionAsync(q, k, v, c.opts), fv.ops.attention(q, k, v, c.opts)]
  assertBitIdentical(t, a.out, s.out, 'out')
  assertBitIdentical(t, a.lse, s.lse, 'lse')
  assertBitIdentical(t, a.weights, s.weights, 'weights')
  await t.throwsAsync(fv.ops.attentionAsync(q, k, v, { topK: 0 }), { instanceOf: RangeError, message: /attention: topK/ })
})

test('attention is bit-identical across runs and thread counts', (t) => {
  const c = { B: 2, Hq: 4, Hkv: 2, Lq: 200, Lk: 150, D: 64, Dv: 64, opts: { causal: true, mask: maskOf([200, 150], 5), dropout: 0.1, seed: 9, topK: 40 } }
  const { q, k, v } = inputs(c, 7)
  const before = fv.getNumThreads()
  try {
    const a = fv.ops.attention(q, k, v, c.opts)
    assertBitIdentical(t, fv.ops.attention(q, k, v, c.opts).out, a.out, 'two runs')
    for (const n of [1, 2, 3]) {
      fv.setNumThreads(n)
      const b = fv.ops.attention(q, k, v, c.opts)
      assertBitIdentical(t, b.out, a.out, `out, ${n} thread(s)`)
      assertBitIdentical(t, b.lse, a.lse, `lse, ${n} thread(s)`)
    }
  } finally {
    fv.setNumThreads(before)
  }
})

test.serial('every ISA variant this CPU supports matches the reference', (t) => {
  const cases = [
    { B: 2, Hq: 4, Hkv: 2, Lq: 97, Lk: 130, D: 40, Dv: 24, opts: { causal: true, mask: maskOf([2, 1, 97, 130], 8), keyLengths: Int32Array.from([130, 77]) } },
    { B: 1, Hq: 2, Hkv: 1, Lq: 50, Lk: 70, D: 16, Dv: 16, opts: { topK: 4, dropout: 0.3, seed: 8, window: [9, 2] } }
  ]
  const supported = fv.info().isa.supported
  t.true(supported.includes('generic'))
  const kernels = fv.info().kernels.map((k) => k.name)
  t.true(kernels.includes('attention_forward') && kernels.includes('attention_backward'))
  try {
    for (const isa of supported) {
      fv.setIsa(isa)
      t.is(fv.info().kernels.find((k) => k.name === 'attention_forward').active, isa === 'neon' ? 'generic' : isa)
      for (const c of cases) {
        const { q, k, v, dims } = inputs(c, 2)
        const r = fv.ops.attention(q, k, v, c.opts)
        const e = ref.attention(q.data, k.data, v.data, dims, c.opts)
        assertClose(t, r.out, e.out, { ...TOL, label: `${isa} ${caseName(c)} out` })
        assertClose(t, r.lse, e.lse, { ...TOL, label: `${isa} ${caseName(c)} lse` })
      }
    }
  } finally {
    fv.setIsa('auto')
  }
})

// ---- bad input ----

test('attention: mismatched shapes are RangeErrors naming the argument', (t) => {
  const q = rand([2, 4, 8, 16], 1); const k = rand([2, 2, 9, 16], 2); const v = rand([2, 2, 9, 5], 3)
  throwsLike(t, () => fv.ops.attention(rand([2, 4, 8], 1), k, v), RangeError, 'attention: q must be [B,Hq,Lq,D]', '[2,4,8]')
  throwsLike(t, () => fv.ops.attention(q, rand([3, 2, 9, 16], 1), v), RangeError, 'attention: k must be [B,Hkv,Lk,D] with B=2 and D=16 as q', 'got [3,2,9,16]')
  throwsLike(t, () => fv.ops.attention(q, rand([2, 2, 9, 8], 1), v), RangeError, 'attention: k', 'D=16', '[2,2,9,8]')
  throwsLike(t, () => fv.ops.attention(q, rand([2, 3, 9, 16], 1), rand([2, 3, 9, 5], 1)), RangeError, 'attention: k', 'dividing Hq=4', '[2,3,9,16]')
  throwsLike(t, () => fv.ops.attention(q, k, rand([2, 2, 8, 5], 1)), RangeError, 'attention: v must be [B,Hkv,Lk,Dv]', 'Lk=9', '[2,2,8,5]')
  throwsLike(t, () => fv.ops.attention(q, k, rand([2, 1, 9, 5], 1)), RangeError, 'attention: v', 'Hkv=2')
  throwsLike(t, () => fv.ops.attention({ data: new Float32Array(0), shape: [2, 4, 8, 0] }, { data: new Float32Array(0), shape: [2, 2, 9, 0] }, v), RangeError, 'attention: q', 'D ≥ 1')
  throwsLike(t, () => fv.ops.attention(q, k, v, { mask: rand([8, 5], 1) }), RangeError, 'attention: mask must be broadcastable to [B,Hq,Lq,Lk]=[2,4,8,9]', 'got [8,5]')
  throwsLike(t, () => fv.ops.attention(q, k, v, { mask: rand([2, 2, 8, 9], 1) }), RangeError, 'attention: mask', '[2,2,8,9]')
  throwsLike(t, () => fv.ops.attention(q, k, v, { mask: rand([1, 2, 4, 8, 9], 1) }), RangeError, 'attention: mask', '[1,2,4,8,9]')
  throwsLike(t, () => fv.ops.attention(q, k, v, { out: { out: rand([2, 4, 8, 4], 1) } }), RangeError, 'attention: out.out.shape', '[2,4,8,5]')
  throwsLike(t, () => fv.ops.attention(q, k, v, { out: { lse: rand([2, 4, 9], 1) } }), RangeError, 'attention: out.lse.shape')
  throwsLike(t, () => fv.ops.attention(q, k, v, { out: { weights: rand([2, 4, 8, 9], 1) } }), RangeError, 'attention: out.weights', 'returnWeights')
  throwsLike(t, () => fv.ops.attention(q, k, v, { out: { out: { data: q.data.subarray(0, 320), shape: [2, 4, 8, 5] } } }), RangeError, 'attention: out.out', 'q')
})

test('attention: option values out of range are RangeErrors, wrong kinds TypeErrors', (t) => {
  const q = rand([2, 4, 8, 16], 1); const k = rand([2, 2, 9, 16], 2); const v = rand([2, 2, 9, 5], 3)
  throwsLike(t, () => fv.ops.attention(q, k, v, { window: [2, -2] }), RangeError, 'attention: window', '[2,-2]')
  throwsLike(t, () => fv.ops.attention(q, k, v, { window: [1.5, 2] }), RangeError, 'attention: window')
  throwsLike(t, () => fv.ops.attention(q, k, v, { window: 3 }), TypeError, 'attention: window', 'got 3')
  throwsLike(t, () => fv.ops.attention(q, k, v, { window: [1, 2, 3] }), TypeError, 'attention: window')
  throwsLike(t, () => fv.ops.attention(q, k, v, { keyLengths: Int32Array.from([9, 10]) }), RangeError, 'attention: keyLengths[1] must be from 0 to Lk=9, got 10')
  throwsLike(t, () => fv.ops.attention(q, k, v, { keyLengths: Int32Array.from([-1, 3]) }), RangeError, 'attention: keyLengths[0]', '-1')
  throwsLike(t, () => fv.ops.attention(q, k, v, { keyLengths: Int32Array.from([3]) }), RangeError, 'attention: keyLengths', 'B=2', 'Int32Array(1)')
  throwsLike(t, () => fv.ops.attention(q, k, v, { keyLengths: [3, 3] }), TypeError, 'attention: keyLengths must be an Int32Array', 'got [3,3]')
  throwsLike(t, () => fv.ops.attention(q, k, v, { topK: 0 }), RangeError, 'attention: topK must be an integer from 1 to Lk=9, got 0')
  throwsLike(t, () => fv.ops.attention(q, k, v, { topK: 10 }), RangeError, 'attention: topK', 'got 10')
  throwsLike(t, () => fv.ops.attention(q, k, v, { topK: 2.5 }), RangeError, 'attention: topK')
  throwsLike(t, () => fv.ops.attention(q, k, v, { topK: '2' }), TypeError, 'attention: topK')
  throwsLike(t, () => fv.ops.attention(q, k, v, { dropout: 1.5, seed: 1 }), RangeError, 'attention: dropout must be a number from 0 to 1, got 1.5')
  throwsLike(t, () => fv.ops.attention(q, k, v, { dropout: -0.1 }), RangeError, 'attention: dropout', '-0.1')
  throwsLike(t, () => fv.ops.attention(q, k, v, { dropout: NaN }), RangeError, 'attention: dropout', 'NaN')
  throwsLike(t, () => fv.ops.attention(q, k, v, { dropout: '0.1' }), TypeError, 'attention: dropout')
  throwsLike(t, () => fv.ops.attention(q, k, v, { dropout: 0.1, seed: -1 }), RangeError, 'attention: seed', '-1')
  throwsLike(t, () => fv.ops.attention(q, k, v, { seed: 2 ** 53 }), RangeError, 'attention: seed')
  throwsLike(t, () => fv.ops.attention(q, k, v, { seed: '1' }), TypeError, 'attention: seed')
  throwsLike(t, () => fv.ops.attention(q, k, v, { scale: NaN }), RangeError, 'attention: scale', 'NaN')
  throwsLike(t, () => fv.ops.attention(q, k, v, { scale: 1e300 }), RangeError, 'attention: scale')
  throwsLike(t, () => fv.ops.attention(q, k, v, { scale: '1' }), TypeError, 'attention: scale')
  throwsLike(t, () => fv.ops.attention(q, k, v, { causal: 1 }), TypeError, 'attention: causal')
  throwsLike(t, () => fv.ops.attention(q, k, v, { returnWeights: 'yes' }), TypeError, 'attention: returnWeights')
  throwsLike(t, () => fv.ops.attention(q, k, v, { casual: true }), TypeError, 'attention: options', "'casual'")
  throwsLike(t, () => fv.ops.attention(q, k, v, { out: 3 }), TypeError, 'attention: out must be an object { out?, lse?, weights? }, got 3')
  throwsLike(t, () => fv.ops.attention(q, k, v, { out: { o: q } }), TypeError, 'attention: out must be an object { out?, lse?, weights? }', "unknown key 'o'")
  throwsLike(t, () => fv.ops.attention(q, k, v, { mask: new Float32Array(72) }), TypeError, 'attention: mask')
  throwsLike(t, () => fv.ops.attention(q, k, v, { backend: 'tpu' }), RangeError, "attention: backend must be 'cpu' or 'cuda', got a string \"tpu\"")
  throwsLike(t, () => fv.ops.attention(q, k, v, { backend: 1 }), TypeError, 'attention: backend')
  throwsLike(t, () => fv.ops.attention(q, k, v, { precision: 'bf16' }), RangeError, 'attention: precision', 'bf16')
  throwsLike(t, () => fv.ops.attention(q, k, v, { precision: 'fp16' }), RangeError, 'attention: precision', 'fp16')
})

test("attention backend 'cuda' fails clearly instead of running on the CPU", async (t) => {
  const q = rand([1, 1, 4, 8], 1); const k = rand([1, 1, 4, 8], 2); const v = rand([1, 1, 4, 8], 3)
  const cuda = fv.info().cuda
  for (const call of [() => fv.ops.attention(q, k, v, { backend: 'cuda' }), () => fv.ops.attentionBackward(q, q, k, v, q, rand([1, 1, 4], 1), { backend: 'cuda' })]) {
    const err = t.throws(call)
    t.is(err.constructor, Error)
    t.regex(err.message, /^attention(Backward)?: backend 'cuda' has no attention kernels yet/)
    if (!cuda.usable) t.true(err.message.includes(cuda.reason), err.message)
  }
  await t.throwsAsync(fv.ops.attentionAsync(q, k, v, { backend: 'cuda' }), { message: /backend 'cuda'/ })
})

test('the native attention re-checks sizes, lengths and options when called directly', async (t) => {
  const q = new Float32Array(2 * 4 * 8 * 16); const k = new Float32Array(2 * 2 * 9 * 16); const v = new Float32Array(2 * 2 * 9 * 5)
  const good = {
    B: 2, Hq: 4, Hkv: 2, Lq: 8, Lk: 9, D: 16, Dv: 5, scale: 0.25, causal: false, windowLeft: -1, windowRight: -1,
    maskStrideB: 0, maskStrideH: 0, maskStrideQ: 0, maskStrideK: 0, dropout: 0, seed: 0, topK: 0, returnWeights: false
  }
  const call = (over = {}, mask = null, lengths = null) => binding.attention(q, k, v, mask, lengths, null, null, null, { ...good, ...over })
  t.is(call().out.length, 2 * 4 * 8 * 5)
  throwsLike(t, () => call({ Lq: 80 }), RangeError, 'attention: q')
  throwsLike(t, () => call({ Lk: 90 }), RangeError, 'attention: k')
  throwsLike(t, () => call({ Dv: 6 }), RangeError, 'attention: v')
  throwsLike(t, () => call({ Hkv: 3 }), RangeError, 'attention', 'Hq')
  throwsLike(t, () => call({ windowRight: -2 }), RangeError, 'attention: windowRight')
  throwsLike(t, () => call({ dropout: 1.5 }), RangeError, 'attention: dropout')
  throwsLike(t, () => call({ topK: 10 }), RangeError, 'attention: topK')
  throwsLike(t, () => call({ scale: NaN }), RangeError, 'attention: scale')
  // The problem object: every key is re-read and re-checked; a missing one or a wrong kind names the key.
  throwsLike(t, () => call({ causal: undefined }), TypeError, 'attention: causal must be a boolean, got undefined')
  throwsLike(t, () => call({ seed: '1' }), TypeError, 'attention: seed must be a number')
  throwsLike(t, () => call({ returnWeights: 1 }), TypeError, 'attention: returnWeights must be a boolean')
  throwsLike(t, () => binding.attention(q, k, v, null, null, null, null, null, 3), TypeError, 'attention: problem must be an object, got 3')
  throwsLike(t, () => binding.attention(q, k, v, null, null, null, null, null), TypeError, 'attention: problem must be an object, got undefined')
  const { B, ...noB } = good
  throwsLike(t, () => binding.attention(q, k, v, null, null, null, null, null, noB), TypeError, 'attention: B must be a number, got undefined')
  // Each key is read once (the binding reads the object before it unwraps any array).
  let reads = 0
  const counted = { ...good, get Dv () { reads++; return 5 } }
  t.is(binding.attention(q, k, v, null, null, null, null, null, counted).out.length, 320)
  t.is(reads, 1)
  // A mask shorter than its strides claim, or lengths out of range.
  throwsLike(t, () => call({ maskStrideB: 100, maskStrideK: 1 }, new Float32Array(9)), RangeError, 'attention: mask')
  throwsLike(t, () => call({}, null, Int32Array.from([9, 10])), RangeError, 'attention: keyLengths')
  throwsLike(t, () => call({}, null, Int32Array.from([9])), RangeError, 'attention: keyLengths')
  throwsLike(t, () => call({}, null, new Float32Array(2)), TypeError, 'attention: keyLengths')
  t.is(call({ maskStrideK: 1 }, new Float32Array(9)).out.length, 320)
  await t.throwsAsync(binding.attentionAsync(q, k, v, null, null, null, null, null, { ...good, Lq: 80 }), { instanceOf: RangeError })
  await t.throwsAsync(binding.attentionAsync(q, k, v, null, null, null, null, null, { ...good, topK: undefined }), { instanceOf: TypeError, message: /^attention: topK/ })
})
