#!/usr/bin/env node
'use strict'
// Soak: for --minutes M (default 10) keep foveal busy the ways a server would, and check
// that nothing drifts. The main thread mixes sync calls, batches of 100 concurrent Async
// calls, bad input (thrown TypeErrors/RangeErrors and rejected promises), dropped
// promises, and an fv.nn model trained in lockstep sync and Async with an optimizer; 4
// worker_threads do the same, and one of them is terminated while its Async ops run every
// few seconds (and replaced).
//
// Every result is checked: each kind of call has fixed inputs whose first result is
// compared with the float64 references of test/reference/, and every later result must be
// bit-identical to it (the kernels are deterministic). The model's sync and Async twins
// must stay bit-identical, and its forward is compared with a float64 reference of its
// current weights.
//
// Fails (exit 1) on: a wrong result, an unexpected error, RSS after warm-up growing more
// than 5% by the end, a batch of Async calls or a worker making no progress for 60 s. A
// watchdog thread kills the process (exit 2) if the main thread itself stops for 90 s.
//
//   npm run soak                  10 minutes
//   npm run soak -- --minutes 1

const path = require('path')
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads')
const ROOT = path.join(__dirname, '..')

// ---------------------------------------------------------------- the calls

function makeKinds (fv) {
  const { rand } = require('../test/helpers/random')
  const cref = require('../test/reference/conv')
  const lref = require('../test/reference/linear')
  const aref = require('../test/reference/attention')
  const sref = require('../test/reference/softmax')
  const nref = require('../test/reference/norm')

  const conv = { x: rand([2, 3, 9, 9], 1), w: rand([4, 3, 3, 3], 2), b: rand([4], 3) }
  const lin = { x: rand([5, 16], 4), w: rand([8, 16], 5), b: rand([8], 6) }
  const att = { q: rand([1, 2, 9, 8], 7), k: rand([1, 1, 12, 8], 8), v: rand([1, 1, 12, 8], 9), dOut: rand([1, 2, 9, 8], 10) }
  const attDims = { B: 1, Hq: 2, Hkv: 1, Lq: 9, Lk: 12, D: 8, Dv: 8 }
  const attOpts = { causal: true }
  const sm = { x: rand([6, 33], 11, -8, 8) }
  const ln = { x: rand([4, 20], 12, -3, 3), w: rand([20], 13), b: rand([20], 14) }

  // Each kind: sync() and async() give the same list of Float32Arrays; ref is the float64
  // reference of that list.
  return {
    conv2d: {
      sync: () => [fv.ops.conv2d(conv.x, conv.w, conv.b, { padding: 1 }).data],
      async: async () => [(await fv.ops.conv2dAsync(conv.x, conv.w, conv.b, { padding: 1 })).data],
      ref: () => [cref.conv2d(conv.x, conv.w, conv.b, { padding: 1 }).data]
    },
    linear: {
      sync: () => [fv.ops.linear(lin.x, lin.w, lin.b).data],
      async: async () => [(await fv.ops.linearAsync(lin.x, lin.w, lin.b)).data],
      ref: () => [lref.linear(lin.x.data, lin.w.data, lin.b.data, 5, 16, 8)]
    },
    attention: {
      sync: () => {
        const r = fv.ops.attention(att.q, att.k, att.v, attOpts)
        const g = fv.ops.attentionBackward(att.dOut, att.q, att.k, att.v, r.out, r.lse, attOpts)
        return [r.out.data, r.lse.data, g.dq.data, g.dk.data, g.dv.data]
      },
      async: async () => {
        const r = await fv.ops.attentionAsync(att.q, att.k, att.v, attOpts)
        const g = await fv.ops.attentionBackwardAsync(att.dOut, att.q, att.k, att.v, r.out, r.lse, attOpts)
        return [r.out.data, r.lse.data, g.dq.data, g.dk.data, g.dv.data]
      },
      ref: () => {
        const r = aref.attention(att.q.data, att.k.data, att.v.data, attDims, attOpts)
        const g = aref.attentionBackward(att.dOut.data, att.q.data, att.k.data, att.v.data, attDims, attOpts)
        return [r.out, r.lse, g.dq, g.dk, g.dv]
      }
    },
    softmax: {
      sync: () => [fv.ops.softmax(sm.x).data],
      async: async () => [(await fv.ops.softmaxAsync(sm.x)).data],
      ref: () => [sref.softmax(sm.x.data, 6, 33, 1)]
    },
    layerNorm: {
      sync: () => [fv.ops.layerNorm(ln.x, [20], ln.w, ln.b).data],
      async: async () => [(await fv.ops.layerNormAsync(ln.x, [20], ln.w, ln.b)).data],
      ref: () => [nref.layerNorm(ln.x.data, 4, 20, ln.w.data, ln.b.data)]
    }
  }
}

