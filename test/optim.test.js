'use strict'
// fv.optim and the optim ops against PyTorch's own trajectories (test/fixtures/optim/,
// written by scripts/fixtures/optim.py with Debian's python3-torch; no Python is needed
// here): SGD / Adam / AdamW over 100 steps, the schedulers' learning rates, clipGradNorm.
//
// Tolerance: |foveal − torch| ≤ 1e-6·|torch| + 1e-7. The absolute floor (about one float32
// ulp at 1) is for parameters whose trajectory passes near 0, where a relative bound means
// nothing: their last bits come from subtracting values of order 1. (On x86 with GCC the
// updates in fact equal PyTorch 1.13's bit for bit on every ISA level; the tolerance is
// what the contract promises across compilers and PyTorch builds.)
const test = require('ava')
const fv = require('./helpers/fv')
const { assertClose, assertBitIdentical } = require('./helpers/check')
const { assertDeterministic } = require('./helpers/determinism')
const { uniform, normal } = require('./helpers/random')
const reference = require('./reference/optim')
const OPT = require('./fixtures/optim/optimizers.json')
const SCHED = require('./fixtures/optim/schedulers.json')
const CLIP = require('./fixtures/optim/clip.json')
const { throwsLike, rejectsLike } = require('./helpers/errors')
const { Parameter } = fv.nn

const TOL = { rtol: 1e-6, atol: 1e-7 }

function f32 (b64) {
  const buf = Buffer.from(b64, 'base64')
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length))
}
const size = (s) => s.reduce((a, b) => a * b, 1)
const fmt = (s) => `[${s.join(',')}]`

const INIT = f32(OPT.init)
const GRADS = f32(OPT.grads)
const N = INIT.length

/** Fresh parameters ([37] and [3,5]) holding the fixture's initial values, grads zero. */
function makeParams (init = INIT) {
  let o = 0
  return OPT.shapes.map((s) => {
    const n = size(s)
    const p = new Parameter(fv.tensor(init.slice(o, o + n), s))
    p.ensureGrad()
    o += n
    return p
  })
}

function setGrads (params, step) {
  let o = 0
  for (const p of params) {
    p.grad.data.set(GRADS.subarray(step * N + o, step * N + o + p.grad.size))
    o += p.grad.size
  }
}

const flat = (ts) => {
  const out = new Float32Array(ts.reduce((n, t) => n + t.size, 0))
  let o = 0
  for (const t of ts) { out.set(t.data, o); o += t.size }
  return out
}

function makeOptimizer (c, params) {
  const Cls = fv.optim[c.optimizer]
  return c.groups
    ? new Cls(params.map((p, i) => ({ params: [p], ...c.groups[i] })), c.options)
    : new Cls(params, c.options)
}

/** Runs a fixture case from step `from` to `to` (exclusive), checking the checkpoints it passes. */
function runCase (t, c, { params = makeParams(), opt = makeOptimizer(c, params), from = 0, to = OPT.steps, label = '' } = {}) {
  const traj = f32(c.trajectory)
  for (let s = from; s < to; s++) {
    setGrads(params, s)
    opt.step()
    const k = OPT.checkpoints.indexOf(s + 1)
    if (k >= 0 && t) {
      assertClose(t, flat(params.map((p) => p.value)), traj.subarray(k * N, (k + 1) * N), { ...TOL, label: `${label}step ${s + 1}` })
    }
  }
  return { params, opt }
}

for (const c of OPT.cases) {
  test(`${c.optimizer} ${c.name} ${JSON.stringify(c.options)}${c.groups ? ' groups ' + JSON.stringify(c.groups) : ''}: ` +
    `params ${OPT.shapes.map(fmt).join(' ')} over ${OPT.steps} steps match PyTorch ${OPT.torch}`, (t) => {
    const { opt } = runCase(t, c)
    // The final optimizer state matches PyTorch's too.
    const sd = opt.stateDict()
    for (const [key, b64] of Object.entries(c.state)) {
      assertClose(t, flat([sd.state[0][key], sd.state[1][key]]), f32(b64), { ...TOL, label: `state ${key}` })
    }
    if (c.optimizer !== 'SGD') t.is(sd.state[0].step, OPT.steps)
  })
}

