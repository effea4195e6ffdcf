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
