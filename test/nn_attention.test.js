'use strict'
// fv.nn.MultiheadAttention, TransformerEncoderLayer and TransformerEncoder: forward against
// float64 references written from the definitions (test/helpers/nn_attention_ref.js), the
// gradients of every input and parameter against finite differences of those references,
// Async = sync bit for bit, state-dict round trips, masks, dropout, argument errors naming
// the class and the argument, and the memory rule (what a module makes for its backward
// goes back to the pool through dispose once backward used it).
const test = require('ava')
const fv = require('./helpers/fv')
const { assertClose, assertBitIdentical, numericGrad, dot } = require('./helpers/check')
const { uniform } = require('./helpers/random')
const { throwsLike, rejectsLike } = require('./helpers/errors')
const R = require('./helpers/nn_attention_ref')
const seedStream = require('../dist/seed')

const nn = fv.nn
const { f64, size } = R
const rand = (shape, seed, lo = -1, hi = 1) => fv.tensor(uniform(size(shape), seed, lo, hi), shape)
const FWD = { rtol: 1e-4, atol: 2e-5 }
const GRAD = { rtol: 2e-3, atol: 2e-4 }

/** Every parameter of m set to seeded values in [−a, a] (biases non-zero too). */
function randomize (m, seed, a = 0.5) {
  let s = seed
  for (const [, p] of m.namedParameters()) p.value.data.set(uniform(p.value.size, s++, -a, a))
  return m
}

/**
 * Gradients of ⟨dOut, out⟩ against central differences of the float64 reference:
 * `ref(P, inputs)` → Float64Array; `grads` the module's input gradients (Tensors, one per
 * input); the parameters' grads read from the module.
 */
function checkGradients (t, label, m, inputs, grads, dOut, ref) {
  const x64 = inputs.map(f64)
  const L = (overrides, xs) => dot(dOut.data, ref(R.paramsOf(m, overrides), xs.map((d, i) => ({ data: d, shape: inputs[i].shape }))))
  inputs.forEach((x, i) => {
    const g = numericGrad((xd) => L(new Map(), x64.map((v, j) => (j === i ? xd : v))), x64[i])
    assertClose(t, grads[i].data, g, { ...GRAD, label: `${label}: d(input ${i})` })
  })
  for (const [name, p] of m.namedParameters()) {
    const g = numericGrad((pd) => L(new Map([[name, pd]]), x64), f64(p.value))
    t.truthy(p.grad, `${label}: ${name} has a gradient`)
    assertClose(t, p.grad.data, g, { ...GRAD, label: `${label}: d${name}` })
  }
}

// ---- MultiheadAttention -------------------------------------------------------------

const E = 8

/** Inputs of a case: query [.., E], key [.., kdim], value [.., vdim] in the case's layout. */
function mhaInputs (c, seed) {
  const kd = c.opts?.kdim ?? E; const vd = c.opts?.vdim ?? E
  const lay = (L, d) => c.unbatched ? [L, d] : c.opts?.batchFirst ? [c.B, L, d] : [L, c.B, d]
  const q = rand(lay(c.Lq, E), seed)
  if (c.self) return [q, q, q]
  return [q, rand(lay(c.Lk, kd), seed + 1), rand(lay(c.Lk, vd), seed + 2)]
}

