#!/usr/bin/env node
'use strict'
// foveal's benchmarks: `npm run bench [-- suite ...] [--threads N] [--quick]`.
//
// Each suite (bench/suites/<name>.js) times foveal and the peers found (onnxruntime-node,
// tfjs-wasm, PyTorch) on the same shapes in the same run, and reports GFLOP/s, % of the
// machine's measured fp32 peak (bench/peak) and foveal's speed-up over each peer. Prints
// a table and writes bench/results/<date>.json.
const fs = require('fs')
const os = require('os')
const path = require('path')
const fv = require('..')
const { Report, measure } = require('./lib/harness')
const { peak } = require('./lib/peak')
const peers = require('./lib/peers')

async function main () {
  const args = process.argv.slice(2)
  const opt = (name, fallback) => {
    const i = args.indexOf(name)
    if (i < 0) return fallback
    const v = args[i + 1]
    args.splice(i, 2)
    return v
  }
  const threads = Number(opt('--threads', fv.getNumThreads()))
  const quick = args.includes('--quick')
  const names = args.filter((a) => !a.startsWith('--'))
  const dir = path.join(__dirname, 'suites')
  const all = fs.readdirSync(dir).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3)).sort()
  const chosen = names.length ? names : all
  for (const n of chosen) if (!all.includes(n)) throw new Error(`unknown suite '${n}'; suites: ${all.join(', ')}`)

  fv.setNumThreads(threads)
  process.stdout.write(`foveal ${fv.version} bench on ${os.cpus()[0].model}, ${threads} thread(s), isa ${fv.info().isa.active}\n`)
  const p = peak(threads)
  process.stdout.write(`fp32 FMA peak (bench/peak, ${p.isa}): ${p.gflops1} GFLOP/s on 1 thread, ${p.gflopsAll} on ${p.threads}\n`)

  const report = new Report({ peak: p, threads, quick })
  const ctx = {
    fv, threads, quick, report, measure,
    ort: peers.ort(threads),
    tfjs: await peers.tfjs(),
    torch: (cases, t = threads) => peers.torch(cases, t)
  }
  report.peer('onnxruntime-node', ctx.ort)
  report.peer('tfjs-wasm', ctx.tfjs)
  report.peer('pytorch', peers.torchInfo())
  for (const [name, v] of Object.entries(report.peers)) process.stdout.write(`peer ${name}: ${v}\n`)

  for (const name of chosen) {
    process.stdout.write(`running ${name}…\n`)
    await require(path.join(dir, name)).run(ctx)
  }
  report.print()
  const file = path.join(__dirname, 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  report.save(file)
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), file)}\n`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