test.serial('every ISA variant follows the PyTorch trajectories, and they agree bit for bit', (t) => {
  const picks = OPT.cases.filter((c) => ['sgd nesterov', 'sgd weight decay', 'adam amsgrad', 'adam weight decay', 'adamw amsgrad', 'adam maximize'].includes(c.name))
  const finals = new Map()
  try {
    for (const isa of fv.info().isa.supported) {
      fv.setIsa(isa)
      for (const c of picks) {
        const { params } = runCase(t, c, { label: `${isa} ${c.name} ` })
        const v = flat(params.map((p) => p.value))
        if (finals.has(c.name)) assertBitIdentical(t, v, finals.get(c.name), `${isa} ${c.name} vs ${fv.info().isa.supported[0]}`)
        else finals.set(c.name, v)
      }
    }
  } finally {
    fv.setIsa('auto')
  }
})

// ---------------------------------------------------------------- state dicts

for (const name of ['sgd momentum', 'sgd nesterov', 'adam amsgrad', 'adamw', 'adam groups']) {
  test(`stateDict round trip (${name}): save at step 40, load into a new optimizer, continue → the uninterrupted run`, (t) => {
    const c = OPT.cases.find((x) => x.name === name)
    const whole = runCase(null, c)
    const first = runCase(null, c, { to: 40 })
    const sd = first.opt.stateDict()
    const values = flat(first.params.map((p) => p.value))
    // A snapshot: stepping on does not change it.
    const before = flat(Object.values(sd.state).flatMap((s) => Object.values(s).filter((v) => v && v.data)))
    runCase(null, c, { ...first, from: 40, to: 45 })
    assertBitIdentical(t, flat(Object.values(sd.state).flatMap((s) => Object.values(s).filter((v) => v && v.data))), before, 'snapshot unchanged')

    const params = makeParams(values)
    const opt = makeOptimizer(c, params)
    opt.loadStateDict(sd)
    runCase(t, c, { params, opt, from: 40, label: 'resumed ' })
    assertBitIdentical(t, flat(params.map((p) => p.value)), flat(whole.params.map((p) => p.value)), 'resumed = uninterrupted')
  })
}

test('loadStateDict restores group hyperparameters and refuses a mismatched state dict', (t) => {
  const params = makeParams()
  const opt = new fv.optim.Adam(params, { lr: 0.1 })
  setGrads(params, 0); opt.step()
  const sd = opt.stateDict()
  t.deepEqual(sd.paramGroups, [{ lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, params: [0, 1] }])
  const other = new fv.optim.Adam(makeParams(), { lr: 0.5, betas: [0.5, 0.5] })
  other.loadStateDict(sd)
  t.is(other.paramGroups[0].lr, 0.1)
  t.deepEqual(other.paramGroups[0].betas, [0.9, 0.999])
  throwsLike(t, () => new fv.optim.Adam([makeParams()[0]]).loadStateDict(sd), RangeError,
    /^Adam\.loadStateDict: stateDict\.paramGroups\[0\]\.params must be 1 parameter indices/)
  const swapped = new fv.optim.Adam(makeParams().reverse())
  throwsLike(t, () => swapped.loadStateDict(sd), RangeError, /^Adam\.loadStateDict: stateDict\.state\[0\]\.expAvg must be \[3,5\] \(the shape of its parameter\), got \[37\]/)
  throwsLike(t, () => other.loadStateDict({ state: {}, paramGroups: [] }), RangeError, /paramGroups must be 1 groups/)
  throwsLike(t, () => other.loadStateDict(null), TypeError, /^Adam\.loadStateDict: stateDict must be an object/)
})

// ---------------------------------------------------------------- skipping, zeroGrad, memory

test('step skips parameters whose grad is null or whose requiresGrad is false', (t) => {
  const [a, b] = makeParams()
  const c = new Parameter(fv.tensor(new Float32Array([1, 2, 3]), [3]))  // grad stays null
  b.requiresGrad = false
  a.grad.data.fill(1); b.grad.data.fill(1)
  const bBefore = b.value.data.slice()
  for (const opt of [new fv.optim.SGD([a, b, c], { lr: 0.1, momentum: 0.9 }), new fv.optim.Adam([a, b, c]), new fv.optim.AdamW([a, b, c])]) {
    const aBefore = a.value.data.slice()
    opt.step()
    t.notDeepEqual(a.value.data, aBefore, `${opt.name} updates a`)
    t.deepEqual(b.value.data, bBefore, `${opt.name} skips requiresGrad=false`)
    t.deepEqual(Array.from(c.value.data), [1, 2, 3], `${opt.name} skips grad=null`)
    t.deepEqual(Object.keys(opt.stateDict().state), ['0'], `${opt.name} keeps state for a only`)
  }
})