const MHA_CASES = [
  { name: 'self-attention [L=5,B=2,E=8] H=2 averaged weights', H: 2, B: 2, Lq: 5, Lk: 5, self: true },
  { name: 'self-attention batchFirst [B=2,L=4,E=8] H=4 causal, per-head weights', H: 4, B: 2, Lq: 4, Lk: 4, self: true,
    opts: { batchFirst: true }, fwd: { isCausal: true, averageAttnWeights: false } },
  { name: 'cross-attention Lq=3 Lk=6 kdim=6 vdim=4, key padding (not a suffix), float attnMask [Lq,Lk]', H: 2, B: 2, Lq: 3, Lk: 6,
    opts: { kdim: 6, vdim: 4 },
    fwd: { keyPaddingMask: Uint8Array.of(0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1), attnMask: { data: uniform(18, 9, -1, 1), shape: [3, 6] } } },
  { name: 'cross-attention batchFirst bias=false, key padding as a suffix (keyLengths), bool attnMask [B·H,Lq,Lk]', H: 2, B: 2, Lq: 4, Lk: 5,
    opts: { batchFirst: true, bias: false },
    fwd: { keyPaddingMask: Uint8Array.of(0, 0, 0, 1, 1, 0, 0, 0, 0, 0), attnMask: { data: Uint8Array.from({ length: 2 * 2 * 4 * 5 }, (_, i) => (i % 7 === 3 ? 1 : 0)), shape: [4, 4, 5] } } },
  { name: 'grouped-query H=4 numKvHeads=2, isCausal with Lq=5 > Lk=3 (top-left)', H: 4, B: 2, Lq: 5, Lk: 3,
    opts: { numKvHeads: 2 }, fwd: { isCausal: true } },
  { name: 'multi-query numKvHeads=1, isCausal with Lq=3 < Lk=5, key padding mask', H: 2, B: 1, Lq: 3, Lk: 5,
    opts: { numKvHeads: 1, batchFirst: true }, fwd: { isCausal: true, keyPaddingMask: Uint8Array.of(1, 0, 0, 0, 0) } },
  { name: 'unbatched query [L=4,E=8] key [6,E] H=2', H: 2, B: 1, Lq: 4, Lk: 6, unbatched: true }
]

function mhaRef (c) {
  const cfg = { E, H: c.H, Hkv: c.opts?.numKvHeads, kdim: c.opts?.kdim, vdim: c.opts?.vdim, batchFirst: c.opts?.batchFirst, bias: c.opts?.bias }
  return (P, [q, k, v], extra = {}) => R.mha(P, cfg, q, k, v, { ...c.fwd, ...extra })
}

MHA_CASES.forEach((c, ci) => {
  test(`MultiheadAttention ${c.name}: forward and weights = float64 reference; every gradient = finite differences`, (t) => {
    fv.manualSeed(10 + ci)
    const m = randomize(new nn.MultiheadAttention(E, c.H, c.opts), 100 * ci)
    const inputs = mhaInputs(c, 7 * ci + 1)
    const { out, weights } = m.forward(...inputs, c.fwd)
    const ref = mhaRef(c)(R.paramsOf(m), inputs)
    t.deepEqual([...out.shape], [...inputs[0].shape])
    assertClose(t, out.data, ref.out, { ...FWD, label: 'out' })
    const avg = c.fwd?.averageAttnWeights !== false
    const wShape = c.unbatched ? [c.Lq, c.Lk] : avg ? [c.B, c.Lq, c.Lk] : [c.B, c.H, c.Lq, c.Lk]
    t.deepEqual([...weights.shape], wShape)
    assertClose(t, weights.data, ref.weights, { ...FWD, label: 'weights' })

    const dOut = rand(out.shape, 3 * ci + 2)
    const g = m.backward(dOut)
    for (const [k, x] of [['dq', inputs[0]], ['dk', inputs[1]], ['dv', inputs[2]]]) t.deepEqual([...g[k].shape], [...x.shape], k)
    const refOut = (P, xs) => mhaRef(c)(P, c.self ? [xs[0], xs[0], xs[0]] : xs).out
    if (c.self) {
      const sum = fv.ops.add(fv.ops.add(g.dq, g.dk), g.dv)
      checkGradients(t, c.name, m, [inputs[0]], [sum], dOut, refOut)
    } else {
      checkGradients(t, c.name, m, inputs, [g.dq, g.dk, g.dv], dOut, refOut)
    }
  })
})

test('MultiheadAttention backwardSelf = dq + dk + dv, and the same parameter gradients as backward', (t) => {
  const make = () => { fv.manualSeed(5); return randomize(new nn.MultiheadAttention(E, 2, { batchFirst: true }), 3) }
  const a = make(); const b = make()
  const x = rand([2, 5, E], 1); const dOut = rand([2, 5, E], 2)
  a.forward(x, x, x, { isCausal: true }); b.forward(x, x, x, { isCausal: true })
  const g = a.backward(dOut)
  const dx = b.backwardSelf(dOut)
  assertClose(t, dx.data, fv.ops.add(fv.ops.add(g.dq, g.dk), g.dv).data, { rtol: 1e-5, atol: 1e-6, label: 'sum' })
  for (const [[name, p], [, q]] of a.namedParameters().map((e, i) => [e, b.namedParameters()[i]])) {
    assertBitIdentical(t, q.grad.data, p.grad.data, name)
  }
  b.forward(x, rand([2, 3, E], 4), rand([2, 3, E], 5))
  throwsLike(t, () => b.backwardSelf(dOut), RangeError, 'MultiheadAttention', 'backwardSelf')
})