// Bad input: each call must throw (sync) or reject (Async) with exactly this class and a
// message naming the op.
function makeBadCalls (fv) {
  const x = fv.tensor(new Float32Array(12), [3, 4])
  const w = fv.tensor(new Float32Array(9), [1, 1, 3, 3])
  const q = fv.tensor(new Float32Array(16), [1, 1, 2, 8])
  return [
    { op: 'softmax', type: RangeError, call: (a) => fv.ops[a ? 'softmaxAsync' : 'softmax'](x, 5) },
    { op: 'linear', type: RangeError, call: (a) => fv.ops[a ? 'linearAsync' : 'linear'](x, fv.tensor(new Float32Array(6), [2, 3])) },
    { op: 'conv2d', type: TypeError, call: (a) => fv.ops[a ? 'conv2dAsync' : 'conv2d']([1, 2, 3], w) },
    { op: 'attention', type: TypeError, call: (a) => fv.ops[a ? 'attentionAsync' : 'attention'](q, q, q, { scale: 'big' }) },
    { op: 'layerNorm', type: RangeError, call: (a) => fv.ops[a ? 'layerNormAsync' : 'layerNorm'](x, [7]) }
  ]
}

function bitEqual (a, b) {
  if (a.length !== b.length) return false
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length)
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length)
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false
  return true
}

// |got − want| ≤ atol + rtol·|want| element-wise (−Infinity only equals itself); the first
// offending element, or null.
function offFrom (got, want, rtol = 1e-4, atol = 1e-5) {
  if (got.length !== want.length) return `length ${got.length}, expected ${want.length}`
  for (let i = 0; i < got.length; i++) {
    const g = got[i]; const w = want[i]
    const ok = Number.isFinite(w) ? Math.abs(g - w) <= atol + rtol * Math.abs(w) : g === w
    if (!ok) return `element ${i}: ${g}, expected ${w}`
  }
  return null
}

/** The checking state one thread keeps: counts, failures, each kind's first result. */
class Checker {
  constructor (fv) {
    this.fv = fv
    this.kinds = makeKinds(fv)
    this.bad = makeBadCalls(fv)
    this.golden = {}
    this.counts = { calls: {}, checks: 0, failedChecks: 0, expectedErrors: 0, unexpectedErrors: 0, dropped: 0, failures: [] }
    for (const [name, k] of Object.entries(this.kinds)) {
      const first = k.sync()
      const want = k.ref()
      first.forEach((g, i) => {
        const off = offFrom(g, want[i])
        if (off) this.fail(`${name} result ${i} differs from the float64 reference: ${off}`)
      })
      this.counts.checks++
      if (first.some((g, i) => offFrom(g, want[i]))) this.counts.failedChecks++
      this.golden[name] = first.map((a) => Float32Array.from(a))
    }
  }

  fail (msg) {
    if (this.counts.failures.length < 20) this.counts.failures.push(msg)
  }

  count (key) { this.counts.calls[key] = (this.counts.calls[key] || 0) + 1 }

  check (name, how, got) {
    this.count(`${name} ${how}`)
    const want = this.golden[name]
    let ok = true
    for (let i = 0; i < want.length; i++) {
      if (!bitEqual(got[i], want[i])) {
        ok = false
        this.fail(`${name} ${how}: result ${i} is not bit-identical to the first: ${offFrom(got[i], want[i], 0, 0)}`)
      }
    }
    this.counts.checks++
    if (!ok) this.counts.failedChecks++
  }

  syncRound () {
    for (const [name, k] of Object.entries(this.kinds)) this.check(name, 'sync', k.sync())
  }

