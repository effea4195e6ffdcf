'use strict'
// Numbers at the edge: huge (±1e30, 1e36) and tiny (1e-30, subnormal) magnitudes, rows
// that are all masked, a single key. Where the contract promises a number the result must
// be that number (the float64 reference, rounded to float32) and never NaN; each case runs
// on every ISA level this CPU supports.
const test = require('ava')
const fv = require('./helpers/fv')
const { assertClose } = require('./helpers/check')
const { forEachIsa } = require('./helpers/determinism')
const { rand } = require('./helpers/random')
const { noNaN } = require('./helpers/attention')
const sref = require('./reference/softmax')
const lref = require('./reference/loss')
const nref = require('./reference/norm')
const aref = require('./reference/attention')

const f32 = (a) => Float32Array.from(a)  // the float64 reference rounded as the result is
const maxAbs = (a) => { let m = 0; for (const v of a) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v)); return m }

// Rows for the softmax family, padded to length L with −1e30 (or −Infinity for the
// all −Infinity row) so both the vector body and the ragged tail see them.
const ROWS = [
  ['±1e30 and small', [1e30, -1e30, 0, 5]],
  ['all −1e30', [-1e30, -1e30, -1e30, -1e30]],
  ['all +1e30', [1e30, 1e30, 1e30, 1e30]],
  ['±3e38', [3e38, -3e38, 1, 2]],
  ['tiny and subnormal', [1e-30, -1e-30, 1e-45, 0]],
  ['all −Infinity', [-Infinity, -Infinity, -Infinity, -Infinity]],
  ['−Infinity beside ±1e30', [-Infinity, 1e30, -Infinity, -1e30]],
  ['all −3.4e38', [-3.4e38, -3.4e38, -3.4e38, -3.4e38]]
]
function softmaxInput (L) {
  const x = new Float32Array(ROWS.length * L)
  ROWS.forEach(([, r], i) => {
    for (let j = 0; j < L; j++) x[i * L + j] = j < r.length ? r[j] : (r[0] === -Infinity ? -Infinity : -1e30)
  })
  return fv.tensor(x, [ROWS.length, L])
}

test.serial('softmax / logSoftmax and their backwards of ±1e30, ±3e38, tiny, all −1e30 and all −Infinity rows match the reference on every ISA', (t) => {
  forEachIsa((isa) => {
    for (const L of [4, 33]) {
      const x = softmaxInput(L); const n = ROWS.length
      const dy = fv.tensor(Float32Array.from({ length: n * L }, (_, i) => Math.sin(i)), x.shape)
      for (const op of ['softmax', 'logSoftmax']) {
        const log = op === 'logSoftmax'
        const y = fv.ops[op](x)
        t.true(noNaN(y.data), `${isa} ${op} L=${L}: no NaN`)
        assertClose(t, y.data, f32(sref.softmax(x.data, n, L, 1, log)), { label: `${isa} ${op} L=${L}` })
        const dx = fv.ops[op + 'Backward'](dy, y)
        t.true(noNaN(dx.data), `${isa} ${op}Backward L=${L}: no NaN`)
        assertClose(t, dx.data, f32(sref.softmaxBackward(dy.data, y.data, n, L, 1, log)), { label: `${isa} ${op}Backward L=${L}` })
        // The same rows along axis 0 (strided slices).
        assertClose(t, fv.ops[op](x, 0).data, f32(sref.softmax(x.data, 1, n, L, log)), { label: `${isa} ${op} axis 0 L=${L}` })
      }
    }
  })
})

test.serial('crossEntropy and its backward of logits ±1e30 and ±3e38 (the label at −1e30: loss 2e30) match the reference on every ISA', (t) => {
  const N = 5; const C = 9
  const x = rand([N, C], 1, -3, 3)
  x.data[0] = 1e30; x.data[1] = -1e30                       // row 0: label 1 sits at −1e30
  for (let c = 0; c < C; c++) x.data[C + c] = -1e30          // row 1: all −1e30 (uniform)
  x.data[2 * C + 3] = -1e30; x.data[2 * C + 4] = 1e-30        // row 2: label 3 at −1e30
  for (let c = 0; c < C; c++) x.data[3 * C + c] = 1e30 * (c % 2 ? 1 : -1)  // row 3: alternating
  for (let c = 0; c < C; c++) x.data[4 * C + c] = c === 0 ? 3e38 : c === 1 ? -3e38 : c  // row 4: gaps of 6e38, a finite loss
  const labels = Int32Array.of(1, 5, 3, 0, 4)
  forEachIsa((isa) => {
    for (const labelSmoothing of [0, 0.1]) {
      for (const reduction of ['none', 'mean', 'sum']) {
        const o = { reduction, labelSmoothing }
        const label = `${isa} ${reduction} labelSmoothing=${labelSmoothing}`
        const loss = fv.ops.crossEntropy(x, labels, o)
        t.true(noNaN(loss.data), `${label}: no NaN`)
        assertClose(t, loss.data, f32(lref.crossEntropy(x.data, labels, N, C, o)), { label: `${label} loss` })
        const dy = reduction === 'none' ? fv.tensor(Float32Array.of(1, -2, 0.5, 3, 0.25), [N]) : 1.5
        const g = fv.ops.crossEntropyBackward(dy, x, labels, o)
        const e = lref.crossEntropyBackward(reduction === 'none' ? dy.data : [dy], x.data, labels, N, C, o)
        assertClose(t, g.data, f32(e), { label: `${label} dx` })
      }
    }
  })
})

