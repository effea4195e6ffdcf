'use strict'
// Property specs for every op in fv.ops: a fast-check arbitrary of valid cases (shapes
// with zero-size and odd dims, every option of the contract, value profiles from
// values.js), a build(case) that makes the arguments and checks a result against the
// float64 references in test/reference/, and a signature that tells the invalid-argument
// fuzzer (props.js) where the tensors and the options are.
//
// Spec fields:
//   name       the op (fv.ops[name], and fv.ops[name + 'Async'] unless noAsync)
//   gen        fc arbitrary of cases (plain data: it is what a counterexample prints)
//   build(c)   → { args(): fresh argument list, check(result, args): throws on mismatch }
//   sig        the kind of each positional argument: 't' tensor, 't?' optional tensor,
//              'o' options (optional), 'o!' options (required), 'i32' Int32Array,
//              'idx' index tensor, 'num' number ('num?' optional), 'shape' shape array, 'u16' / 'f32' a raw
//              typed array (convert ops)
//   outs       'out' when options.out is a tensor of the result's shape; an array of keys
//              when options.out is an object of them; absent when there is no out
//   invalid    semantic mutations: (c, args) → the error class they must give (or null
//              when the mutation does not apply to this case)
//   tol        { rtol, atol } for the finite profiles (default 1e-4, 1e-4)
const fc = require('fast-check')
const V = require('./values')
const { assertClose, assertUlps } = require('../helpers/check')
const act = require('../reference/activation')
const smx = require('../reference/softmax')
const ew = require('../reference/elementwise')
const nrm = require('../reference/norm')
const loss = require('../reference/loss')
const lin = require('../reference/linear')
const mm = require('../reference/matmul')
const conv = require('../reference/conv')
const pool = require('../reference/pool')
const attn = require('../reference/attention')
const gate = require('../reference/gate')
const emb = require('../reference/embedding')
const cvt = require('../reference/convert')
const drop = require('../reference/dropout')
const rnd = require('../reference/random')
const opt = require('../reference/optim')
const lay = require('../reference/layout')

/** A result that does not match: what the fuzzers report as a failure. */
class Mismatch extends Error {}
Mismatch.prototype.name = 'Mismatch'
function fail (msg) { throw new Mismatch(msg) }
// check.js's assertions, reporting through exceptions instead of an ava `t`.
const T = { pass () {}, fail }

const { size, data, between, tensorOf, dim } = V
const TOL = { rtol: 1e-4, atol: 1e-4 }
const same = (a, b) => a.length === b.length && a.every((d, i) => d === b[i])
const fmt = (s) => `[${s.join(',')}]`

/** r must be an fv.Tensor of `shape` over a Float32Array of exactly its size. */
function tensorIs (fv, r, shape, label) {
  if (!(r instanceof fv.Tensor)) fail(`${label}: not a Tensor (${r && r.constructor && r.constructor.name})`)
  if (!(r.data instanceof Float32Array)) fail(`${label}: data is not a Float32Array`)
  if (!same(r.shape, shape)) fail(`${label}: shape ${fmt(r.shape)}, expected ${fmt(shape)}`)
  if (r.data.length !== size(shape)) fail(`${label}: ${r.data.length} elements for shape ${fmt(shape)}`)
}

/**
 * Where the reference is NaN the result must not be a number (the check for the 'special'
 * profile): NaN, or ±Infinity where the float64 formula meets ∞ − ∞ on the way to a limit
 * the kernel's formula reaches (log1p(exp(∞)), a normalized ∞). A finite value there is a
 * NaN or an infinity silently lost.
 */
function nanWhere (actual, expected, label) {
  if (actual.length !== expected.length) fail(`${label}: length ${actual.length}, expected ${expected.length}`)
  for (let i = 0; i < actual.length; i++) {
    if (Number.isNaN(expected[i]) && Number.isFinite(actual[i])) fail(`${label}: at ${i} got ${actual[i]}, the reference is NaN`)
  }
}

/** Values against the reference: within tolerance for finite profiles, NaN-wise for 'special'. */
function close (actual, expected, c, label, tol = TOL) {
  const a = actual.data ?? actual
  if (c.prof === 'special') return nanWhere(a, expected, label)
  assertClose(T, a, expected, { ...tol, label })
}

/** The result landed in the caller's out (not a copy) when one was given. */
function inOut (r, out, label) {
  if (out && r.data !== (out.data ?? out)) fail(`${label}: the result is not the out tensor's data`)
}

const shapeArb = (minRank, maxRank, d = {}) => fc.array(dim(d), { minLength: minRank, maxLength: maxRank })
const base = { prof: V.profile, seed: V.seed, form: V.form }
const rec = (o) => fc.record({ ...base, ...o })
// An out tensor filled with NaN: a kernel that skips an element leaves it NaN.
const outT = (shape, fill = NaN) => ({ data: new Float32Array(size(shape)).fill(fill), shape })
const optsWith = (o, extra) => { const r = { ...o, ...extra }; for (const k of Object.keys(r)) if (r[k] === undefined) delete r[k]; return r }

// Gradient outs: which of `keys` get an out (bit mask), and whether they accumulate.
const gradOuts = fc.record({ mask: fc.integer({ min: 0, max: 7 }), acc: fc.boolean() })
function makeGradOuts (g, keys, shapes, seed) {
  if (!g) return { out: undefined, init: {} }
  const mask = g.acc && g.mask === 0 ? 1 : g.mask
  const out = {}; const init = {}
  keys.forEach((k, i) => {
    if (!(mask & (1 << i))) return
    const v = g.acc ? between(size(shapes[k]), -1, 1, seed + 31 * i) : new Float32Array(size(shapes[k])).fill(NaN)
    init[k] = g.acc ? Float64Array.from(v) : null
    out[k] = { data: v, shape: shapes[k] }
  })
  return { out: Object.keys(out).length ? out : undefined, init, acc: g.acc }
}
function checkGrads (fv, r, go, keys, shapes, refs, c, label, tol) {
  for (const k of keys) {
    tensorIs(fv, r[k], shapes[k], `${label} ${k}`)
    const o = go.out && go.out[k]
    inOut(r[k], o, `${label} ${k}`)
    const e = go.acc && o ? Float64Array.from(refs[k], (v, i) => v + go.init[k][i]) : refs[k]
    close(r[k].data, e, c, `${label} ${k}`, tol)
  }
}

const specs = []
const spec = (s) => specs.push(s)

// ---------------------------------------------------------------- activations

for (const [name, refName] of [['relu', 'relu'], ['sigmoid', 'sigmoid'], ['tanh', 'tanh'], ['gelu', null]]) {
  spec({
    name,
    gen: rec({ shape: shapeArb(0, 4), out: fc.boolean(), approximate: fc.constantFrom(undefined, 'none', 'tanh') }),
    sig: ['t', 'o'],
    outs: 'out',
    build (c, fv) {
      const x = data(size(c.shape), c.prof, c.seed)
      const gelu = name === 'gelu'
      const e = act.activation(gelu ? (c.approximate === 'tanh' ? 'geluTanh' : 'gelu') : refName, x)
      return {
        args: () => {
          const o = optsWith({ out: c.out ? outT(c.shape) : undefined, approximate: gelu ? c.approximate : undefined })
          return [tensorOf(fv, x, c.shape, c.form), Object.keys(o).length ? o : undefined]
        },
        check (r, args) {
          tensorIs(fv, r, c.shape, name)
          inOut(r, args[1] && args[1].out, name)
          close(r.data, e, c, name)
        }
      }
    },
    invalid: name === 'gelu' ? [(c, a) => { a[1] = { ...a[1], approximate: 'erf' }; return RangeError }] : []
  })
}

for (const [name, saved] of [['reluBackward', 'x'], ['sigmoidBackward', 'y'], ['tanhBackward', 'y'], ['geluBackward', 'x']]) {
  spec({
    name,
    gen: rec({ shape: shapeArb(0, 4), out: fc.boolean(), approximate: fc.constantFrom(undefined, 'tanh') }),
    sig: ['t', 't', 'o'],
    outs: 'out',
    build (c, fv) {
      const n = size(c.shape)
      const dy = data(n, c.prof, c.seed)
      // sigmoid/tanh take the forward's output: a value in its range.
      const s = saved === 'y'
        ? (name === 'sigmoidBackward' ? between(n, 0, 1, c.seed + 1) : between(n, -1, 1, c.seed + 1))
        : data(n, c.prof === 'special' ? 'special' : 'normal', c.seed + 1)
      let e
      if (name === 'sigmoidBackward') e = Float64Array.from(s, (y, i) => dy[i] * y * (1 - y))
      else if (name === 'tanhBackward') e = Float64Array.from(s, (y, i) => dy[i] * (1 - y * y))
      else if (name === 'reluBackward') e = Float64Array.from(s, (x, i) => (x > 0 || Number.isNaN(x) ? dy[i] : 0))
      else e = act.activationBackward(c.approximate === 'tanh' ? 'geluTanh' : 'gelu', dy, s)
      return {
        args: () => {
          const o = optsWith({ out: c.out ? outT(c.shape) : undefined, approximate: name === 'geluBackward' ? c.approximate : undefined })
          return [tensorOf(fv, dy, c.shape, c.form), { data: s, shape: c.shape }, Object.keys(o).length ? o : undefined]
        },
        check (r, args) {
          tensorIs(fv, r, c.shape, name)
          inOut(r, args[2] && args[2].out, name)
          close(r.data, e, c, name)
        }
      }
    },
    invalid: [(c, a) => { a[1] = { data: new Float32Array(size(c.shape) + 1), shape: [size(c.shape) + 1] }; return RangeError }]
  })
}

// ---------------------------------------------------------------- softmax

const axisOf = (shape, axis) => (axis < 0 ? axis + Math.max(shape.length, 1) : axis)
function view (shape, axis) {
  const a = axisOf(shape, axis)
  let outer = 1; let inner = 1
  for (let i = 0; i < a; i++) outer *= shape[i]
  for (let i = a + 1; i < shape.length; i++) inner *= shape[i]
  return [outer, shape.length === 0 ? 1 : shape[a], inner]
}
const axisCase = (extra = {}) => rec({ shape: shapeArb(0, 4), axisPick: fc.integer({ min: -8, max: 8 }), out: fc.boolean(), ...extra })
  .map((c) => { const r = Math.max(c.shape.length, 1); return { ...c, axis: ((c.axisPick % (2 * r)) + 2 * r) % (2 * r) - r } })

for (const log of [false, true]) {
  const name = log ? 'logSoftmax' : 'softmax'
  spec({
    name,
    gen: axisCase(),
    sig: ['t', 'num?', 'o'],
    outs: 'out',
    build (c, fv) {
      const x = data(size(c.shape), c.prof, c.seed)
      const e = smx.softmax(x, ...view(c.shape, c.axis), log)
      return {
        args: () => [tensorOf(fv, x, c.shape, c.form), c.axis, c.out ? { out: outT(c.shape) } : undefined],
        check (r, args) { tensorIs(fv, r, c.shape, name); inOut(r, args[2] && args[2].out, name); close(r.data, e, c, name) }
      }
    },
    invalid: [(c, a) => { a[1] = c.shape.length + 1; return RangeError }, (c, a) => { a[1] = 0.5; return RangeError }]
  })
  spec({
    name: name + 'Backward',
    gen: axisCase(),
    sig: ['t', 't', 'num?', 'o'],
    outs: 'out',
    build (c, fv) {
      const n = size(c.shape)
      const dy = data(n, c.prof, c.seed)
      const y = fv.ops[name]({ data: data(n, c.prof === 'special' ? 'normal' : c.prof, c.seed + 1), shape: c.shape }, c.axis).data
      const e = smx.softmaxBackward(dy, y, ...view(c.shape, c.axis), log)
      return {
        args: () => [tensorOf(fv, dy, c.shape, c.form), { data: y, shape: c.shape }, c.axis, c.out ? { out: outT(c.shape) } : undefined],
        check (r, args) { tensorIs(fv, r, c.shape, name + 'Backward'); inOut(r, args[3] && args[3].out, name); close(r.data, e, c, name + 'Backward') }
      }
    },
    invalid: [(c, a) => { a[1] = { data: new Float32Array(size(c.shape) + 2), shape: [size(c.shape) + 2] }; return RangeError }]
  })
}

// ---------------------------------------------------------------- elementwise