test('zeroGrad fills grads with zeros in place (or drops them with setToNone)', (t) => {
  const params = makeParams()
  setGrads(params, 0)
  const opt = new fv.optim.SGD(params, { lr: 0.1 })
  const g = params[0].grad.data
  opt.zeroGrad()
  t.is(params[0].grad.data, g)
  t.true(g.every((v) => v === 0))
  opt.zeroGrad({ setToNone: true })
  t.is(params[0].grad, null)
  opt.step()  // no grads: nothing to do
  t.deepEqual(opt.stateDict().state, {})
})

test('a step in steady state allocates nothing: state is made once and updated in place', (t) => {
  const n = 1 << 20
  const p = new Parameter(fv.tensor(normal(n, 1), [n]))
  p.grad = fv.tensor(normal(n, 2), [n])
  for (const opt of [new fv.optim.Adam([p], { amsgrad: true }), new fv.optim.SGD([p], { lr: 0.01, momentum: 0.9 })]) {
    opt.step()
    const pool = fv.poolStats()
    global.gc?.()
    const ab = process.memoryUsage().arrayBuffers
    for (let i = 0; i < 20; i++) opt.step()
    const grown = process.memoryUsage().arrayBuffers - ab
    t.true(grown < 1 << 20, `${opt.name}: array buffers grew by ${grown} bytes over 20 steps of a 4 MiB parameter`)
    const after = fv.poolStats()
    t.is(after.misses, pool.misses, `${opt.name}: no pool allocation`)
    t.is(after.hits, pool.hits, `${opt.name}: no pool result at all`)
  }
})

// ---------------------------------------------------------------- threads, Async

test('the updates and norms are bit-identical across thread counts', (t) => {
  const n = 300007  // several 32K-element chunks and 16K-element norm blocks, and a ragged end
  const p0 = normal(n, 3); const g = fv.tensor(normal(n, 4), [n])
  assertDeterministic(t, () => {
    const p = fv.tensor(p0.slice(), [n]); const m = fv.tensor(new Float32Array(n), [n])
    const v = fv.tensor(new Float32Array(n), [n]); const vm = fv.tensor(new Float32Array(n), [n])
    const b = fv.tensor(new Float32Array(n), [n]); const q = fv.tensor(p0.slice(), [n])
    for (let step = 1; step <= 3; step++) {
      fv.ops.adamStep(p, g, m, v, vm, { lr: 1e-2, step, amsgrad: true, weightDecay: 0.01 })
      fv.ops.sgdStep(q, g, b, { lr: 1e-2, momentum: 0.9, nesterov: true, initBuffer: step === 1 })
    }
    const norm64 = new Float64Array([2, 1, Infinity, 3, 0.5].map((ord) => fv.ops.vectorNorm(g, ord)))
    return [p, m, v, vm, q, b, new Float32Array(norm64.buffer)]
  }, [1, 2, 3])
})

test('Async twins of the optim ops give the same bits as the sync ops', async (t) => {
  const n = 70001
  const p0 = normal(n, 5); const g = fv.tensor(normal(n, 6), [n])
  const run = async (async) => {
    const p = fv.tensor(p0.slice(), [n]); const m = fv.tensor(new Float32Array(n), [n]); const v = fv.tensor(new Float32Array(n), [n])
    const q = fv.tensor(p0.slice(), [n]); const b = fv.tensor(new Float32Array(n), [n]); const s = fv.tensor(p0.slice(), [n])
    const o = fv.ops
    for (let step = 1; step <= 2; step++) {
      const ao = { lr: 1e-2, step, decoupled: true, weightDecay: 0.1 }
      const so = { lr: 0.1, momentum: 0.9, dampening: 0.1, initBuffer: step === 1 }
      if (async) await Promise.all([o.adamStepAsync(p, g, m, v, null, ao), o.sgdStepAsync(q, g, b, so), o.scaleInPlaceAsync(s, 0.7)])
      else { o.adamStep(p, g, m, v, null, ao); o.sgdStep(q, g, b, so); o.scaleInPlace(s, 0.7) }
    }
    const norm = async ? await o.vectorNormAsync(g, 3) : o.vectorNorm(g, 3)
    return [p, m, v, q, b, s, new Float32Array(new Float64Array([norm]).buffer)]
  }
  const a = await run(false); const b = await run(true)
  a.forEach((x, i) => assertBitIdentical(t, b[i], x, `result ${i}`))
  t.is(await fv.ops.adamStepAsync(fv.tensor([1]), fv.tensor([1]), fv.tensor([0]), fv.tensor([0]), null, { step: 1 }), undefined)
})

