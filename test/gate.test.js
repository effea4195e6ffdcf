'use strict'
// The gate family — spatialGate (x·σ(conv1x1 ⊙ conv1x1')) and channelPool ([mean_c, max_c])
// with their backwards — against the float64 reference in test/reference/gate.js.
const test = require('ava')
const fv = require('./helpers/fv')
const ref = require('./reference/gate')
const { assertDeterministic, forEachIsa } = require('./helpers/determinism')
const { rand } = require('./helpers/random')
const { assertClose, assertBitIdentical, numericGrad, dot } = require('./helpers/check')

const sh = (s) => `[${s.join(',')}]`

/** Inputs of a spatial gate on x [N,C,H,W]; weights ~ 1/√C so a and b stay O(1). */
function gateInputs ([N, C, H, W], seed, wShape = 'conv') {
  const k = 1.5 / Math.sqrt(Math.max(C, 1))
  const ws = wShape === 'conv' ? [1, C, 1, 1] : [C]
  return {
    x: rand([N, C, H, W], seed, -1, 1),
    wa: rand(ws, seed + 1, -k, k),
    ba: rand([1], seed + 2, -0.5, 0.5),
    wb: rand(ws, seed + 3, -k, k),
    bb: rand([1], seed + 4, -0.5, 0.5),
    dOut: rand([N, C, H, W], seed + 5, -1, 1)
  }
}
const refArgs = (g, [N, C, H, W]) => [N, C, H * W, g.wa.data, g.ba.data, g.wb.data, g.bb.data]

// Shapes: single pixel and channel, odd W (vector tails), C = 1, wide C (one group per
// task), many tasks.
const SHAPES = [[1, 1, 1, 1], [2, 3, 5, 7], [2, 16, 8, 8], [3, 5, 1, 37], [4, 1, 3, 3], [1, 64, 14, 14], [2, 256, 7, 7], [1, 3, 33, 65], [2, 8, 56, 56]]

for (const shape of SHAPES) {
  const [N, C, H, W] = shape
  const wShape = C % 2 ? 'vector' : 'conv'
  test(`spatialGate x=${sh(shape)} w=${wShape === 'conv' ? `[1,${C},1,1]` : `[${C}]`} matches the float64 reference`, (t) => {
    const g = gateInputs(shape, N * C + H * W, wShape)
    const r = fv.ops.spatialGate(g.x, g.wa, g.ba, g.wb, g.bb)
    t.deepEqual(r.out.shape, shape); t.deepEqual(r.gate.shape, [N, 1, H, W])
    const e = ref.spatialGate(g.x.data, ...refArgs(g, shape))
    assertClose(t, r.gate.data, e.gate, { rtol: 1e-5, atol: 1e-6, label: 'gate' })
    assertClose(t, r.out.data, e.out, { rtol: 1e-5, atol: 1e-6, label: 'out' })
  })
  test(`spatialGateBackward x=${sh(shape)} matches the float64 reference, with and without the forward's gate`, (t) => {
    const g = gateInputs(shape, N * C + H * W + 1, wShape)
    const { gate } = fv.ops.spatialGate(g.x, g.wa, g.ba, g.wb, g.bb)
    const r = fv.ops.spatialGateBackward(g.dOut, g.x, g.wa, g.ba, g.wb, g.bb)
    const e = ref.spatialGateBackward(g.dOut.data, g.x.data, ...refArgs(g, shape))
    t.deepEqual(r.dx.shape, shape); t.deepEqual(r.dwa.shape, g.wa.shape); t.deepEqual(r.dba.shape, [1])
    assertClose(t, r.dx, e.dx, { rtol: 1e-5, atol: 1e-6, label: 'dx' })
    // Sums over N·H·W pixels of products of O(1) terms, in float within a task.
    const tol = { rtol: 1e-4, atol: 2e-6 * Math.sqrt(N * H * W) }
    assertClose(t, r.dwa, e.dwa, { ...tol, label: 'dwa' }); assertClose(t, r.dwb, e.dwb, { ...tol, label: 'dwb' })
    assertClose(t, r.dba, e.dba, { ...tol, label: 'dba' }); assertClose(t, r.dbb, e.dbb, { ...tol, label: 'dbb' })
    const withGate = fv.ops.spatialGateBackward(g.dOut, g.x, g.wa, g.ba, g.wb, g.bb, gate)
    for (const k of ['dx', 'dwa', 'dba', 'dwb', 'dbb']) assertBitIdentical(t, withGate[k], r[k], `${k} with the gate given`)
  })
  test(`channelPool x=${sh(shape)} and its backward match the float64 reference`, (t) => {
    const x = rand(shape, N + C + H + W, -2, 2)
    const y = fv.ops.channelPool(x)
    t.deepEqual(y.shape, [N, 2, H, W])
    assertClose(t, y, ref.channelPool(x.data, N, C, H * W), { rtol: 1e-6, atol: 1e-7, label: 'y' })
    const dy = rand([N, 2, H, W], 7)
    const dx = fv.ops.channelPoolBackward(dy, x)
    t.deepEqual(dx.shape, shape)
    assertClose(t, dx, ref.channelPoolBackward(dy.data, x.data, N, C, H * W), { rtol: 1e-6, atol: 1e-7, label: 'dx' })
  })
}