// Data of one magnitude, spread as sin, with one constant row/channel.
function spread (n, mag, seed) { return Float32Array.from({ length: n }, (_, i) => mag * Math.sin(i * 1.3 + seed)) }
// dx of a norm at magnitude m is of order 1/m: compare it normwise against its own scale.
const gradTol = (e) => ({ rtol: 1e-3, atol: 1e-4 * maxAbs(e) })

test.serial('layerNorm / groupNorm and their backwards at magnitudes 1e-30 … 1e36 match the reference on every ISA (they gave 0 past 1.8e19)', (t) => {
  const rows = 3
  forEachIsa((isa) => {
    for (const D of [5, 40]) {
      for (const mag of [1e-30, 1e20, 1e30, 1e36]) {
        const x = fv.tensor(spread(rows * D, mag, 0.2), [rows, D])
        x.data.fill(Math.fround(mag), 2 * D, 3 * D)  // a constant row: y = bias
        const w = rand([D], 2); const b = rand([D], 3)
        const label = `${isa} D=${D} |x|~${mag}`
        const y = fv.ops.layerNorm(x, [D], w, b)
        assertClose(t, y.data, f32(nref.layerNorm(x.data, rows, D, w.data, b.data)), { rtol: 1e-4, atol: 1e-4, label: `${label} layerNorm` })
        const dy = rand([rows, D], 4)
        const g = fv.ops.layerNormBackward(dy, x, [D], w)
        const e = nref.layerNormBackward(dy.data, x.data, rows, D, w.data)
        assertClose(t, g.dx.data, f32(e.dx), { ...gradTol(e.dx), label: `${label} layerNorm dx` })
        assertClose(t, g.dweight.data, f32(e.dweight), { rtol: 1e-3, atol: 1e-4, label: `${label} layerNorm dweight` })
        // groupNorm: x [2, 4, D], 2 groups.
        const xg = fv.tensor(spread(2 * 4 * D, mag, 0.5), [2, 4, D])
        const yg = fv.ops.groupNorm(xg, 2)
        assertClose(t, yg.data, f32(nref.groupNorm(xg.data, 2, 4, D, 2)), { rtol: 1e-4, atol: 1e-4, label: `${label} groupNorm` })
        const dyg = rand([2, 4, D], 5)
        const gg = fv.ops.groupNormBackward(dyg, xg, 2)
        const eg = nref.groupNormBackward(dyg.data, xg.data, 2, 4, D, 2)
        assertClose(t, gg.dx.data, f32(eg.dx), { ...gradTol(eg.dx), label: `${label} groupNorm dx` })
      }
    }
  })
})

test.serial('batchNorm2d (training and eval) and its backward at magnitudes 1e-30 … 1e30 match the reference on every ISA, running statistics included', (t) => {
  const N = 3; const C = 2; const S = 12
  forEachIsa((isa) => {
    for (const mag of [1e-30, 1e20, 1e30]) {
      const x = fv.tensor(spread(N * C * S, mag, 0.1), [N, C, S])
      const label = `${isa} |x|~${mag}`
      const rm = fv.tensor(new Float32Array(C), [C]); const rv = fv.tensor(new Float32Array(C).fill(1), [C])
      const y = fv.ops.batchNorm2d(x, rm, rv, null, null, { training: true })
      const e = nref.batchNorm(x.data, N, C, S, new Float64Array(C), new Float64Array(C).fill(1), null, null, { training: true })
      assertClose(t, y.data, f32(e.y), { rtol: 1e-4, atol: 1e-4, label: `${label} training y` })
      assertClose(t, rm.data, f32(e.runningMean), { rtol: 1e-4, atol: 0, label: `${label} runningMean` })
      assertClose(t, rv.data, f32(e.runningVar), { rtol: 1e-4, atol: 0, label: `${label} runningVar` })
      const dy = rand([N, C, S], 6)
      const g = fv.ops.batchNorm2dBackward(dy, x, null, null, null, { training: true })
      const eb = nref.batchNormBackward(dy.data, x.data, N, C, S, null, null, null, { training: true })
      assertClose(t, g.dx.data, f32(eb.dx), { ...gradTol(eb.dx), label: `${label} training dx` })
      // Eval with the running statistics the data has (a mean of mag, a variance of mag²
      // while that fits a float).
      const m2 = Math.min(mag * mag, 1e38)
      const erm = fv.tensor(Float32Array.of(mag, -mag), [C]); const erv = fv.tensor(Float32Array.of(m2, m2), [C])
      const ye = fv.ops.batchNorm2d(x, erm, erv)
      assertClose(t, ye.data, f32(nref.batchNorm(x.data, N, C, S, erm.data, erv.data, null, null).y), { rtol: 1e-4, atol: 1e-4, label: `${label} eval y` })
    }
  })
})