test('stepAsync equals step for every optimizer', async (t) => {
  for (const name of ['sgd nesterov', 'adam amsgrad', 'adamw', 'sgd groups']) {
    const c = OPT.cases.find((x) => x.name === name)
    const sync = runCase(null, c, { to: 10 })
    const params = makeParams(); const opt = makeOptimizer(c, params)
    for (let s = 0; s < 10; s++) { setGrads(params, s); await opt.stepAsync() }
    assertBitIdentical(t, flat(params.map((p) => p.value)), flat(sync.params.map((p) => p.value)), name)
  }
})

// ---------------------------------------------------------------- the ops themselves

test('adamStep / sgdStep on [0] and [1] tensors, and a zero gradient with eps = 0 leaves the parameter alone', (t) => {
  const e = fv.tensor(new Float32Array(0), [0])
  fv.ops.adamStep(e, e, e, e, e, { step: 1, amsgrad: true })
  fv.ops.sgdStep(e, e, e, { momentum: 0.5 })
  const p = fv.tensor([2], [1])
  fv.ops.adamStep(p, fv.tensor([0], [1]), fv.tensor([0], [1]), fv.tensor([0], [1]), null, { step: 1, lr: 1, eps: 1e-8 })
  t.is(p.data[0], 2)
  fv.ops.sgdStep(p, fv.tensor([4], [1]), null, { lr: 0.25 })
  t.is(p.data[0], 1)
})

for (const n of [1, 15, 37, 16384, 16385, 100003]) {
  test(`vectorNorm x=[${n}] matches a float64 reference for ord 2, 1, ∞, −∞, 0, 3, 0.5`, (t) => {
    const x = uniform(n, n, -3, 3)
    x[n >> 1] = 0
    for (const ord of [2, 1, Infinity, -Infinity, 0, 3, 0.5]) {
      const got = fv.ops.vectorNorm(fv.tensor(x, [n]), ord); const want = reference.vectorNorm(x, ord)
      t.true(Math.abs(got - want) <= 1e-12 * Math.abs(want), `ord ${ord}: ${got} vs ${want}`)
    }
    t.is(fv.ops.vectorNorm(fv.tensor(x, [n])), fv.ops.vectorNorm({ data: x, dims: [n] }, 2))
  })
}

test('vectorNorm: a NaN gives NaN for every ord but 0 (which counts it, as PyTorch); an empty tensor gives 0', (t) => {
  const x = uniform(40000, 9); x[33333] = NaN; x[7] = 0
  for (const ord of [2, 1, Infinity, -Infinity, 3]) t.true(Number.isNaN(fv.ops.vectorNorm(fv.tensor(x), ord)), `ord ${ord}`)
  t.is(fv.ops.vectorNorm(fv.tensor(x), 0), 39999)
  t.is(fv.ops.vectorNorm(fv.tensor(new Float32Array(0))), 0)
})

// ---------------------------------------------------------------- schedulers

function schedulerCase (c) {
  const mk = () => new Parameter(fv.tensor(new Float32Array(1), [1]))
  const Opt = fv.optim[c.optimizer]
  const opt = c.groupLrs ? new Opt(c.groupLrs.map((lr) => ({ params: [mk()], lr })), c.options) : new Opt([mk()], c.options)
  const sched = new fv.optim[c.scheduler](opt, ...c.args, c.schedulerOptions)
  const momentum = () => opt.paramGroups.map((g) => (g.betas ? g.betas[0] : g.momentum))
  return { opt, sched, momentum }
}

