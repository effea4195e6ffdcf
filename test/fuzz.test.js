'use strict'
// Robustness of the native layer: every function the addon exports is called thousands
// of times with random arguments — wrong types, lying sizes, NaN, huge numbers, short and
// empty arrays. Whatever comes in, the result must be a value, a TypeError/RangeError, or
// an Error with a code (out of memory): never a crash, never a hang. New ops are covered
// as soon as they are exported.
const test = require('ava')
const { binding } = require('../dist/native')
const { rng } = require('./helpers/random')

// Settings that change process-wide state are exercised elsewhere.
const SKIP = new Set(['setNumThreads', 'setIsa', 'setPoolLimit', 'trimPool', 'info', 'poolStats', 'getNumThreads'])

function randomArg (r) {
  const n = [0, 1, 2, 3, 4, 5, 6, 8, 9, 12, 16, 24, 27, 32, 64][Math.floor(r() * 15)]
  const pick = Math.floor(r() * 24)
  switch (pick) {
    case 0: return undefined
    case 1: return null
    case 2: return r() < 0.5
    case 3: return 'abc'
    case 4: return {}
    case 5: return [1, 2]
    case 6: return NaN
    case 7: return Infinity
    case 8: return -1
    case 9: return 2 ** 31
    case 10: return 2 ** 53
    case 11: return 1.5
    case 12: return new Float64Array(n)
    case 13: return Int32Array.from({ length: n }, () => Math.floor(r() * 8) - 2)
    case 14: return -(2 ** 40)
    default:
      if (pick < 19) return Math.floor(r() * 5) // small sizes: 0..4, most likely to match
      return Float32Array.from({ length: n }, () => (r() < 0.05 ? NaN : r() * 4 - 2))
  }
}

function acceptable (err) {
  return err instanceof TypeError || err instanceof RangeError || (err instanceof Error && typeof err.code === 'string')
}

test('every native function survives random arguments (sync and Async)', async (t) => {
  t.timeout(120e3)
  const names = Object.keys(binding).filter((k) => typeof binding[k] === 'function' && !SKIP.has(k)).sort()
  t.true(names.length >= 4, `functions: ${names.join(', ')}`)
  const r = rng(12345)
  const perFunction = Math.max(200, Math.floor(40000 / names.length))
  const bad = []
  for (const name of names) {
    const fn = binding[name]
    const pending = []
    for (let i = 0; i < perFunction; i++) {
      const args = Array.from({ length: Math.floor(r() * 16) }, () => randomArg(r))
      try {
        const res = fn(...args)
        if (res && typeof res.then === 'function') {
          pending.push(res.then(() => {}, (err) => { if (!acceptable(err)) bad.push(`${name}: ${err}`) }))
        }
      } catch (err) {
        if (!acceptable(err)) bad.push(`${name}: ${err && err.stack}`)
      }
    }
    await Promise.all(pending)
  }
  t.deepEqual(bad.slice(0, 10), [], `${bad.length} unexpected errors`)
  t.log(`${names.length} functions × ${perFunction} random calls`)
})

// ---- the property fuzzer (test/fuzz/, `npm run fuzz`): a fixed-seed slice ----

const { spawnSync } = require('node:child_process')
const path = require('node:path')
const fv = require('..')
const { specs } = require('./fuzz/ops')

test('every op of fv.ops and its Async twin has a property spec', (t) => {
  const names = new Set(specs.map((s) => s.name))
  const ops = Object.keys(fv.ops).filter((k) => typeof fv.ops[k] === 'function')
  const missing = ops.filter((k) => !(k.endsWith('Async') ? names.has(k.slice(0, -5)) && !specs.find((s) => s.name === k.slice(0, -5)).noAsync : names.has(k)))
  t.deepEqual(missing, [])
  t.deepEqual([...names].filter((n) => typeof fv.ops[n] !== 'function'), [], 'specs of ops that no longer exist')
  for (const s of specs.filter((x) => x.noAsync)) t.is(typeof fv.ops[s.name + 'Async'], 'undefined', `${s.name} has an Async twin its spec skips`)
})

// Each part runs in a child process (a crash is the child dying), limited to 6 GB of
// address space like `npm run fuzz` (huge sizes get the out-of-memory error at once).
function runPart (script, calls, seed) {
  const node = [process.execPath, '--expose-gc', path.join(__dirname, 'fuzz', script), '--calls', String(calls), '--seed', String(seed)]
  const r = process.platform === 'linux'
    ? spawnSync('bash', ['-c', 'ulimit -v 6000000 && exec "$@"', 'fuzz', ...node], { encoding: 'utf8', timeout: 120e3, maxBuffer: 64 << 20 })
    : spawnSync(node[0], node.slice(1), { encoding: 'utf8', timeout: 120e3, maxBuffer: 64 << 20 })
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '))
  return { status: r.status, signal: r.signal, stderr: r.stderr, result: line ? JSON.parse(line.slice(7)) : null }
}

test('fixed-seed slice of the op properties: valid cases match the references, invalid ones name the op', (t) => {
  const { status, signal, stderr, result } = runPart('run-ops.js', 3000, 20261206)
  t.truthy(result, `no result (exit ${status} ${signal}): ${stderr.slice(-2000)}`)
  t.deepEqual(result.failures, [], JSON.stringify(result.failures, null, 1).slice(0, 4000))
  t.true(result.calls >= 2000, `${result.calls} calls`)
  t.log(`${result.calls} calls over ${result.specs} ops in ${result.seconds} s`)
})

test('fixed-seed slice of hostile native calls: every native function has a generator and none crashes', (t) => {
  const { status, signal, stderr, result } = runPart('native.js', 4000, 20261206)
  t.truthy(result, `no result (exit ${status} ${signal}): ${stderr.slice(-2000)}`)
  t.deepEqual(result.missingTemplates, [], 'native functions no hostile call reaches')
  t.deepEqual(result.unreached, [])
  t.deepEqual(result.failures, [], JSON.stringify(result.failures, null, 1).slice(0, 4000))
  t.true(result.functions >= 70, `${result.functions} native functions`)
  t.log(`${result.calls} calls over ${result.functions} native functions in ${result.seconds} s: ${JSON.stringify(result.counts)}`)
})