test('spatialGate x=[2,3,4,5]: gradients match finite differences', (t) => {
  const shape = [2, 3, 4, 5]
  const g = gateInputs(shape, 11)
  const r = fv.ops.spatialGateBackward(g.dOut, g.x, g.wa, g.ba, g.wb, g.bb)
  const L = (over) => (v) => {
    const a = { x: g.x.data, wa: g.wa.data, ba: g.ba.data, wb: g.wb.data, bb: g.bb.data, [over]: v }
    return dot(ref.spatialGate(a.x, 2, 3, 20, a.wa, a.ba, a.wb, a.bb).out, g.dOut.data)
  }
  const tol = { rtol: 1e-3, atol: 1e-5 }
  assertClose(t, r.dx, numericGrad(L('x'), g.x.data), { ...tol, label: 'dx' })
  assertClose(t, r.dwa, numericGrad(L('wa'), g.wa.data), { ...tol, label: 'dwa' })
  assertClose(t, r.dba, numericGrad(L('ba'), g.ba.data), { ...tol, label: 'dba' })
  assertClose(t, r.dwb, numericGrad(L('wb'), g.wb.data), { ...tol, label: 'dwb' })
  assertClose(t, r.dbb, numericGrad(L('bb'), g.bb.data), { ...tol, label: 'dbb' })
})

test('channelPool x=[2,4,3,5]: gradient matches finite differences', (t) => {
  // Seed 5: the top two channels of every pixel are ≥ 0.1 apart, far wider than the step.
  const x = rand([2, 4, 3, 5], 5, -2, 2); const dy = rand([2, 2, 3, 5], 4)
  const dx = fv.ops.channelPoolBackward(dy, x)
  assertClose(t, dx, numericGrad((v) => dot(ref.channelPool(v, 2, 4, 15), dy.data), x.data), { rtol: 1e-4, atol: 1e-6, label: 'dx' })
})

test('channelPool ties and NaN: the max gradient goes to the first maximal channel (the first NaN), as PyTorch', (t) => {
  // x [1, 4, 1, 5]: per pixel, channels (c0..c3)
  const cols = [[1, 3, 3, 0], [2, 2, 2, 2], [-Infinity, -Infinity, -Infinity, -Infinity], [0, NaN, 5, NaN], [-1, -0.5, -0.5, -2]]
  const x = fv.tensor(new Float32Array(20), [1, 4, 1, 5])
  cols.forEach((col, p) => col.forEach((v, c) => { x.data[c * 5 + p] = v }))
  const y = fv.ops.channelPool(x)
  t.deepEqual(Array.from(y.data.subarray(5)), [3, 2, -Infinity, NaN, -0.5])
  const dy = fv.tensor(Float32Array.from([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]), [1, 2, 1, 5])
  const dx = fv.ops.channelPoolBackward(dy, x)
  const firstMax = [1, 0, 0, 1, 1]
  cols.forEach((col, p) => col.forEach((_, c) => t.is(dx.data[c * 5 + p], c === firstMax[p] ? 1 : 0, `pixel ${p} channel ${c}`)))
})