const closeNumbers = (t, got, want, label) => {
  got.forEach((row, i) => row.forEach((v, j) => {
    const e = want[i][j]
    if (!(Math.abs(v - e) <= 1e-12 * Math.abs(e) + 1e-15)) t.fail(`${label} step ${i} group ${j}: ${v} vs ${e}`)
  }))
  t.pass(label)
}

for (const c of SCHED.cases) {
  test(`${c.scheduler} ${c.name} ${JSON.stringify(c.schedulerOptions)} on ${c.optimizer}: ${SCHED.steps} steps of learning rates match PyTorch`, (t) => {
    const { opt, sched, momentum } = schedulerCase(c)
    const lrs = [sched.getLastLr()]; const moms = [momentum()]
    for (let i = 0; i < SCHED.steps; i++) {
      opt.step()
      sched.step()
      lrs.push(sched.getLastLr()); moms.push(momentum())
    }
    closeNumbers(t, lrs, c.lrs, 'lr')
    closeNumbers(t, moms, c.momentum, 'momentum')
    t.deepEqual(opt.paramGroups.map((g) => g.lr), sched.getLastLr())
  })
}

test('scheduler stateDict round trip: resume after 12 steps → the uninterrupted rates', (t) => {
  for (const c of SCHED.cases) {
    const whole = schedulerCase(c)
    const want = []
    for (let i = 0; i < SCHED.steps; i++) { whole.sched.step(); want.push(whole.sched.getLastLr()) }
    const first = schedulerCase(c)
    for (let i = 0; i < 12; i++) first.sched.step()
    const osd = first.opt.stateDict(); const ssd = first.sched.stateDict()
    const again = schedulerCase(c)
    again.opt.loadStateDict(osd)
    again.sched.loadStateDict(ssd)
    const got = want.slice(0, 12)
    for (let i = 12; i < SCHED.steps; i++) { again.sched.step(); got.push(again.sched.getLastLr()) }
    t.deepEqual(got, want, c.name)
  }
})

test('OneCycleLR refuses to step past totalSteps, as PyTorch', (t) => {
  const opt = new fv.optim.SGD([new Parameter(fv.tensor([0]))], { lr: 0.1, momentum: 0.9 })
  const s = new fv.optim.OneCycleLR(opt, 1, { totalSteps: 3 })
  for (let i = 0; i < 3; i++) s.step()
  throwsLike(t, () => s.step(), RangeError, /^OneCycleLR: step must be called at most totalSteps=3 times, got step 5/)
})

// ---------------------------------------------------------------- clipGradNorm

const CLIP_GRADS = f32(CLIP.grads)
function clipParams () {
  let o = 0
  return CLIP.shapes.map((s) => {
    const n = size(s)
    const p = new Parameter(fv.tensor(new Float32Array(n), s))
    p.grad = fv.tensor(CLIP_GRADS.slice(o, o + n), s)
    o += n
    return p
  })
}

for (const c of CLIP.cases) {
  test(`clipGradNorm normType=${c.normType} maxNorm=${c.maxNorm} over ${CLIP.shapes.map(fmt).join(' ')} matches torch.nn.utils.clip_grad_norm_`, (t) => {
    const ps = clipParams()
    const ord = c.normType === 'Infinity' ? Infinity : c.normType
    const total = fv.optim.clipGradNorm(ps, c.maxNorm, ord)
    t.true(Math.abs(total - c.total) <= 1e-6 * c.total, `total ${total} vs ${c.total}`)
    assertClose(t, flat(ps.map((p) => p.grad)), f32(c.grads), { ...TOL, label: 'grads' })
  })
}

test('clipGradNorm: a non-finite total still scales (PyTorch errorIfNonfinite=false), unless asked to throw', (t) => {
  const ps = clipParams()
  ps[1].grad.data[3] = Infinity
  t.is(fv.optim.clipGradNorm(ps, 1), Infinity)
  // factor 1/(∞ + 1e-6) = 0: finite grads become 0, the infinite one 0·∞ = NaN
  t.true(Number.isNaN(ps[1].grad.data[3]))
  t.true(ps[0].grad.data.every((v) => v === 0))
  const qs = clipParams()
  qs[2].grad.data[0] = NaN
  t.true(Number.isNaN(fv.optim.clipGradNorm(qs, 1)))
  t.true(qs.every((p) => p.grad.data.every(Number.isNaN)), 'NaN factor')
  const rs = clipParams()
  rs[0].grad.data[0] = -Infinity
  const before = flat(rs.map((p) => p.grad))
  throwsLike(t, () => fv.optim.clipGradNorm(rs, 1, 2, { errorIfNonfinite: true }), RangeError, /^clipGradNorm: the total norm of order 2 of the gradients is Infinity/)
  assertBitIdentical(t, flat(rs.map((p) => p.grad)), before, 'untouched after the error')
  // Parameters without grads are left out; none at all gives 0.
  t.is(fv.optim.clipGradNorm([new Parameter(fv.tensor([1]))], 1), 0)
  const one = clipParams()[0]
  t.is(fv.optim.clipGradNorm(one, 1e9), fv.ops.vectorNorm(one.grad))
})