// ---------------------------------------------------------------- attention

function attn (t, label, dims, q, k, v, opts, { grads = true } = {}) {
  const { B, Hq, Hkv, Lq, Lk, D, Dv } = dims
  const Q = fv.tensor(q, [B, Hq, Lq, D]); const K = fv.tensor(k, [B, Hkv, Lk, D]); const V = fv.tensor(v, [B, Hkv, Lk, Dv])
  const r = fv.ops.attention(Q, K, V, { ...opts, returnWeights: true })
  const e = aref.attention(q, k, v, dims, opts)
  t.true(noNaN(r.out.data) && noNaN(r.lse.data) && noNaN(r.weights.data), `${label}: no NaN in out, lse or weights`)
  assertClose(t, r.out.data, f32(e.out), { rtol: 1e-4, atol: 1e-5 * Math.max(1, maxAbs(v)), label: `${label} out` })
  assertClose(t, r.lse.data, f32(e.lse), { rtol: 1e-6, atol: 1e-5, label: `${label} lse` })
  assertClose(t, r.weights.data, f32(e.weights), { rtol: 1e-4, atol: 1e-6, label: `${label} weights` })
  const dOut = rand([B, Hq, Lq, Dv], 9)
  const g = fv.ops.attentionBackward(dOut, Q, K, V, r.out, r.lse, opts)
  for (const n of ['dq', 'dk', 'dv']) t.true(noNaN(g[n].data), `${label}: no NaN in ${n}`)
  if (!grads) return r
  const eg = aref.attentionBackward(dOut.data, q, k, v, dims, opts)
  for (const n of ['dq', 'dk', 'dv']) {
    assertClose(t, g[n].data, f32(eg[n]), { rtol: 1e-3, atol: 1e-5 * Math.max(1, maxAbs(eg[n])), label: `${label} ${n}` })
  }
  return r
}

const filled = (shape, value) => fv.tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value), shape)

// Lk = 70 and Lq = 50 cross the kernels' key and query blocks (64 and 48).
for (const [Lq, Lk] of [[5, 70], [50, 130]]) {
  test.serial(`attention q=[1,2,${Lq},8] k=[1,1,${Lk},8]: scores of ±1e30 and ±3e38 (partly, one row, all of them) give the reference's numbers and gradients on every ISA`, (t) => {
    const dims = { B: 1, Hq: 2, Hkv: 1, Lq, Lk, D: 8, Dv: 8 }
    const q = rand([1, 2, Lq, 8], 1).data; const k = rand([1, 1, Lk, 8], 2).data; const v = rand([1, 1, Lk, 8], 3).data
    forEachIsa((isa) => {
      for (const val of [1e30, -1e30, -3e38]) {
        const some = rand([Lq, Lk], 4, -1, 1)
        for (let i = 0; i < some.data.length; i += 3) some.data[i] = val
        attn(t, `${isa} every third score ${val}`, dims, q, k, v, { mask: some })
        const row = rand([Lq, Lk], 5, -1, 1)
        row.data.fill(val, 0, Lk)
        attn(t, `${isa} row 0 all ${val}`, dims, q, k, v, { mask: row })
        // All scores equal to a finite "−inf": uniform weights (as PyTorch), not 0, and
        // neither weights of 1 nor Lk times the gradients (the float lse has lost log Lk).
        attn(t, `${isa} all ${val}`, dims, q, k, v, { mask: filled([Lq, Lk], val) })
      }
      const one = filled([Lq, Lk], -Infinity)
      for (let i = 0; i < Lq; i++) one.data[i * Lk + ((i * 7) % Lk)] = 1e30
      attn(t, `${isa} one visible key per row, at 1e30`, dims, q, k, v, { mask: one })
      attn(t, `${isa} topK=1 over all −1e30`, dims, q, k, v, { topK: 1, mask: filled([Lq, Lk], -1e30) })
    })
  })
}

