'use strict'
// Optimizer steps and gradient clipping on one large parameter, beside PyTorch's
// torch.optim (single-tensor foreach=False, which is also 1.13's default on the CPU, and
// foreach=True) on the same size and threads.
//
// These are memory-bound: an Adam step reads param, grad, exp_avg, exp_avg_sq and writes
// param, exp_avg, exp_avg_sq (28 bytes a parameter), SGD with momentum reads param, grad,
// buffer and writes param, buffer (20), clipGradNorm reads the grad for its norm and reads
// and writes it to scale it (12). So each row reports GB/s at those byte counts, and the
// foveal rows the share of the bandwidth measured in the same run (bench/peak/bandwidth.cpp)
// over arrays of the same length: of the STREAM-like copy, and of a plain C++ loop with
// Adam's access pattern (what the hardware allows this op). Both are medians, as every row.
// PyTorch 1.13's steps allocate temporaries (grad.add, sqrt, the division) whose fresh pages
// cost ~11 µs each on these VMs: that, not arithmetic, is most of its time here.
const { bandwidth } = require('../lib/bandwidth')
const { rand } = require('../lib/data')

// Nominal flops per parameter (only comparable within a row group).
const FLOP = { adam: 12, sgd: 4, clip: 3 }

async function run ({ fv, report, measure, torch, threads, quick }) {
  const suite = 'optim'
  const n = quick ? 2_000_000 : 10_000_000
  const M = `${n / 1e6}M`

  const bw = bandwidth(threads, n, quick ? 7 : 15)
  const probe = `memory bandwidth probe, ${M} floats per array`
  const probeRow = (impl, bytes, r) =>
    report.add({ suite, group: probe, impl, flop: 0, bytes: bytes * n, ms: bytes * n / r.median / 1e6, note: `best ${r.best} GB/s` })
  probeRow('copy a=b (8 B/elt)', 8, bw.copy)
  probeRow('triad a=b+s·c (12 B/elt)', 12, bw.triad)
  probeRow('Adam access pattern, C++ loop (28 B/elt)', 28, bw.adamPattern)
  const share = (bytes, ms) => {
    const gbps = bytes / ms / 1e6
    return `${(100 * gbps / bw.copy.median).toFixed(0)}% of copy, ${(100 * gbps / bw.adamPattern.median).toFixed(0)}% of the Adam-pattern loop`
  }

  const param = () => {
    const p = new fv.nn.Parameter(fv.tensor(rand(n, 1), [n]))
    p.grad = fv.tensor(rand(n, 2), [n])
    return p
  }
  const cases = [
    { name: 'Adam', bytes: 28, flop: FLOP.adam, make: (p) => new fv.optim.Adam([p], { lr: 1e-3 }), torch: { optimizer: 'Adam', options: { lr: 1e-3 } }, avx2: true },
    { name: 'AdamW', bytes: 28, flop: FLOP.adam, make: (p) => new fv.optim.AdamW([p], { lr: 1e-3 }), torch: { optimizer: 'AdamW', options: { lr: 1e-3 } } },
    { name: 'SGD momentum=0.9', bytes: 20, flop: FLOP.sgd, make: (p) => new fv.optim.SGD([p], { lr: 1e-3, momentum: 0.9 }), torch: { optimizer: 'SGD', options: { lr: 1e-3, momentum: 0.9 } } }
  ]
  const torchCases = []
  for (const c of cases) {
    torchCases.push({ op: 'optim', n, foreach: false, ...c.torch })
    torchCases.push({ op: 'optim', n, foreach: true, ...c.torch })
  }
  torchCases.push({ op: 'optim', n, optimizer: 'clip_grad_norm', max_norm: 1.0 })
  const torchRes = torch(torchCases)
  // PyTorch on one thread as well: on these shared 2-core VMs its OpenMP regions can lose
  // whole time slices waiting for the second thread, and the single-thread figure shows it.
  const torch1 = threads > 1 ? torch(cases.map((c) => ({ op: 'optim', n, foreach: false, ...c.torch })), 1) : []

  for (const [i, c] of cases.entries()) {
    const group = `${c.name} step, ${M} params (${c.bytes} B/param)`
    const bytes = c.bytes * n
    const p = param()
    const opt = c.make(p)
    opt.step()  // the state, allocated once
    const m = await measure(() => opt.step())
    report.add({ suite, group, impl: 'foveal', flop: c.flop * n, bytes, ...m, note: share(bytes, m.ms) })
    if (c.avx2 && fv.info().isa.supported.includes('avx512')) {
      fv.setIsa('avx2')
      try {
        const m2 = await measure(() => opt.step())
        report.add({ suite, group, impl: 'foveal (avx2 cap)', flop: c.flop * n, bytes, ...m2, note: share(bytes, m2.ms) })
      } finally {
        fv.setIsa('auto')
      }
    }
    const ma = await measure(() => opt.stepAsync())
    report.add({ suite, group, impl: 'foveal stepAsync', flop: c.flop * n, bytes, ...ma })
    for (const [k, label] of [[0, 'pytorch foreach=False (1.13 default)'], [1, 'pytorch foreach=True']]) {
      const r = torchRes[2 * i + k]
      report.add({ suite, group, impl: label, flop: c.flop * n, bytes, ms: r.ms, error: r.error })
    }
    if (torch1[i]) report.add({ suite, group, impl: 'pytorch foreach=False, 1 thread', flop: c.flop * n, bytes, ms: torch1[i].ms, error: torch1[i].error, threads: 1 })
  }

  const group = `clipGradNorm, ${M} params (12 B/param)`
  const p = param()
  // Each call clips to 0.999 of the previous call's bound, so every call scales (a bound
  // at or above the norm would leave the gradient alone after the norm pass).
  let bound = fv.ops.vectorNorm(p.grad)
  const mc = await measure(() => {
    bound *= 0.999
    fv.optim.clipGradNorm([p], bound)
  })
  report.add({ suite, group, impl: 'foveal', flop: FLOP.clip * n, bytes: 12 * n, ...mc, note: share(12 * n, mc.ms) })
  const r = torchRes[torchRes.length - 1]
  report.add({ suite, group, impl: 'pytorch clip_grad_norm_', flop: FLOP.clip * n, bytes: 12 * n, ms: r.ms, error: r.error })
}

module.exports = { run }
