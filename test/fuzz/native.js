'use strict'
// Hostile calls straight into the native binding (lib/native.ts `binding`), past every
// TypeScript check: the native re-checks must stand on their own. Run it in a child
// process (a crash is the child dying): test/fuzz_native.test.js and scripts/fuzz.js do.
//
// Every op function the addon exports is reached at every argument position: a valid
// call of each is recorded first (the public ops are called with generated valid cases
// while the binding's functions are wrapped), and each hostile call starts from such a
// template and breaks one to three things — a value of the wrong type, a length that
// disagrees with the sizes, a negative or 2³¹/2⁵³-overflowing size, a geometry entry, a
// detached, shared, misaligned or Uint8Array buffer, `out` aliasing an input, too few
// arguments, an array whose element getter detaches another argument mid-parse. The
// runtime functions (setNumThreads, setIsa, …) get invalid values only.
//
// A call must return, or throw (reject, for Async twins) a TypeError or RangeError, or an
// Error with a string code (out of memory). Anything else is a failure; so is a crash or
// a hang (the parent's watchdog).
//
//   node --expose-gc test/fuzz/native.js --calls N --seed S [--trace FILE]
// prints progress and a final "RESULT {json}" line.
const fc = require('fast-check')
const fs = require('fs')
const { binding } = require('../../dist/native')
const { rng } = require('../helpers/random')

const RUNTIME = new Set(['info', 'setNumThreads', 'getNumThreads', 'setIsa', 'poolStats', 'setPoolLimit', 'trimPool', 'dispose',
  'isDetached', 'scratchCheckProbe'])

// ---- templates: record the native arguments of valid public calls ----

function recordTemplates (perSpec, seed) {
  const originals = {}
  const templates = {}
  for (const name of Object.keys(binding)) {
    if (typeof binding[name] !== 'function' || RUNTIME.has(name)) continue
    const orig = binding[name]
    originals[name] = orig
    binding[name] = function (...args) {
      if (recording) (templates[name] ??= []).push(args)
      return orig.apply(this, args)
    }
  }
  let recording = true
  const fv = require('../..')
  const { specs } = require('./ops')
  for (const spec of specs) {
    const cases = fc.sample(spec.gen, { seed: seed + spec.name.length, numRuns: perSpec })
    for (const c of cases) {
      try {
        const args = spec.build(c, fv).args().slice(0, spec.sig.length)
        fv.ops[spec.name](...args)
      } catch { /* a case the spec's reference refuses: no template */ }
    }
  }
  // The test hook has no public op: templates of its own (every flag combination).
  for (const [M, K, N] of [[3, 5, 4], [1, 1, 1], [0, 2, 3], [17, 9, 33]]) {
    for (let f = 0; f < 32; f++) {
      const bit = (i) => ((f >> i) & 1) === 1
      templates.gemmPacked ??= []
      templates.gemmPacked.push([new Float32Array(M * K).fill(0.5), new Float32Array(K * N).fill(0.25), null,
        bit(2) ? new Float32Array(N) : null, bit(3) ? new Float32Array(M) : null,
        { M, K, N, transA: bit(0), transB: bit(1), alpha: 1.5, relu: bit(4), packA: bit(0) !== bit(2) }])
    }
  }
  recording = false
  // Every op's Async twin shares its sync twin's templates.
  for (const name of Object.keys(templates)) templates[name] = templates[name].filter((a) => a.length)
  return { templates, fv }
}

// ---- hostile values ----

function detachedF32 (n = 4) {
  const a = new Float32Array(n)
  structuredClone(a.buffer, { transfer: [a.buffer] })
  return a
}

function throwingArray () {
  const a = [1, 2, 3]
  Object.defineProperty(a, 1, { get () { throw new RangeError('hostile getter') } })
  return a
}

// An array like `like` (a geometry, a shape) whose element getter detaches `victim`'s
// buffer and collects the garbage, so a pointer read before it would dangle.
function detachingArray (like, victim) {
  let a
  try { a = like.length <= 64 ? like.slice() : [1, 2, 3] } catch { a = [1, 2, 3] }  // `like` may itself be hostile
  const k = Math.min(1, a.length - 1)
  const v = a[k]
  Object.defineProperty(a, k, {
    get () {
      if (victim && victim.buffer && !(victim.buffer instanceof SharedArrayBuffer) && victim.byteLength > 0) {
        try { structuredClone(victim.buffer, { transfer: [victim.buffer] }) } catch { /* not transferable */ }
        if (global.gc) global.gc()
      }
      return v
    }
  })
  return a
}

const NUMBERS = [0, -0, 1, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, 2 ** 53,
  2 ** 53 + 2, -(2 ** 53), 2 ** 63, 1e308, -(2 ** 31), Number.EPSILON, 1e-320]