// Two shapes that broadcast: each a right-aligned suffix of the result with some dims 1.
const broadcastPair = fc.record({
  out: shapeArb(0, 4, { max: 5 }),
  aDrop: fc.nat(4), bDrop: fc.nat(4), aOnes: fc.nat(15), bOnes: fc.nat(15)
}).map(({ out, aDrop, bDrop, aOnes, bOnes }) => {
  const make = (drop, ones) => out.slice(Math.min(drop, out.length)).map((d, i) => ((ones >> i) & 1 ? 1 : d))
  return { aShape: make(aDrop, aOnes), bShape: make(bDrop, bOnes) }
})

for (const op of ['add', 'mul']) {
  spec({
    name: op,
    gen: fc.tuple(rec({ out: fc.boolean() }), broadcastPair).map(([c, s]) => ({ ...c, ...s })),
    sig: ['t', 't', 'o'],
    outs: 'out',
    build (c, fv) {
      const a = data(size(c.aShape), c.prof, c.seed); const b = data(size(c.bShape), c.prof, c.seed + 1)
      const e = ew.binary(op, a, c.aShape, b, c.bShape)
      return {
        args: () => [tensorOf(fv, a, c.aShape, c.form), { data: b, shape: c.bShape }, c.out ? { out: outT(e.shape) } : undefined],
        check (r, args) { tensorIs(fv, r, e.shape, op); inOut(r, args[2] && args[2].out, op); close(r.data, e.y, c, op) }
      }
    },
    invalid: [(c, a) => {
      // b gets a dim that clashes with a's: [..., d+1] against [..., d] with d ≥ 2.
      const last = c.aShape[c.aShape.length - 1]
      if (!(last >= 2)) return null
      a[1] = { data: new Float32Array(last + 1), shape: [last + 1] }
      return RangeError
    }]
  })
}

spec({
  name: 'addBackward',
  gen: fc.tuple(rec({ go: fc.option(gradOuts) }), broadcastPair).map(([c, s]) => ({ ...c, ...s })),
  sig: ['t', 'shape', 'shape', 'o'],
  outs: ['da', 'db'],
  build (c, fv) {
    const yShape = ew.broadcastShape(c.aShape, c.bShape)
    const dy = data(size(yShape), c.prof, c.seed)
    const e = ew.binaryBackward('add', dy, null, c.aShape, null, c.bShape)
    const shapes = { da: c.aShape, db: c.bShape }
    return {
      args: () => {
        const go = makeGradOuts(c.go && { ...c.go, acc: false }, ['da', 'db'], shapes, c.seed)
        return [tensorOf(fv, dy, yShape, c.form), c.aShape, c.bShape, go.out ? { out: go.out } : undefined]
      },
      check (r, args) {
        checkGrads(fv, r, { out: args[3] && args[3].out }, ['da', 'db'], shapes, e, c, 'addBackward')
      }
    }
  },
  invalid: [(c, a) => { a[1] = [...c.aShape, 2, 3]; return RangeError }, (c, a) => { a[2] = [-1]; return RangeError }]
})

spec({
  name: 'mulBackward',
  gen: fc.tuple(rec({ go: fc.option(gradOuts) }), broadcastPair).map(([c, s]) => ({ ...c, ...s })),
  sig: ['t', 't', 't', 'o'],
  outs: ['da', 'db'],
  build (c, fv) {
    const yShape = ew.broadcastShape(c.aShape, c.bShape)
    const dy = data(size(yShape), c.prof, c.seed)
    const a = data(size(c.aShape), c.prof, c.seed + 1); const b = data(size(c.bShape), c.prof, c.seed + 2)
    const e = ew.binaryBackward('mul', dy, a, c.aShape, b, c.bShape)
    const shapes = { da: c.aShape, db: c.bShape }
    return {
      args: () => {
        const go = makeGradOuts(c.go && { ...c.go, acc: false }, ['da', 'db'], shapes, c.seed)
        return [tensorOf(fv, dy, yShape, c.form), { data: a, shape: c.aShape }, { data: b, shape: c.bShape }, go.out ? { out: go.out } : undefined]
      },
      check (r, args) { checkGrads(fv, r, { out: args[3] && args[3].out }, ['da', 'db'], shapes, e, c, 'mulBackward') }
    }
  }
})

// ---------------------------------------------------------------- linear family

const linearCase = rec({
  batch: shapeArb(0, 2, { max: 4 }), K: dim({ max: 9 }), N: dim({ max: 9 }), bias: fc.boolean(), out: fc.boolean()
})

spec({
  name: 'linear',
  gen: linearCase,
  sig: ['t', 't', 't?', 'o'],
  outs: 'out',
  build (c, fv) {
    const xs = [...c.batch, c.K]; const M = size(c.batch)
    const x = data(size(xs), c.prof, c.seed); const w = data(c.N * c.K, c.prof, c.seed + 1)
    const b = c.bias ? data(c.N, c.prof, c.seed + 2) : null
    const ys = [...c.batch, c.N]
    const e = lin.linear(x, w, b, M, c.K, c.N)
    return {
      args: () => [tensorOf(fv, x, xs, c.form), { data: w, shape: [c.N, c.K] }, b && { data: b, shape: [c.N] },
        c.out ? { out: outT(ys) } : undefined],
      check (r, args) { tensorIs(fv, r, ys, 'linear'); inOut(r, args[3] && args[3].out, 'linear'); close(r.data, e, c, 'linear') }
    }
  },
  invalid: [
    (c, a) => { a[1] = { data: new Float32Array((c.K + 1) * 2), shape: [2, c.K + 1] }; return RangeError },
    (c, a) => { a[2] = { data: new Float32Array(c.N + 1), shape: [c.N + 1] }; return RangeError }
  ]
})

spec({
  name: 'linearBackward',
  gen: linearCase.chain((c) => gradOuts.map((go) => ({ ...c, go }))),
  sig: ['t', 't', 't', 'o'],
  outs: ['dx', 'dw', 'db'],
  build (c, fv) {
    const xs = [...c.batch, c.K]; const M = size(c.batch); const ys = [...c.batch, c.N]
    const dy = data(size(ys), c.prof, c.seed); const x = data(size(xs), c.prof, c.seed + 1); const w = data(c.N * c.K, c.prof, c.seed + 2)
    const e = lin.linearBackward(dy, x, w, M, c.K, c.N)
    const shapes = { dx: xs, dw: [c.N, c.K], db: [c.N] }
    const keys = ['dx', 'dw', 'db']
    return {
      args: () => {
        const go = makeGradOuts(c.out ? c.go : null, keys, shapes, c.seed)
        return [tensorOf(fv, dy, ys, c.form), { data: x, shape: xs }, { data: w, shape: [c.N, c.K] },
          go.out ? { out: go.out, accumulate: go.acc } : undefined, go]
      },
      check (r, args) { checkGrads(fv, r, args[4], keys, shapes, e, c, 'linearBackward') }
    }
  },
  invalid: [(c, a) => { a[3] = { accumulate: true }; return RangeError }]
})

// Batch dims for matmul: a common batch shape, each side a right-aligned suffix with some dims 1.
const matmulCase = rec({
  batch: shapeArb(0, 3, { max: 3 }), aDrop: fc.nat(3), bDrop: fc.nat(3), aOnes: fc.nat(7), bOnes: fc.nat(7),
  M: dim({ max: 7 }), K: dim({ max: 9 }), N: dim({ max: 7 }), a1: fc.boolean(), b1: fc.boolean(), out: fc.boolean()
}).map((c) => {
  const side = (drop, ones) => c.batch.slice(Math.min(drop, c.batch.length)).map((d, i) => ((ones >> i) & 1 ? 1 : d))
  const aShape = c.a1 ? [c.K] : [...side(c.aDrop, c.aOnes), c.M, c.K]
  const bShape = c.b1 ? [c.K] : [...side(c.bDrop, c.bOnes), c.K, c.N]
  return { ...c, aShape, bShape }
})

spec({
  name: 'matmul',
  gen: matmulCase,
  sig: ['t', 't', 'o'],
  outs: 'out',
  build (c, fv) {
    const a = data(size(c.aShape), c.prof, c.seed); const b = data(size(c.bShape), c.prof, c.seed + 1)
    const e = mm.matmul(a, c.aShape, b, c.bShape)
    return {
      args: () => [tensorOf(fv, a, c.aShape, c.form), { data: b, shape: c.bShape }, c.out ? { out: outT(e.shape) } : undefined],
      check (r, args) { tensorIs(fv, r, e.shape, 'matmul'); inOut(r, args[2] && args[2].out, 'matmul'); close(r.data, e.data, c, 'matmul') }
    }
  },
  invalid: [(c, a) => { a[1] = { data: new Float32Array(c.K + 1), shape: [c.K + 1] }; return RangeError }]
})

spec({
  name: 'matmulBackward',
  gen: matmulCase.chain((c) => fc.option(gradOuts).map((go) => ({ ...c, go }))),
  sig: ['t', 't', 't', 'o'],
  outs: ['da', 'db'],
  build (c, fv) {
    const ys = mm.matmulShapes(c.aShape, c.bShape).yShape
    const dy = data(size(ys), c.prof, c.seed)
    const a = data(size(c.aShape), c.prof, c.seed + 1); const b = data(size(c.bShape), c.prof, c.seed + 2)
    const e = mm.matmulBackward(dy, a, c.aShape, b, c.bShape)
    const shapes = { da: c.aShape, db: c.bShape }
    return {
      args: () => {
        const go = makeGradOuts(c.go && { ...c.go, acc: false }, ['da', 'db'], shapes, c.seed)
        return [tensorOf(fv, dy, ys, c.form), { data: a, shape: c.aShape }, { data: b, shape: c.bShape }, go.out ? { out: go.out } : undefined]
      },
      check (r, args) { checkGrads(fv, r, { out: args[3] && args[3].out }, ['da', 'db'], shapes, e, c, 'matmulBackward') }
    }
  }
})

spec({
  name: 'gemm',
  gen: rec({
    M: dim({ max: 7 }), K: dim({ max: 9 }), N: dim({ max: 7 }), batch: fc.integer({ min: 0, max: 3 }),
    aB: fc.boolean(), bB: fc.boolean(), cMode: fc.constantFrom('none', '2d', '3d'), transA: fc.boolean(), transB: fc.boolean(),
    alpha: fc.constantFrom(undefined, 1, 0, -0.5, 2), beta: fc.constantFrom(undefined, 0, 1, -2, 0.25),
    biasRow: fc.boolean(), biasCol: fc.boolean(), relu: fc.boolean(), out: fc.boolean()
  }),
  sig: ['t', 't', 'o'],
  outs: 'out',
  build (c, fv) {
    const batched = c.aB || c.bB
    const a2 = c.transA ? [c.K, c.M] : [c.M, c.K]; const b2 = c.transB ? [c.N, c.K] : [c.K, c.N]
    const aShape = c.aB ? [c.batch, ...a2] : a2; const bShape = c.bB ? [c.batch, ...b2] : b2
    const yShape = batched ? [c.batch, c.M, c.N] : [c.M, c.N]
    const cShape = c.cMode === 'none' ? null : c.cMode === '3d' && batched ? yShape : [c.M, c.N]
    const a = data(size(aShape), c.prof, c.seed); const b = data(size(bShape), c.prof, c.seed + 1)
    const cc = cShape && data(size(cShape), c.prof, c.seed + 2)
    const br = c.biasRow ? data(c.N, c.prof, c.seed + 3) : null; const bc = c.biasCol ? data(c.M, c.prof, c.seed + 4) : null
    const beta = cShape ? c.beta : undefined
    const e = mm.gemm({ a, aShape, b, bShape, transA: c.transA, transB: c.transB, alpha: c.alpha ?? 1, beta, c: cc, cShape,
      biasRow: br, biasCol: bc, relu: c.relu })
    return {
      args: () => [tensorOf(fv, a, aShape, c.form), { data: b, shape: bShape }, optsWith({
        transA: c.transA, transB: c.transB, alpha: c.alpha, beta, c: cShape ? { data: cc, shape: cShape } : undefined,
        biasRow: br ? { data: br, shape: [c.N] } : undefined, biasCol: bc ? { data: bc, shape: [c.M] } : undefined,
        activation: c.relu ? 'relu' : undefined, out: c.out ? outT(yShape) : undefined
      })],
      check (r, args) { tensorIs(fv, r, yShape, 'gemm'); inOut(r, args[2].out, 'gemm'); close(r.data, e, c, 'gemm') }
    }
  },
  invalid: [
    (c, a) => { a[2] = { ...a[2], beta: 1, c: undefined }; return RangeError },
    (c, a) => { a[2] = { ...a[2], alpha: Infinity }; return RangeError },
    (c, a) => { a[2] = { ...a[2], activation: 'gelu' }; return RangeError },
    (c, a) => { a[2] = { ...a[2], biasRow: { data: new Float32Array(c.N + 1), shape: [c.N + 1] } }; return RangeError }
  ]
})