test('MultiheadAttention needWeights=false returns null weights and the same out; per-head weights sum to one per row', (t) => {
  fv.manualSeed(2)
  const m = new nn.MultiheadAttention(E, 2)
  const x = rand([4, 3, E], 1)
  const a = m.forward(x, x, x)
  const b = m.forward(x, x, x, { needWeights: false })
  t.is(b.weights, null)
  assertBitIdentical(t, b.out.data, a.out.data, 'out')
  const w = m.forward(x, x, x, { averageAttnWeights: false }).weights
  t.deepEqual([...w.shape], [3, 2, 4, 4])
  for (let r = 0; r < 3 * 2 * 4; r++) {
    let s = 0
    for (let j = 0; j < 4; j++) s += w.data[r * 4 + j]
    t.true(Math.abs(s - 1) < 1e-5, `row ${r} sums to ${s}`)
  }
})

test('MultiheadAttention dropout in training: the kernel mask from the module seed, the same mask in backward; none in eval', (t) => {
  const c = { H: 2, B: 2, Lq: 4, Lk: 4, self: true, opts: { dropout: 0.3 } }
  const m = randomize(new nn.MultiheadAttention(E, 2, { dropout: 0.3 }), 9)
  const [x] = mhaInputs(c, 3)
  fv.manualSeed(77)
  const seed = seedStream.nextSeed()
  fv.manualSeed(77)
  const { out, weights } = m.forward(x, x, x)
  const refFn = (P, xs) => R.mha(P, { E, H: 2 }, xs[0], xs[0], xs[0], { dropout: 0.3, seed })
  const ref = refFn(R.paramsOf(m), [x])
  assertClose(t, out.data, ref.out, { ...FWD, label: 'out with dropout' })
  assertClose(t, weights.data, ref.weights, { ...FWD, label: 'weights are the pre-dropout probabilities' })
  const dOut = rand(out.shape, 4)
  const dx = m.backwardSelf(dOut)
  checkGradients(t, 'dropout', m, [x], [dx], dOut, (P, xs) => refFn(P, xs).out)
  fv.manualSeed(77)
  const again = m.forward(x, x, x).out
  assertBitIdentical(t, again.data, out.data, 'fv.manualSeed makes the mask reproducible')
  m.eval()
  const evalOut = m.forward(x, x, x).out
  assertClose(t, evalOut.data, R.mha(R.paramsOf(m), { E, H: 2 }, x, x, x).out, { ...FWD, label: 'eval: no dropout' })
})

test('MultiheadAttention Async = sync bit for bit (forward, backward, parameter gradients)', async (t) => {
  const make = () => randomize(new nn.MultiheadAttention(E, 4, { kdim: 6, vdim: 5, numKvHeads: 2, batchFirst: true }), 1)
  const a = make(); const b = make()
  const q = rand([2, 3, E], 1); const k = rand([2, 5, 6], 2); const v = rand([2, 5, 5], 3)
  const opts = { keyPaddingMask: Uint8Array.of(0, 0, 1, 0, 0, 0, 0, 0, 0, 1), isCausal: true }
  const s = a.forward(q, k, v, opts)
  const p = await b.forwardAsync(q, k, v, opts)
  assertBitIdentical(t, p.out.data, s.out.data, 'out')
  assertBitIdentical(t, p.weights.data, s.weights.data, 'weights')
  const dOut = rand([2, 3, E], 4)
  const gs = a.backward(dOut)
  const ga = await b.backwardAsync(dOut)
  for (const k of ['dq', 'dk', 'dv']) assertBitIdentical(t, ga[k].data, gs[k].data, k)
  b.namedParameters().forEach(([name, pb], i) => assertBitIdentical(t, pb.grad.data, a.namedParameters()[i][1].grad.data, name))
})

