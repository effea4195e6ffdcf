'use strict'
// The property fuzzing of fv.ops (props.js) as a process of its own, for scripts/fuzz.js:
//   node test/fuzz/run-ops.js --calls N --seed S [--only op,op]
// prints PROGRESS lines and a final "RESULT {json}" line; exits 1 on a failure.
const fv = require('../..')
const { fuzzOps, specs } = require('./props')

/** Runs per spec and property for about `calls` calls (each run is a sync and an Async call). */
function budget (calls, n) {
  const perSpec = calls / n / 2
  return { validRuns: Math.max(1, Math.round(perSpec * 2 / 3)), invalidRuns: Math.max(1, Math.round(perSpec / 3)) }
}

async function main () {
  const argv = process.argv.slice(2)
  const opt = (k, d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d }
  const calls = Number(opt('--calls', 5000))
  const seed = Number(opt('--seed', 1))
  const only = opt('--only', null)
  const chosen = only ? only.split(',') : null
  const n = chosen ? chosen.length : specs.length
  const t0 = Date.now()
  let last = Date.now()
  const r = await fuzzOps(fv, {
    seed,
    ...budget(calls, n),
    only: chosen,
    onProgress: (p) => {
      if (Date.now() - last < 2000 && !p.failed) return
      last = Date.now()
      process.stdout.write(`PROGRESS ${JSON.stringify({ part: 'ops', ...p })}\n`)
    }
  })
  const seconds = (Date.now() - t0) / 1000
  process.stdout.write(`RESULT ${JSON.stringify({ part: 'ops', seed, calls: r.calls, seconds, callsPerSecond: Math.round(r.calls / seconds), specs: r.specs, failures: r.failures })}\n`)
  process.exitCode = r.failures.length ? 1 : 0
}

main().catch((e) => { console.error(e); process.exitCode = 2 })

module.exports = { budget }