// ---------------------------------------------------------------- conv family

// The forward and backward specs every convolution shares: x, w and an optional bias
// through `ref` (test/reference/conv.js's op of the same name), dx/dw/db through `refBackward`.
function convSpec (name, gen, biasLen, invalid) {
  spec({
    name,
    gen,
    sig: ['t', 't', 't?', 'o'],
    outs: 'out',
    build (c, fv) {
      const x = { data: data(size(c.xs), c.prof, c.seed), shape: c.xs }; const w = { data: data(size(c.ws), c.prof, c.seed + 1), shape: c.ws }
      const b = c.bias ? { data: data(biasLen(c), c.prof, c.seed + 2), shape: [biasLen(c)] } : null
      const o = { ...c.o, activation: c.relu ? 'relu' : undefined }
      const e = conv[name](x, w, b, o)
      return {
        args: () => [tensorOf(fv, x.data, c.xs, c.form), w, b, optsWith(o, { out: c.out ? outT(e.shape) : undefined })],
        check (r, args) { tensorIs(fv, r, e.shape, name); inOut(r, args[3].out, name); close(r.data, e.data, c, name) }
      }
    },
    invalid
  })
}

function convBackwardSpec (forward, gen, tol, invalid) {
  const name = `${forward}Backward`
  spec({
    name,
    gen: gen.chain((c) => gradOuts.map((go) => ({ ...c, go }))),
    sig: ['t', 't', 't', 'o'],
    outs: ['dx', 'dw', 'db'],
    build (c, fv) {
      const x = { data: data(size(c.xs), c.prof, c.seed + 1), shape: c.xs }; const w = { data: data(size(c.ws), c.prof, c.seed + 2), shape: c.ws }
      const ys = conv[forward](x, w, null, c.o).shape
      const dy = { data: data(size(ys), c.prof, c.seed), shape: ys }
      const e = conv[name](dy, x, w, c.o)
      const shapes = { dx: c.xs, dw: c.ws, db: [ys[1]] }
      const keys = ['dx', 'dw', 'db']
      return {
        args: () => {
          const go = makeGradOuts(c.out ? c.go : null, keys, shapes, c.seed)
          return [tensorOf(fv, dy.data, ys, c.form), x, w, optsWith(c.o, { out: go.out, accumulate: go.out ? go.acc : undefined }), go]
        },
        check (r, args) { checkGrads(fv, r, args[4], keys, shapes, e, c, name, tol) }
      }
    },
    invalid
  })
}

const convGeom = rec({
  N: dim({ max: 2 }), groups: fc.constantFrom(1, 1, 2, 3), cg: dim({ max: 3 }), og: dim({ max: 3, zero: false }),
  kh: fc.integer({ min: 1, max: 4 }), kw: fc.integer({ min: 1, max: 4 }),
  sh: fc.integer({ min: 1, max: 3 }), sw: fc.integer({ min: 1, max: 3 }), dh: fc.integer({ min: 1, max: 3 }), dw: fc.integer({ min: 1, max: 2 }),
  padMode: fc.constantFrom('none', 'num', 'pair', 'four', 'same', 'valid'),
  pads: fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(3)),
  extraH: fc.nat(5), extraW: fc.nat(9), bias: fc.boolean(), relu: fc.boolean(), out: fc.boolean()
}).map((c) => {
  const C = c.groups * c.cg; const Cout = c.groups * c.og
  const p = c.pads
  const padding = { none: undefined, num: p[0], pair: [p[0], p[1]], four: p, same: 'same', valid: 'valid' }[c.padMode]
  const four = c.padMode === 'num'
    ? [p[0], p[0], p[0], p[0]]
    : c.padMode === 'pair'
      ? [p[0], p[0], p[1], p[1]]
      : c.padMode === 'four' ? p : [0, 0, 0, 0]
  const same = c.padMode === 'same'
  const H = Math.max(same ? 1 : 0, c.dh * (c.kh - 1) + 1 - (same ? 0 : four[0] + four[1]) + c.extraH - 1)
  const W = Math.max(same ? 1 : 0, c.dw * (c.kw - 1) + 1 - (same ? 0 : four[2] + four[3]) + c.extraW - 1)
  const o = optsWith({ stride: c.sh === c.sw ? c.sh : [c.sh, c.sw], dilation: [c.dh, c.dw], padding, groups: c.groups === 1 ? undefined : c.groups })
  return { ...c, xs: [c.N, C, Math.max(H, 0), Math.max(W, 0)], ws: [Cout, c.cg, c.kh, c.kw], o }
}).filter((c) => {
  // The window must fit the padded input (a RangeError otherwise: the invalid fuzzer's job).
  const g = conv.geometry(c.xs, c.ws, c.o)
  return g.OH >= 1 && g.OW >= 1
})

convSpec('conv2d', convGeom, (c) => c.ws[0], [
  (c, a) => { a[3] = { ...a[3], stride: 0 }; return RangeError },
  (c, a) => { a[3] = { ...a[3], padding: 'full' }; return RangeError },
  (c, a) => { a[3] = { ...a[3], padding: [1, 2, 3] }; return TypeError },
  (c, a) => { a[3] = { ...a[3], groups: c.xs[1] + 1 }; return c.xs[1] === 0 ? null : RangeError },  // C = 0: groups 1 is valid
  (c, a) => { a[3] = { ...a[3], dilation: [1, 2 ** 41] }; return RangeError },
  // a kernel far larger than x (valid only with 'same' padding, which pads as much as it takes)
  (c, a) => { a[1] = { data: new Float32Array(size(c.ws) * 50), shape: [c.ws[0], c.ws[1], c.ws[2] * 50 + 200, 1] }; return c.padMode === 'same' ? null : RangeError }
])

convBackwardSpec('conv2d', convGeom, { rtol: 1e-3, atol: 1e-3 }, [(c, a) => { a[0] = { data: new Float32Array(1), shape: [1, 1, 1, 1] }; return RangeError }])

const transposeGeom = rec({
  N: dim({ max: 2 }), groups: fc.constantFrom(1, 2), cig: fc.integer({ min: 1, max: 3 }), cog: dim({ max: 3, zero: false }),
  H: fc.integer({ min: 1, max: 5 }), W: fc.integer({ min: 1, max: 7 }),
  kh: fc.integer({ min: 1, max: 4 }), kw: fc.integer({ min: 1, max: 4 }),
  sh: fc.integer({ min: 1, max: 3 }), sw: fc.integer({ min: 1, max: 3 }), dh: fc.integer({ min: 1, max: 2 }), dw: fc.integer({ min: 1, max: 2 }),
  pads: fc.tuple(fc.nat(1), fc.nat(1), fc.nat(1), fc.nat(1)), oph: fc.nat(2), opw: fc.nat(2), bias: fc.boolean(), relu: fc.boolean(), out: fc.boolean()
}).map((c) => {
  const Cin = c.groups * c.cig
  const o = optsWith({
    stride: [c.sh, c.sw], dilation: [c.dh, c.dw], padding: c.pads, groups: c.groups === 1 ? undefined : c.groups,
    outputPadding: [Math.min(c.oph, c.sh - 1), Math.min(c.opw, c.sw - 1)]
  })
  return { ...c, xs: [c.N, Cin, c.H, c.W], ws: [Cin, c.cog, c.kh, c.kw], o }
}).filter((c) => {
  const [, , OH, OW] = conv.conv2dTranspose({ data: [], shape: [0, c.xs[1], c.H, c.W] }, { data: [], shape: c.ws }, null, c.o).shape
  return OH >= 1 && OW >= 1
})

convSpec('conv2dTranspose', transposeGeom, (c) => c.cog * c.groups, [
  (c, a) => { a[3] = { ...a[3], outputPadding: [c.sh, 0] }; return RangeError },
  (c, a) => { a[3] = { ...a[3], padding: 'same' }; return RangeError },
  (c, a) => { a[3] = { ...a[3], padding: [c.kh * 4 + c.H * c.sh, 0] }; return RangeError }
])

// dw sums N·H·W products in float32: 'wide' values cancel to far less than the terms
convBackwardSpec('conv2dTranspose', transposeGeom, { rtol: 1e-3, atol: 1e-3 })

const conv1dGeom = rec({
  N: dim({ max: 2 }), groups: fc.constantFrom(1, 2), cg: dim({ max: 3 }), og: dim({ max: 3, zero: false }),
  k: fc.integer({ min: 1, max: 5 }), stride: fc.integer({ min: 1, max: 3 }), dil: fc.integer({ min: 1, max: 3 }),
  padMode: fc.constantFrom('none', 'num', 'pair', 'same', 'valid'), pads: fc.tuple(fc.nat(3), fc.nat(3)),
  extra: fc.nat(12), bias: fc.boolean(), relu: fc.boolean(), out: fc.boolean()
}).map((c) => {
  const same = c.padMode === 'same'
  const padding = { none: undefined, num: c.pads[0], pair: c.pads, same: 'same', valid: 'valid' }[c.padMode]
  const lr = c.padMode === 'num' ? 2 * c.pads[0] : c.padMode === 'pair' ? c.pads[0] + c.pads[1] : 0
  const L = Math.max(same ? 1 : 0, c.dil * (c.k - 1) + 1 - lr + c.extra - 1)
  const o = optsWith({ stride: c.stride, dilation: c.dil, padding, groups: c.groups === 1 ? undefined : c.groups })
  return { ...c, xs: [c.N, c.groups * c.cg, L], ws: [c.groups * c.og, c.cg, c.k], o }
}).filter((c) => {
  const y = conv.conv1d({ data: [], shape: [0, c.xs[1], c.xs[2]] }, { data: [], shape: c.ws }, null, c.o)
  return y.shape[2] >= 1
})

convSpec('conv1d', conv1dGeom, (c) => c.ws[0], [(c, a) => { a[3] = { ...a[3], stride: [1, 2] }; return TypeError }, (c, a) => { a[0] = { ...a[0], shape: [...c.xs, 1] }; return RangeError }])

convBackwardSpec('conv1d', conv1dGeom)

// ---------------------------------------------------------------- pools

const poolGeom = (avg) => rec({
  N: dim({ max: 2 }), C: dim({ max: 3 }), kh: fc.integer({ min: 1, max: 4 }), kw: fc.integer({ min: 1, max: 4 }),
  stride: fc.option(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }))),
  dil: avg ? fc.constant([1, 1]) : fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 })),
  padMode: fc.constantFrom('none', 'num', 'pair', 'four'), pads: fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(3)),
  extraH: fc.nat(6), extraW: fc.nat(12), ceilMode: fc.boolean(), countIncludePad: fc.constantFrom(undefined, true, false),
  kernelForm: fc.boolean(), out: fc.boolean()
}).map((c) => {
  const p = c.pads
  const padding = { none: undefined, num: p[0], pair: [p[0], p[1]], four: p }[c.padMode]
  const four = c.padMode === 'num' ? [p[0], p[0], p[0], p[0]] : c.padMode === 'pair' ? [p[0], p[0], p[1], p[1]] : c.padMode === 'four' ? p : [0, 0, 0, 0]
  const H = Math.max(0, c.dil[0] * (c.kh - 1) + 1 - four[0] - four[1] + c.extraH)
  const W = Math.max(0, c.dil[1] * (c.kw - 1) + 1 - four[2] - four[3] + c.extraW)
  const o = optsWith({
    kernel: c.kernelForm && c.kh === c.kw ? c.kh : [c.kh, c.kw], stride: c.stride ?? undefined, padding,
    dilation: avg || (c.dil[0] === 1 && c.dil[1] === 1) ? undefined : c.dil, ceilMode: c.ceilMode || undefined,
    countIncludePad: avg ? c.countIncludePad : undefined
  })
  return { ...c, xs: [c.N, c.C, H, W], o }
}).filter((c) => {
  const g = pool.maxPool2d({ data: [], shape: [0, 0, c.xs[2], c.xs[3]] }, c.o)
  return g.shape[2] >= 1 && g.shape[3] >= 1
})