test.serial('attention: all-masked rows (−Infinity mask, keyLengths 0, a causal row with no key) give out = 0, lse = −Infinity and zero gradients on every ISA', (t) => {
  const dims = { B: 2, Hq: 2, Hkv: 1, Lq: 5, Lk: 70, D: 8, Dv: 8 }
  const q = rand([2, 2, 5, 8], 11).data; const k = rand([2, 1, 70, 8], 12).data; const v = rand([2, 1, 70, 8], 13).data
  forEachIsa((isa) => {
    const m = rand([5, 70], 14, -1, 1)
    m.data.fill(-Infinity, 70, 140)  // row 1 sees nothing
    const cases = [
      ['−Infinity mask on row 1', { mask: m }, [1]],
      ['keyLengths [0, 70]', { keyLengths: Int32Array.of(0, 70) }, [0, 1, 2, 3, 4]]
    ]
    for (const [name, opts, emptyRows] of cases) {
      const r = attn(t, `${isa} ${name}`, dims, q, k, v, opts)
      for (const i of emptyRows) {
        const lse = r.lse.data[i]  // batch 0, head 0
        t.is(lse, -Infinity, `${isa} ${name}: lse of row ${i}`)
        t.true(r.out.data.subarray(i * 8, i * 8 + 8).every((x) => x === 0), `${isa} ${name}: out of row ${i} is 0`)
      }
    }
    // Causal with Lq > Lk: the first Lq − Lk rows see no key.
    const cd = { B: 1, Hq: 1, Hkv: 1, Lq: 9, Lk: 4, D: 8, Dv: 8 }
    const cr = attn(t, `${isa} causal Lq=9 Lk=4`, cd, rand([1, 1, 9, 8], 15).data, rand([1, 1, 4, 8], 16).data, rand([1, 1, 4, 8], 17).data, { causal: true })
    for (let i = 0; i < 5; i++) t.is(cr.lse.data[i], -Infinity, `${isa} causal: lse of row ${i}`)
  })
})

test.serial('attention with a single key: out = v exactly, lse = the score, gradients of q and k ≈ 0 — also under scores of ±1e30 — on every ISA', (t) => {
  const dims = { B: 1, Hq: 2, Hkv: 1, Lq: 3, Lk: 1, D: 8, Dv: 8 }
  const q = rand([1, 2, 3, 8], 21).data; const k = rand([1, 1, 1, 8], 22).data; const v = rand([1, 1, 1, 8], 23).data
  forEachIsa((isa) => {
    for (const opts of [{}, { mask: filled([3, 1], 1e30) }, { mask: filled([3, 1], -1e30) }, { scale: 1e30 }, { scale: 1e-30 }]) {
      const label = `${isa} single key ${JSON.stringify(opts.scale ?? opts.mask?.data[0] ?? 'plain')}`
      // With scale 1e30 dq/dk are rounding noise times 1e30: only their finiteness is promised.
      const r = attn(t, label, dims, q, k, v, opts, { grads: opts.scale !== 1e30 })
      for (let row = 0; row < 6; row++) t.deepEqual(Array.from(r.out.data.subarray(row * 8, row * 8 + 8)), Array.from(v), `${label}: out row ${row} = v`)
    }
  })
})

test.serial('attention with scale 1e30 (scores ±1e30 from q·k) picks the top key: no NaN, out = the reference on every ISA', (t) => {
  const dims = { B: 1, Hq: 1, Hkv: 1, Lq: 6, Lk: 40, D: 4, Dv: 4 }
  const q = rand([1, 1, 6, 4], 31).data; const k = rand([1, 1, 40, 4], 32).data; const v = rand([1, 1, 40, 4], 33).data
  forEachIsa((isa) => {
    attn(t, `${isa} scale 1e30`, dims, q, k, v, { scale: 1e30 }, { grads: false })
    attn(t, `${isa} scale 1e-30`, dims, q, k, v, { scale: 1e-30 })
  })
})

test.serial('attention with tiny q and v (1e-30) and huge v (1e30) keeps their scale on every ISA', (t) => {
  const dims = { B: 1, Hq: 2, Hkv: 1, Lq: 7, Lk: 70, D: 8, Dv: 8 }
  const q = rand([1, 2, 7, 8], 41).data; const k = rand([1, 1, 70, 8], 42).data; const v = rand([1, 1, 70, 8], 43).data
  forEachIsa((isa) => {
    attn(t, `${isa} q, v × 1e-30`, dims, q.map((x) => x * 1e-30), k, v.map((x) => x * 1e-30), {})
    attn(t, `${isa} v × 1e30`, dims, q, k, v.map((x) => x * 1e30), {}, { grads: false })
  })
})
