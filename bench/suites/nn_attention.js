'use strict'
// fv.nn.MultiheadAttention against PyTorch 1.13's nn.MultiheadAttention on the same shape,
// threads and inputs: [8, 512, 256] batch-first, 8 heads (head dim 32), self-attention,
// need_weights off (PyTorch then still runs its math path, softmax over an L×L buffer;
// foveal's fused kernel keeps none). Rows:
//   fwd+bwd: forward in training mode and backward to the input and every parameter — for
//     foveal the contract's backward ({ dq, dk, dv }, summed by the caller as self-attention
//     needs) and backwardSelf (the sum accumulated in place); PyTorch autograd into x.grad;
//   fwd: eval-mode forward (PyTorch under no_grad);
//   permute: the layout changes the modules make (GB/s: bytes read + written).
// FLOPs: the four projections 2·B·L·E² each and attention 4·B·L²·E forward; the backward
// counted as 2× the projections and 2.5× attention (the kernel recomputes the scores).
// Target (issue 10): fwd+bwd ≥ 1.5× PyTorch.
const path = require('path')
const { spawnSync } = require('child_process')
const { torchInfo } = require('../lib/peers')

const PYTHON = process.env.FOVEAL_BENCH_PYTHON || '/usr/bin/python3'

// PyTorch through this suite's own script (bench/peers/torch_nn_attention.py), with the env
// bench/lib/peers.js gives torch_bench.py.
function torchRows (cases, threads) {
  const info = torchInfo()
  if (info.error) return cases.map(() => ({ error: info.error }))
  const r = spawnSync(PYTHON, [path.join(__dirname, '..', 'peers', 'torch_nn_attention.py')], {
    input: JSON.stringify({ threads, cases }),
    encoding: 'utf8',
    env: {
      ...process.env,
      OPENBLAS_CORETYPE: process.env.OPENBLAS_CORETYPE || 'SkylakeX',
      OPENBLAS_NUM_THREADS: String(threads),
      OMP_NUM_THREADS: String(threads)
    }
  })
  if (r.status !== 0) return cases.map(() => ({ error: `torch_nn_attention.py failed: ${(r.stderr || '').trim().split('\n').pop()}` }))
  return JSON.parse(r.stdout).results
}

async function run ({ fv, report, measure, threads, quick }) {
  const suite = 'nn_attention'
  const B = quick ? 2 : 8; const L = 512; const E = 256; const H = 8
  const nn = fv.nn
  fv.manualSeed(1)
  const mha = new nn.MultiheadAttention(E, H, { batchFirst: true })
  const x = fv.ops.normal_(fv.tensor(new Float32Array(B * L * E), [B, L, E]), 0, 1, 2)
  const dOut = fv.ops.normal_(fv.tensor(new Float32Array(B * L * E), [B, L, E]), 0, 1, 3)
  const proj = 2 * B * L * E * E
  const attn = 4 * B * L * L * E
  const fwdFlop = 4 * proj + attn
  const stepFlop = fwdFlop + 2 * 4 * proj + 2.5 * attn
  const shape = `x=[${B},${L},${E}] heads=${H} batchFirst`
  const opts = { needWeights: false }
  const timing = quick ? { minMs: 200, warmupMs: 100 } : { minMs: 2000, warmupMs: 500 }

  const stepGroup = `MultiheadAttention ${shape} fwd+bwd`
  const contract = () => fv.tidy(() => {
    mha.forward(x, x, x, opts)
    const { dq, dk, dv } = mha.backward(dOut)
    fv.ops.add(fv.ops.add(dq, dk), dv)  // the input's gradient, as PyTorch's x.grad
  })
  const inPlace = () => fv.tidy(() => { mha.forward(x, x, x, opts); mha.backwardSelf(dOut) })
  const contractAsync = async () => {
    const { out } = await mha.forwardAsync(x, x, x, opts)
    const g = await mha.backwardAsync(dOut)
    const s = await fv.ops.addAsync(g.dq, g.dk)
    fv.dispose([out, g, s, await fv.ops.addAsync(s, g.dv)])
  }
  report.add({ suite, group: stepGroup, impl: 'foveal', flop: stepFlop, note: 'backward → { dq, dk, dv }, then dq + dk + dv', ...(await measure(contract, timing)) })
  report.add({ suite, group: stepGroup, impl: 'foveal backwardSelf', flop: stepFlop, note: 'dq + dk + dv accumulated in place', ...(await measure(inPlace, timing)) })
  report.add({ suite, group: stepGroup, impl: 'foveal Async', flop: stepFlop, note: 'forwardAsync / backwardAsync', ...(await measure(contractAsync, timing)) })

  const fwdGroup = `MultiheadAttention ${shape} fwd (eval)`
  mha.eval()
  report.add({ suite, group: fwdGroup, impl: 'foveal', flop: fwdFlop, ...(await measure(() => mha.forward(x, x, x, opts).out.dispose(), timing)) })
  mha.train()

  // The layout change MultiheadAttention makes four times a step: [B, L, H, D] ↔ [B, H, L, D]
  // (rows of D floats), and the transposing kind NonLocal2d makes ([N, C, L] ↔ [N, L, C]).
  const bytes = 2 * 4 * B * L * E
  for (const [label, shape, perm] of [[`[${B},${L},${H},${E / H}] dims=[0,2,1,3]`, [B, L, H, E / H], [0, 2, 1, 3]],
    [`[${B},${E},${L}] dims=[0,2,1]`, [B, E, L], [0, 2, 1]]]) {
    const src = { data: x.data, shape }
    const out = fv.tensor(new Float32Array(B * L * E), perm.map((a) => shape[a]))
    const group = `permute ${label}`
    report.add({ suite, group, impl: 'foveal', flop: 0, bytes, ...(await measure(() => fv.ops.permute(src, perm).dispose(), timing)) })
    report.add({ suite, group, impl: 'foveal out', flop: 0, bytes, ...(await measure(() => fv.ops.permute(src, perm, { out }), timing)) })
  }

  const torch = torchRows([
    { op: 'mha', B, L, E, H, batchFirst: true, needWeights: false, backward: true },
    { op: 'mha', B, L, E, H, batchFirst: true, needWeights: false, backward: false }
  ], threads)
  report.add({ suite, group: stepGroup, impl: 'pytorch', flop: stepFlop, note: 'autograd: x.grad and every parameter', ...torch[0] })
  report.add({ suite, group: fwdGroup, impl: 'pytorch', flop: fwdFlop, note: 'eval, no_grad', ...torch[1] })
}

module.exports = { run }