for (const kind of ['max', 'avg']) {
  const name = `${kind}Pool2d`
  const fwd = kind === 'max' ? pool.maxPool2d : pool.avgPool2d
  const bwd = kind === 'max' ? pool.maxPool2dBackward : pool.avgPool2dBackward
  spec({
    name,
    gen: poolGeom(kind === 'avg'),
    sig: ['t', 'o!'],
    outs: 'out',
    build (c, fv) {
      const x = { data: data(size(c.xs), c.prof, c.seed), shape: c.xs }
      const e = fwd(x, c.o)
      return {
        args: () => [tensorOf(fv, x.data, c.xs, c.form), optsWith(c.o, { out: c.out ? outT(e.shape) : undefined })],
        check (r, args) { tensorIs(fv, r, e.shape, name); inOut(r, args[1].out, name); close(r.data, e.data, c, name) }
      }
    },
    invalid: [
      (c, a) => { a[1] = { ...a[1], kernel: undefined }; delete a[1].kernel; return TypeError },
      (c, a) => { a[1] = { ...a[1], kernel: [c.xs[2] + 20 + (a[1].padding === undefined ? 0 : 12), 1] }; return RangeError },
      (c, a) => { a[1] = { ...a[1], ceilMode: 'yes' }; return TypeError },
      (c, a) => { a[1] = { ...a[1], stride: [0, 1] }; return RangeError }
    ]
  })
  spec({
    name: name + 'Backward',
    gen: poolGeom(kind === 'avg').chain((c) => fc.boolean().map((acc) => ({ ...c, acc }))),
    sig: ['t', 't', 'o!'],
    outs: 'out',
    build (c, fv) {
      const x = { data: data(size(c.xs), c.prof, c.seed + 1), shape: c.xs }
      const ys = fwd(x, c.o).shape
      const dy = { data: data(size(ys), c.prof, c.seed), shape: ys }
      const e = bwd(dy, x, c.o)
      const init = c.out && c.acc ? between(size(c.xs), -1, 1, c.seed + 5) : null
      const exp = init ? Float64Array.from(e, (v, i) => v + init[i]) : e
      return {
        args: () => [tensorOf(fv, dy.data, ys, c.form), x, optsWith(c.o, {
          out: c.out ? (init ? { data: init.slice(), shape: c.xs } : outT(c.xs)) : undefined, accumulate: init ? true : undefined
        })],
        check (r, args) { tensorIs(fv, r, c.xs, name + 'Backward'); inOut(r, args[2].out, name); close(r.data, exp, c, name + 'Backward') }
      }
    },
    invalid: [(c, a) => { a[2] = { ...a[2], accumulate: true, out: undefined }; delete a[2].out; return RangeError }]
  })
}

const adaptiveGeom = rec({
  N: dim({ max: 2 }), C: dim({ max: 3 }), H: fc.integer({ min: 1, max: 9 }), W: fc.integer({ min: 1, max: 9 }),
  OH: fc.integer({ min: 1, max: 6 }), OW: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constant(null)), num: fc.boolean(), out: fc.boolean(), acc: fc.boolean()
}).map((c) => ({ ...c, xs: [c.N, c.C, c.H, c.W], size: c.num ? c.OH : [c.OH, c.OW], OWr: c.num ? c.OH : c.OW ?? c.W }))

spec({
  name: 'adaptiveAvgPool2d',
  gen: adaptiveGeom,
  sig: ['t', 'num', 'o'],
  outs: 'out',
  build (c, fv) {
    const x = { data: data(size(c.xs), c.prof, c.seed), shape: c.xs }
    const e = pool.adaptiveAvgPool2d(x, c.OH, c.OWr)
    return {
      args: () => [tensorOf(fv, x.data, c.xs, c.form), c.size, c.out ? { out: outT(e.shape) } : undefined],
      check (r, args) { tensorIs(fv, r, e.shape, 'adaptiveAvgPool2d'); inOut(r, args[2] && args[2].out, 'adaptive'); close(r.data, e.data, c, 'adaptiveAvgPool2d') }
    }
  },
  invalid: [(c, a) => { a[1] = 0; return RangeError }, (c, a) => { a[1] = [1, 2, 3]; return TypeError }]
})

spec({
  name: 'adaptiveAvgPool2dBackward',
  gen: adaptiveGeom,
  sig: ['t', 't', 'o'],
  outs: 'out',
  build (c, fv) {
    const x = { data: data(size(c.xs), c.prof, c.seed + 1), shape: c.xs }
    const ys = [c.N, c.C, c.OH, c.OWr]
    const dy = { data: data(size(ys), c.prof, c.seed), shape: ys }
    const e = pool.adaptiveAvgPool2dBackward(dy, x)
    const init = c.out && c.acc ? between(size(c.xs), -1, 1, c.seed + 5) : null
    const exp = init ? Float64Array.from(e, (v, i) => v + init[i]) : e
    return {
      args: () => [tensorOf(fv, dy.data, ys, c.form), x, c.out ? { out: init ? { data: init.slice(), shape: c.xs } : outT(c.xs), accumulate: !!init } : undefined],
      check (r, args) { tensorIs(fv, r, c.xs, 'adaptiveAvgPool2dBackward'); inOut(r, args[2] && args[2].out, 'adaptiveB'); close(r.data, exp, c, 'adaptiveAvgPool2dBackward') }
    }
  }
})

spec({
  name: 'globalAvgPool2d',
  gen: adaptiveGeom,
  sig: ['t', 'o'],
  outs: 'out',
  build (c, fv) {
    const x = { data: data(size(c.xs), c.prof, c.seed), shape: c.xs }
    const e = pool.adaptiveAvgPool2d(x, 1, 1)
    return {
      args: () => [tensorOf(fv, x.data, c.xs, c.form), c.out ? { out: outT(e.shape) } : undefined],
      check (r, args) { tensorIs(fv, r, e.shape, 'globalAvgPool2d'); inOut(r, args[1] && args[1].out, 'global'); close(r.data, e.data, c, 'globalAvgPool2d') }
    }
  },
  invalid: [(c, a) => { a[0] = { data: new Float32Array(c.N * c.C), shape: [c.N, c.C, 0, 1] }; return RangeError }]
})

spec({
  name: 'globalAvgPool2dBackward',
  gen: adaptiveGeom,
  sig: ['t', 't', 'o'],
  outs: 'out',
  build (c, fv) {
    const x = { data: data(size(c.xs), c.prof, c.seed + 1), shape: c.xs }
    const ys = [c.N, c.C, 1, 1]
    const dy = { data: data(size(ys), c.prof, c.seed), shape: ys }
    const e = pool.adaptiveAvgPool2dBackward(dy, x)
    return {
      args: () => [tensorOf(fv, dy.data, ys, c.form), x, c.out ? { out: outT(c.xs) } : undefined],
      check (r, args) { tensorIs(fv, r, c.xs, 'globalAvgPool2dBackward'); inOut(r, args[2] && args[2].out, 'globalB'); close(r.data, e, c, 'globalAvgPool2dBackward') }
    }
  }
})

// ---------------------------------------------------------------- norm

const lnCase = rec({ shape: shapeArb(1, 4, { max: 5 }), k: fc.integer({ min: 1, max: 4 }), num: fc.boolean(), w: fc.boolean(), b: fc.boolean(),
  eps: fc.constantFrom(undefined, 1e-5, 1e-3, 0.5), out: fc.boolean() })
  .map((c) => {
    const k = Math.min(c.k, c.shape.length)
    const ns = c.shape.slice(c.shape.length - k)
    return { ...c, ns, nsArg: k === 1 && c.num ? ns[0] : ns, D: size(ns), rows: size(c.shape.slice(0, c.shape.length - k)) }
  })

spec({
  name: 'layerNorm',
  gen: lnCase,
  sig: ['t', 'num', 't?', 't?', 'o'],
  outs: 'out',
  tol: { rtol: 1e-3, atol: 1e-3 },
  build (c, fv) {
    const x = data(size(c.shape), c.prof, c.seed)
    const w = c.w ? data(c.D, c.prof, c.seed + 1) : null; const b = c.b ? data(c.D, c.prof, c.seed + 2) : null
    const e = nrm.layerNorm(x, c.rows, c.D, w, b, c.eps ?? 1e-5)
    return {
      args: () => [tensorOf(fv, x, c.shape, c.form), c.nsArg, w && { data: w, shape: c.ns }, b && { data: b, shape: c.ns },
        optsWith({ eps: c.eps, out: c.out ? outT(c.shape) : undefined })],
      check (r, args) { tensorIs(fv, r, c.shape, 'layerNorm'); inOut(r, args[4].out, 'layerNorm'); close(r.data, e, c, 'layerNorm', { rtol: 1e-3, atol: 1e-3 }) }
    }
  },
  invalid: [(c, a) => { a[1] = [...c.ns, 7]; return RangeError }, (c, a) => { a[4] = { eps: -1 }; return RangeError }, (c, a) => { a[4] = { eps: NaN }; return RangeError }]
})

spec({
  name: 'layerNormBackward',
  gen: lnCase.chain((c) => gradOuts.map((go) => ({ ...c, go }))),
  sig: ['t', 't', 'num', 't?', 'o'],
  outs: ['dx', 'dweight', 'dbias'],
  build (c, fv) {
    const dy = data(size(c.shape), c.prof, c.seed); const x = data(size(c.shape), c.prof, c.seed + 1)
    const w = c.w ? data(c.D, c.prof, c.seed + 2) : null
    const e = nrm.layerNormBackward(dy, x, c.rows, c.D, w, c.eps ?? 1e-5)
    const shapes = { dx: c.shape, dweight: c.ns, dbias: c.ns }
    const keys = ['dx', 'dweight', 'dbias']
    return {
      args: () => {
        const go = makeGradOuts(c.out ? c.go : null, keys, shapes, c.seed)
        return [tensorOf(fv, dy, c.shape, c.form), { data: x, shape: c.shape }, c.nsArg, w && { data: w, shape: c.ns },
          optsWith({ eps: c.eps, out: go.out, accumulate: go.out ? go.acc : undefined }), go]
      },
      check (r, args) { checkGrads(fv, r, args[5], keys, shapes, e, c, 'layerNormBackward', { rtol: 2e-3, atol: 2e-3 }) }
    }
  }
})

const bnCase = rec({
  N: dim({ max: 3 }), C: dim({ max: 4 }), sp: shapeArb(0, 2, { max: 4 }), training: fc.boolean(), running: fc.boolean(),
  w: fc.boolean(), b: fc.boolean(), momentum: fc.constantFrom(undefined, 0, 0.1, 1), eps: fc.constantFrom(undefined, 1e-5, 0.1), out: fc.boolean()
}).map((c) => ({ ...c, xs: [c.N, c.C, ...c.sp], S: size(c.sp), hasRunning: !c.training || c.running }))
  .filter((c) => !c.training || c.N * c.S > 1)

spec({
  name: 'batchNorm2d',
  gen: bnCase,
  sig: ['t', 't?', 't?', 't?', 't?', 'o'],
  outs: 'out',
  build (c, fv) {
    const x = data(size(c.xs), c.prof, c.seed)
    const rm = c.hasRunning ? data(c.C, 'normal', c.seed + 1) : null; const rv = c.hasRunning ? between(c.C, 0.1, 2, c.seed + 2) : null
    const w = c.w ? data(c.C, c.prof, c.seed + 3) : null; const b = c.b ? data(c.C, c.prof, c.seed + 4) : null
    const e = nrm.batchNorm(x, c.N, c.C, c.S, rm, rv, w, b, { training: c.training, momentum: c.momentum ?? 0.1, eps: c.eps ?? 1e-5 })
    const tol = { rtol: 1e-3, atol: 1e-3 }
    return {
      args: () => [tensorOf(fv, x, c.xs, c.form), rm && { data: rm.slice(), shape: [c.C] }, rv && { data: rv.slice(), shape: [c.C] },
        w && { data: w, shape: [c.C] }, b && { data: b, shape: [c.C] },
        optsWith({ training: c.training, momentum: c.momentum, eps: c.eps, out: c.out ? outT(c.xs) : undefined })],
      check (r, args) {
        tensorIs(fv, r, c.xs, 'batchNorm2d'); inOut(r, args[5].out, 'batchNorm2d'); close(r.data, e.y, c, 'batchNorm2d', tol)
        if (c.hasRunning) {
          close(args[1].data, e.runningMean, c, 'batchNorm2d runningMean', tol)
          close(args[2].data, e.runningVar, c, 'batchNorm2d runningVar', tol)
        }
      }
    }
  },
  invalid: [
    (c, a) => { if (c.training) return null; a[1] = null; a[2] = null; return RangeError },
    (c, a) => { a[5] = { ...a[5], momentum: 2 }; return RangeError },
    (c, a) => { a[1] = { data: new Float32Array(c.C + 1), shape: [c.C + 1] }; return RangeError }
  ]
})

