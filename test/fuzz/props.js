'use strict'
// The two properties every op spec (ops.js) is checked against, sync and Async:
//   valid:   a generated valid case matches the reference, the result has the right shape
//            (and lands in `out` when one is given), and the Async twin gives the same bits;
//   invalid: a valid case with one argument made bad — by the argument's kind (sig) or by a
//            mutation the spec knows is invalid — throws exactly TypeError or RangeError
//            whose message starts with the op's name; the Async twin rejects the same way
//            (it never throws synchronously). Never a crash, a hang or a wrong shape.
const fc = require('fast-check')
const { specs, Mismatch } = require('./ops')
const { throwsLike, rejectsLike } = require('../helpers/errors')
const { sameBits } = require('./ops')

function fail (msg) { throw new Mismatch(msg) }

// test/helpers/errors.js's assertions, with an ava-like `t` that reports by throwing.
const strictT = {
  pass () {},
  fail,
  is (a, b, msg) { if (a !== b) fail(`${msg}: ${a && a.name} is not ${b && b.name}`) },
  true (v, msg) { if (!v) fail(msg) },
  regex (s, re) { if (!re.test(s)) fail(`message "${s}" does not match ${re}`) },
  throws (fn, { instanceOf }) {
    let err
    try { fn() } catch (e) { err = e }
    if (err === undefined) fail(`did not throw (expected ${instanceOf.name})`)
    if (!(err instanceof instanceOf)) fail(`threw ${err && err.constructor && err.constructor.name}: ${err && err.message} (expected ${instanceOf.name})`)
    return err
  },
  async throwsAsync (promise, { instanceOf }) {
    let err; let settled = false
    try { await promise; settled = true } catch (e) { err = e }
    if (settled) fail(`resolved (expected a ${instanceOf.name} rejection)`)
    if (!(err instanceof instanceOf)) fail(`rejected with ${err && err.constructor && err.constructor.name}: ${err && err.message} (expected ${instanceOf.name})`)
    return err
  }
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const namesOp = (name) => new RegExp(`^${escape(name)}[: ]`)

/** Deep bit-equality of two results (Tensors, typed arrays, numbers, objects of them). */
function sameResult (a, b, label) {
  if (a === undefined || a === null) { if (a !== b) fail(`${label}: ${a} vs ${b}`); return }
  if (typeof a === 'number') { if (!(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)))) fail(`${label}: ${a} vs ${b}`); return }
  if (ArrayBuffer.isView(a)) {
    if (!ArrayBuffer.isView(b) || a.length !== b.length || a.constructor !== b.constructor) fail(`${label}: arrays differ in kind or length`)
    for (let i = 0; i < a.length; i++) {
      if (a instanceof Float32Array ? !sameBits(a[i], b[i]) : a[i] !== b[i]) fail(`${label}: differ at ${i}: ${a[i]} vs ${b[i]}`)
    }
    return
  }
  if (a.data !== undefined && a.shape !== undefined) {
    if (a.shape.join() !== b.shape.join()) fail(`${label}: shapes [${a.shape}] vs [${b.shape}]`)
    return sameResult(a.data, b.data, label)
  }
  for (const k of Object.keys(a)) sameResult(a[k], b[k], `${label}.${k}`)
}

// ---------------------------------------------------------------- valid

async function runValid (fv, spec, c, isa, counter) {
  const n = spec.sig.length
  if (isa) fv.setIsa(isa)
  try {
    const b = spec.build(c, fv)
    const a1 = b.args()
    let r
    counter.calls++
    try { r = fv.ops[spec.name](...a1.slice(0, n)) } catch (e) { fail(`${spec.name} threw on a valid case: ${e && e.stack}`) }
    b.check(r, a1)
    if (spec.noAsync) return
    const a2 = b.args()
    counter.calls++
    let p
    try { p = fv.ops[spec.name + 'Async'](...a2.slice(0, n)) } catch (e) { fail(`${spec.name}Async threw synchronously: ${e && e.message}`) }
    if (!p || typeof p.then !== 'function') fail(`${spec.name}Async did not return a promise`)
    let r2
    try { r2 = await p } catch (e) { fail(`${spec.name}Async rejected a valid case: ${e && e.stack}`) }
    b.check(r2, a2)
    sameResult(r, r2, `${spec.name} sync vs Async`)
  } finally {
    if (isa) fv.setIsa('auto')
  }
}

// ---------------------------------------------------------------- invalid

const detached = () => {
  const a = new Float32Array(4)
  structuredClone(a.buffer, { transfer: [a.buffer] })
  return a
}
const shapeOf = (t) => (t && (t.shape ?? t.dims)) || [1]
const lenOf = (t) => (t && t.data ? t.data.length : 1)
const dataOf = (t) => (t && t.data) || new Float32Array(1)