// ---------------------------------------------------------------- bad input

test('optimizers reject bad options with TypeError / RangeError naming the optimizer and the argument', (t) => {
  const ps = makeParams()
  const R = (fn, re) => throwsLike(t, fn, RangeError, re)
  const T = (fn, re) => throwsLike(t, fn, TypeError, re)
  R(() => new fv.optim.Adam(ps, { lr: -1 }), /^Adam: lr must be a non-negative number, got -1$/)
  R(() => new fv.optim.AdamW(ps, { eps: -1e-8 }), /^AdamW: eps must be a non-negative number, got -1e-8$/)
  R(() => new fv.optim.Adam(ps, { betas: [1, 0.999] }), /^Adam: betas\[0\] must be a number in \[0, 1\), got 1$/)
  R(() => new fv.optim.Adam(ps, { betas: [0.9, -0.1] }), /^Adam: betas\[1\] must be a number in \[0, 1\), got -0.1$/)
  T(() => new fv.optim.Adam(ps, { betas: 0.9 }), /^Adam: betas must be an array \[beta1, beta2\] of two numbers, got 0.9$/)
  R(() => new fv.optim.Adam(ps, { weightDecay: NaN }), /^Adam: weightDecay must be a non-negative number, got NaN$/)
  T(() => new fv.optim.Adam(ps, { lr: '0.1' }), /^Adam: lr must be a non-negative number, got a string "0.1"$/)
  T(() => new fv.optim.Adam(ps, { amsgrad: 1 }), /^Adam: amsgrad must be a boolean, got 1$/)
  T(() => new fv.optim.Adam(ps, { learningRate: 0.1 }), /^Adam: options must be an object with keys among lr, betas, eps, weightDecay, amsgrad, maximize, got unknown key 'learningRate'$/)
  R(() => new fv.optim.SGD(ps, { lr: 0.1, nesterov: true }), /^SGD: nesterov must be used with momentum > 0 and dampening = 0, got momentum=0, dampening=0$/)
  R(() => new fv.optim.SGD(ps, { momentum: -0.9 }), /^SGD: momentum must be a non-negative number, got -0.9$/)
  R(() => new fv.optim.SGD([]), /^SGD: params must be a non-empty list of parameters, got an empty list$/)
  T(() => new fv.optim.SGD(ps[0]), /^SGD: params must be an array of parameters or of parameter groups, got a Parameter$/)
  T(() => new fv.optim.SGD([ps[0], fv.tensor([1])]), /^SGD: paramGroups\[0\]\.params\[1\] must be a parameter \{ value: Tensor, grad: Tensor \| null \} \(fv\.nn\.Parameter\), got a Tensor$/)
  R(() => new fv.optim.SGD([ps[0], ps[0]]), /^SGD: paramGroups\[0\]\.params\[1\] must be a parameter in no other group/)
  R(() => new fv.optim.Adam([{ params: [ps[0]] }, { params: [ps[1]], lr: -0.1 }]), /^Adam: paramGroups\[1\]\.lr must be a non-negative number, got -0.1$/)
  R(() => new fv.optim.Adam([{ params: [ps[0]] }, { params: [ps[0]] }]), /^Adam: paramGroups\[1\]\.params\[0\] must be a parameter in no other group/)
  T(() => new fv.optim.Adam([{ params: [ps[0]], lrr: 1 }]), /^Adam paramGroups\[0\]: options must be an object with keys among params, lr/)
  // A gradient of the wrong shape is caught by the op, before anything is written.
  const opt = new fv.optim.Adam([ps[1]])
  ps[1].grad = fv.tensor(new Float32Array(15), [15])
  const before = ps[1].value.data.slice()
  R(() => opt.step(), /^adamStep: grad must be \[3,5\] \(the shape of param\), got \[15\]$/)
  t.deepEqual(ps[1].value.data, before)
})