spec({
  name: 'batchNorm2dBackward',
  gen: bnCase.chain((c) => gradOuts.map((go) => ({ ...c, go }))),
  sig: ['t', 't', 't?', 't?', 't?', 'o'],
  outs: ['dx', 'dweight', 'dbias'],
  build (c, fv) {
    const dy = data(size(c.xs), c.prof, c.seed); const x = data(size(c.xs), c.prof, c.seed + 1)
    const rm = c.hasRunning ? data(c.C, 'normal', c.seed + 2) : null; const rv = c.hasRunning ? between(c.C, 0.1, 2, c.seed + 3) : null
    const w = c.w ? data(c.C, c.prof, c.seed + 4) : null
    const e = nrm.batchNormBackward(dy, x, c.N, c.C, c.S, rm, rv, w, { training: c.training, eps: c.eps ?? 1e-5 })
    const shapes = { dx: c.xs, dweight: [c.C], dbias: [c.C] }
    const keys = ['dx', 'dweight', 'dbias']
    return {
      args: () => {
        const go = makeGradOuts(c.out ? c.go : null, keys, shapes, c.seed)
        return [tensorOf(fv, dy, c.xs, c.form), { data: x, shape: c.xs }, rm && { data: rm, shape: [c.C] }, rv && { data: rv, shape: [c.C] },
          w && { data: w, shape: [c.C] }, optsWith({ training: c.training, eps: c.eps, out: go.out, accumulate: go.out ? go.acc : undefined }), go]
      },
      check (r, args) { checkGrads(fv, r, args[6], keys, shapes, e, c, 'batchNorm2dBackward', { rtol: 2e-3, atol: 2e-3 }) }
    }
  }
})

const gnCase = rec({
  N: dim({ max: 3 }), G: fc.integer({ min: 1, max: 3 }), cg: dim({ max: 3 }), sp: shapeArb(0, 2, { max: 4 }),
  w: fc.boolean(), b: fc.boolean(), eps: fc.constantFrom(undefined, 1e-5, 0.1), out: fc.boolean()
}).map((c) => ({ ...c, C: c.G * c.cg, xs: [c.N, c.G * c.cg, ...c.sp], S: size(c.sp) }))

spec({
  name: 'groupNorm',
  gen: gnCase,
  sig: ['t', 'num', 't?', 't?', 'o'],
  outs: 'out',
  build (c, fv) {
    const x = data(size(c.xs), c.prof, c.seed)
    const w = c.w ? data(c.C, c.prof, c.seed + 1) : null; const b = c.b ? data(c.C, c.prof, c.seed + 2) : null
    const e = nrm.groupNorm(x, c.N, c.C, c.S, c.G, w, b, c.eps ?? 1e-5)
    return {
      args: () => [tensorOf(fv, x, c.xs, c.form), c.G, w && { data: w, shape: [c.C] }, b && { data: b, shape: [c.C] },
        optsWith({ eps: c.eps, out: c.out ? outT(c.xs) : undefined })],
      check (r, args) { tensorIs(fv, r, c.xs, 'groupNorm'); inOut(r, args[4].out, 'groupNorm'); close(r.data, e, c, 'groupNorm', { rtol: 1e-3, atol: 1e-3 }) }
    }
  },
  invalid: [(c, a) => { if (c.C === 0) return null; a[1] = c.C + 1; return RangeError }, (c, a) => { a[1] = 0; return RangeError }]
})

spec({
  name: 'groupNormBackward',
  gen: gnCase.chain((c) => gradOuts.map((go) => ({ ...c, go }))),
  sig: ['t', 't', 'num', 't?', 'o'],
  outs: ['dx', 'dweight', 'dbias'],
  build (c, fv) {
    const dy = data(size(c.xs), c.prof, c.seed); const x = data(size(c.xs), c.prof, c.seed + 1)
    const w = c.w ? data(c.C, c.prof, c.seed + 2) : null
    const e = nrm.groupNormBackward(dy, x, c.N, c.C, c.S, c.G, w, c.eps ?? 1e-5)
    const shapes = { dx: c.xs, dweight: [c.C], dbias: [c.C] }
    const keys = ['dx', 'dweight', 'dbias']
    return {
      args: () => {
        const go = makeGradOuts(c.out ? c.go : null, keys, shapes, c.seed)
        return [tensorOf(fv, dy, c.xs, c.form), { data: x, shape: c.xs }, c.G, w && { data: w, shape: [c.C] },
          optsWith({ eps: c.eps, out: go.out, accumulate: go.out ? go.acc : undefined }), go]
      },
      check (r, args) { checkGrads(fv, r, args[5], keys, shapes, e, c, 'groupNormBackward', { rtol: 2e-3, atol: 2e-3 }) }
    }
  }
})

// ---------------------------------------------------------------- losses

const ceCase = rec({
  N: dim({ max: 5 }), C: dim({ max: 7, zero: false }), reduction: fc.constantFrom(undefined, 'mean', 'sum', 'none'),
  smoothing: fc.constantFrom(undefined, 0, 0.1, 1), ignore: fc.constantFrom(undefined, -100, 0, 2), ignoreSome: fc.boolean(),
  weight: fc.boolean(), dyNumber: fc.boolean(), out: fc.boolean()
})

function ceInputs (c) {
  const x = data(c.N * c.C, c.prof, c.seed)
  const r = require('../helpers/random').rng(c.seed + 7)
  const ig = c.ignore ?? -100
  const labels = Int32Array.from({ length: c.N }, () => (c.ignoreSome && r() < 0.3 ? ig : Math.floor(r() * c.C)))
  const w = c.weight ? between(c.C, 0.1, 2, c.seed + 3) : null
  const o = { reduction: c.reduction ?? 'mean', labelSmoothing: c.smoothing ?? 0, ignoreIndex: ig, weight: w }
  const opts = optsWith({ reduction: c.reduction, labelSmoothing: c.smoothing, ignoreIndex: c.ignore, weight: w ? { data: w, shape: [c.C] } : undefined })
  return { x, labels, o, opts }
}

spec({
  name: 'crossEntropy',
  gen: ceCase,
  sig: ['t', 'i32', 'o'],
  outs: 'out',
  build (c, fv) {
    const { x, labels, o, opts } = ceInputs(c)
    const e = loss.crossEntropy(x, labels, c.N, c.C, o)
    const ls = o.reduction === 'none' ? [c.N] : []
    return {
      args: () => [tensorOf(fv, x, [c.N, c.C], c.form), labels, optsWith(opts, { out: c.out ? outT(ls) : undefined })],
      check (r, args) { tensorIs(fv, r, ls, 'crossEntropy'); inOut(r, args[2].out, 'crossEntropy'); close(r.data, e, c, 'crossEntropy', { rtol: 1e-4, atol: 1e-4 }) }
    }
  },
  invalid: [
    (c, a) => { if (c.N === 0) return null; const l = a[1].slice(); l[c.N - 1] = c.C; a[1] = l; return (c.ignore ?? -100) === c.C ? null : RangeError },
    (c, a) => { a[1] = new Float32Array(c.N); return TypeError },
    (c, a) => { a[2] = { ...a[2], reduction: 'avg' }; return RangeError },
    (c, a) => { a[2] = { ...a[2], labelSmoothing: 1.5 }; return RangeError },
    (c, a) => { a[2] = { ...a[2], weight: { data: new Float32Array(c.C + 1), shape: [c.C + 1] } }; return RangeError }
  ]
})

spec({
  name: 'crossEntropyBackward',
  gen: ceCase,
  sig: ['num', 't', 'i32', 'o'],
  outs: 'out',
  build (c, fv) {
    const { x, labels, o, opts } = ceInputs(c)
    const none = o.reduction === 'none'
    const dyv = none ? data(c.N, 'normal', c.seed + 9) : Float32Array.of(0.75)
    const e = loss.crossEntropyBackward(dyv, x, labels, c.N, c.C, o)
    return {
      args: () => [none ? { data: dyv, shape: [c.N] } : (c.dyNumber ? 0.75 : { data: dyv, shape: [] }), tensorOf(fv, x, [c.N, c.C], c.form), labels,
        optsWith(opts, { out: c.out ? outT([c.N, c.C]) : undefined })],
      check (r, args) { tensorIs(fv, r, [c.N, c.C], 'crossEntropyBackward'); inOut(r, args[3].out, 'ceB'); close(r.data, e, c, 'crossEntropyBackward') }
    }
  },
  invalid: [(c, a) => { a[0] = { data: new Float32Array(c.N + 2), shape: [c.N + 2] }; return RangeError }]
})

const mseCase = rec({ shape: shapeArb(0, 3), reduction: fc.constantFrom(undefined, 'mean', 'sum', 'none'), dyNumber: fc.boolean(), out: fc.boolean() })

spec({
  name: 'mse',
  gen: mseCase,
  sig: ['t', 't', 'o'],
  outs: 'out',
  build (c, fv) {
    const n = size(c.shape)
    const p = data(n, c.prof, c.seed); const t = data(n, 'normal', c.seed + 1)
    const e = loss.mse(p, t, { reduction: c.reduction ?? 'mean' })
    const ls = c.reduction === 'none' ? c.shape : []
    return {
      args: () => [tensorOf(fv, p, c.shape, c.form), { data: t, shape: c.shape }, optsWith({ reduction: c.reduction, out: c.out ? outT(ls) : undefined })],
      check (r, args) { tensorIs(fv, r, ls, 'mse'); inOut(r, args[2].out, 'mse'); close(r.data, e, c, 'mse') }
    }
  },
  invalid: [(c, a) => { a[1] = { data: new Float32Array(size(c.shape) + 1), shape: [size(c.shape) + 1] }; return RangeError }]
})

spec({
  name: 'mseBackward',
  gen: mseCase,
  sig: ['num', 't', 't', 'o'],
  outs: 'out',
  build (c, fv) {
    const n = size(c.shape)
    const p = data(n, c.prof, c.seed); const t = data(n, 'normal', c.seed + 1)
    const none = c.reduction === 'none'
    const dyv = none ? data(n, 'normal', c.seed + 2) : Float32Array.of(-1.5)
    const e = loss.mseBackward(dyv, p, t, { reduction: c.reduction ?? 'mean' })
    return {
      args: () => [none ? { data: dyv, shape: c.shape } : (c.dyNumber ? -1.5 : { data: dyv, shape: [1] }), tensorOf(fv, p, c.shape, c.form),
        { data: t, shape: c.shape }, optsWith({ reduction: c.reduction, out: c.out ? outT(c.shape) : undefined })],
      check (r, args) { tensorIs(fv, r, c.shape, 'mseBackward'); inOut(r, args[3].out, 'mseB'); close(r.data, e, c, 'mseBackward') }
    }
  }
})

const bceCase = rec({
  shape: shapeArb(0, 3, { max: 5 }), reduction: fc.constantFrom(undefined, 'mean', 'sum', 'none'),
  w: fc.option(fc.tuple(fc.nat(3), fc.nat(7))), pw: fc.option(fc.tuple(fc.nat(3), fc.nat(7))), dyNumber: fc.boolean(), out: fc.boolean()
}).map((c) => {
  const sub = (o) => (o === null ? null : c.shape.slice(Math.min(o[0], c.shape.length)).map((d, i) => ((o[1] >> i) & 1 ? 1 : d)))
  return { ...c, wShape: sub(c.w), pwShape: sub(c.pw) }
})

function bceInputs (c) {
  const n = size(c.shape)
  const x = data(n, c.prof, c.seed); const t = between(n, 0, 1, c.seed + 1)
  const w = c.wShape && { data: between(size(c.wShape), 0, 2, c.seed + 2), shape: c.wShape }
  const pw = c.pwShape && { data: between(size(c.pwShape), 0.1, 3, c.seed + 3), shape: c.pwShape }
  return { x, t, w, pw, o: { weight: w, posWeight: pw, reduction: c.reduction ?? 'mean' } }
}

spec({
  name: 'bceWithLogits',
  gen: bceCase,
  sig: ['t', 't', 'o'],
  outs: 'out',
  build (c, fv) {
    const { x, t, w, pw, o } = bceInputs(c)
    const e = loss.bceWithLogits(x, t, c.shape, o)
    const ls = c.reduction === 'none' ? c.shape : []
    return {
      args: () => [tensorOf(fv, x, c.shape, c.form), { data: t, shape: c.shape },
        optsWith({ weight: w ?? undefined, posWeight: pw ?? undefined, reduction: c.reduction, out: c.out ? outT(ls) : undefined })],
      check (r, args) { tensorIs(fv, r, ls, 'bceWithLogits'); inOut(r, args[2].out, 'bce'); close(r.data, e, c, 'bceWithLogits') }
    }
  },
  invalid: [(c, a) => { a[2] = { ...a[2], weight: { data: new Float32Array(7), shape: [7] } }; return c.shape[c.shape.length - 1] === 7 ? null : RangeError }]
})

