'use strict'
// maxPool2d, avgPool2d, adaptiveAvgPool2d and globalAvgPool2d with their backwards against
// float64 references from PyTorch's definitions: the option grid (ceilMode, padding forms,
// dilation, countIncludePad), ties and NaN, empty windows, finite-difference gradients, bad
// input, out/accumulate, async, thread counts and every ISA variant.
const test = require('ava')
const fv = require('./helpers/fv')
const { throwsLike } = require('./helpers/errors')
const ref = require('./reference/pool')
const { rand, rng } = require('./helpers/random')
const { assertClose, assertBitIdentical, numericGrad, dot } = require('./helpers/check')

function fmt (v) {
  return JSON.stringify(v).replace(/"/g, "'")
}
function name (shape, o) {
  return `x=[${shape.join(',')}] ${Object.entries(o).map(([k, v]) => `${k} ${fmt(v)}`).join(' ')}`
}
const f32 = (a) => Float32Array.from(a)

const MAX = [
  { x: [2, 3, 8, 8], o: { kernel: 2 } },
  { x: [1, 2, 9, 11], o: { kernel: 3, stride: 2, padding: 1 } },
  { x: [2, 2, 10, 7], o: { kernel: [3, 2], stride: [2, 1], padding: [1, 0, 0, 1], dilation: [2, 1] } },
  { x: [1, 3, 7, 9], o: { kernel: 3, stride: 2, ceilMode: true } },
  { x: [1, 2, 5, 5], o: { kernel: 2, stride: 2, padding: 1, ceilMode: true } },
  { x: [1, 2, 6, 6], o: { kernel: 3, stride: 3, padding: [0, 2], ceilMode: true } },
  { x: [2, 2, 12, 13], o: { kernel: 3, stride: 1, padding: 1 } },
  { x: [1, 1, 4, 4], o: { kernel: 2, padding: 3 } },
  { x: [1, 2, 30, 40], o: { kernel: 5, stride: [3, 4], dilation: 2, padding: 2, ceilMode: true } }
]

const AVG = [
  { x: [2, 3, 8, 8], o: { kernel: 2 } },
  { x: [1, 2, 9, 11], o: { kernel: 3, stride: 2, padding: 1 } },
  { x: [1, 2, 9, 11], o: { kernel: 3, stride: 2, padding: 1, countIncludePad: false } },
  { x: [2, 2, 10, 7], o: { kernel: [3, 2], stride: [2, 1], padding: [1, 0, 0, 1] } },
  { x: [1, 3, 7, 9], o: { kernel: 3, stride: 2, padding: 1, ceilMode: true } },
  { x: [1, 3, 7, 9], o: { kernel: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false } },
  { x: [1, 2, 5, 5], o: { kernel: 2, stride: 2, padding: [1, 0, 1, 2], ceilMode: true } },
  { x: [1, 1, 4, 4], o: { kernel: 2, padding: 3 } },
  { x: [2, 2, 12, 13], o: { kernel: 3, stride: 1, padding: 1, countIncludePad: false } }
]

for (const [i, c] of MAX.entries()) {
  test(`maxPool2d ${name(c.x, c.o)} and its backward match the reference`, (t) => {
    const x = rand(c.x, 10 * i)
    const y = fv.ops.maxPool2d(x, c.o)
    const r = ref.maxPool2d(x, c.o)
    t.deepEqual(y.shape, r.shape)
    assertBitIdentical(t, y.data, f32(r.data), 'y (a max is exact)')
    const dy = rand(r.shape, 10 * i + 1)
    const dx = fv.ops.maxPool2dBackward(dy, x, c.o)
    t.deepEqual(dx.shape, c.x)
    assertClose(t, dx.data, ref.maxPool2dBackward(dy, x, c.o), { rtol: 1e-6, atol: 1e-6, label: 'dx' })
  })
}

for (const [i, c] of AVG.entries()) {
  test(`avgPool2d ${name(c.x, c.o)} and its backward match the reference`, (t) => {
    const x = rand(c.x, 10 * i)
    const y = fv.ops.avgPool2d(x, c.o)
    const r = ref.avgPool2d(x, c.o)
    t.deepEqual(y.shape, r.shape)
    assertClose(t, y.data, r.data, { rtol: 1e-5, atol: 1e-6, label: 'y' })
    const dy = rand(r.shape, 10 * i + 1)
    const dx = fv.ops.avgPool2dBackward(dy, x, c.o)
    t.deepEqual(dx.shape, c.x)
    assertClose(t, dx.data, ref.avgPool2dBackward(dy, x, c.o), { rtol: 1e-5, atol: 1e-6, label: 'dx' })
  })
}

test('pool output sizes follow PyTorch: ceilMode drops a last window starting in the end padding', (t) => {
  // H=5, k=2, s=2, pad 1: floor gives 3, ceil gives 4 → the 4th window would start at 6 ≥ 5+1: dropped.
  t.deepEqual(fv.ops.maxPool2d(rand([1, 1, 5, 5], 1), { kernel: 2, padding: 1, ceilMode: true }).shape, [1, 1, 3, 3])
  // H=8, k=3, s=2: floor 3, ceil 4 (the 4th window starts at 6 < 8, kept).
  t.deepEqual(fv.ops.maxPool2d(rand([1, 1, 8, 8], 1), { kernel: 3, stride: 2, ceilMode: true }).shape, [1, 1, 4, 4])
  t.deepEqual(fv.ops.avgPool2d(rand([1, 1, 8, 8], 1), { kernel: 3, stride: 2 }).shape, [1, 1, 3, 3])
  t.is(ref.outSize(5, 2, 2, 1, 1, 1, true), 3)
})

test('maxPool2d x=[2,3,9,9] with ties: the first maximum in row-major window order gets the gradient', (t) => {
  const r = rng(5)
  const x = { data: Float32Array.from({ length: 2 * 3 * 81 }, () => Math.floor(r() * 3)), shape: [2, 3, 9, 9] }
  for (const o of [{ kernel: 3, stride: 2, padding: 1 }, { kernel: 2 }, { kernel: 3, stride: 1, dilation: 2 }]) {
    const dy = rand(ref.maxPool2d(x, o).shape, 2)
    const dx = fv.ops.maxPool2dBackward(dy, x, o)
    assertClose(t, dx.data, ref.maxPool2dBackward(dy, x, o), { rtol: 1e-6, atol: 1e-6, label: fmt(o) })
  }
  // One 2×2 window of equal values: all of dy lands on the top-left cell.
  const dx1 = fv.ops.maxPool2dBackward({ data: f32([5]), shape: [1, 1, 1, 1] }, { data: f32([1, 1, 1, 1]), shape: [1, 1, 2, 2] }, { kernel: 2 })
  t.deepEqual(Array.from(dx1.data), [5, 0, 0, 0])
})

test('maxPool2d propagates NaN (the last NaN of a window is its argmax) and −Infinity', (t) => {
  const x = { data: f32([1, NaN, 2, NaN, -Infinity, -Infinity, -Infinity, -Infinity]), shape: [1, 2, 2, 2] }
  const y = fv.ops.maxPool2d(x, { kernel: 2 })
  t.true(Number.isNaN(y.data[0]))
  t.is(y.data[1], -Infinity)
  const dx = fv.ops.maxPool2dBackward({ data: f32([1, 2]), shape: [1, 2, 1, 1] }, x, { kernel: 2 })
  t.deepEqual(Array.from(dx.data), [0, 0, 0, 1, 2, 0, 0, 0])
})

test.serial('maxPool2d equals the row-major reference bit for bit on every ISA: ties, ±0, NaN, ±Infinity, wide rows', (t) => {
  // Rows long enough for several vector chunks on every ISA (OW = 35 / 36), an odd height so
  // ceilMode adds a window, and values that make the fold order visible: small integers
  // (ties), −0 beside +0 (the first of equal maxima is the result), NaN, ±Infinity. 3×3 at
  // stride 2 runs a separable path; the other options the general one.
  const r = rng(11)
  const specials = [NaN, -0, 0, Infinity, -Infinity]
  const data = Float32Array.from({ length: 2 * 3 * 13 * 71 }, () => {
    const u = r()
    return u < 0.08 ? specials[Math.floor(r() * specials.length)] : Math.floor(r() * 4) - 2
  })
  const x = { data, shape: [2, 3, 13, 71] }
  const opts = [
    { kernel: 3, stride: 2 },
    { kernel: 3, stride: 2, padding: 1 },
    { kernel: 3, stride: 2, padding: 1, ceilMode: true },
    { kernel: 3, stride: 2, ceilMode: true },
    { kernel: 3, stride: 2, padding: [1, 0, 0, 1] },
    { kernel: 2 },
    { kernel: 3, stride: 1, padding: 1 },
    { kernel: [2, 3], stride: [1, 2], dilation: 2, ceilMode: true }
  ]
  const refs = opts.map((o) => ref.maxPool2d(x, o))
  try {
    for (const isa of fv.info().isa.supported) {
      fv.setIsa(isa)
      for (const [i, o] of opts.entries()) {
        const y = fv.ops.maxPool2d(x, o)
        t.deepEqual(y.shape, refs[i].shape)
        assertBitIdentical(t, y.data, f32(refs[i].data), `${isa} ${fmt(o)}`)
      }
    }
  } finally {
    fv.setIsa('auto')
  }
})

test('pools x=[1,1,4,4] padding 3 kernel 2: windows without an input cell give −Infinity / 0 and no gradient', (t) => {
  const x = rand([1, 1, 4, 4], 3)
  const y = fv.ops.maxPool2d(x, { kernel: 2, padding: 3 })
  t.is(y.data[0], -Infinity)
  const a = fv.ops.avgPool2d(x, { kernel: 2, padding: 3 })
  t.is(a.data[0], 0)
  const dx = fv.ops.maxPool2dBackward({ data: new Float32Array(y.data.length).fill(1), shape: y.shape }, x, { kernel: 2, padding: 3 })
  // Windows start at rows −3, −1, 1, 3, 5: three of the five per axis hold input cells,
  // and each of those 3×3 windows routes its 1 to one cell.
  t.is(dx.data.reduce((s, v) => s + v, 0), 9)
  t.is(y.data.filter((v) => v === -Infinity).length, 25 - 9)
})

const ADAPTIVE = [
  { x: [2, 3, 10, 7], out: [3, 4] },
  { x: [1, 2, 7, 7], out: 7 },
  { x: [1, 2, 5, 6], out: [8, 9] },
  { x: [2, 3, 13, 13], out: [1, null] },
  { x: [2, 4, 7, 7], out: 1 }
]

for (const [i, c] of ADAPTIVE.entries()) {
  test(`adaptiveAvgPool2d x=[${c.x.join(',')}] outputSize ${fmt(c.out)} and its backward match the reference`, (t) => {
    const x = rand(c.x, 10 * i)
    const y = fv.ops.adaptiveAvgPool2d(x, c.out)
    const [OH, OW] = typeof c.out === 'number' ? [c.out, c.out] : [c.out[0] ?? c.x[2], c.out[1] ?? c.x[3]]
    const r = ref.adaptiveAvgPool2d(x, OH, OW)
    t.deepEqual(y.shape, r.shape)
    assertClose(t, y.data, r.data, { rtol: 1e-5, atol: 1e-6, label: 'y' })
    const dy = rand(r.shape, 10 * i + 1)
    assertClose(t, fv.ops.adaptiveAvgPool2dBackward(dy, x).data, ref.adaptiveAvgPool2dBackward(dy, x),
      { rtol: 1e-5, atol: 1e-6, label: 'dx' })
  })
}

test('globalAvgPool2d x=[3,5,9,11] is the mean of each plane, [N,C,1,1], and its backward spreads dy', (t) => {
  const x = rand([3, 5, 9, 11], 1)
  const y = fv.ops.globalAvgPool2d(x)
  t.deepEqual(y.shape, [3, 5, 1, 1])
  assertClose(t, y.data, ref.adaptiveAvgPool2d(x, 1, 1).data, { rtol: 1e-5, atol: 1e-6 })
  const dy = rand([3, 5, 1, 1], 2)
  const dx = fv.ops.globalAvgPool2dBackward(dy, x)
  t.deepEqual(dx.shape, [3, 5, 9, 11])
  assertClose(t, dx.data, ref.adaptiveAvgPool2dBackward(dy, x), { rtol: 1e-6, atol: 1e-7 })
})

test('pool gradients match finite differences', (t) => {
  // Distinct values far apart (≫ the step), so no window's argmax moves under the step.
  const r = rng(9)
  const perm = Array.from({ length: 2 * 2 * 7 * 6 }, (_, i) => i).sort(() => r() - 0.5)
  const xd = Float64Array.from(perm, (v) => v * 0.01 - 0.8)
  const x = { data: Float32Array.from(xd), shape: [2, 2, 7, 6] }
  const o = { rtol: 1e-4, atol: 1e-4 }
  for (const opts of [{ kernel: 3, stride: 2, padding: 1, ceilMode: true }, { kernel: [2, 3], dilation: [2, 1], stride: 1 }]) {
    const dy = rand(ref.maxPool2d(x, opts).shape, 2)
    const L = (v) => dot(dy.data, ref.maxPool2d({ data: v, shape: x.shape }, opts).data)
    assertClose(t, fv.ops.maxPool2dBackward(dy, x, opts).data, numericGrad(L, xd), { ...o, label: `max ${fmt(opts)}` })
  }
  for (const opts of [{ kernel: 3, stride: 2, padding: [1, 0, 2, 1], ceilMode: true, countIncludePad: false }, { kernel: 2, padding: 1 }]) {
    const dy = rand(ref.avgPool2d(x, opts).shape, 3)
    const L = (v) => dot(dy.data, ref.avgPool2d({ data: v, shape: x.shape }, opts).data)
    assertClose(t, fv.ops.avgPool2dBackward(dy, x, opts).data, numericGrad(L, xd), { ...o, label: `avg ${fmt(opts)}` })
  }
  const dya = rand([2, 2, 3, 4], 4)
  const La = (v) => dot(dya.data, ref.adaptiveAvgPool2d({ data: v, shape: x.shape }, 3, 4).data)
  assertClose(t, fv.ops.adaptiveAvgPool2dBackward(dya, x).data, numericGrad(La, xd), { ...o, label: 'adaptive' })
  const dyg = rand([2, 2, 1, 1], 5)
  const Lg = (v) => dot(dyg.data, ref.adaptiveAvgPool2d({ data: v, shape: x.shape }, 1, 1).data)
  assertClose(t, fv.ops.globalAvgPool2dBackward(dyg, x).data, numericGrad(Lg, xd), { ...o, label: 'global' })
})

test('pools: bad input gets TypeError / RangeError naming the op and the argument', (t) => {
  const x = rand([2, 3, 6, 6], 1)
  throwsLike(t, () => fv.ops.maxPool2d(x, {}), TypeError, /^maxPool2d: kernel must be a positive integer or \[h, w\].*got undefined$/)
  throwsLike(t, () => fv.ops.maxPool2d(x), TypeError, /^maxPool2d: kernel must be/)
  throwsLike(t, () => fv.ops.maxPool2d(x, { kernel: 7 }), RangeError, /^maxPool2d: kernel must be a window that fits the padded input 6x6, got 7x7$/)
  throwsLike(t, () => fv.ops.maxPool2d(x, { kernel: 3, dilation: 3 }), RangeError, /^maxPool2d: kernel must be a window \(dilated 7x7\)/)
  throwsLike(t, () => fv.ops.maxPool2d(x, { kernel: 2, stride: 0 }), RangeError, /^maxPool2d: stride must be a positive integer/)
  throwsLike(t, () => fv.ops.maxPool2d(x, { kernel: 2, stride: -1 }), RangeError, /^maxPool2d: stride must be/)
  throwsLike(t, () => fv.ops.maxPool2d(x, { kernel: 0 }), RangeError, /^maxPool2d: kernel must be/)
  throwsLike(t, () => fv.ops.maxPool2d(x, { kernel: 2, padding: -1 }), RangeError, /^maxPool2d: padding must be/)
  throwsLike(t, () => fv.ops.maxPool2d(x, { kernel: 2, padding: 'same' }), RangeError, /^maxPool2d: padding must be/)
  throwsLike(t, () => fv.ops.maxPool2d(x, { kernel: 2, ceilMode: 1 }), TypeError, /^maxPool2d: ceilMode must be a boolean/)
  throwsLike(t, () => fv.ops.maxPool2d(rand([6, 6], 1), { kernel: 2 }), RangeError, /^maxPool2d: x must be \[N,C,H,W\] \(rank 4\)/)
  throwsLike(t, () => fv.ops.avgPool2d(x, { kernel: 2, dilation: 2 }), TypeError, /^avgPool2d: options must be .*unknown key 'dilation'$/)
  throwsLike(t, () => fv.ops.avgPool2d(x, { kernel: 2, countIncludePad: 'yes' }), TypeError, /^avgPool2d: countIncludePad must be a boolean/)
  throwsLike(t, () => fv.ops.maxPool2dBackward(rand([2, 3, 2, 2], 1), x, { kernel: 2 }), RangeError,
    /^maxPool2dBackward: dy must be \[2,3,3,3\] \(the shape of the forward's result\), got \[2,3,2,2\]$/)
  throwsLike(t, () => fv.ops.avgPool2dBackward(rand([2, 3, 3, 3], 1), x, { kernel: 2, accumulate: true }), RangeError,
    /^avgPool2dBackward: out must be a tensor when accumulate is true/)
  throwsLike(t, () => fv.ops.adaptiveAvgPool2d(x, 0), RangeError, /^adaptiveAvgPool2d: outputSize must be a positive integer/)
  throwsLike(t, () => fv.ops.adaptiveAvgPool2d(x, '2'), TypeError, /^adaptiveAvgPool2d: outputSize must be/)
  throwsLike(t, () => fv.ops.adaptiveAvgPool2d({ data: new Float32Array(0), shape: [1, 1, 0, 3] }, 2), RangeError,
    /^adaptiveAvgPool2d: x must be \[N,C,H,W\] with H, W ≥ 1/)
  throwsLike(t, () => fv.ops.adaptiveAvgPool2dBackward(rand([2, 4, 2, 2], 1), x), RangeError, /^adaptiveAvgPool2dBackward: dy must be \[2,3,OH,OW\]/)
  throwsLike(t, () => fv.ops.globalAvgPool2dBackward(rand([2, 3, 2, 1], 1), x), RangeError, /^globalAvgPool2dBackward: dy must be \[2,3,1,1\]/)
})

test('the native pool functions re-check what they are given', (t) => {
  const { binding } = require('../dist/native')
  const x = rand([2, 3, 6, 6], 1)
  const g = [2, 3, 6, 6, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0]
  t.notThrows(() => binding.maxPool2d(x.data, null, g, false))
  throwsLike(t, () => binding.maxPool2d(x.data.subarray(3), null, g, false), RangeError, /^maxPool2d: x must have 216 elements/)
  throwsLike(t, () => binding.maxPool2d(x.data, null, [2, 3, 6, 6, 9, 2, 2, 2, 1, 1, 0, 0, 0, 0], false), RangeError, /window must fit/)
  throwsLike(t, () => binding.maxPool2d(x.data, null, [2, 3, 6, 6, 2, 2, 0, 2, 1, 1, 0, 0, 0, 0], false), RangeError, /strides must be positive/)
  throwsLike(t, () => binding.avgPool2d(x.data, null, [2, 3, 6, 6, 2, 2, 2, 2, 2, 1, 0, 0, 0, 0], false, true), RangeError, /dilation must be 1/)
  throwsLike(t, () => binding.maxPool2dBackward(x.data, x.data, null, g, false, false), RangeError, /^maxPool2dBackward: dy must have/)
  throwsLike(t, () => binding.adaptiveAvgPool2d(x.data, null, [2, 3, 6, 6, 0, 2]), RangeError, /must be positive/)
  throwsLike(t, () => binding.adaptiveAvgPool2dBackward(x.data, null, [2, 3, 6, 6, 3, 3], false), RangeError, /dy must have/)
})

test.serial('pools: out, accumulate, Async twins, thread counts and ISA variants', async (t) => {
  const x = rand([4, 8, 17, 19], 1)
  const mo = { kernel: 3, stride: 2, padding: 1, ceilMode: true }
  const ao = { kernel: 3, stride: 2, padding: 1, countIncludePad: false }
  const y = fv.ops.maxPool2d(x, mo)
  const out = fv.tensor(new Float32Array(y.data.length).fill(NaN), y.shape)
  t.is(fv.ops.maxPool2d(x, { ...mo, out }), out)
  assertBitIdentical(t, out.data, y.data, 'max out')
  assertBitIdentical(t, (await fv.ops.maxPool2dAsync(x, mo)).data, y.data, 'max async')
  const dy = rand(y.shape, 2)
  const dx = fv.ops.maxPool2dBackward(dy, x, mo)
  assertBitIdentical(t, (await fv.ops.maxPool2dBackwardAsync(dy, x, mo)).data, dx.data, 'max backward async')
  const acc = fv.tensor(Float32Array.from(dx.data), x.shape)
  fv.ops.maxPool2dBackward(dy, x, { ...mo, out: acc, accumulate: true })
  assertClose(t, acc.data, dx.data.map((v) => 2 * v), { rtol: 1e-5, atol: 1e-7, label: 'max accumulate' })

  const a = fv.ops.avgPool2d(x, ao)
  assertBitIdentical(t, (await fv.ops.avgPool2dAsync(x, ao)).data, a.data, 'avg async')
  const dya = rand(a.shape, 3)
  const dxa = fv.ops.avgPool2dBackward(dya, x, ao)
  assertBitIdentical(t, (await fv.ops.avgPool2dBackwardAsync(dya, x, ao)).data, dxa.data, 'avg backward async')
  const ad = fv.ops.adaptiveAvgPool2d(x, [5, 6])
  assertBitIdentical(t, (await fv.ops.adaptiveAvgPool2dAsync(x, [5, 6])).data, ad.data, 'adaptive async')
  const gl = fv.ops.globalAvgPool2d(x)
  assertBitIdentical(t, (await fv.ops.globalAvgPool2dAsync(x)).data, gl.data, 'global async')
  const dyg = rand([4, 8, 1, 1], 4)
  assertBitIdentical(t, (await fv.ops.globalAvgPool2dBackwardAsync(dyg, x)).data, fv.ops.globalAvgPool2dBackward(dyg, x).data, 'global backward async')
  const dyd = rand([4, 8, 5, 6], 5)
  assertBitIdentical(t, (await fv.ops.adaptiveAvgPool2dBackwardAsync(dyd, x)).data, fv.ops.adaptiveAvgPool2dBackward(dyd, x).data, 'adaptive backward async')

  const before = fv.getNumThreads()
  try {
    for (const n of [1, 3]) {
      fv.setNumThreads(n)
      assertBitIdentical(t, fv.ops.maxPool2d(x, mo).data, y.data, `max, ${n} thread(s)`)
      assertBitIdentical(t, fv.ops.maxPool2dBackward(dy, x, mo).data, dx.data, `max backward, ${n} thread(s)`)
      assertBitIdentical(t, fv.ops.avgPool2d(x, ao).data, a.data, `avg, ${n} thread(s)`)
      assertBitIdentical(t, fv.ops.avgPool2dBackward(dya, x, ao).data, dxa.data, `avg backward, ${n} thread(s)`)
      assertBitIdentical(t, fv.ops.globalAvgPool2d(x).data, gl.data, `global, ${n} thread(s)`)
    }
  } finally {
    fv.setNumThreads(before)
  }

  try {
    for (const isa of fv.info().isa.supported) {
      fv.setIsa(isa)
      assertBitIdentical(t, fv.ops.maxPool2d(x, mo).data, f32(ref.maxPool2d(x, mo).data), `${isa} max`)
      assertClose(t, fv.ops.maxPool2dBackward(dy, x, mo).data, ref.maxPool2dBackward(dy, x, mo), { rtol: 1e-6, atol: 1e-6, label: `${isa} max backward` })
      assertClose(t, fv.ops.avgPool2d(x, ao).data, ref.avgPool2d(x, ao).data, { rtol: 1e-5, atol: 1e-6, label: `${isa} avg` })
      assertClose(t, fv.ops.avgPool2dBackward(dya, x, ao).data, ref.avgPool2dBackward(dya, x, ao), { rtol: 1e-5, atol: 1e-6, label: `${isa} avg backward` })
      assertClose(t, fv.ops.globalAvgPool2d(x).data, ref.adaptiveAvgPool2d(x, 1, 1).data, { rtol: 1e-5, atol: 1e-6, label: `${isa} global` })
    }
  } finally {
    fv.setIsa('auto')
  }
})
