#!/usr/bin/env node
'use strict'
// Property fuzzing of every op and of the native binding (test/fuzz/):
//
//   npm run fuzz -- [--calls N] [--seed S] [--only op,op] [--part ops|native] [--trace FILE]
//
// Two parts, each in a child process of its own, so a crash is a child that dies (and a
// hang one that stops reporting), never the loss of the report:
//   ops     every export of fv.ops and its Async twin, on generated valid cases checked
//           against the float64 references, and on invalid ones that must throw (reject)
//           a TypeError/RangeError naming the op (test/fuzz/props.js, ops.js);
//   native  hostile calls straight into the binding, past the TypeScript checks
//           (test/fuzz/native.js).
// About N calls in all (default 20000), split 1:1 over the parts; --seed (default: from
// the clock, printed) makes a run reproducible. Prints calls/s, failures with their
// shrunk counterexamples, and the seed; exits 1 if anything failed.
const { spawn } = require('node:child_process')
const path = require('node:path')

const argv = process.argv.slice(2)
const opt = (k, d) => { const i = argv.indexOf(k); return i >= 0 && i + 1 < argv.length ? argv[i + 1] : d }
const calls = Number(opt('--calls', 20000))
const seed = Number(opt('--seed', Date.now() % 2147483647))
const only = opt('--only', null)
const part = opt('--part', only ? 'ops' : 'both')
const trace = opt('--trace', null)
const HANG_MS = Number(opt('--hang-ms', 120000))  // no progress line for this long: a hang

if (!Number.isInteger(calls) || calls < 1) { console.error('--calls must be a positive integer'); process.exit(2) }
if (!Number.isInteger(seed)) { console.error('--seed must be an integer'); process.exit(2) }
if (!['ops', 'native', 'both'].includes(part)) { console.error('--part must be ops, native or both'); process.exit(2) }

const dir = path.join(__dirname, '..', 'test', 'fuzz')

/** Runs one part; resolves { result, crash } where crash describes a death or a hang. */
function runPart (name, script, args) {
  return new Promise((resolve) => {
    // At most 6 GB of address space (Linux): sizes that ask for a huge result or scratch
    // get the op's out-of-memory error at once instead of taking the machine's memory.
    const node = [process.execPath, '--expose-gc', path.join(dir, script), ...args]
    const child = process.platform === 'linux'
      ? spawn('bash', ['-c', 'ulimit -v 6000000 && exec "$@"', 'fuzz', ...node], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(node[0], node.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
    let result = null
    let buf = ''
    let stderr = ''
    let lastLine = Date.now()
    let lastProgress = null
    let hung = false
    const watchdog = setInterval(() => {
      if (Date.now() - lastLine > HANG_MS) { hung = true; child.kill('SIGKILL') }
    }, 1000)
    child.stdout.on('data', (d) => {
      buf += d
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl); buf = buf.slice(nl + 1)
        lastLine = Date.now()
        if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7))
        else if (line.startsWith('PROGRESS ')) {
          lastProgress = JSON.parse(line.slice(9))
          process.stderr.write(`\r[${name}] ${line.slice(9).slice(0, 150)}`.padEnd(160))
        } else if (line.trim()) process.stderr.write(`\n[${name}] ${line}\n`)
      }
    })
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000) })
    child.on('exit', (code, signal) => {
      clearInterval(watchdog)
      process.stderr.write('\n')
      let crash = null
      if (hung) crash = `no progress for ${HANG_MS / 1000} s (a hang); last progress ${JSON.stringify(lastProgress)}`
      else if (signal || !result) crash = `the ${name} process died (${signal || 'exit ' + code}); last progress ${JSON.stringify(lastProgress)}; stderr: ${stderr.slice(-1500)}`
      resolve({ result, crash })
    })
  })
}

async function main () {
  const t0 = Date.now()
  const parts = []
  const share = part === 'both' ? Math.ceil(calls / 2) : calls
  console.log(`fuzz: seed ${seed}, about ${calls} calls${only ? `, only ${only}` : ''} (rerun with --seed ${seed})`)
  if (part !== 'native') {
    const a = ['--calls', String(share), '--seed', String(seed)]
    if (only) a.push('--only', only)
    parts.push(['ops', await runPart('ops', 'run-ops.js', a)])
  }
  if (part !== 'ops') {
    const a = ['--calls', String(share), '--seed', String(seed)]
    if (trace) a.push('--trace', trace)
    parts.push(['native', await runPart('native', 'native.js', a)])
  }
  let total = 0
  let failures = 0
  for (const [name, { result, crash }] of parts) {
    if (crash) { failures++; console.log(`\n${name}: FAILED: ${crash}`) }
    if (!result) continue
    total += result.calls
    console.log(`\n${name}: ${result.calls} calls in ${result.seconds.toFixed(1)} s = ${result.callsPerSecond} calls/s, ` +
      `${result.failures.length} failures${name === 'ops' ? ` (${result.specs} ops × sync and Async)` : ''}`)
    if (name === 'native') {
      console.log(`  ${result.functions} native functions; results: ${JSON.stringify(result.counts)}`)
      if (result.missingTemplates.length) { failures++; console.log(`  FAILED: no hostile-call template for ${result.missingTemplates.join(', ')}`) }
      if (result.unreached.length) console.log(`  not reached this run: ${result.unreached.join(', ')}`)
    }
    for (const f of result.failures) {
      failures++
      console.log(`  FAILURE ${JSON.stringify(f, null, 2).slice(0, 3000)}`)
    }
  }
  const seconds = (Date.now() - t0) / 1000
  console.log(`\nfuzz: ${total} calls in ${seconds.toFixed(1)} s (${Math.round(total / seconds)} calls/s), ${failures} failures, seed ${seed}`)
  process.exitCode = failures ? 1 : 0
}

main()