test('MultiheadAttention parameters: PyTorch names, shapes and init; GQA shapes; state-dict round trip', (t) => {
  const shapes = (m) => Object.entries(m.stateDict()).map(([k, v]) => [k, [...v.shape]])
  t.deepEqual(shapes(new nn.MultiheadAttention(8, 2)), [
    ['in_proj_weight', [24, 8]], ['in_proj_bias', [24]], ['out_proj.weight', [8, 8]], ['out_proj.bias', [8]]])
  t.deepEqual(shapes(new nn.MultiheadAttention(8, 2, { kdim: 6, vdim: 4, bias: false })), [
    ['q_proj_weight', [8, 8]], ['k_proj_weight', [8, 6]], ['v_proj_weight', [8, 4]], ['out_proj.weight', [8, 8]]])
  t.deepEqual(shapes(new nn.MultiheadAttention(8, 4, { numKvHeads: 1 })), [
    ['in_proj_weight', [12, 8]], ['in_proj_bias', [12]], ['out_proj.weight', [8, 8]], ['out_proj.bias', [8]]])
  t.deepEqual(shapes(new nn.MultiheadAttention(8, 4, { numKvHeads: 2, kdim: 3 })).slice(0, 3), [
    ['q_proj_weight', [8, 8]], ['k_proj_weight', [4, 3]], ['v_proj_weight', [4, 8]]])
  fv.manualSeed(1)
  const m = new nn.MultiheadAttention(64, 4)
  const w = m.in_proj_weight.value.data
  const bound = Math.sqrt(6 / (64 + 192))  // Xavier-uniform over [192, 64]
  t.true(w.every((v) => Math.abs(v) <= bound) && Math.max(...w.map(Math.abs)) > 0.9 * bound, 'in_proj_weight ~ U(±√(6/256))')
  t.true(m.in_proj_bias.value.data.every((v) => v === 0) && m.out_proj.bias.value.data.every((v) => v === 0), 'zero biases')
  // Round trip: a second module loaded from the first's state dict computes the same.
  const a = randomize(new nn.MultiheadAttention(8, 2, { kdim: 5 }), 3)
  const b = new nn.MultiheadAttention(8, 2, { kdim: 5 })
  b.loadStateDict(a.stateDict())
  const q = rand([3, 2, 8], 1); const k = rand([4, 2, 5], 2); const v = rand([4, 2, 8], 3)
  assertBitIdentical(t, b.forward(q, k, v).out.data, a.forward(q, k, v).out.data, 'round trip')
  throwsLike(t, () => b.loadStateDict(new nn.MultiheadAttention(8, 2).stateDict()), RangeError, 'loadStateDict', 'in_proj_weight', 'q_proj_weight')
})

test('MultiheadAttention bad arguments: TypeError/RangeError naming the class and the argument', async (t) => {
  const C = 'MultiheadAttention'
  throwsLike(t, () => new nn.MultiheadAttention(8, 3), RangeError, C, 'numHeads', 'divisor of embedDim=8')
  throwsLike(t, () => new nn.MultiheadAttention(8, 4, { numKvHeads: 3 }), RangeError, C, 'numKvHeads')
  throwsLike(t, () => new nn.MultiheadAttention('8', 2), TypeError, C, 'embedDim')
  throwsLike(t, () => new nn.MultiheadAttention(8, 2, { dropout: 1.5 }), RangeError, C, 'dropout')
  throwsLike(t, () => new nn.MultiheadAttention(8, 2, { batch_first: true }), TypeError, C, "unknown key 'batch_first'")
  const m = new nn.MultiheadAttention(8, 2)
  const x = rand([4, 2, 8], 1)
  throwsLike(t, () => m.forward(rand([4, 2, 6], 1), x, x), RangeError, C, 'query', '[L, B, E] with E=8', '[4,2,6]')
  throwsLike(t, () => m.forward(x, rand([4, 3, 8], 1), x), RangeError, C, 'key', 'B=2')
  throwsLike(t, () => m.forward(x, x, rand([5, 2, 8], 1)), RangeError, C, 'value', 'Lk=4')
  throwsLike(t, () => m.forward(x, x, [1, 2]), TypeError, C, 'value')
  throwsLike(t, () => m.forward(x, x, x, { keyPaddingMask: new Uint8Array(7) }), RangeError, C, 'keyPaddingMask', '8 elements')
  throwsLike(t, () => m.forward(x, x, x, { attnMask: rand([4, 5], 1) }), RangeError, C, 'attnMask', '[4, 4]')
  throwsLike(t, () => m.forward(x, x, x, { isCausal: 1 }), TypeError, C, 'isCausal')
  throwsLike(t, () => m.forward(x, x, x, { needWeight: false }), TypeError, C, "unknown key 'needWeight'")
  await rejectsLike(t, m.forwardAsync(x, x, rand([5, 2, 8], 1)), RangeError, C, 'value')
  const fresh = new nn.MultiheadAttention(8, 2)
  throwsLike(t, () => fresh.backward(x), Error, C, 'backward needs a forward first')
  fresh.eval()
  fresh.forward(x, x, x)
  throwsLike(t, () => fresh.backward(x), Error, C, 'backward needs a forward first')
})

