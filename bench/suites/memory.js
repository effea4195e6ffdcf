'use strict'
// Memory is part of speed (DESIGN.md): the code people write — a plain synchronous loop of
// allocating calls that never disposes and never lets the event loop turn — beside the
// same loop with fv.tidy around each call, the loop into `out`, and onnxruntime-node "at its
// best" (its own process, glibc told to keep freed memory: MALLOC_MMAP_MAX_=0,
// MALLOC_TRIM_THRESHOLD_ huge) looping over `await session.run(feeds)`.
//
// Every foveal loop here is timed in batches of calls with no yield anywhere (not between
// batches either): results come back only as the GC collects them inside the loop. Each
// row reports the median per-call time over the batches.
const { rand } = require('../lib/data')
const { spawnSync } = require('child_process')
const path = require('path')

const ROWS = [
  { name: 'linear 4096×64·64ᵀ', kind: 'linear', M: 4096, K: 64, N: 64 },
  { name: 'linear 1024³', kind: 'linear', M: 1024, K: 1024, N: 1024 },
  { name: 'conv N32 3→32 32² pad 1', kind: 'conv', N: 32, C: 3, H: 32, W: 32, Cout: 32, k: 3, pad: 1 },
  { name: 'depthwise N8 128@28² 3×3', kind: 'conv', N: 8, C: 128, H: 28, W: 28, Cout: 128, k: 3, pad: 1, groups: 128 },
  { name: 'conv N8 64→64 56² 3×3', kind: 'conv', N: 8, C: 64, H: 56, W: 56, Cout: 64, k: 3, pad: 1 },
  { name: 'attention [4,12,1024,64]', kind: 'attention', B: 4, H: 12, L: 1024, D: 64 },
  { name: 'attention [4,12,1024,64] causal', kind: 'attention', B: 4, H: 12, L: 1024, D: 64, causal: true }
]

function flopOf (r) {
  if (r.kind === 'linear') return 2 * r.M * r.K * r.N
  if (r.kind === 'conv') return 2 * r.N * r.Cout * r.H * r.W * (r.C / (r.groups || 1)) * r.k * r.k
  return 4 * r.B * r.H * r.L * r.L * r.D * (r.causal ? 0.5 : 1)
}

/** The row's op three ways: allocating, inside tidy, into out. */
function calls (fv, r) {
  if (r.kind === 'linear') {
    const x = fv.tensor(rand(r.M * r.K, 1), [r.M, r.K])
    const w = fv.tensor(rand(r.N * r.K, 2), [r.N, r.K])
    const out = fv.tensor(new Float32Array(r.M * r.N), [r.M, r.N])
    return { plain: () => fv.ops.linear(x, w), out: () => fv.ops.linear(x, w, null, { out }) }
  }
  if (r.kind === 'conv') {
    const g = r.groups || 1
    const x = fv.tensor(rand(r.N * r.C * r.H * r.W, 1), [r.N, r.C, r.H, r.W])
    const w = fv.tensor(rand(r.Cout * (r.C / g) * r.k * r.k, 2), [r.Cout, r.C / g, r.k, r.k])
    const out = fv.tensor(new Float32Array(r.N * r.Cout * r.H * r.W), [r.N, r.Cout, r.H, r.W])
    const opts = { padding: r.pad, groups: g }
    return { plain: () => fv.ops.conv2d(x, w, null, opts), out: () => fv.ops.conv2d(x, w, null, { ...opts, out }) }
  }
  const n = r.B * r.H * r.L * r.D
  const shape = [r.B, r.H, r.L, r.D]
  const q = fv.tensor(rand(n, 1), shape); const k = fv.tensor(rand(n, 2), shape); const v = fv.tensor(rand(n, 3), shape)
  const out = { out: fv.tensor(new Float32Array(n), shape), lse: fv.tensor(new Float32Array(r.B * r.H * r.L), [r.B, r.H, r.L]) }
  const opts = { causal: !!r.causal }
  return { plain: () => fv.ops.attention(q, k, v, opts), out: () => fv.ops.attention(q, k, v, { ...opts, out }) }
}

/** Median ms per call over `batches` batches of `batch` synchronous calls, never yielding. */
function loop (fn, batch, batches) {
  const perCall = []
  for (let b = 0; b <= batches; b++) {
    const t0 = performance.now()
    for (let i = 0; i < batch; i++) fn()
    if (b > 0) perCall.push((performance.now() - t0) / batch) // batch 0 warms up
  }
  perCall.sort((a, b) => a - b)
  return perCall[perCall.length >> 1]
}