/** A hostile replacement for argument value `v` (the template's), drawn with rand(k) → [0, k). */
function hostile (v, rand, call) {
  // (v may be a huge sparse array from an earlier mutation: the replacement stays small)
  const n = Math.min(4096, ArrayBuffer.isView(v) ? v.length : Array.isArray(v) ? v.length : 3)
  const f32args = call.filter((x) => x instanceof Float32Array)
  const pick = rand(34)
  switch (pick) {
    case 0: return undefined
    case 1: return null
    case 2: return rand(2) === 0
    case 3: return 'abc'
    case 4: return {}
    case 5: return [1, 2]
    case 6: return () => 1
    case 7: return 10n
    case 8: return Symbol('s')
    case 9: return NUMBERS[rand(NUMBERS.length)]
    case 10: return new Float64Array(n)
    case 11: return new Int32Array(n).fill(rand(5) - 1)
    case 12: return new Uint8Array(4 * n)
    case 13: return new Uint16Array(n)
    case 14: return new Float32Array(0)
    case 15: return new Float32Array(n + 1)
    case 16: return new Float32Array(Math.max(0, n - 1))
    case 17: return detachedF32(n || 4)
    case 18: { const s = new Float32Array(new SharedArrayBuffer(4 * n)); if (v instanceof Float32Array) s.set(v); return s }
    case 19: { const big = new Float32Array(n + 3); if (v instanceof Float32Array) big.set(v, 1); return big.subarray(1, 1 + n) }
    case 20: return new DataView(new ArrayBuffer(4 * n))
    case 21: return new Proxy(new Float32Array(n), {})
    case 22: return f32args.length ? f32args[rand(f32args.length)] : new Float32Array(n)  // aliasing another argument
    case 23: return throwingArray()
    case 24: return Array.isArray(v) ? detachingArray(v, f32args[rand(Math.max(1, f32args.length))]) : new Float32Array(n)
    case 25: return new Array(n)  // holes
    case 26: return Array.from({ length: n }, () => NUMBERS[rand(NUMBERS.length)])
    case 27: return typeof v === 'number' ? v + 1 : 7
    case 28: return typeof v === 'number' ? Math.max(0, v - 1) : 0
    case 29: return typeof v === 'number' ? v * 2 + 1 : -1
    case 30: return new Int32Array(n).fill(2 ** 31 - 1)
    case 31: return new Int32Array(n).fill(-(2 ** 31))
    case 32: return Object.assign([], { length: 2 ** 32 - 1 })
    default: return new BigInt64Array(n)
  }
}

/** Mutates a copy of `template` in one of several ways; returns { args, how }. */
function mutate (template, rand) {
  const args = template.slice()
  const how = []
  const k = 1 + rand(3)
  for (let m = 0; m < k; m++) {
    try { mutateOnce(args, rand, how) } catch { how.push('(a mutation met an earlier hostile value)') }
  }
  return { args, how: how.join('; ') }
}