test('MultiheadAttention memory: what it made for backward goes back by dispose; eval() forwards keep nothing', (t) => {
  // [B=2, L=64, E=128]: each activation is 64 KiB, a pool block lent to JS, so the pool counts it.
  const m = new nn.MultiheadAttention(128, 4, { batchFirst: true })
  const x = rand([2, 64, 128], 1); const dOut = rand([2, 64, 128], 2)
  const step = () => {
    const { out } = m.forward(x, x, x, { needWeights: false })
    const g = m.backward(dOut)
    fv.dispose([out, g])
  }
  step()
  const s0 = fv.poolStats().results
  for (let i = 0; i < 5; i++) step()
  const s1 = fv.poolStats().results
  t.true(s1.lent - s0.lent >= 5 * 12, `lent ${s1.lent - s0.lent}`)
  t.is(s1.byDispose - s0.byDispose, s1.lent - s0.lent, 'every block came back through dispose')
  m.eval()
  const e0 = fv.poolStats().results
  for (let i = 0; i < 3; i++) fv.dispose(m.forward(x, x, x, { needWeights: false }).out)
  const e1 = fv.poolStats().results
  t.is(e1.byDispose - e0.byDispose, e1.lent - e0.lent, 'eval forwards dispose their intermediates')
  // A forward that is never gone back through is released by the next one.
  m.train()
  const a0 = fv.poolStats().results
  m.forward(x, x, x, { needWeights: false }).out.dispose()
  fv.dispose(m.forward(x, x, x, { needWeights: false }).out)
  fv.dispose(m.backward(dOut))
  const a1 = fv.poolStats().results
  t.is(a1.byDispose - a0.byDispose, a1.lent - a0.lent, 'the abandoned cache was released by dispose')
  // The caller's tensors are never disposed.
  t.false(x.isDisposed); t.false(dOut.isDisposed)
})

// ---- TransformerEncoderLayer / TransformerEncoder -----------------------------------------

const LAYER_CASES = [
  { name: 'norm-last relu [L=4,B=2,E=8]', opts: { dimFeedforward: 12 }, shape: [4, 2, 8] },
  { name: 'norm-first gelu batchFirst [B=2,L=3,E=8] causal', opts: { dimFeedforward: 12, normFirst: true, activation: 'gelu', batchFirst: true }, shape: [2, 3, 8], fwd: { isCausal: true } },
  { name: 'norm-last gelu eps=1e-3, key padding + bool srcMask', opts: { dimFeedforward: 6, activation: 'gelu', layerNormEps: 1e-3 }, shape: [4, 2, 8],
    fwd: { srcKeyPaddingMask: Uint8Array.of(0, 0, 1, 0, 0, 0, 0, 1), srcMask: Uint8Array.of(0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0) } },
  { name: 'norm-first relu bias=false', opts: { dimFeedforward: 10, normFirst: true, bias: false }, shape: [3, 2, 8] }
]