test('the optim ops reject bad input (TypeError / RangeError naming op and argument; Async twins reject)', async (t) => {
  const x = () => fv.tensor(new Float32Array(4), [4])
  const R = (fn, re) => throwsLike(t, fn, RangeError, re)
  const T = (fn, re) => throwsLike(t, fn, TypeError, re)
  const p = x()
  T(() => fv.ops.adamStep(p, x(), x(), x(), null), /^adamStep: options must be an object with step, got undefined$/)
  T(() => fv.ops.adamStep(p, x(), x(), x(), null, {}), /^adamStep: step must be an integer, got undefined$/)
  R(() => fv.ops.adamStep(p, x(), x(), x(), null, { step: 0 }), /^adamStep: step must be an integer from 1 to 9007199254740991, got 0$/)
  R(() => fv.ops.adamStep(p, x(), x(), x(), null, { step: 1, beta2: 1 }), /^adamStep: beta2 must be a number in \[0, 1\), got 1$/)
  T(() => fv.ops.adamStep(p, x(), x(), x(), null, { step: 1, amsgrad: true }), /^adamStep: maxExpAvgSq must be a tensor with amsgrad, got null$/)
  R(() => fv.ops.adamStep(p, x(), p, x(), null, { step: 1 }), /^adamStep: expAvg must be memory not shared with param, got a view of the same buffer$/)
  const shared = new Float32Array(8)
  R(() => fv.ops.adamStep(p, x(), fv.tensor(shared.subarray(0, 4), [4]), fv.tensor(shared.subarray(3, 7), [4]), null, { step: 1 }),
    /^adamStep: expAvgSq must be memory not shared with expAvg/)
  R(() => fv.ops.adamStep(p, fv.tensor(new Float32Array(4), [2, 2]), x(), x(), null, { step: 1 }), /^adamStep: grad must be \[4\] \(the shape of param\), got \[2,2\]$/)
  T(() => fv.ops.adamStep(p, [1, 2, 3, 4], x(), x(), null, { step: 1 }), /^adamStep: grad must be a tensor/)
  T(() => fv.ops.sgdStep(p, x(), null, { momentum: 0.9 }), /^sgdStep: momentumBuffer must be a tensor when momentum ≠ 0, got null$/)
  R(() => fv.ops.sgdStep(p, x(), x(), { momentum: 0.9, dampening: 0.5, nesterov: true }), /^sgdStep: nesterov must be used with momentum > 0 and dampening = 0/)
  R(() => fv.ops.sgdStep(p, x(), null, { lr: Infinity }), /^sgdStep: lr must be a non-negative number, got Infinity$/)
  T(() => fv.ops.vectorNorm(p, 'fro'), /^vectorNorm: ord must be a number \(Infinity for the max norm\), got a string "fro"$/)
  R(() => fv.ops.vectorNorm(p, NaN), /^vectorNorm: ord must be a number/)
  T(() => fv.ops.scaleInPlace(p, '2'), /^scaleInPlace: scale must be a number, got a string "2"$/)
  await rejectsLike(t, fv.ops.adamStepAsync(p, x(), x(), x(), null, { step: 1, lr: -1 }), RangeError, /^adamStep: lr must be a non-negative number, got -1$/)
  await rejectsLike(t, fv.ops.sgdStepAsync(p, x(), null, { lr: -1 }), RangeError, /^sgdStep: lr must be/)
  // The native layer re-checks what the TS layer checked.
  const { binding } = require('../dist/native')
  const f = (n = 4) => new Float32Array(n)
  const adam = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1, amsgrad: false, decoupled: false, maximize: false }
  const sgd = { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, initBuffer: false }
  R(() => binding.adamStep(f(), f(3), f(), f(), null, adam), /adamStep: grad must have 4 elements/)
  R(() => binding.adamStep(f(), f(), f(), f(), null, { ...adam, step: 0 }), /adamStep: step must be an integer from 1/)
  R(() => binding.adamStep(f(), f(), f(), f(), null, { ...adam, amsgrad: true }), /adamStep: maxExpAvgSq is needed with amsgrad/)
  T(() => binding.adamStep(f(), f(), f(), f(), null, { ...adam, eps: undefined }), /^adamStep: eps must be a number, got undefined$/)
  T(() => binding.adamStep(f(), f(), f(), f(), null), /^adamStep: hyper must be an object, got undefined$/)
  const a = f()
  R(() => binding.adamStep(a, f(), f(), a, null, adam), /adamStep: param and expAvgSq must not share memory/)
  R(() => binding.sgdStep(f(), f(), null, sgd), /sgdStep: momentumBuffer is needed with momentum/)
  R(() => binding.sgdStep(f(), f(), f(5), sgd), /sgdStep: momentumBuffer must have 4 elements/)
  T(() => binding.sgdStep(f(), f(), null, { ...sgd, momentum: 0, nesterov: 'no' }), /sgdStep: nesterov must be a boolean/)
  R(() => binding.normReduce(f(), NaN), /normReduce: ord must not be NaN/)
  T(() => binding.scaleInPlace(new Float64Array(4), 2), /scaleInPlace: x must be a Float32Array, got Float64Array\(4\)/)
})