spec({
  name: 'bceWithLogitsBackward',
  gen: bceCase,
  sig: ['num', 't', 't', 'o'],
  outs: 'out',
  build (c, fv) {
    const { x, t, w, pw, o } = bceInputs(c)
    const none = c.reduction === 'none'
    const dyv = none ? data(size(c.shape), 'normal', c.seed + 4) : Float32Array.of(2)
    const e = loss.bceWithLogitsBackward(dyv, x, t, c.shape, o)
    return {
      args: () => [none ? { data: dyv, shape: c.shape } : (c.dyNumber ? 2 : { data: dyv, shape: [] }), tensorOf(fv, x, c.shape, c.form), { data: t, shape: c.shape },
        optsWith({ weight: w ?? undefined, posWeight: pw ?? undefined, reduction: c.reduction, out: c.out ? outT(c.shape) : undefined })],
      check (r, args) { tensorIs(fv, r, c.shape, 'bceWithLogitsBackward'); inOut(r, args[3].out, 'bceB'); close(r.data, e, c, 'bceWithLogitsBackward') }
    }
  }
})

// ---------------------------------------------------------------- dropout

for (const name of ['dropout', 'dropoutBackward']) {
  spec({
    name,
    gen: rec({ shape: shapeArb(0, 3, { max: 40 }), p: fc.constantFrom(undefined, 0, 0.25, 0.5, 0.9, 1), dseed: fc.constantFrom(0, 1, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER), training: fc.constantFrom(undefined, true, false), out: fc.boolean() }),
    sig: ['t', 'o'],
    outs: 'out',
    build (c, fv) {
      const x = data(size(c.shape), c.prof, c.seed)
      const train = c.training !== false
      const e = train ? drop.dropout(x, c.p ?? 0.5, c.dseed) : x
      return {
        args: () => [tensorOf(fv, x, c.shape, c.form), optsWith({ p: c.p, seed: train ? c.dseed : undefined, training: c.training, out: c.out ? outT(c.shape) : undefined })],
        check (r, args) {
          tensorIs(fv, r, c.shape, name); inOut(r, args[1].out, name)
          close(r.data, Float64Array.from(e), c, name, { rtol: 0, atol: 0 })
        }
      }
    },
    invalid: [(c, a) => { if (c.training === false || c.p === 0) return null; delete a[1].seed; return TypeError },  // p = 0 needs no seed (c, a) => { a[1] = { ...a[1], p: 1.5 }; return RangeError },
      (c, a) => { a[1] = { ...a[1], seed: -1 }; return c.training === false ? null : RangeError }]
  })
}

// ---------------------------------------------------------------- attention

const attnCase = rec({
  B: dim({ max: 2 }), Hkv: fc.integer({ min: 1, max: 2 }), G: fc.integer({ min: 1, max: 2 }), Lq: dim({ max: 5 }), Lk: dim({ max: 6 }),
  D: dim({ max: 5, zero: false }), Dv: dim({ max: 5 }), scale: fc.constantFrom(undefined, 0.5, -1, 0, 3),
  causal: fc.boolean(), window: fc.option(fc.tuple(fc.integer({ min: -1, max: 3 }), fc.integer({ min: -1, max: 3 }))),
  mask: fc.option(fc.record({ dims: fc.nat(15), rank: fc.integer({ min: 0, max: 4 }), hide: fc.boolean() })),
  keyLengths: fc.boolean(), dropout: fc.constantFrom(0, 0, 0, 0.3), dseed: fc.constantFrom(0, 7, 2 ** 40 + 1),
  topK: fc.option(fc.integer({ min: 1, max: 6 })), returnWeights: fc.boolean(), precision: fc.constantFrom(undefined, 'fp32', 'tf32'),
  out: fc.boolean()
}).map((c) => {
  const Hq = c.Hkv * c.G
  const topK = c.topK !== null && c.topK <= c.Lk ? c.topK : null
  let maskShape = null
  if (c.mask) {
    const full = [c.B, Hq, c.Lq, c.Lk]
    const m4 = full.map((d, i) => ((c.mask.dims >> i) & 1 ? d : 1))
    // Leading 1s dropped down to the requested rank (never a dim that is not 1).
    maskShape = m4
    while (maskShape.length > c.mask.rank && maskShape[0] === 1) maskShape = maskShape.slice(1)
  }
  // topK picks keys by comparing scores: subnormal products that float32 rounds to a tie
  // (and float64 does not) pick other keys, a discontinuity no tolerance covers.
  // Ties of 'ints' scores stay ties in float32 only with an exact scale (1/√D is not).
  const prof = topK && c.prof === 'tiny' ? 'normal' : c.prof
  const scale = topK && c.prof === 'ints' ? 1 : c.scale
  return { ...c, prof, scale, Hq, topK, maskShape }
})

function attnInputs (c) {
  const q = data(c.B * c.Hq * c.Lq * c.D, c.prof, c.seed)
  const k = data(c.B * c.Hkv * c.Lk * c.D, c.prof, c.seed + 1)
  const v = data(c.B * c.Hkv * c.Lk * c.Dv, c.prof, c.seed + 2)
  let mask = null
  if (c.maskShape) {
    const m = data(size(c.maskShape), 'normal', c.seed + 3)
    if (c.mask.hide) for (let i = 0; i < m.length; i += 3) m[i] = -Infinity
    mask = { data: m, shape: c.maskShape }
  }
  const r = require('../helpers/random').rng(c.seed + 4)
  const keyLengths = c.keyLengths ? Int32Array.from({ length: c.B }, () => Math.floor(r() * (c.Lk + 1))) : null
  const dims = { B: c.B, Hq: c.Hq, Hkv: c.Hkv, Lq: c.Lq, Lk: c.Lk, D: c.D, Dv: c.Dv }
  const ro = {
    scale: c.scale, causal: c.causal, window: c.window ?? undefined, mask, keyLengths, dropout: c.dropout || undefined,
    seed: c.dropout ? c.dseed : undefined, topK: c.topK ?? undefined, float32Scores: c.prof === 'special' || !!c.topK
  }
  const opts = optsWith({ ...ro, float32Scores: undefined, mask: mask ?? undefined, keyLengths: keyLengths ?? undefined, causal: c.causal || undefined, precision: c.precision })
  return { q, k, v, dims, ro, opts }
}

spec({
  name: 'attention',
  gen: attnCase,
  sig: ['t', 't', 't', 'o'],
  outs: ['out', 'lse'],
  tol: { rtol: 1e-3, atol: 1e-4 },
  build (c, fv) {
    const { q, k, v, dims, ro, opts } = attnInputs(c)
    const e = attn.attention(q, k, v, dims, { ...ro, window: ro.window, mask: ro.mask })
    const os = [c.B, c.Hq, c.Lq, c.Dv]; const ls = [c.B, c.Hq, c.Lq]; const ws = [c.B, c.Hq, c.Lq, c.Lk]
    const tol = { rtol: 1e-3, atol: 1e-4 }
    return {
      args: () => [tensorOf(fv, q, [c.B, c.Hq, c.Lq, c.D], c.form), { data: k, shape: [c.B, c.Hkv, c.Lk, c.D] }, { data: v, shape: [c.B, c.Hkv, c.Lk, c.Dv] },
        optsWith(opts, { returnWeights: c.returnWeights || undefined, out: c.out ? { out: outT(os), lse: outT(ls) } : undefined })],
      check (r, args) {
        tensorIs(fv, r.out, os, 'attention out'); tensorIs(fv, r.lse, ls, 'attention lse')
        inOut(r.out, args[3].out && args[3].out.out, 'attention out'); inOut(r.lse, args[3].out && args[3].out.lse, 'attention lse')
        close(r.out.data, e.out, c, 'attention out', tol)
        close(r.lse.data, e.lse, c, 'attention lse', tol)
        if (c.returnWeights) { tensorIs(fv, r.weights, ws, 'attention weights'); close(r.weights.data, e.weights, c, 'attention weights', tol) } else if (r.weights !== undefined) fail('attention: weights without returnWeights')
        if (c.dropout && r.seed !== c.dseed) fail(`attention: seed ${r.seed}, expected ${c.dseed}`)
        // No NaN where the contract promises a number: finite inputs never give NaN (empty rows give 0 and −∞).
        if (c.prof !== 'special') for (const a of [r.out.data, r.lse.data]) if (a.some(Number.isNaN)) fail('attention: NaN from finite inputs')
      }
    }
  },
  invalid: [
    (c, a) => { a[1] = { data: new Float32Array(c.B * 3 * c.Lk * c.D), shape: [c.B, 3, c.Lk, c.D] }; return c.Hq % 3 === 0 ? null : RangeError },
    (c, a) => { a[3] = { ...a[3], topK: c.Lk + 1 }; return RangeError },
    (c, a) => { a[3] = { ...a[3], dropout: 1.5, seed: 1 }; return RangeError },  // (1 is valid: all dropped)
    (c, a) => { a[3] = { ...a[3], window: [-2, 0] }; return RangeError },
    (c, a) => { a[3] = { ...a[3], window: [1] }; return TypeError },
    (c, a) => { a[3] = { ...a[3], keyLengths: new Int32Array(c.B + 1) }; return RangeError },
    (c, a) => { if (c.B === 0) return null; a[3] = { ...a[3], keyLengths: Int32Array.from({ length: c.B }, () => c.Lk + 1) }; return RangeError },
    (c, a) => { a[3] = { ...a[3], keyLengths: [1] }; return TypeError },
    (c, a) => { a[3] = { ...a[3], mask: { data: new Float32Array(c.Lk + 2), shape: [c.Lk + 2] } }; return RangeError },
    (c, a) => { a[3] = { ...a[3], scale: Infinity }; return RangeError },
    (c, a) => { a[3] = { ...a[3], precision: 'bf16' }; return RangeError },
    (c, a) => { a[3] = { ...a[3], backend: 'tpu' }; return RangeError },
    (c, a) => { a[3] = { ...a[3], out: { weights: outT([1]) } }; return RangeError },
    (c, a) => { a[3] = { ...a[3], seed: 2 ** 53 }; return RangeError }
  ]
})

spec({
  name: 'attentionBackward',
  gen: attnCase,
  sig: ['t', 't', 't', 't', 't', 't', 'o'],
  outs: ['dq', 'dk', 'dv'],
  build (c, fv) {
    const { q, k, v, dims, ro, opts } = attnInputs(c)
    const qs = [c.B, c.Hq, c.Lq, c.D]; const ks = [c.B, c.Hkv, c.Lk, c.D]; const vs = [c.B, c.Hkv, c.Lk, c.Dv]
    const f = fv.ops.attention({ data: q, shape: qs }, { data: k, shape: ks }, { data: v, shape: vs }, opts)
    const os = [c.B, c.Hq, c.Lq, c.Dv]
    const dO = data(size(os), c.prof === 'special' ? 'normal' : c.prof, c.seed + 5)
    const e = attn.attentionBackward(dO, q, k, v, dims, ro)
    // 'wide' values (to 16) make near one-hot rows: dS = P·(dP − D) cancels terms of
    // |dP| ~ 10², each float32-rounded, then is multiplied by k and the scale
    const tol = c.prof === 'wide' ? { rtol: 2e-3, atol: 2e-3 * Math.max(1, Math.abs(c.scale ?? 1)) } : { rtol: 2e-3, atol: 2e-4 }
    return {
      args: () => [tensorOf(fv, dO, os, c.form), { data: q, shape: qs }, { data: k, shape: ks }, { data: v, shape: vs }, f.out, f.lse,
        optsWith(opts, { out: c.out ? { dq: outT(qs), dk: outT(ks), dv: outT(vs) } : undefined })],
      check (r, args) {
        for (const [key, s] of [['dq', qs], ['dk', ks], ['dv', vs]]) {
          tensorIs(fv, r[key], s, `attentionBackward ${key}`)
          inOut(r[key], args[6].out && args[6].out[key], `attentionBackward ${key}`)
          close(r[key].data, e[key], c, `attentionBackward ${key}`, tol)
        }
      }
    }
  },
  invalid: [
    (c, a) => { if (!c.dropout) return null; delete a[6].seed; return TypeError },
    (c, a) => { a[5] = { data: new Float32Array(c.B * c.Hq * c.Lq + 1), shape: [c.B * c.Hq * c.Lq + 1] }; return RangeError }
  ]
})

// ---------------------------------------------------------------- convert

function u16Data (n, seed) {
  const r = require('../helpers/random').rng(seed)
  return Uint16Array.from({ length: n }, () => Math.floor(r() * 65536))
}
const sameBits = (x, y) => { const a = new Float32Array([x]); const b = new Float32Array([y]); return new Uint32Array(a.buffer)[0] === new Uint32Array(b.buffer)[0] }