function layerCfg (o) {
  return { E, H: 2, F: o.dimFeedforward, activation: o.activation ?? 'relu', normFirst: o.normFirst, batchFirst: o.batchFirst, eps: o.layerNormEps, bias: o.bias }
}

LAYER_CASES.forEach((c, ci) => {
  test(`TransformerEncoderLayer ${c.name} (eval, grad): forward = float64 reference; dx and every parameter gradient = finite differences`, (t) => {
    fv.manualSeed(ci)
    const m = randomize(new nn.TransformerEncoderLayer(E, 2, { dropout: 0.2, ...c.opts }), 50 * ci).eval({ grad: true })
    const x = rand(c.shape, ci + 1)
    const y = m.forward(x, c.fwd)
    const ref = (P, xs) => R.encoderLayer(P, layerCfg(c.opts), xs[0], c.fwd)
    assertClose(t, y.data, ref(R.paramsOf(m), [x]), { ...FWD, label: 'forward' })
    const dy = rand(c.shape, ci + 2)
    const dx = m.backward(dy)
    checkGradients(t, c.name, m, [x], [dx], dy, ref)
  })
})

// Serial: the Async forward awaits between its dropout draws, and other tests would draw from the same global stream meanwhile.
test.serial('TransformerEncoderLayer: PyTorch child names; training dropout reproducible by seed; Async = sync', async (t) => {
  const m = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 })
  t.deepEqual([...m.namedChildren()].map(([k]) => k), ['self_attn', 'linear1', 'dropout', 'linear2', 'norm1', 'norm2', 'dropout1', 'dropout2'])
  t.deepEqual(Object.keys(m.stateDict()), ['self_attn.in_proj_weight', 'self_attn.in_proj_bias', 'self_attn.out_proj.weight',
    'self_attn.out_proj.bias', 'linear1.weight', 'linear1.bias', 'linear2.weight', 'linear2.bias', 'norm1.weight', 'norm1.bias',
    'norm2.weight', 'norm2.bias'])
  const x = rand([5, 2, 8], 1); const dy = rand([5, 2, 8], 2)
  const make = () => { const l = randomize(new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, normFirst: true }), 4); return l }
  const a = make(); const b = make()
  fv.manualSeed(3)
  const ya = a.forward(x)
  const dxa = a.backward(dy)
  fv.manualSeed(3)
  const yb = await b.forwardAsync(x)
  const dxb = await b.backwardAsync(dy)
  assertBitIdentical(t, yb.data, ya.data, 'forward (dropout 0.1 in training, same seed)')
  assertBitIdentical(t, dxb.data, dxa.data, 'dx')
  b.namedParameters().forEach(([name, p], i) => assertBitIdentical(t, p.grad.data, a.namedParameters()[i][1].grad.data, name))
  a.eval()
  const ye = a.forward(x)
  assertClose(t, ye.data, R.encoderLayer(R.paramsOf(a), layerCfg({ dimFeedforward: 16, normFirst: true }), x), { ...FWD, label: 'eval: dropout off' })
  t.notDeepEqual(Array.from(ya.data), Array.from(ye.data))
})

test('TransformerEncoderLayer bad arguments name the class and the argument', (t) => {
  const C = 'TransformerEncoderLayer'
  throwsLike(t, () => new nn.TransformerEncoderLayer(8, 3), RangeError, 'MultiheadAttention', 'numHeads')
  throwsLike(t, () => new nn.TransformerEncoderLayer(8, 2, { activation: 'tanh' }), RangeError, C, 'activation', "'relu' or 'gelu'")
  throwsLike(t, () => new nn.TransformerEncoderLayer(8, 2, { dim_feedforward: 4 }), TypeError, C, "unknown key 'dim_feedforward'")
  throwsLike(t, () => new nn.TransformerEncoderLayer(8, 2, { dropout: -0.1 }), RangeError, C, 'dropout')
  const m = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 4 })
  throwsLike(t, () => m.forward(rand([3, 2, 8], 1), { mask: null }), TypeError, C, "unknown key 'mask'")
  throwsLike(t, () => m.forward(rand([3, 2, 7], 1)), RangeError, 'MultiheadAttention', 'query')
  throwsLike(t, () => m.backward(rand([3, 2, 8], 1)), Error, C, 'backward needs a forward first')
  throwsLike(t, () => new nn.TransformerEncoder(new nn.Linear(2, 2), 2), TypeError, 'TransformerEncoder', 'encoderLayer')
  throwsLike(t, () => new nn.TransformerEncoder(m, 0), RangeError, 'TransformerEncoder', 'numLayers')
})