test('gates write into out (accumulate adds); Async equals sync bit for bit', async (t) => {
  const shape = [2, 24, 9, 11]
  const g = gateInputs(shape, 3)
  const r = fv.ops.spatialGate(g.x, g.wa, g.ba, g.wb, g.bb)
  const out = { out: fv.tensor(new Float32Array(r.out.size), shape), gate: fv.tensor(new Float32Array(r.gate.size), [2, 1, 9, 11]) }
  const r2 = fv.ops.spatialGate(g.x, g.wa, g.ba, g.wb, g.bb, { out })
  t.is(r2.out, out.out); t.is(r2.gate, out.gate)
  assertBitIdentical(t, out.out, r.out, 'out'); assertBitIdentical(t, out.gate, r.gate, 'gate')
  const ra = await fv.ops.spatialGateAsync(g.x, g.wa, g.ba, g.wb, g.bb)
  assertBitIdentical(t, ra.out, r.out, 'async out'); assertBitIdentical(t, ra.gate, r.gate, 'async gate')

  const gr = fv.ops.spatialGateBackward(g.dOut, g.x, g.wa, g.ba, g.wb, g.bb, r.gate)
  const ga = await fv.ops.spatialGateBackwardAsync(g.dOut, g.x, g.wa, g.ba, g.wb, g.bb, r.gate)
  const acc = {}
  for (const k of ['dx', 'dwa', 'dba', 'dwb', 'dbb']) {
    assertBitIdentical(t, ga[k], gr[k], `async ${k}`)
    acc[k] = fv.tensor(new Float32Array(gr[k].size).fill(0.5), gr[k].shape)
  }
  const gacc = fv.ops.spatialGateBackward(g.dOut, g.x, g.wa, g.ba, g.wb, g.bb, r.gate, { out: acc, accumulate: true })
  for (const k of ['dx', 'dwa', 'dba', 'dwb', 'dbb']) {
    t.is(gacc[k], acc[k])
    assertBitIdentical(t, acc[k], gr[k].data.map((v) => 0.5 + v), `accumulated ${k}`)
  }

  const y = fv.ops.channelPool(g.x)
  const yOut = fv.tensor(new Float32Array(y.size), y.shape)
  t.is(fv.ops.channelPool(g.x, { out: yOut }), yOut)
  assertBitIdentical(t, yOut, y, 'channelPool out')
  assertBitIdentical(t, await fv.ops.channelPoolAsync(g.x), y, 'channelPool async')
  const dy = rand(y.shape, 9)
  const dx = fv.ops.channelPoolBackward(dy, g.x)
  assertBitIdentical(t, await fv.ops.channelPoolBackwardAsync(dy, g.x), dx, 'channelPoolBackward async')
  const dxAcc = fv.tensor(new Float32Array(dx.size).fill(-1), shape)
  fv.ops.channelPoolBackward(dy, g.x, { out: dxAcc, accumulate: true })
  assertBitIdentical(t, dxAcc, dx.data.map((v) => -1 + v), 'channelPoolBackward accumulated')
})

test('gates are bit-identical across runs and thread counts', (t) => {
  // Many tasks and chunks for the weight gradients: [8,32,56,56] in register groups,
  // [3,300,20,20] in blocks.
  const a = gateInputs([8, 32, 56, 56], 1); const b = gateInputs([3, 300, 20, 20], 2, 'vector')
  const run = () => {
    const res = []
    for (const g of [a, b]) {
      const f = fv.ops.spatialGate(g.x, g.wa, g.ba, g.wb, g.bb)
      const d = fv.ops.spatialGateBackward(g.dOut, g.x, g.wa, g.ba, g.wb, g.bb)
      const y = fv.ops.channelPool(g.x)
      res.push(f.out, f.gate, d.dx, d.dwa, d.dba, d.dwb, d.dbb, y, fv.ops.channelPoolBackward(y, g.x))
    }
    return res
  }
  assertDeterministic(t, run)
})

test.serial('gates: every ISA variant this CPU supports matches the reference', (t) => {
  // C = 13: the backward's register groups; C = 80: its blocks.
  for (const shape of [[2, 13, 5, 19], [1, 80, 3, 37]]) {
    const [N, C, H, W] = shape
    const g = gateInputs(shape, 5, 'vector')
    const e = ref.spatialGate(g.x.data, ...refArgs(g, shape))
    const eb = ref.spatialGateBackward(g.dOut.data, g.x.data, ...refArgs(g, shape))
    const dy = rand([N, 2, H, W], 6)
    forEachIsa((isa) => {
      const l = `${isa} x=${sh(shape)}`
      const r = fv.ops.spatialGate(g.x, g.wa, g.ba, g.wb, g.bb)
      assertClose(t, r.out, e.out, { rtol: 1e-5, atol: 1e-6, label: `${l} spatialGate out` })
      assertClose(t, r.gate, e.gate, { rtol: 1e-5, atol: 1e-6, label: `${l} spatialGate gate` })
      const d = fv.ops.spatialGateBackward(g.dOut, g.x, g.wa, g.ba, g.wb, g.bb)
      assertClose(t, d.dx, eb.dx, { rtol: 1e-5, atol: 1e-6, label: `${l} dx` })
      for (const k of ['dwa', 'dba', 'dwb', 'dbb']) assertClose(t, d[k], eb[k], { rtol: 1e-4, atol: 2e-5, label: `${l} ${k}` })
      assertClose(t, fv.ops.channelPool(g.x), ref.channelPool(g.x.data, N, C, H * W), { rtol: 1e-6, atol: 1e-7, label: `${l} channelPool` })
      assertClose(t, fv.ops.channelPoolBackward(dy, g.x), ref.channelPoolBackward(dy.data, g.x.data, N, C, H * W), { rtol: 1e-6, atol: 1e-7, label: `${l} channelPoolBackward` })
    })
  }
})