  /** n concurrent Async calls, kinds in turn; rejects after timeoutMs (a stuck op). */
  async asyncBatch (n, timeoutMs = 60000) {
    const names = Object.keys(this.kinds)
    const calls = []
    for (let i = 0; i < n; i++) {
      const name = names[i % names.length]
      calls.push(this.kinds[name].async().then(
        (got) => this.check(name, 'Async', got),
        (e) => { this.counts.unexpectedErrors++; this.fail(`${name} Async rejected: ${e && e.stack}`) }))
    }
    let timer
    const timeout = new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`a batch of ${n} Async calls did not settle in ${timeoutMs / 1000} s`)), timeoutMs)
    })
    try {
      await Promise.race([Promise.all(calls), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  async errorRound () {
    for (const b of this.bad) {
      this.count(`${b.op} bad input`)
      let thrown = null
      try { b.call(false) } catch (e) { thrown = e }
      this.judge(b, thrown, 'sync')
      let p
      try { p = b.call(true) } catch (e) {
        this.counts.unexpectedErrors++
        this.fail(`${b.op}Async threw instead of rejecting: ${e.message}`)
        continue
      }
      let rejected = null
      try { await p } catch (e) { rejected = e }
      this.judge(b, rejected, 'Async')
    }
  }

  judge (b, err, how) {
    if (err && err.constructor === b.type && err.message.startsWith(`${b.op}`)) {
      this.counts.expectedErrors++
    } else {
      this.counts.unexpectedErrors++
      this.fail(`${b.op} ${how} bad input: expected a ${b.type.name} naming the op, got ${err ? `${err.constructor.name}: ${err.message}` : 'no error'}`)
    }
  }

  /** Async calls nobody awaits: their results must simply be collected. */
  drop (n) {
    const names = Object.keys(this.kinds)
    for (let i = 0; i < n; i++) {
      this.kinds[names[i % names.length]].async()
      this.counts.dropped++
    }
  }

  /** Counts since the last call (what a worker reports), reset. */
  take () {
    const c = this.counts
    this.counts = { calls: {}, checks: 0, failedChecks: 0, expectedErrors: 0, unexpectedErrors: 0, dropped: 0, failures: [] }
    return c
  }
}

function addCounts (into, c) {
  for (const [k, v] of Object.entries(c.calls)) into.calls[k] = (into.calls[k] || 0) + v
  for (const k of ['checks', 'failedChecks', 'expectedErrors', 'unexpectedErrors', 'dropped']) into[k] += c[k]
  for (const f of c.failures) if (into.failures.length < 40) into.failures.push(f)
}

// ---------------------------------------------------------------- the model

// Sequential(Linear(16, 8), ReLU, Linear(8, 4)) trained on MSE with Adam, twice: one twin
// sync, one Async, from the same weights: they must stay bit-identical. Its forward is
// compared with linear → relu → linear in float64 on the current weights.
function makeModel (fv) {
  const lref = require('../test/reference/linear')
  const { rand } = require('../test/helpers/random')
  const build = () => {
    fv.manualSeed(7)
    const m = new fv.nn.Sequential(new fv.nn.Linear(16, 8), new fv.nn.ReLU(), new fv.nn.Linear(8, 4))
    return { m, opt: new fv.optim.Adam(m.parameters(), { lr: 1e-3 }), loss: new fv.nn.MSELoss() }
  }
  const a = build(); const b = build()
  const x = rand([6, 16], 21); const target = rand([6, 4], 22)
  return {
    async step (chk) {
      const sd = a.m.stateDict()
      const W = (k) => sd[k].data
      const h = lref.linear(x.data, W('0.weight'), W('0.bias'), 6, 16, 8).map((v) => Math.max(v, 0))
      const want = lref.linear(Float32Array.from(h), W('2.weight'), W('2.bias'), 6, 8, 4)
      a.opt.zeroGrad()
      const y = a.m.forward(x)
      const off = offFrom(y.data, want, 1e-4, 1e-5)
      chk.counts.checks++
      if (off) { chk.counts.failedChecks++; chk.fail(`nn forward differs from the float64 reference: ${off}`) }
      a.loss.forward(y, target)
      a.m.backward(a.loss.backward())
      a.opt.step()
      chk.count('nn sync step')
      b.opt.zeroGrad()
      const yb = await b.m.forwardAsync(x)
      await b.loss.forwardAsync(yb, target)
      await b.m.backwardAsync(await b.loss.backwardAsync())
      await b.opt.stepAsync()
      chk.count('nn Async step')
      const sa = a.m.stateDict(); const sb = b.m.stateDict()
      const differ = Object.keys(sa).filter((k) => !bitEqual(sa[k].data, sb[k].data))
      chk.counts.checks++
      if (differ.length) { chk.counts.failedChecks++; chk.fail(`nn: the sync and Async twins differ in ${differ.join(', ')}`) }
    }
  }
}

// ---------------------------------------------------------------- a worker

async function workerMain () {
  const fv = require(ROOT)
  const chk = new Checker(fv)
  const { heartbeat, slot } = workerData
  for (;;) {
    chk.syncRound()
    parentPort.postMessage({ type: 'async-start' })
    await chk.asyncBatch(25)
    await chk.errorRound()
    chk.drop(5)
    Atomics.add(heartbeat, slot, 1)
    parentPort.postMessage({ type: 'counts', counts: chk.take() })
  }
}

// ---------------------------------------------------------------- the watchdog

function watchdogMain () {
  const fs = require('fs')
  const { heartbeat, stallSeconds } = workerData
  let last = Atomics.load(heartbeat, 0); let since = Date.now()
  setInterval(() => {
    const now = Atomics.load(heartbeat, 0)
    if (now !== last) { last = now; since = Date.now(); return }
    if (Date.now() - since > stallSeconds * 1000) {
      fs.writeSync(2, `soak: FAIL: deadlock: the main thread made no progress for ${stallSeconds} s\n`)
      process.kill(process.pid, 'SIGKILL')
    }
  }, 1000)
}

// ---------------------------------------------------------------- main

function parseArgs (argv) {
  let minutes = 10
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--minutes') minutes = Number(argv[++i])
    else if (argv[i].startsWith('--minutes=')) minutes = Number(argv[i].slice(10))
    else { console.error(`soak: unknown argument ${argv[i]}; usage: soak.js [--minutes M]`); process.exit(64) }
  }
  if (!(minutes > 0)) { console.error('soak: --minutes must be a positive number'); process.exit(64) }
  return { minutes }
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.floor(s.length / 2)] : NaN }
const mib = (b) => `${(b / 1048576).toFixed(1)} MiB`

