'use strict'
// Timing and reporting shared by every bench suite.
//
// Machines here are shared and noisy: every figure is the median of several runs after
// warm-up, and every row carries the ratio against peers measured in the same run.
const fs = require('fs')
const path = require('path')

/**
 * Median (and spread) in ms of fn() — sync or async — after warm-up: at least `warmup`
 * calls and `warmupMs` of calling (at most `maxWarmup` calls), so every implementation is
 * timed in its steady state, as a server sees it. For foveal that means a warm result pool:
 * on these VMs the first touch of fresh memory costs ~11 µs a page, and until the GC has
 * collected a few results and handed their blocks back, each call maps new ones (a 16 KiB
 * result then costs 40 µs more than the 64³ product that fills it). Peers get the same
 * warm-up for their own allocators and arenas.
 */
async function measure (fn, { warmup = 2, warmupMs = 250, maxWarmup = 20000, minRuns = 5, minMs = 400, maxRuns = 200 } = {}) {
  const warmStart = performance.now()
  for (let i = 0; i < warmup || (performance.now() - warmStart < warmupMs && i < maxWarmup); i++) {
    await fn()
    await new Promise(setImmediate)
  }
  const samples = []
  const start = performance.now()
  while (samples.length < minRuns || (performance.now() - start < minMs && samples.length < maxRuns)) {
    const t0 = performance.now()
    const r = fn()
    if (r && typeof r.then === 'function') await r
    samples.push(performance.now() - t0)
    // Let the event loop turn between samples, as it does between requests in a server:
    // results collected by the GC give their pool blocks back only when it turns (Node
    // runs external-buffer finalisers from the loop), so a tight synchronous loop would
    // measure fresh page faults rather than the op.
    await new Promise(setImmediate)
  }
  samples.sort((a, b) => a - b)
  return { ms: samples[samples.length >> 1], min: samples[0], max: samples[samples.length - 1], runs: samples.length }
}

class Report {
  constructor ({ peak, threads, quick }) {
    this.peak = peak
    this.threads = threads
    this.quick = quick
    this.rows = []
    this.peers = {}
  }

  /** Notes which peers were found (name → version or the reason it is missing). */
  peer (name, p) {
    this.peers[name] = p && !p.error ? (p.version || 'found') : `missing: ${p ? p.error : 'unknown'}`
  }

  /**
   * Adds a row: `group` names the shape ("q=[1,8,2048,64] causal fwd"), `impl` who ran it
   * ("foveal", "foveal out", "onnxruntime-node", ...), `flop` the work. A row with
   * `error` records a peer that could not run the case. `bytes` (optional) is the memory
   * the op must move at least (inputs read + outputs written), for memory-bound ops: the
   * row then also reports GB/s.
   */
  add ({ suite, group, impl, flop, ms, error, note, threads, bytes }) {
    const gflops = ms ? flop / ms / 1e6 : undefined
    const gbps = ms && bytes ? bytes / ms / 1e6 : undefined
    const peak = this.peakFor(threads ?? this.threads)
    this.rows.push({
      suite, group, impl, ms, gflops, gbps, note, error, threads: threads ?? this.threads,
      pctPeak: gflops && peak ? (100 * gflops) / peak : undefined
    })
  }

  peakFor (threads) {
    if (!this.peak || !this.peak.gflops1) return undefined
    return threads === 1 ? this.peak.gflops1 : this.peak.gflopsAll
  }

  /**
   * Ratio of each row's time to foveal's in the same group (>1: foveal is faster), and
   * to foveal's `out` path where the suite measured one (fovealOutSpeedup).
   */
  withRatios () {
    const base = new Map()
    const outBase = new Map()
    for (const r of this.rows) if (r.impl === 'foveal' && r.ms) base.set(r.suite + '|' + r.group, r.ms)
    for (const r of this.rows) if (r.impl === 'foveal out' && r.ms) outBase.set(r.suite + '|' + r.group, r.ms)
    return this.rows.map((r) => {
      const b = base.get(r.suite + '|' + r.group)
      const o = outBase.get(r.suite + '|' + r.group)
      return {
        ...r,
        fovealSpeedup: b && r.ms && r.impl !== 'foveal' ? r.ms / b : undefined,
        fovealOutSpeedup: o && r.ms && !r.impl.startsWith('foveal') ? r.ms / o : undefined
      }
    })
  }

  print (out = process.stdout) {
    const rows = this.withRatios()
    const cols = [
      ['shape', (r) => r.group],
      ['impl', (r) => r.impl],
      ['thr', (r) => String(r.threads)],
      ['median ms', (r) => (r.ms !== undefined ? r.ms.toFixed(3) : '-')],
      ['GFLOP/s', (r) => (r.gflops !== undefined ? r.gflops.toFixed(1) : '-')],
      ['% peak', (r) => (r.pctPeak !== undefined ? r.pctPeak.toFixed(1) : '-')],
      ['GB/s', (r) => (r.gbps !== undefined ? r.gbps.toFixed(1) : '-')],
      ['foveal ×', (r) => (r.fovealSpeedup !== undefined ? r.fovealSpeedup.toFixed(2) : '')],
      ['out ×', (r) => (r.fovealOutSpeedup !== undefined ? r.fovealOutSpeedup.toFixed(2) : '')],
      ['note', (r) => r.error || r.note || '']
    ]
    const suites = [...new Set(rows.map((r) => r.suite))]
    for (const suite of suites) {
      const rs = rows.filter((r) => r.suite === suite)
      const cells = rs.map((r) => cols.map(([, f]) => f(r)))
      const widths = cols.map(([h], i) => Math.max(h.length, ...cells.map((c) => (i === cols.length - 1 ? 0 : c[i].length))))
      out.write(`\n## ${suite}\n`)
      out.write(cols.map(([h], i) => h.padEnd(widths[i])).join(' | ') + '\n')
      out.write(widths.map((w) => '-'.repeat(w)).join('-|-') + '\n')
      let last
      for (const c of cells) {
        if (last !== undefined && c[0] !== last) out.write('\n')
        last = c[0]
        out.write(c.map((v, i) => (i === cols.length - 1 ? v : v.padEnd(widths[i]))).join(' | ') + '\n')
      }
    }
    out.write('\n"foveal ×" = that row\'s median time / foveal\'s in the same shape (> 1: foveal is faster);' +
      ' "out ×" the same against foveal\'s `out` path.\n')
  }

  save (file) {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, JSON.stringify({
      date: new Date().toISOString(),
      threads: this.threads,
      peak: this.peak,
      peers: this.peers,
      rows: this.withRatios()
    }, null, 2))
  }
}

module.exports = { measure, Report }