/** The generic bad values for a tensor argument, each with the error it must give. */
function tensorMutations (fv, optional) {
  const m = [
    [() => 42, TypeError], [() => 'x', TypeError], [() => [1, 2], TypeError], [() => new Float32Array(2), TypeError],
    [(t) => ({ data: Array.from(dataOf(t)), shape: shapeOf(t) }), TypeError],
    [(t) => ({ data: new Float64Array(lenOf(t)), shape: shapeOf(t) }), TypeError],
    [(t) => ({ data: new Float32Array(lenOf(t) + 1), shape: shapeOf(t) }), RangeError],
    [(t) => ({ data: dataOf(t), shape: 'abc' }), TypeError],
    [(t) => ({ data: dataOf(t), shape: [1.5] }), RangeError],
    [(t) => ({ data: dataOf(t), shape: [-1] }), RangeError],
    [(t) => ({ data: dataOf(t), shape: [2 ** 53, 2] }), RangeError],
    [() => ({ data: detached(), shape: [3] }), TypeError],
    [(t) => { const d = fv.tensor(Float32Array.from(dataOf(t)), shapeOf(t)); d.dispose(); return d }, TypeError],
    [(t) => ({ data: new Uint8Array(4 * lenOf(t)), shape: shapeOf(t) }), TypeError]
  ]
  if (!optional) m.push([() => undefined, TypeError], [() => null, TypeError])
  return m
}

const KIND_MUTATIONS = {
  i32: [[() => new Float32Array(1), TypeError], [() => [0], TypeError], [(v) => new Int32Array((v ? v.length : 0) + 1), RangeError]],
  idx: [[(v) => Float32Array.from(v.data ?? v), TypeError], [(v) => ({ data: new Int32Array((v.data ?? v).length + 1), shape: [(v.data ?? v).length] }), RangeError],
    [() => 'idx', TypeError]],
  num: [[() => 'abc', TypeError], [() => ({}), TypeError]],
  'num?': [[() => 'abc', TypeError]],
  shape: [[() => 'abc', TypeError], [() => [1.5], RangeError]],
  u16: [[() => new Float32Array(2), TypeError], [() => [1, 2], TypeError]],
  f32: [[() => new Uint16Array(2), TypeError], [() => ({ data: new Float32Array(2), shape: [2] }), TypeError]],
  o: [[() => 'fast', TypeError], [() => [1], TypeError], [(o) => ({ ...o, bogusOption: 1 }), TypeError]],
  'o!': [[() => 'fast', TypeError], [(o) => ({ ...o, bogusOption: 1 }), TypeError]]
}

const REQUIRED = new Set(['t', 'i32', 'idx', 'num', 'shape', 'u16', 'f32', 'o!'])

/**
 * Every mutation that applies to `spec`: generic ones by argument kind, missing trailing
 * arguments, bad `out`s, and the spec's own. Each is { label, apply(c, args, info) → ErrorClass | null }.
 */
function mutationsOf (fv, spec) {
  const list = []
  spec.sig.forEach((kind, i) => {
    const m = kind === 't' || kind === 't?' ? tensorMutations(fv, kind === 't?') : KIND_MUTATIONS[kind] || []
    m.forEach(([make, type], j) => list.push({ label: `arg ${i} (${kind}) #${j}`, apply: (c, a) => { a[i] = make(a[i]); return type } }))
    if (REQUIRED.has(kind)) list.push({ label: `only ${i} arguments`, apply: (c, a) => { a.length = i; return TypeError } })
  })
  const oi = spec.sig.findIndex((k) => k === 'o' || k === 'o!')
  if (spec.outs && oi >= 0) {
    const keys = spec.outs === 'out' ? [null] : spec.outs
    for (const key of keys) {
      const set = (a, v) => {
        const o = { ...(a[oi] || {}) }
        if (key === null) o.out = v
        else o.out = { ...(o.out || {}), [key]: v }
        delete o.accumulate
        a[oi] = o
      }
      list.push({ label: `out${key ? '.' + key : ''} of another shape`, needs: 'shapes', apply: (c, a, info) => { const s = info.shape(key); set(a, { data: new Float32Array(info.size(s) + 1), shape: [info.size(s) + 1] }); return RangeError } })
      list.push({ label: `out${key ? '.' + key : ''} = 5`, apply: (c, a) => { set(a, 5); return TypeError } })
      list.push({
        label: `out${key ? '.' + key : ''} aliasing an input`,
        needs: 'shapes',
        apply: (c, a, info) => {
          const s = info.shape(key); const m = info.size(s)
          const inputs = spec.sig.map((k, i) => (k === 't' && a[i] && a[i].data ? i : -1)).filter((i) => i >= 0 && lenOf(a[i]) > 0)
          if (!m || !inputs.length) return null
          const i = inputs[c.seed % inputs.length]
          const n = lenOf(a[i])
          const buf = new ArrayBuffer(4 * (Math.max(n, m) + 1))
          const view = new Float32Array(buf, 0, n); view.set(a[i].data)
          a[i] = { data: view, shape: shapeOf(a[i]) }
          set(a, { data: new Float32Array(buf, 4 * Math.min(n - 1, 1), m), shape: s })
          return RangeError
        }
      })
    }
    if (spec.outs !== 'out') {
      list.push({ label: 'out = "x"', apply: (c, a) => { a[oi] = { ...(a[oi] || {}), out: 'x' }; delete a[oi].accumulate; return TypeError } })
      list.push({ label: 'out with an unknown key', apply: (c, a) => { a[oi] = { ...(a[oi] || {}), out: { bogus: 1 } }; delete a[oi].accumulate; return TypeError } })
    }
  }
  ;(spec.invalid || []).forEach((f, j) => list.push({ label: `spec mutation #${j}`, apply: f }))
  return list
}