for (const [name, refBits] of [['f16ToF32', cvt.f16ToF32Bits], ['bf16ToF32', cvt.bf16ToF32Bits]]) {
  spec({
    name,
    gen: fc.record({ n: dim({ max: 70 }), seed: V.seed, out: fc.boolean() }),
    sig: ['u16', 'o'],
    outs: null,
    build (c, fv) {
      const src = u16Data(c.n, c.seed)
      return {
        args: () => [src, c.out ? { out: new Float32Array(c.n) } : undefined],
        check (r, args) {
          if (!(r instanceof Float32Array) || r.length !== c.n) fail(`${name}: not a Float32Array(${c.n})`)
          if (args[1] && r !== args[1].out) fail(`${name}: not the out array`)
          const bits = new Uint32Array(r.buffer, r.byteOffset, r.length)
          for (let i = 0; i < c.n; i++) if (bits[i] !== refBits(src[i])) fail(`${name}: 0x${src[i].toString(16)} gave bits ${bits[i].toString(16)}, expected ${refBits(src[i]).toString(16)}`)
        }
      }
    },
    invalid: [(c, a) => { a[1] = { out: new Float32Array(c.n + 1) }; return RangeError }, (c, a) => { a[1] = { out: new Float64Array(c.n) }; return TypeError }]
  })
}

for (const [name, refCode] of [['f32ToF16', cvt.f32ToF16], ['f32ToBf16', cvt.f32ToBf16]]) {
  spec({
    name,
    gen: fc.record({ n: dim({ max: 70 }), prof: V.profile, seed: V.seed, out: fc.boolean() }),
    sig: ['f32', 'o'],
    outs: null,
    build (c, fv) {
      const src = data(c.n, c.prof, c.seed)
      const isNaN16 = name === 'f32ToF16' ? (h) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0 : (h) => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0
      return {
        args: () => [src, c.out ? { out: new Uint16Array(c.n) } : undefined],
        check (r, args) {
          if (!(r instanceof Uint16Array) || r.length !== c.n) fail(`${name}: not a Uint16Array(${c.n})`)
          if (args[1] && r !== args[1].out) fail(`${name}: not the out array`)
          for (let i = 0; i < c.n; i++) {
            if (Number.isNaN(src[i])) { if (!isNaN16(r[i])) fail(`${name}: NaN gave 0x${r[i].toString(16)}`); continue }
            if (r[i] !== refCode(src[i])) fail(`${name}: ${src[i]} gave 0x${r[i].toString(16)}, expected 0x${refCode(src[i]).toString(16)}`)
          }
        }
      }
    },
    invalid: [(c, a) => { a[1] = { out: new Uint16Array(c.n + 1) }; return RangeError }, (c, a) => { a[1] = { out: src16(a[0]) }; return a[0].length ? RangeError : null }]
  })
}
// An out that overlaps the source (a Uint16Array over its buffer).
function src16 (src) { return new Uint16Array(src.buffer, src.byteOffset, src.length) }

// ---------------------------------------------------------------- random fills (in place)

spec({
  name: 'uniform_',
  gen: fc.record({ shape: shapeArb(0, 3, { max: 70 }), lo: fc.constantFrom(0, -3, 1e-3, -1e30), width: fc.constantFrom(0, 1, 8, 2 ** -20, 1e30), rseed: fc.constantFrom(0, 1, 2 ** 32 + 9, Number.MAX_SAFE_INTEGER), form: V.form }),
  sig: ['t', 'num', 'num', 'num'],
  build (c, fv) {
    const n = size(c.shape); const hi = c.lo + c.width
    const e = rnd.uniform(n, c.lo, hi, c.rseed)
    return {
      args: () => [tensorOf(fv, new Float32Array(n).fill(NaN), c.shape, c.form), c.lo, hi, c.rseed],
      check (r, args) {
        tensorIs(fv, r, c.shape, 'uniform_')
        if (r.data !== args[0].data) fail('uniform_: not filled in place')
        for (let i = 0; i < n; i++) if (!sameBits(r.data[i], e[i])) fail(`uniform_: at ${i} got ${r.data[i]}, expected ${e[i]}`)
      }
    }
  },
  // hi < lo (lo − 1 may round to lo itself)
  invalid: [(c, a) => { a[2] = c.lo - Math.max(1, Math.abs(c.lo)); return RangeError }, (c, a) => { a[3] = 1.5; return RangeError }, (c, a) => { a[1] = NaN; return RangeError }]
})

spec({
  name: 'normal_',
  gen: fc.record({ shape: shapeArb(0, 3, { max: 70 }), mean: fc.constantFrom(0, 5, -1e3), std: fc.constantFrom(0, 1, 0.01, 100), rseed: fc.constantFrom(0, 3, 2 ** 52), form: V.form }),
  sig: ['t', 'num', 'num', 'num'],
  build (c, fv) {
    const n = size(c.shape)
    const e = rnd.normal(n, c.mean, c.std, c.rseed)
    return {
      args: () => [tensorOf(fv, new Float32Array(n).fill(NaN), c.shape, c.form), c.mean, c.std, c.rseed],
      check (r, args) {
        tensorIs(fv, r, c.shape, 'normal_')
        if (r.data !== args[0].data) fail('normal_: not filled in place')
        assertUlps(T, r.data, e, 2, 'normal_')
      }
    }
  },
  invalid: [(c, a) => { a[2] = -1; return RangeError }, (c, a) => { a[3] = undefined; return TypeError }]
})

// ---------------------------------------------------------------- optim (in place)

spec({
  name: 'adamStep',
  gen: rec({
    shape: shapeArb(0, 2, { max: 40 }), lr: fc.constantFrom(undefined, 0, 1e-3, 0.5), beta1: fc.constantFrom(undefined, 0, 0.9), beta2: fc.constantFrom(undefined, 0.5, 0.999),
    eps: fc.constantFrom(undefined, 1e-8, 0.1), wd: fc.constantFrom(undefined, 0, 0.01), step: fc.constantFrom(1, 2, 10, 1000), amsgrad: fc.boolean(),
    decoupled: fc.boolean(), maximize: fc.boolean()
  }),
  sig: ['t', 't', 't', 't', 't?', 'o!'],
  build (c, fv) {
    const n = size(c.shape)
    const p = data(n, c.prof === 'special' ? 'special' : 'normal', c.seed); const g = data(n, c.prof, c.seed + 1)
    const m = data(n, 'normal', c.seed + 2); const v = between(n, 0, 1, c.seed + 3); const vm = c.amsgrad ? between(n, 0, 1, c.seed + 4) : null
    const o = optsWith({ lr: c.lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.wd, step: c.step, amsgrad: c.amsgrad || undefined, decoupled: c.decoupled || undefined, maximize: c.maximize || undefined })
    const e = opt.adamStep(p, g, m, v, vm, o)
    return {
      args: () => [tensorOf(fv, p.slice(), c.shape, c.form), { data: g, shape: c.shape }, { data: m.slice(), shape: c.shape }, { data: v.slice(), shape: c.shape },
        vm ? { data: vm.slice(), shape: c.shape } : null, o],
      check (r, args) {
        if (r !== undefined) fail('adamStep: returned a value')
        const tol = { rtol: 1e-4, atol: 1e-5 }
        close(args[0].data, e.param, c, 'adamStep param', tol); close(args[2].data, e.expAvg, c, 'adamStep expAvg', tol)
        close(args[3].data, e.expAvgSq, c, 'adamStep expAvgSq', tol)
        if (vm) close(args[4].data, e.maxExpAvgSq, c, 'adamStep maxExpAvgSq', tol)
      }
    }
  },
  invalid: [
    (c, a) => { a[5] = { ...a[5] }; delete a[5].step; return TypeError },
    (c, a) => { a[5] = { ...a[5], beta1: 1 }; return RangeError },
    (c, a) => { a[5] = { ...a[5], amsgrad: true }; a[4] = null; return TypeError },
    (c, a) => { a[2] = a[0]; return size(c.shape) ? RangeError : null }
  ]
})

spec({
  name: 'sgdStep',
  gen: rec({
    shape: shapeArb(0, 2, { max: 40 }), lr: fc.constantFrom(undefined, 0, 0.1), momentum: fc.constantFrom(undefined, 0, 0.9), dampening: fc.constantFrom(undefined, 0, 0.5),
    nesterov: fc.boolean(), wd: fc.constantFrom(undefined, 0, 0.01), maximize: fc.boolean(), initBuffer: fc.boolean()
  }).map((c) => ({ ...c, nesterov: c.nesterov && c.momentum > 0 && !c.dampening })),
  sig: ['t', 't', 't?', 'o'],
  build (c, fv) {
    const n = size(c.shape)
    const p = data(n, c.prof === 'special' ? 'special' : 'normal', c.seed); const g = data(n, c.prof, c.seed + 1)
    const b = c.momentum ? data(n, 'normal', c.seed + 2) : null
    const o = optsWith({ lr: c.lr, momentum: c.momentum, dampening: c.dampening, nesterov: c.nesterov || undefined, weightDecay: c.wd, maximize: c.maximize || undefined, initBuffer: c.initBuffer || undefined })
    const e = opt.sgdStep(p, g, b, o)
    return {
      args: () => [tensorOf(fv, p.slice(), c.shape, c.form), { data: g, shape: c.shape }, b && { data: b.slice(), shape: c.shape }, o],
      check (r, args) {
        if (r !== undefined) fail('sgdStep: returned a value')
        close(args[0].data, e.param, c, 'sgdStep param', { rtol: 1e-5, atol: 1e-6 })
        if (b) close(args[2].data, e.momentumBuffer, c, 'sgdStep momentumBuffer', { rtol: 1e-5, atol: 1e-6 })
      }
    }
  },
  invalid: [(c, a) => { a[3] = { ...a[3], nesterov: true, momentum: 0 }; return RangeError }, (c, a) => { a[3] = { ...a[3], momentum: 0.5 }; a[2] = null; return TypeError }]
})

spec({
  name: 'vectorNorm',
  gen: rec({ shape: shapeArb(0, 3, { max: 60 }), ord: fc.constantFrom(undefined, 2, 1, Infinity, -Infinity, 0, 3, 0.5) }),
  sig: ['t', 'num?'],
  build (c, fv) {
    const x = data(size(c.shape), c.prof, c.seed)
    const e = opt.vectorNorm(x, c.ord ?? 2)
    return {
      args: () => [tensorOf(fv, x, c.shape, c.form), c.ord],
      check (r) {
        if (typeof r !== 'number') fail('vectorNorm: not a number')
        close([r], [e], c, 'vectorNorm', { rtol: 1e-5, atol: 1e-30 })
      }
    }
  },
  invalid: [(c, a) => { a[1] = NaN; return RangeError }]
})

spec({
  name: 'scaleInPlace',
  gen: rec({ shape: shapeArb(0, 3, { max: 40 }), scale: fc.constantFrom(0, -1, 0.1, 1e30, 3e38, NaN, Infinity) }),
  sig: ['t', 'num'],
  build (c, fv) {
    const x = data(size(c.shape), c.prof, c.seed)
    const s = Math.fround(c.scale)
    const e = Float32Array.from(x, (v) => v * s)
    return {
      args: () => [tensorOf(fv, x.slice(), c.shape, c.form), c.scale],
      check (r, args) {
        if (r !== undefined) fail('scaleInPlace: returned a value')
        for (let i = 0; i < e.length; i++) if (!sameBits(args[0].data[i], e[i]) && !(Number.isNaN(e[i]) && Number.isNaN(args[0].data[i]))) fail(`scaleInPlace: at ${i} got ${args[0].data[i]}, expected ${e[i]}`)
      }
    }
  }
})

// ---------------------------------------------------------------- embedding

const embCase = rec({ ishape: shapeArb(0, 3, { max: 5 }), num: dim({ max: 7, zero: false }), dim: dim({ max: 6 }), pad: fc.option(fc.integer({ min: -7, max: 6 })),
  idxForm: fc.constantFrom('array', 'shape', 'dims'), acc: fc.boolean(), out: fc.boolean() })
  .map((c) => ({ ...c, pad: c.pad !== null && c.pad >= -c.num && c.pad < c.num ? c.pad : null }))

function embInputs (c) {
  const r = require('../helpers/random').rng(c.seed + 11)
  const idx = Int32Array.from({ length: size(c.ishape) }, () => Math.floor(r() * c.num))
  const ishape = c.idxForm === 'array' ? [idx.length] : c.ishape
  const indices = c.idxForm === 'array' ? idx : c.idxForm === 'shape' ? { data: idx, shape: c.ishape } : { data: idx, dims: c.ishape }
  return { idx, ishape, indices }
}