test('gates reject bad input with TypeError / RangeError naming the op and argument', (t) => {
  const g = gateInputs([2, 3, 4, 5], 1)
  const sg = (o) => () => fv.ops.spatialGate(o.x ?? g.x, o.wa ?? g.wa, o.ba ?? g.ba, o.wb ?? g.wb, o.bb ?? g.bb, o.opts)
  t.throws(sg({ x: rand([2, 3, 20], 1) }), { instanceOf: RangeError, message: 'spatialGate: x must be [N,C,H,W] (rank 4), got [2,3,20]' })
  t.throws(sg({ x: new Float32Array(120) }), { instanceOf: TypeError, message: /^spatialGate: x must be a tensor/ })
  t.throws(sg({ wa: rand([1, 4, 1, 1], 1) }), { instanceOf: RangeError, message: 'spatialGate: wa must be [1,3,1,1] or [3] (C of x), got [1,4,1,1]' })
  t.throws(sg({ wb: rand([3, 1], 1) }), { instanceOf: RangeError, message: /^spatialGate: wb must be \[1,3,1,1\] or \[3\]/ })
  t.throws(sg({ ba: rand([2], 1) }), { instanceOf: RangeError, message: 'spatialGate: ba must be [1] (one bias), got [2]' })
  t.throws(sg({ bb: 0.5 }), { instanceOf: TypeError, message: /^spatialGate: bb must be a tensor/ })
  t.throws(sg({ opts: { gate: g.x } }), { instanceOf: TypeError, message: /^spatialGate: options must be an object with keys among out/ })
  t.throws(sg({ opts: { out: g.x } }), { instanceOf: TypeError, message: /^spatialGate: out must be an object \{ out\?, gate\? \}, got unknown key/ })
  t.throws(sg({ opts: { out: { out: rand([2, 3, 5, 4], 1) } } }), { instanceOf: RangeError, message: 'spatialGate: out.out.shape must be [2,3,4,5], got [2,3,5,4]' })
  t.throws(sg({ opts: { out: { out: g.x } } }), { instanceOf: RangeError, message: /^spatialGate: out.out must be memory not shared with x/ })
  const shared = new Float32Array(120)
  t.throws(sg({ opts: { out: { out: fv.tensor(shared, [2, 3, 4, 5]), gate: fv.tensor(shared.subarray(0, 40), [2, 1, 4, 5]) } } }), { instanceOf: RangeError, message: /^spatialGate: out.gate must be memory not shared with out.out/ })
  const sgb = (o) => () => fv.ops.spatialGateBackward(o.dOut ?? g.dOut, g.x, g.wa, g.ba, g.wb, g.bb, o.gate, o.opts)
  t.throws(sgb({ dOut: rand([2, 3, 4, 4], 1) }), { instanceOf: RangeError, message: 'spatialGateBackward: dOut must be [2,3,4,5] (the shape of x), got [2,3,4,4]' })
  t.throws(sgb({ gate: rand([2, 3, 4, 5], 1) }), { instanceOf: RangeError, message: "spatialGateBackward: gate must be [2,1,4,5] (spatialGate's gate for x), got [2,3,4,5]" })
  t.throws(sgb({ opts: { accumulate: true, out: { dx: rand([2, 3, 4, 5], 1) } } }), { instanceOf: RangeError, message: /^spatialGateBackward: out must be all of dx, dwa, dba, dwb and dbb when accumulate is true/ })
  t.throws(sgb({ opts: { out: { dwa: rand([3], 1) } } }), { instanceOf: RangeError, message: 'spatialGateBackward: out.dwa.shape must be [1,3,1,1], got [3]' })
  t.throws(sgb({ opts: { out: { dw: rand([3], 1) } } }), { instanceOf: TypeError, message: /^spatialGateBackward: out must be an object \{ dx\?, dwa\?, dba\?, dwb\?, dbb\? \}, got unknown key 'dw'/ })
  t.throws(() => fv.ops.channelPool(rand([2, 0, 3, 3], 1)), { instanceOf: RangeError, message: /^channelPool: x must be \[N,C,H,W\] with C ≥ 1/ })
  t.throws(() => fv.ops.channelPool(rand([2, 3, 3], 1)), { instanceOf: RangeError, message: 'channelPool: x must be [N,C,H,W] (rank 4), got [2,3,3]' })
  t.throws(() => fv.ops.channelPool(g.x, { out: rand([2, 1, 4, 5], 1) }), { instanceOf: RangeError, message: 'channelPool: out.shape must be [2,2,4,5], got [2,1,4,5]' })
  t.throws(() => fv.ops.channelPoolBackward(rand([2, 1, 4, 5], 1), g.x), { instanceOf: RangeError, message: "channelPoolBackward: dy must be [2,2,4,5] (channelPool's result for x), got [2,1,4,5]" })
  t.throws(() => fv.ops.channelPoolBackward(rand([2, 2, 4, 5], 1), g.x, { accumulate: true }), { instanceOf: RangeError, message: /^channelPoolBackward: out must be a tensor when accumulate is true/ })
  // The native re-check: nothing a caller passes straight to the binding can crash it.
  const { binding } = require('../dist/native')
  const f = (n) => new Float32Array(n)
  t.throws(() => binding.spatialGate(f(120), f(3), f(1), f(3), f(1), null, null, 2, 3, 21), { instanceOf: RangeError, message: /spatialGate: x must have 126 elements/ })
  t.throws(() => binding.spatialGate(f(120), f(2), f(1), f(3), f(1), null, null, 2, 3, 20), { instanceOf: RangeError, message: /spatialGate: wa must have 3 elements/ })
  t.throws(() => binding.spatialGate(f(120), f(3), f(2), f(3), f(1), null, null, 2, 3, 20), { instanceOf: RangeError, message: /spatialGate: ba must have 1 elements/ })
  t.throws(() => binding.spatialGate(f(120), f(3), f(1), f(3), f(1), null, f(39), 2, 3, 20), { instanceOf: RangeError, message: /spatialGate: out.gate must have 40 elements/ })
  t.throws(() => binding.spatialGate(f(120), f(3), f(1), f(3), new Int32Array(1), null, null, 2, 3, 20), { instanceOf: TypeError, message: /spatialGate: bb must be a Float32Array/ })
  t.throws(() => binding.spatialGate(f(0), f(2 ** 20), f(1), f(2 ** 20), f(1), null, null, 2 ** 30, 2 ** 20, 2 ** 20), { instanceOf: RangeError })
  t.throws(() => binding.spatialGateBackward(f(120), f(120), f(3), f(1), f(3), f(1), f(41), null, null, null, null, null, 2, 3, 20, false), { instanceOf: RangeError, message: /spatialGateBackward: gate must have 40 elements/ })
  t.throws(() => binding.spatialGateBackward(f(120), f(120), f(3), f(1), f(3), f(1), null, f(120), null, null, null, null, 2, 3, 20, true), { instanceOf: RangeError, message: /spatialGateBackward: accumulate needs every out/ })
  t.throws(() => binding.channelPool(f(0), null, 2, 0, 20), { instanceOf: RangeError, message: /channelPool: C must be an integer from 1/ })
  t.throws(() => binding.channelPoolBackward(f(79), f(120), null, 2, 3, 20, false), { instanceOf: RangeError, message: /channelPoolBackward: dy must have 80 elements/ })
  t.throws(() => binding.channelPoolBackward(f(80), f(120), null, 2, 3, 20, true), { instanceOf: RangeError, message: /channelPoolBackward: accumulate needs out/ })
})

test('gates on empty tensors: N, H or W of 0, spatialGate with C = 0', (t) => {
  for (const shape of [[0, 3, 4, 5], [2, 3, 0, 5], [2, 3, 4, 0]]) {
    const g = gateInputs(shape, 1)
    const r = fv.ops.spatialGate(g.x, g.wa, g.ba, g.wb, g.bb)
    t.is(r.out.size, 0)
    const d = fv.ops.spatialGateBackward(g.dOut, g.x, g.wa, g.ba, g.wb, g.bb)
    t.deepEqual(Array.from(d.dwa.data), [0, 0, 0]); t.deepEqual(Array.from(d.dba.data), [0])
    t.is(fv.ops.channelPool(g.x).size, 0)
  }
  const g = gateInputs([2, 0, 2, 3], 1)
  const r = fv.ops.spatialGate(g.x, g.wa, g.ba, g.wb, g.bb)
  const s = 1 / (1 + Math.exp(-g.ba.data[0] * g.bb.data[0]))
  assertClose(t, r.gate, new Float64Array(12).fill(s), { rtol: 1e-6, label: 'gate = σ(ba·bb)' })
})