async function runInvalid (fv, spec, c, pick, counter, mutations) {
  const mut = mutations[pick % mutations.length]
  const n = spec.sig.length
  const b = spec.build(c, fv)
  let shapes = null
  const info = {
    size: (s) => s.reduce((x, y) => x * y, 1),
    shape: (key) => (key === null ? shapes.shape : shapes[key].shape)
  }
  if (mut.needs === 'shapes') shapes = fv.ops[spec.name](...b.args().slice(0, n))
  const a1 = b.args().slice(0, n)
  const type = mut.apply(c, a1, info)
  if (type === null) return  // not applicable to this case
  const name = spec.name
  counter.calls++
  try {
    throwsLike(strictT, () => fv.ops[name](...a1), type, namesOp(name))
  } catch (e) {
    if (e instanceof Mismatch) e.message = `${name} with ${mut.label}: ${e.message}`
    throw e
  }
  if (spec.noAsync) return
  const a2 = b.args().slice(0, n)
  mut.apply(c, a2, info)
  counter.calls++
  let p
  try { p = fv.ops[name + 'Async'](...a2) } catch (e) { fail(`${name}Async with ${mut.label} threw synchronously (${e && e.constructor.name}: ${e && e.message}) instead of rejecting`) }
  try {
    await rejectsLike(strictT, p, type, namesOp(name))
  } catch (e) {
    if (e instanceof Mismatch) e.message = `${name}Async with ${mut.label}: ${e.message}`
    throw e
  }
}

/**
 * Runs both properties of every spec (or those named in `only`) for `runs` cases each
 * (per property), with fast-check seeds derived from `seed`. Returns a report:
 * { calls, failures: [{ spec, property, seed, path, counterexample, error }] }.
 */
async function fuzzOps (fv, { seed, validRuns, invalidRuns, only = null, onProgress = () => {}, timeout = 20000 }) {
  const isas = fv.info().isa.supported
  const counter = { calls: 0 }
  const failures = []
  const chosen = specs.filter((s) => !only || only.includes(s.name))
  for (let si = 0; si < chosen.length; si++) {
    const spec = chosen[si]
    const mutations = mutationsOf(fv, spec)
    const props = [
      ['valid', validRuns, fc.asyncProperty(spec.gen, fc.constantFrom(null, ...isas), (c, isa) => runValid(fv, spec, c, isa, counter))],
      ['invalid', invalidRuns, fc.asyncProperty(spec.gen, fc.nat(), (c, pick) => runInvalid(fv, spec, c, pick, counter, mutations))]
    ]
    for (const [property, numRuns, prop] of props) {
      if (numRuns <= 0) continue
      const s = (seed + si * 7919 + (property === 'valid' ? 0 : 104729)) | 0
      const d = await fc.check(prop, { numRuns, seed: s, timeout, maxSkipsPerRun: 1000 })
      if (d.failed) {
        failures.push({
          spec: spec.name, property, seed: s, path: d.counterexamplePath, numShrinks: d.numShrinks,
          counterexample: safeJson(d.counterexample), error: String((d.errorInstance && (d.errorInstance.stack || d.errorInstance.message)) || d.error).slice(0, 2000)
        })
      }
      onProgress({ spec: spec.name, property, calls: counter.calls, failed: d.failed })
    }
  }
  return { calls: counter.calls, failures, specs: chosen.length }
}

function safeJson (v) {
  try {
    return JSON.parse(JSON.stringify(v, (k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x)))
  } catch {
    return String(v)
  }
}

module.exports = { fuzzOps, mutationsOf, runValid, runInvalid, specs }