test('schedulers and clipGradNorm reject bad input', (t) => {
  const opt = new fv.optim.SGD(makeParams(), { lr: 0.1, momentum: 0.9 })
  const R = (fn, re) => throwsLike(t, fn, RangeError, re)
  const T = (fn, re) => throwsLike(t, fn, TypeError, re)
  T(() => new fv.optim.StepLR({}, 3), /^StepLR: optimizer must be an optimizer \(fv\.optim\.SGD, Adam, AdamW\), got an object$/)
  R(() => new fv.optim.StepLR(opt, 0), /^StepLR: stepSize must be an integer from 1 to 9007199254740991, got 0$/)
  T(() => new fv.optim.StepLR(opt, 3, { gama: 0.5 }), /^StepLR: options must be an object with keys among gamma, lastEpoch, got unknown key 'gama'$/)
  R(() => new fv.optim.CosineAnnealingLR(opt, 0), /^CosineAnnealingLR: tMax must be a positive number, got 0$/)
  R(() => new fv.optim.StepLR(new fv.optim.SGD(makeParams()), 3, { lastEpoch: 5 }), /^StepLR: optimizer\.paramGroups\[0\]\.initialLr must be set when resuming/)
  T(() => new fv.optim.OneCycleLR(opt, 0.1), /^OneCycleLR: options must be an object with totalSteps, or epochs and stepsPerEpoch, got an object$/)
  R(() => new fv.optim.OneCycleLR(opt, 0.1, { totalSteps: 0 }), /^OneCycleLR: totalSteps must be an integer from 1/)
  T(() => new fv.optim.OneCycleLR(opt, 0.1, { epochs: 3 }), /^OneCycleLR: stepsPerEpoch must be an integer, got undefined$/)
  R(() => new fv.optim.OneCycleLR(opt, [0.1, 0.2], { totalSteps: 10 }), /^OneCycleLR: maxLr must be 1 numbers \(one per parameter group\), got \[0.1,0.2\]$/)
  R(() => new fv.optim.OneCycleLR(opt, 0.1, { totalSteps: 10, annealStrategy: 'exp' }), /^OneCycleLR: annealStrategy must be 'cos' or 'linear', got a string "exp"$/)
  R(() => new fv.optim.OneCycleLR(opt, 0.1, { totalSteps: 10, pctStart: 1.5 }), /^OneCycleLR: pctStart must be a number from 0 to 1, got 1.5$/)
  const ps = clipParams()
  T(() => fv.optim.clipGradNorm(ps, '1'), /^clipGradNorm: maxNorm must be a number, got a string "1"$/)
  R(() => fv.optim.clipGradNorm(ps, 1, NaN), /^clipGradNorm: normType must be a number \(Infinity for the max norm\), got NaN$/)
  T(() => fv.optim.clipGradNorm([ps[0], 3], 1), /^clipGradNorm: params\[1\] must be a parameter \{ value, grad \}/)
  T(() => fv.optim.clipGradNorm(ps, 1, 2, { errorIfNonFinite: true }), /^clipGradNorm: options must be an object with keys among errorIfNonfinite/)
})
