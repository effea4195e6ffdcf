'use strict'
// Random geometries: every valid one the generator draws (sizes, kernel, stride, dilation,
// asymmetric padding, groups, all small) must match the float64 reference in both
// directions, for conv2d, conv2dTranspose and the pools; and random, mostly inconsistent
// geometry arrays handed straight to the native functions must give a result or a
// RangeError/TypeError, never a crash.
const test = require('ava')
const fv = require('./helpers/fv')
const ref = require('./reference/conv')
const pref = require('./reference/pool')
const { rand, rng } = require('./helpers/random')
const { assertClose } = require('./helpers/check')
const { binding } = require('../dist/native')

function pick (r, lo, hi) { return lo + Math.floor(r() * (hi - lo + 1)) }

function randomConv (r) {
  const groups = [1, 1, 2, 3][pick(r, 0, 3)]
  const C = groups * pick(r, 1, 3); const Cout = groups * pick(r, 1, 3)
  const kh = pick(r, 1, 4); const kw = pick(r, 1, 4)
  const dil = [pick(r, 1, 3), pick(r, 1, 2)]
  const pad = [pick(r, 0, 3), pick(r, 0, 3), pick(r, 0, 3), pick(r, 0, 3)]
  const H = Math.max(1, dil[0] * (kh - 1) + 1 - pad[0] - pad[1] + pick(r, 0, 6))
  const W = Math.max(1, dil[1] * (kw - 1) + 1 - pad[2] - pad[3] + pick(r, 0, 20))
  const o = { stride: [pick(r, 1, 3), pick(r, 1, 3)], dilation: dil, padding: pad, groups }
  return { x: [pick(r, 1, 2), C, H, W], w: [Cout, C / groups, kh, kw], o }
}

// Each ISA variant draws its own geometries (the default one the most).
function eachIsa (t, fn) {
  const isas = fv.info().isa.supported.filter((i) => i !== fv.info().isa.best)
  try {
    fn('auto', 150)
    for (const isa of isas) {
      fv.setIsa(isa)
      fn(isa, 40)
    }
  } finally {
    fv.setIsa('auto')
  }
}

test.serial('conv2d and conv2dBackward match the reference on random geometries, every ISA', (t) => eachIsa(t, (isa, count) => {
  const r = rng(2024 + count + isa.length)
  let ran = 0
  for (let i = 0; i < count; i++) {
    const c = randomConv(r)
    const x = rand(c.x, 3 * i); const w = rand(c.w, 3 * i + 1); const b = rand([c.w[0]], 3 * i + 2)
    const e = ref.conv2d(x, w, b, c.o)
    if (e.shape.some((d) => d < 1)) continue
    ran++
    const label = `${isa} ${JSON.stringify(c)}`
    const y = fv.ops.conv2d(x, w, b, c.o)
    t.deepEqual(y.shape, e.shape, label)
    assertClose(t, y.data, e.data, { rtol: 1e-5, atol: 1e-5, label })
    const dy = rand(e.shape, 3 * i + 7)
    const g = fv.ops.conv2dBackward(dy, x, w, c.o)
    const eg = ref.conv2dBackward(dy, x, w, c.o)
    for (const k of ['dx', 'dw', 'db']) assertClose(t, g[k].data, eg[k], { rtol: 1e-5, atol: 1e-5, label: `${k} ${label}` })
  }
  t.true(ran > count / 2, `${ran} valid geometries`)
}))