async function main () {
  const { minutes } = parseArgs(process.argv.slice(2))
  const { monitorEventLoopDelay } = require('perf_hooks')
  const v8 = require('v8'); const vm = require('vm')
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc')
  const fv = require(ROOT)

  const durationMs = minutes * 60000
  const warmupMs = Math.min(120000, Math.max(10000, durationMs * 0.2))
  const windowMs = Math.max(5000, (durationMs - warmupMs) * 0.1)  // RSS: medians over the first and last windows
  const start = Date.now(); const end = start + durationMs
  const WORKERS = 4
  const heartbeat = new Int32Array(new SharedArrayBuffer(4 * (1 + WORKERS)))
  const total = { calls: {}, checks: 0, failedChecks: 0, expectedErrors: 0, unexpectedErrors: 0, dropped: 0, failures: [] }
  const failures = []  // the soak's own (deadlocks, RSS)
  let terminations = 0; let terminatedMidOp = 0; let workerExits = 0

  const watchdog = new Worker(__filename, { workerData: { role: 'watchdog', heartbeat, stallSeconds: 90 } })
  watchdog.unref()

  // Workers: each reports counts every round; a stalled one is a failure.
  const workers = []
  function spawn (slot) {
    const w = new Worker(__filename, { workerData: { role: 'worker', heartbeat, slot } })
    const rec = { w, slot, inBatch: false, lastReport: Date.now(), dead: false }
    w.on('message', (m) => {
      rec.lastReport = Date.now()
      if (m.type === 'async-start') rec.inBatch = true
      else if (m.type === 'counts') { rec.inBatch = false; addCounts(total, m.counts) }
    })
    w.on('error', (e) => { total.unexpectedErrors++; failures.push(`worker ${slot} threw: ${e && e.stack}`) })
    w.on('exit', () => { workerExits++; rec.dead = true })
    workers[slot - 1] = rec
  }
  for (let s = 1; s <= WORKERS; s++) spawn(s)

  // Every 4 s: terminate one worker while its Async batch runs, and start another.
  let victim = 0
  const killer = setInterval(async () => {
    const rec = workers[victim % WORKERS]; victim++
    const slot = rec.slot
    const mid = rec.inBatch
    await rec.w.terminate()
    terminations++
    if (mid) terminatedMidOp++
    if (Date.now() < end) spawn(slot)
  }, 4000)

  // Stalled workers (no report in 60 s) are deadlocks.
  const stallCheck = setInterval(() => {
    for (const rec of workers) {
      if (rec && !rec.dead && Date.now() - rec.lastReport > 60000) {
        failures.push(`deadlock: worker ${rec.slot} made no progress for 60 s`)
        rec.lastReport = Date.now()
      }
    }
  }, 5000)

  // RSS after a full collection, every second.
  const rss = []
  const sampler = setInterval(() => { gc(); rss.push([Date.now() - start, process.memoryUsage().rss]) }, 1000)

  const eld = monitorEventLoopDelay({ resolution: 10 })
  let eldStarted = false

  const chk = new Checker(fv)
  const model = makeModel(fv)
  let rounds = 0
  try {
    while (Date.now() < end) {
      if (!eldStarted && Date.now() - start >= warmupMs) { eld.enable(); eldStarted = true }
      chk.syncRound()
      await chk.asyncBatch(100)
      await chk.errorRound()
      chk.drop(10)
      await model.step(chk)
      addCounts(total, chk.take())
      Atomics.add(heartbeat, 0, 1)
      rounds++
      await new Promise((resolve) => setImmediate(resolve))
    }
  } catch (e) {
    failures.push(`main loop: ${e && e.message}`)
  }
  eld.disable()
  clearInterval(killer); clearInterval(stallCheck); clearInterval(sampler)
  await Promise.all(workers.map((r) => r.w.terminate()))

  // ---- summary
  const after = rss.filter(([t]) => t >= warmupMs)
  const first = after.filter(([t]) => t < warmupMs + windowMs).map(([, r]) => r)
  const last = after.filter(([t]) => t >= durationMs - windowMs).map(([, r]) => r)
  const rssWarm = median(first); const rssEnd = median(last)
  const rssChange = (rssEnd - rssWarm) / rssWarm * 100
  if (!(rssChange <= 5)) failures.push(`RSS grew ${rssChange.toFixed(2)}% after warm-up (limit 5%)`)
  const ms = (ns) => (ns / 1e6).toFixed(2)
  const allFailures = [...failures, ...total.failures]
  const ok = allFailures.length === 0 && total.unexpectedErrors === 0 && total.failedChecks === 0

  const out = []
  out.push(`soak: ${minutes} min (warm-up ${(warmupMs / 1000).toFixed(0)} s), node ${process.version}, ${fv.info().isa.active}, ${fv.getNumThreads()} kernel threads, ${WORKERS} workers`)
  out.push(`main-thread rounds: ${rounds} (each: sync calls, 100 concurrent Async calls, 10 bad inputs, 10 dropped promises, one nn step sync and Async)`)
  out.push('calls by kind:')
  for (const k of Object.keys(total.calls).sort()) out.push(`  ${k.padEnd(26)} ${total.calls[k]}`)
  out.push(`dropped promises: ${total.dropped}`)
  out.push(`errors: expected ${total.expectedErrors}, unexpected ${total.unexpectedErrors}`)
  out.push(`workers: ${terminations} terminated (${terminatedMidOp} while their Async batch ran), ${workerExits} exits in all`)
  out.push(`result checks passed: ${total.checks - total.failedChecks} of ${total.checks} (each: a call's every output against the float64 reference or bit for bit against the first)`)
  out.push(`RSS: after warm-up ${mib(rssWarm)}, at end ${mib(rssEnd)}, change ${rssChange >= 0 ? '+' : ''}${rssChange.toFixed(2)}% (limit +5%); pool in use ${mib(fv.info().pool.liveBytes)}`)
  out.push(`event-loop delay after warm-up: p50 ${ms(eld.percentile(50))} ms, p99 ${ms(eld.percentile(99))} ms, max ${ms(eld.max)} ms`)
  for (const f of allFailures) out.push(`FAIL: ${f}`)
  out.push(ok ? 'soak: PASS' : 'soak: FAIL')
  console.log(out.join('\n'))
  process.exit(ok ? 0 : 1)
}

if (isMainThread) {
  main().catch((e) => { console.error('soak: FAIL:', e); process.exit(1) })
} else if (workerData.role === 'watchdog') {
  watchdogMain()
} else {
  workerMain().catch((e) => { console.error('soak worker:', e); process.exit(1) })
}