function mutateOnce (args, rand, how) {
  const kind = rand(11)
  if (kind <= 4 && args.length) {
    // one argument replaced
    const i = rand(args.length)
    args[i] = hostile(args[i], rand, args)
    how.push(`arg ${i} ← ${describe(args[i])}`)
  } else if (kind === 5) {
    // one entry of an array argument (a geometry, a shape, a perm) broken
    const idx = args.map((a, i) => (Array.isArray(a) && a.length <= 64 ? i : -1)).filter((i) => i >= 0)
    if (!idx.length) return
    const i = idx[rand(idx.length)]
    const a = args[i].slice()
    const e = rand(Math.max(1, a.length + 1))
    a[e] = [NUMBERS[rand(NUMBERS.length)], 'x', undefined, a[e] + 1, Math.max(0, (a[e] | 0) - 1), 0][rand(6)]
    args[i] = a
    how.push(`arg ${i}[${e}] ← ${describe(a[e])}`)
  } else if (kind === 6) {
    // every size a different size: lengths and sizes disagree
    const nums = args.map((a, i) => (typeof a === 'number' ? i : -1)).filter((i) => i >= 0)
    if (!nums.length) return
    const i = nums[rand(nums.length)]
    args[i] = [0, 1, args[i] + 1, args[i] * 2, 2 ** 31, 2 ** 32, 2 ** 53 - 1, -1][rand(8)]
    how.push(`size arg ${i} ← ${args[i]}`)
  } else if (kind === 7) {
    // everything empty, the sizes zero or huge: nothing to compute, nothing to allocate
    for (let i = 0; i < args.length; i++) {
      if (args[i] instanceof Float32Array) args[i] = new Float32Array(0)
      else if (typeof args[i] === 'number' && Number.isInteger(args[i]) && args[i] > 0) args[i] = rand(2) ? 0 : [2 ** 31, 2 ** 40, 2 ** 53 - 1][rand(3)]
    }
    how.push('all arrays empty, sizes 0 or huge')
  } else if (kind === 9 && args.some(isPlain)) {
    // one key of a problem object (attention, gemm, adam, sgd, a conv geometry) broken:
    // a hostile value, missing, or a getter that detaches an array argument
    const idx = args.map((a, i) => (isPlain(a) ? i : -1)).filter((i) => i >= 0)
    const i = idx[rand(idx.length)]
    const o = { ...args[i] }
    const keys = Object.keys(o)
    const key = keys[rand(keys.length)] ?? 'x'
    const f32 = args.filter((a) => a instanceof Float32Array)
    const way = rand(4)
    if (way === 0) delete o[key]
    else if (way === 1) {
      const victim = f32[rand(Math.max(1, f32.length))]
      const v = o[key]
      Object.defineProperty(o, key, {
        enumerable: true,
        get () {
          if (victim && !(victim.buffer instanceof SharedArrayBuffer) && victim.byteLength > 0) {
            try { structuredClone(victim.buffer, { transfer: [victim.buffer] }) } catch { /* not transferable */ }
          }
          return v
        }
      })
    } else if (way === 2) o[key] = typeof o[key] === 'number' ? [o[key] + 1, Math.max(0, o[key] - 1), o[key] * 2 + 1][rand(3)] : !o[key]
    else o[key] = hostile(o[key], rand, args)
    args[i] = o
    how.push(`arg ${i}.${key} ${way === 3 ? '← ' + describe(o[key]) : ['deleted', 'getter detaching an array', 'nudged'][way]}`)
  } else if (kind === 8) {
    // an absent (null) argument — a bias or an out — given as another argument of the call
    const nulls = args.map((a, i) => (a === null ? i : -1)).filter((i) => i >= 0)
    const f32 = args.filter((a) => a instanceof Float32Array)
    if (!nulls.length || !f32.length) return
    const i = nulls[rand(nulls.length)]
    args[i] = f32[rand(f32.length)]
    how.push(`null arg ${i} ← another argument`)
  } else {
    // too few (or extra) arguments
    if (rand(4) === 0) { args.push(new Float32Array(3), 'extra'); how.push('extra arguments') } else {
      args.length = rand(args.length + 1)
      how.push(`only ${args.length} arguments`)
    }
  }
}

function isPlain (a) {
  return a !== null && typeof a === 'object' && !Array.isArray(a) && !ArrayBuffer.isView(a) && Object.getPrototypeOf(a) === Object.prototype
}