test('conv2dTranspose and its backward match the reference on 80 random geometries', (t) => {
  const r = rng(77)
  for (let i = 0; i < 80; i++) {
    const groups = [1, 2][pick(r, 0, 1)]
    const Cin = groups * pick(r, 1, 3); const Cog = pick(r, 1, 3)
    const kh = pick(r, 1, 4); const kw = pick(r, 1, 4)
    const stride = [pick(r, 1, 3), pick(r, 1, 3)]
    const o = {
      stride,
      dilation: [pick(r, 1, 2), pick(r, 1, 2)],
      padding: [pick(r, 0, 1), pick(r, 0, 1), pick(r, 0, 1), pick(r, 0, 1)],
      outputPadding: [pick(r, 0, stride[0] - 1), pick(r, 0, stride[1] - 1)],
      groups
    }
    const xs = [pick(r, 1, 2), Cin, pick(r, 1, 5), pick(r, 1, 7)]
    const x = rand(xs, i); const w = rand([Cin, Cog, kh, kw], i + 1); const b = rand([Cog * groups], i + 2)
    const e = ref.conv2dTranspose(x, w, b, o)
    if (e.shape.some((d) => d < 1)) continue
    const label = JSON.stringify({ xs, w: [Cin, Cog, kh, kw], o })
    assertClose(t, fv.ops.conv2dTranspose(x, w, b, o).data, e.data, { rtol: 1e-5, atol: 1e-5, label })
    const dy = rand(e.shape, i + 3)
    const g = fv.ops.conv2dTransposeBackward(dy, x, w, o)
    const eg = ref.conv2dTransposeBackward(dy, x, w, o)
    for (const k of ['dx', 'dw', 'db']) assertClose(t, g[k].data, eg[k], { rtol: 1e-5, atol: 1e-5, label: `${k} ${label}` })
  }
})

test.serial('the pools match the reference on random geometries, every ISA', (t) => eachIsa(t, (isa, count) => {
  const r = rng(99 + count + isa.length)
  for (let i = 0; i < count; i++) {
    const k = [pick(r, 1, 4), pick(r, 1, 4)]
    const o = {
      kernel: k,
      stride: [pick(r, 1, 4), pick(r, 1, 4)],
      padding: [pick(r, 0, 3), pick(r, 0, 3), pick(r, 0, 3), pick(r, 0, 3)],
      ceilMode: r() < 0.5
    }
    const xs = [1, pick(r, 1, 3), pick(r, 1, 9), pick(r, 1, 40)]
    if (k[0] > xs[2] + o.padding[0] + o.padding[1] || k[1] > xs[3] + o.padding[2] + o.padding[3]) continue
    const x = rand(xs, i)
    const label = `${isa} ${JSON.stringify({ xs, o })}`
    const e = pref.maxPool2d(x, o)
    if (e.shape.some((d) => d < 1)) continue
    t.deepEqual(Array.from(fv.ops.maxPool2d(x, o).data), Array.from(Float32Array.from(e.data)), label)
    const dy = rand(e.shape, i + 1)
    assertClose(t, fv.ops.maxPool2dBackward(dy, x, o).data, pref.maxPool2dBackward(dy, x, o), { rtol: 1e-6, atol: 1e-6, label })
    const ao = { ...o, countIncludePad: r() < 0.5 }
    assertClose(t, fv.ops.avgPool2d(x, ao).data, pref.avgPool2d(x, ao).data, { rtol: 1e-5, atol: 1e-6, label })
    assertClose(t, fv.ops.avgPool2dBackward(dy, x, ao).data, pref.avgPool2dBackward(dy, x, ao), { rtol: 1e-5, atol: 1e-6, label })
  }
}))

// The array lengths a geometry implies (when it makes sense), so that many random calls
// get past the length checks and reach the kernels with odd geometries.
function lengths (name, g) {
  const out = (n, k, st, d, p0, p1) => Math.floor((n + p0 + p1 - d * (k - 1) - 1) / st) + 1
  if (name.startsWith('conv')) {
    const [N, C, H, W, Cout, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, groups] = g
    const OH = out(H, kh, sh, dh, pt, pb); const OW = out(W, kw, sw, dw, pl, pr)
    const big = N * C * H * W; const small = N * Cout * OH * OW; const wl = Cout * (C / groups) * kh * kw
    return name.startsWith('conv2dTranspose') ? [small, wl, C, big, big] : [big, wl, Cout, small, small]
  }
  if (name.startsWith('adaptive')) return [g[0] * g[1] * g[2] * g[3], g[0] * g[1] * g[4] * g[5]]
  const [N, C, H, W, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr] = g
  return [N * C * H * W, N * C * out(H, kh, sh, dh, pt, pb) * out(W, kw, sw, dw, pl, pr)]
}