test('TransformerEncoder: layers.0…layers.N−1 are independent deep copies; forward/backward = the layers chained, + norm', (t) => {
  fv.manualSeed(4)
  const layer = randomize(new nn.TransformerEncoderLayer(E, 2, { dimFeedforward: 12, batchFirst: true }), 8)
  const enc = new nn.TransformerEncoder(layer, 2, { norm: new nn.LayerNorm(E) })
  t.deepEqual(Object.keys(enc.stateDict()).filter((k) => !k.startsWith('layers.')), ['norm.weight', 'norm.bias'])
  t.true(Object.keys(enc.stateDict()).includes('layers.1.self_attn.in_proj_weight'))
  assertBitIdentical(t, enc.layers[1].linear1.weight.value.data, layer.linear1.weight.value.data, 'a copy of the layer')
  t.not(enc.layers[0].linear1.weight.value.data, enc.layers[1].linear1.weight.value.data)
  randomize(enc, 30).eval({ grad: true })
  nn.init.uniform_(enc.norm.weight, 0.5, 1.5)
  t.false(layer.linear1.weight.value.data[0] === enc.layers[0].linear1.weight.value.data[0], 'the original layer is not part of the encoder')
  const x = rand([2, 4, E], 1)
  const mask = Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 0)
  const y = enc.forward(x, { srcKeyPaddingMask: mask })
  const cfg = layerCfg({ dimFeedforward: 12, batchFirst: true })
  const ref = (P, xs) => {
    let h = xs[0]
    for (const i of [0, 1]) h = { data: R.encoderLayer(P, cfg, h, { srcKeyPaddingMask: mask }, `layers.${i}.`), shape: xs[0].shape }
    return R.layerNorm(h.data, E, P('norm.weight'), P('norm.bias'), 1e-5)
  }
  assertClose(t, y.data, ref(R.paramsOf(enc), [x]), { ...FWD, label: 'forward' })
  const dy = rand(y.shape, 2)
  checkGradients(t, 'encoder', enc, [x], [enc.backward(dy)], dy, ref)
})

test('TransformerEncoder memory: a training step gives back every block it took, through dispose', (t) => {
  const enc = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(128, 4, { dimFeedforward: 256, batchFirst: true }), 2)
  const x = rand([2, 64, 128], 1); const dy = rand([2, 64, 128], 2)
  const step = () => { enc.forward(x).dispose(); enc.backward(dy).dispose() }
  step()
  const s0 = fv.poolStats().results
  for (let i = 0; i < 3; i++) step()
  const s1 = fv.poolStats().results
  t.true(s1.lent - s0.lent >= 3 * 20, `lent ${s1.lent - s0.lent}`)
  t.is(s1.byDispose - s0.byDispose, s1.lent - s0.lent)
  t.false(x.isDisposed); t.false(dy.isDisposed)
})

test('forward inside tidy(), backward outside: MultiheadAttention and the encoder keep what backward needs', (t) => {
  const x = rand([3, 2, 8], 1); const dy = rand([3, 2, 8], 2)
  for (const make of [() => new nn.MultiheadAttention(8, 2), () => new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 8, dropout: 0 }),
    () => new nn.TransformerEncoder(new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 8, normFirst: true }), 2).eval({ grad: true })]) {
    const a = randomize(make(), 2); const b = randomize(make(), 2)
    const run = (m) => m instanceof nn.MultiheadAttention ? m.forward(x, x, x).out : m.forward(x)
    const back = (m) => m instanceof nn.MultiheadAttention ? m.backwardSelf(dy) : m.backward(dy)
    const y = fv.tidy(() => run(a))
    assertBitIdentical(t, y.data, run(b).data, `${a.constructor.name} out`)
    assertBitIdentical(t, back(a).data, back(b).data, `${a.constructor.name} dx`)
  }
})