function ortBest (r, threads, batch, batches) {
  const res = spawnSync(process.execPath, [path.join(__dirname, '..', 'peers', 'ort_loop.js'), JSON.stringify({ threads, case: r, batch, batches })], {
    encoding: 'utf8',
    env: { ...process.env, MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: '100000000000' },
    maxBuffer: 1 << 20
  })
  try {
    return JSON.parse(res.stdout.trim().split('\n').pop())
  } catch {
    return { error: `ort_loop failed: ${(res.stderr || '').trim().split('\n').pop()}` }
  }
}

// RSS over a long plain loop, in a fresh process (with and without --expose-gc).
function rssRow (gcFlag, iterations) {
  const script = `
    const fv = require(${JSON.stringify(path.join(__dirname, '..', '..'))})
    const x = fv.tensor(new Float32Array(32 * 3 * 32 * 32).fill(0.1), [32, 3, 32, 32])
    const w = fv.tensor(new Float32Array(32 * 3 * 9).fill(0.01), [32, 3, 3, 3])
    const rss = () => process.memoryUsage().rss
    const start = rss(); let warm = 0, max = 0
    const t0 = performance.now()
    for (let i = 0; i < ${iterations}; i++) {
      fv.ops.conv2d(x, w, null, { padding: 1 })
      if (i === 500) warm = rss()
      if (i % 100 === 0) max = Math.max(max, rss())
    }
    const ms = (performance.now() - t0) / ${iterations}
    console.log(JSON.stringify({ start, warm, max, end: rss(), ms, limit: fv.poolStats().cacheLimit, results: fv.poolStats().results }))`
  const res = spawnSync(process.execPath, [...gcFlag, '-e', script], { encoding: 'utf8', maxBuffer: 1 << 20 })
  try {
    return JSON.parse(res.stdout.trim().split('\n').pop())
  } catch {
    return { error: `child failed: ${(res.stderr || '').trim().split('\n').pop()}` }
  }
}

async function run ({ fv, report, threads, quick }) {
  const suite = 'memory'
  const batches = quick ? 3 : 7
  for (const r of ROWS) {
    const group = r.name
    const flop = flopOf(r)
    const f = calls(fv, r)
    // Batch size: about 60 ms of calls (from a few timed into `out`).
    const t0 = performance.now()
    for (let i = 0; i < 3; i++) f.out()
    const est = (performance.now() - t0) / 3
    const batch = Math.max(3, Math.min(2000, Math.ceil(60 / est)))
    const out = loop(f.out, batch, batches)
    const plain = loop(f.plain, batch, batches)
    const s0 = fv.poolStats()
    const tidy = loop(() => fv.tidy(() => { f.plain() }), batch, batches)
    const s1 = fv.poolStats()
    const hits = s1.hits - s0.hits; const misses = s1.misses - s0.misses
    report.add({ suite, group, impl: 'foveal', flop, ms: plain, note: `plain sync loop: ${(plain / out).toFixed(2)}× the out path` })
    report.add({ suite, group, impl: 'foveal tidy', flop, ms: tidy, note: `${(tidy / out).toFixed(2)}× out; pool hits ${(100 * hits / Math.max(1, hits + misses)).toFixed(1)}%` })
    report.add({ suite, group, impl: 'foveal out', flop, ms: out })
    const o = ortBest(r, threads, Math.max(2, Math.ceil(batch / 2)), batches)
    report.add({ suite, group, impl: 'onnxruntime-node (best)', flop, ms: o.ms, error: o.error, note: 'own process, malloc keeps freed memory' })
    fv.trimPool()
  }

  for (const flag of [[], ['--expose-gc']]) {
    const n = quick ? 2000 : 10000
    const r = rssRow(flag, n)
    const group = `RSS: ${n} conv loop iterations${flag.length ? ' (--expose-gc)' : ''}`
    const mib = (b) => (b / 2 ** 20).toFixed(0)
    report.add({
      suite, group, impl: 'foveal', flop: 2 * 32 * 32 * 32 * 32 * 27, ms: r.ms, error: r.error,
      note: r.error ? undefined : `RSS start ${mib(r.start)} MiB, after 500 ${mib(r.warm)}, max ${mib(r.max)}, end ${mib(r.end)} (pool limit ${mib(r.limit)}); results back by GC ${r.results.byGc} of ${r.results.lent}`
    })
  }

  // A tiny op's overhead: relu over 16 floats.
  const x = fv.tensor(new Float32Array(16).fill(-1), [16])
  const y = fv.tensor(new Float32Array(16), [16])
  const alloc = loop(() => fv.ops.relu(x), 20000, batches)
  const into = loop(() => fv.ops.relu(x, { out: y }), 20000, batches)
  report.add({ suite, group: 'relu 16 floats (call overhead)', impl: 'foveal', flop: 16, ms: alloc, note: `${(alloc * 1000).toFixed(2)} µs a call` })
  report.add({ suite, group: 'relu 16 floats (call overhead)', impl: 'foveal out', flop: 16, ms: into, note: `${(into * 1000).toFixed(2)} µs a call` })
}

module.exports = { run }