function describe (v) {
  if (v === null || v === undefined) return String(v)
  if (typeof v === 'symbol') return 'a symbol'
  if (typeof v === 'bigint') return `${v}n`
  if (typeof v === 'function') return 'a function'
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${v.length ?? v.byteLength})${v.buffer instanceof SharedArrayBuffer ? ' shared' : ''}`
  if (Array.isArray(v)) return `Array(${v.length})`
  if (typeof v === 'object') return 'an object'
  return JSON.stringify(v) ?? String(v)
}

const RUNTIME_BAD = {
  setNumThreads: [0, -1, 1025, 1.5, NaN, Infinity, 'x', undefined, null, 2 ** 53, {}],
  setIsa: [5, 'sse', undefined, null, {}, 'AVX2 ', ''],
  setPoolLimit: [-1, 2 ** 53, 'x', NaN, undefined, 1.5, -Infinity],
  dispose: [5, 'x', {}, new Float64Array(3), undefined, detachedF32(), new Float32Array(4), new Float32Array(new SharedArrayBuffer(8))],
  isDetached: [5, 'x', {}, undefined, detachedF32(), new Float32Array(2), new DataView(new ArrayBuffer(4))],
  info: [1, 'x'],
  getNumThreads: [1],
  poolStats: [1],
  trimPool: [1],
  scratchCheckProbe: [1]
}

const SLOW_MS = 5000

function acceptable (err) {
  return err instanceof TypeError || err instanceof RangeError || (err instanceof Error && typeof err.code === 'string')
}

async function main () {
  const argv = process.argv.slice(2)
  const opt = (k, d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d }
  const calls = Number(opt('--calls', 20000))
  const seed = Number(opt('--seed', 1))
  const trace = opt('--trace', null)
  const serial = argv.includes('--serial')  // await each Async call before the next (to find a hang)
  const traceFd = trace ? fs.openSync(trace, 'w') : null
  const t0 = Date.now()
  const { templates, fv } = recordTemplates(2, seed)
  const tRecorded = Date.now()
  const before = { threads: fv.getNumThreads(), limit: fv.poolStats().cacheLimit }
  const names = Object.keys(binding).filter((k) => typeof binding[k] === 'function' && !k.endsWith('Async')).sort()
  // An op with no template, or a runtime function with no bad values, would go unfuzzed.
  const missing = names.filter((n) => (RUNTIME.has(n) ? !RUNTIME_BAD[n] : !templates[n]))
  const asyncMissing = names.filter((n) => !RUNTIME.has(n) && typeof binding[n + 'Async'] !== 'function')
  const ops = names.filter((n) => templates[n])

  // rand(k) → [0, k), seeded: a run is reproducible from its seed.
  const r = rng(seed)
  const rand = (k) => Math.floor(r() * Math.max(1, k))

  const counts = { ok: 0, refused: 0, oom: 0, unexpected: 0 }
  const perFn = {}
  const bad = []
  const slow = []
  let pending = []
  const note = (name, how, err) => {
    if (err === undefined) { counts.ok++; return }
    if (err instanceof Error && typeof err.code === 'string') counts.oom++
    if (acceptable(err)) { counts.refused++; return }
    counts.unexpected++
    if (bad.length < 20) bad.push({ fn: name, how, error: String(err && (err.stack || err)).slice(0, 500) })
  }
  let lastReport = Date.now()
  for (let i = 0; i < calls; i++) {
    let name; let args; let how
    if (rand(40) === 0) {
      name = [...RUNTIME][rand(RUNTIME.size)]
      const bads = RUNTIME_BAD[name]
      args = [bads[rand(bads.length)]]
      how = `runtime ${describe(args[0])}`
    } else {
      name = ops[i % ops.length]
      const ts = templates[name]
      const m = mutate(ts[rand(ts.length)], rand)
      args = m.args; how = m.how
    }
    const asyncCall = !RUNTIME.has(name) && rand(4) === 0
    const fnName = asyncCall ? name + 'Async' : name
    perFn[fnName] = (perFn[fnName] || 0) + 1
    const tc = Date.now()
    if (traceFd !== null) {
      fs.writeSync(traceFd, `${i} ${fnName}: ${how}\n`)
      if (serial) fs.writeSync(traceFd, `${i} args: ${args.map(describe).join(', ')}\n`)
    }
    try {
      const r = binding[fnName](...args)
      if (asyncCall) {
        if (!r || typeof r.then !== 'function') note(fnName, how, new Error('the Async twin did not return a promise'))
        else pending.push(r.then(() => note(fnName, how, undefined), (e) => note(fnName, how, e ?? new Error('rejected with nothing'))))
      } else {
        note(fnName, how, undefined)
      }
    } catch (e) {
      note(fnName, how, asyncCall ? new Error(`the Async twin threw synchronously: ${e && e.message}`) : e ?? new Error('threw nothing'))
    }
    const dt = Date.now() - tc
    if (dt > 50 && slow.length < 200) slow.push({ ms: dt, fn: fnName, how, args: args.map(describe).join(', ').slice(0, 300) })
    // The arrays are a template's (small) or empty: seconds of work mean a loop over a
    // dimension no data backs — a hang in the making.
    if (dt > SLOW_MS && bad.length < 20) { counts.unexpected++; bad.push({ fn: fnName, how, error: `took ${dt} ms`, args: args.map(describe).join(', ').slice(0, 300) }) }
    if (pending.length >= (serial ? 1 : 64)) { await Promise.all(pending); pending = [] }
    if (traceFd !== null && serial) fs.writeSync(traceFd, `${i} done\n`)
    if (Date.now() - lastReport > 2000) {
      lastReport = Date.now()
      process.stdout.write(`PROGRESS ${JSON.stringify({ part: 'native', calls: i + 1 })}\n`)
    }
  }
  await Promise.all(pending)
  fv.setNumThreads(before.threads); fv.setIsa('auto'); fv.setPoolLimit(before.limit)
  const seconds = (Date.now() - t0) / 1000
  const reached = new Set(Object.keys(perFn))
  const result = {
    part: 'native', seed, calls, seconds, recordSeconds: (tRecorded - t0) / 1000, callsPerSecond: Math.round(calls / seconds), counts,
    functions: names.length, opsWithTemplates: ops.length, missingTemplates: missing, missingAsync: asyncMissing,
    unreached: names.filter((n) => !reached.has(n)).concat(names.filter((n) => !RUNTIME.has(n) && !reached.has(n + 'Async'))),
    failures: bad,
    slowest: slow.sort((a, b) => b.ms - a.ms).slice(0, 8)
  }
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
  process.exitCode = bad.length || missing.length ? 1 : 0
}

if (require.main === module) main()

module.exports = { mutate, hostile, recordTemplates }