test('the native conv and pool functions survive random geometry arrays', async (t) => {
  const r = rng(31337)
  const names = ['conv2d', 'conv2dTranspose', 'conv2dBackward', 'conv2dTransposeBackward', 'maxPool2d', 'maxPool2dBackward',
    'avgPool2d', 'avgPool2dBackward', 'adaptiveAvgPool2d', 'adaptiveAvgPool2dBackward']
  // Odd values stay small or are refused outright: a consistent geometry with a 2^31 pad
  // is a legitimate multi-GB request, not something to run on a shared machine.
  const odd = () => [-2, -1, 0, 7, 2 ** 53, -(2 ** 40), 1.5, NaN][pick(r, 0, 7)]
  // A refusal: a TypeError/RangeError, or an Error with a code (out of memory for a huge
  // but consistent geometry).
  const acceptable = (err) => err instanceof RangeError || err instanceof TypeError || (err instanceof Error && typeof err.code === 'string')
  let ok = 0; let refused = 0
  const pending = []
  for (let i = 0; i < 6000; i++) {
    const name = names[i % names.length]
    const geomLen = name.startsWith('conv') ? 16 : name.startsWith('adaptive') ? 6 : 14
    const geom = Array.from({ length: r() < 0.95 ? geomLen : pick(r, 0, 20) }, () => (r() < 0.97 ? pick(r, 1, 4) : odd()))
    if (name.startsWith('conv') && r() < 0.5) geom[15] = 1
    if (!name.startsWith('conv') && !name.startsWith('adaptive') && r() < 0.7) geom[8] = geom[9] = 1
    const L = lengths(name, geom).map((n) => (Number.isInteger(n) && n >= 0 && n < 1e6 && r() < 0.9 ? n : pick(r, 0, 50)))
    const arr = (n) => new Float32Array(n).map(() => r() * 2 - 1)
    let args
    if (name === 'conv2d' || name === 'conv2dTranspose') args = [arr(L[0]), arr(L[1]), r() < 0.5 ? arr(L[2]) : null, null, geom, r() < 0.5]
    else if (name.startsWith('conv')) args = [arr(L[4]), arr(L[name === 'conv2dBackward' ? 0 : 3]), arr(L[1]), null, null, null, geom, false]
    else if (name === 'maxPool2d') args = [arr(L[0]), null, geom, r() < 0.5]
    else if (name === 'maxPool2dBackward') args = [arr(L[1]), arr(L[0]), null, geom, r() < 0.5, false]
    else if (name === 'avgPool2d') args = [arr(L[0]), null, geom, r() < 0.5, r() < 0.5]
    else if (name === 'avgPool2dBackward') args = [arr(L[1]), null, geom, r() < 0.5, r() < 0.5, false]
    else if (name === 'adaptiveAvgPool2d') args = [arr(L[0]), null, geom]
    else args = [arr(L[1]), null, geom, false]
    const fn = r() < 0.2 ? binding[name + 'Async'] : binding[name]
    try {
      const res = fn(...args)
      if (res && typeof res.then === 'function') {
        pending.push(res.then(() => ok++, (err) => { if (acceptable(err)) refused++; else t.fail(`${name}: ${err}`) }))
      } else {
        ok++
      }
    } catch (err) {
      if (acceptable(err)) refused++
      else t.fail(`${name}: ${err}`)
    }
  }
  await Promise.all(pending)
  t.true(ok > 500, `${ok} ran, ${refused} refused`)
  t.log(`${ok} calls ran, ${refused} were refused`)
})