spec({
  name: 'embedding',
  gen: embCase,
  sig: ['idx', 't', 'o'],
  outs: 'out',
  build (c, fv) {
    const { idx, ishape, indices } = embInputs(c)
    const w = data(c.num * c.dim, c.prof, c.seed)
    const ys = [...ishape, c.dim]
    const e = emb.embedding(idx, w, c.num, c.dim)
    return {
      args: () => [indices, tensorOf(fv, w, [c.num, c.dim], c.form), optsWith({ paddingIdx: c.pad ?? undefined, out: c.out ? outT(ys) : undefined })],
      check (r, args) { tensorIs(fv, r, ys, 'embedding'); inOut(r, args[2].out, 'embedding'); close(r.data, e, c, 'embedding', { rtol: 0, atol: 0 }) }
    }
  },
  invalid: [
    (c, a) => { if (!size(c.ishape)) return null; const i = Int32Array.from(a[0].data ?? a[0]); i[0] = c.num; a[0] = i; return RangeError },
    (c, a) => { if (!size(c.ishape)) return null; const i = Int32Array.from(a[0].data ?? a[0]); i[i.length - 1] = -1; a[0] = i; return RangeError },
    (c, a) => { a[2] = { ...a[2], paddingIdx: c.num }; return RangeError },
    (c, a) => { a[0] = Float32Array.from(a[0].data ?? a[0]); return TypeError }
  ]
})

spec({
  name: 'embeddingBackward',
  gen: embCase,
  sig: ['t', 'idx', 'num', 'o'],
  outs: 'out',
  build (c, fv) {
    const { idx, ishape, indices } = embInputs(c)
    const ys = [...ishape, c.dim]
    const dy = data(size(ys), c.prof, c.seed)
    const e = emb.embeddingBackward(dy, idx, c.num, c.dim, { paddingIdx: c.pad })
    const ws = [c.num, c.dim]
    const init = c.out && c.acc ? between(size(ws), -1, 1, c.seed + 2) : null
    // With accumulate the padding row is left as it was; without, it is zero.
    const exp = init ? Float64Array.from(e, (v, i) => v + init[i]) : e
    return {
      args: () => [tensorOf(fv, dy, ys, c.form), indices, c.num, optsWith({
        paddingIdx: c.pad ?? undefined, out: c.out ? (init ? { data: init.slice(), shape: ws } : outT(ws)) : undefined, accumulate: init ? true : undefined
      })],
      check (r, args) { tensorIs(fv, r, ws, 'embeddingBackward'); inOut(r, args[3].out, 'embeddingBackward'); close(r.data, exp, c, 'embeddingBackward') }
    }
  },
  invalid: [(c, a) => { a[2] = -1; return RangeError }, (c, a) => { a[3] = { ...a[3], accumulate: true, out: undefined }; delete a[3].out; return RangeError }]
})

// ---------------------------------------------------------------- gates

const gateCase = rec({ N: dim({ max: 2 }), C: dim({ max: 4 }), H: dim({ max: 4 }), W: dim({ max: 5 }), w4: fc.boolean(), b0: fc.boolean(), useGate: fc.boolean(), out: fc.boolean(), acc: fc.boolean() })

function gateInputs (c) {
  const xs = [c.N, c.C, c.H, c.W]; const S = c.H * c.W
  const x = data(size(xs), c.prof, c.seed)
  const wa = data(c.C, 'normal', c.seed + 1); const wb = data(c.C, 'normal', c.seed + 2)
  const ba = data(1, 'normal', c.seed + 3); const bb = data(1, 'normal', c.seed + 4)
  const wS = c.w4 ? [1, c.C, 1, 1] : [c.C]; const bS = c.b0 ? [] : [1]
  return { xs, S, x, wa, wb, ba, bb, wS, bS }
}

spec({
  name: 'spatialGate',
  gen: gateCase,
  sig: ['t', 't', 't', 't', 't', 'o'],
  outs: ['out', 'gate'],
  build (c, fv) {
    const g = gateInputs(c)
    const e = gate.spatialGate(g.x, c.N, c.C, g.S, g.wa, g.ba, g.wb, g.bb)
    const gs = [c.N, 1, c.H, c.W]
    return {
      args: () => [tensorOf(fv, g.x, g.xs, c.form), { data: g.wa, shape: g.wS }, { data: g.ba, shape: g.bS }, { data: g.wb, shape: g.wS }, { data: g.bb, shape: g.bS },
        c.out ? { out: { out: outT(g.xs), gate: outT(gs) } } : undefined],
      check (r, args) {
        tensorIs(fv, r.out, g.xs, 'spatialGate out'); tensorIs(fv, r.gate, gs, 'spatialGate gate')
        inOut(r.out, args[5] && args[5].out.out, 'spatialGate out')
        close(r.out.data, e.out, c, 'spatialGate out'); close(r.gate.data, e.gate, c, 'spatialGate gate')
      }
    }
  },
  invalid: [(c, a) => { a[2] = { data: new Float32Array(2), shape: [2] }; return RangeError }, (c, a) => { a[1] = { data: new Float32Array(c.C + 1), shape: [c.C + 1] }; return RangeError }]
})

spec({
  name: 'spatialGateBackward',
  gen: gateCase,
  sig: ['t', 't', 't', 't', 't', 't', 't?', 'o'],
  outs: ['dx', 'dwa', 'dba', 'dwb', 'dbb'],
  build (c, fv) {
    const g = gateInputs(c)
    const dO = data(size(g.xs), c.prof, c.seed + 9)
    const e = gate.spatialGateBackward(dO, g.x, c.N, c.C, g.S, g.wa, g.ba, g.wb, g.bb)
    const fwd = c.useGate ? gate.spatialGate(g.x, c.N, c.C, g.S, g.wa, g.ba, g.wb, g.bb).gate : null
    const shapes = { dx: g.xs, dwa: g.wS, dba: g.bS, dwb: g.wS, dbb: g.bS }
    const keys = ['dx', 'dwa', 'dba', 'dwb', 'dbb']
    return {
      args: () => {
        let go = { out: undefined, init: {}, acc: false }
        if (c.out) {
          go = { out: {}, init: {}, acc: c.acc }
          keys.forEach((k, i) => {
            const v = c.acc ? between(size(shapes[k]), -1, 1, c.seed + 40 + i) : new Float32Array(size(shapes[k])).fill(NaN)
            go.out[k] = { data: v, shape: shapes[k] }; go.init[k] = Float64Array.from(v)
          })
        }
        return [tensorOf(fv, dO, g.xs, c.form), { data: g.x, shape: g.xs }, { data: g.wa, shape: g.wS }, { data: g.ba, shape: g.bS },
          { data: g.wb, shape: g.wS }, { data: g.bb, shape: g.bS }, fwd && { data: Float32Array.from(fwd), shape: [c.N, 1, c.H, c.W] },
          go.out ? { out: go.out, accumulate: go.acc } : undefined, go]
      },
      check (r, args) { checkGrads(fv, r, args[8], keys, shapes, e, c, 'spatialGateBackward', { rtol: 1e-3, atol: 1e-3 }) }
    }
  },
  invalid: [(c, a) => { a[7] = { accumulate: true }; return RangeError }]
})

const cpCase = rec({ N: dim({ max: 2 }), C: dim({ max: 5, zero: false }), H: dim({ max: 4 }), W: dim({ max: 5 }), out: fc.boolean(), acc: fc.boolean() })

spec({
  name: 'channelPool',
  gen: cpCase,
  sig: ['t', 'o'],
  outs: 'out',
  build (c, fv) {
    const xs = [c.N, c.C, c.H, c.W]
    const x = data(size(xs), c.prof, c.seed)
    const e = gate.channelPool(x, c.N, c.C, c.H * c.W)
    const ys = [c.N, 2, c.H, c.W]
    return {
      args: () => [tensorOf(fv, x, xs, c.form), c.out ? { out: outT(ys) } : undefined],
      check (r, args) { tensorIs(fv, r, ys, 'channelPool'); inOut(r, args[1] && args[1].out, 'channelPool'); close(r.data, e, c, 'channelPool') }
    }
  },
  invalid: [(c, a) => { a[0] = { data: new Float32Array(0), shape: [c.N, 0, c.H, c.W] }; return RangeError }]
})

spec({
  name: 'channelPoolBackward',
  gen: cpCase,
  sig: ['t', 't', 'o'],
  outs: 'out',
  build (c, fv) {
    const xs = [c.N, c.C, c.H, c.W]; const ys = [c.N, 2, c.H, c.W]
    const x = data(size(xs), c.prof, c.seed + 1); const dy = data(size(ys), c.prof, c.seed)
    const e = gate.channelPoolBackward(dy, x, c.N, c.C, c.H * c.W)
    const init = c.out && c.acc ? between(size(xs), -1, 1, c.seed + 2) : null
    const exp = init ? Float64Array.from(e, (v, i) => v + init[i]) : e
    return {
      args: () => [tensorOf(fv, dy, ys, c.form), { data: x, shape: xs }, c.out ? { out: init ? { data: init.slice(), shape: xs } : outT(xs), accumulate: !!init } : undefined],
      check (r, args) { tensorIs(fv, r, xs, 'channelPoolBackward'); inOut(r, args[2] && args[2].out, 'channelPoolB'); close(r.data, exp, c, 'channelPoolBackward') }
    }
  }
})

// ---------------------------------------------------------------- layout

spec({
  name: 'permute',
  gen: rec({ shape: shapeArb(0, 6, { max: 4 }), keys: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 6, maxLength: 6 }), neg: fc.nat(63), out: fc.boolean() })
    .map((c) => {
      const perm = c.shape.map((_, i) => i).sort((a, b) => c.keys[a] - c.keys[b] || a - b)
      return { ...c, perm, dims: perm.map((a, i) => ((c.neg >> i) & 1 ? a - c.shape.length : a)) }
    }),
  sig: ['t', 'shape', 'o'],
  outs: 'out',
  build (c, fv) {
    const x = data(size(c.shape), c.prof, c.seed)
    const ys = c.perm.map((a) => c.shape[a])
    const e = lay.permute(x, c.shape, c.perm)
    return {
      args: () => [tensorOf(fv, x, c.shape, c.form), c.dims, c.out ? { out: outT(ys) } : undefined],
      check (r, args) {
        tensorIs(fv, r, ys, 'permute'); inOut(r, args[2] && args[2].out, 'permute')
        close(r.data, Float64Array.from(e), c, 'permute', { rtol: 0, atol: 0 })
        const back = fv.ops.permute(r, fv.ops.inversePermutation(c.dims))
        close(back.data, Float64Array.from(x), c, 'permute inverse', { rtol: 0, atol: 0 })
      }
    }
  },
  invalid: [(c, a) => { if (c.shape.length < 2) return null; a[1] = c.dims.map(() => 0); return RangeError }, (c, a) => { a[1] = [...c.dims, c.shape.length]; return RangeError }]
})

// A plain function (no native op, no Async twin): the inverse of a permutation.
spec({
  name: 'inversePermutation',
  noAsync: true,
  gen: rec({ rank: fc.integer({ min: 0, max: 8 }), keys: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 8, maxLength: 8 }), neg: fc.nat(255) })
    .map((c) => {
      const perm = Array.from({ length: c.rank }, (_, i) => i).sort((a, b) => c.keys[a] - c.keys[b] || a - b)
      return { ...c, perm, dims: perm.map((a, i) => ((c.neg >> i) & 1 ? a - c.rank : a)) }
    }),
  sig: ['shape'],
  build (c) {
    return {
      args: () => [c.dims.slice()],
      check (r) {
        if (!Array.isArray(r) || r.length !== c.rank) fail(`inversePermutation: ${JSON.stringify(r)} for ${fmt(c.dims)}`)
        c.perm.forEach((a, i) => { if (r[a] !== i) fail(`inversePermutation(${fmt(c.dims)}) = ${fmt(r)}`) })
      }
    }
  },
  invalid: [
    (c, a) => { if (c.rank < 2) return null; a[0] = c.dims.map(() => 0); return RangeError },
    (c, a) => { a[0] = [...c.dims, c.rank + 1]; return RangeError },
    (c, a) => { a[0] = [...c.dims, 'x']; return TypeError },
    (c, a) => { if (!c.rank) return null; a[0] = c.dims.map((d, i) => (i ? d : d + 0.5)); return RangeError }
  ]
})

module.exports = { specs, Mismatch, tensorIs, close, nanWhere, sameBits }
