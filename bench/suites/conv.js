'use strict'
// conv2d (forward, and backward = dx + dw) and the pools beside onnxruntime-node's Conv /
// MaxPool / AveragePool / GlobalAveragePool, tfjs-wasm's conv2d / depthwiseConv2d / pools
// (NHWC, its native layout; forward only: its wasm backend has no filter gradient) and
// PyTorch's F.conv2d / pools (oneDNN), on issue 5's shapes, in the same run.
const { rand } = require('../lib/data')
const { model } = require('../lib/onnx')

// Issue 5's rows. 'same' at stride 1 is padding 1 for 3×3.
const CONV = [
  { name: '64→64 56×56 3×3', N: 8, C: 64, H: 56, W: 56, Cout: 64, k: 3, stride: 1, pad: 1 },
  { name: '3→32 32×32 3×3', N: 32, C: 3, H: 32, W: 32, Cout: 32, k: 3, stride: 1, pad: 1 },
  { name: 'depthwise 128 28×28 3×3', N: 8, C: 128, H: 28, W: 28, Cout: 128, k: 3, stride: 1, pad: 1, groups: 128 },
  { name: '1×1 256→256 14×14', N: 8, C: 256, H: 14, W: 14, Cout: 256, k: 1, stride: 1, pad: 0 },
  { name: 'stride-2 64→128 56×56 3×3', N: 8, C: 64, H: 56, W: 56, Cout: 128, k: 3, stride: 2, pad: 1 },
  { name: 'MNIST 1→32 28×28 3×3', N: 64, C: 1, H: 28, W: 28, Cout: 32, k: 3, stride: 1, pad: 1 },
  { name: 'MNIST 32→64 28×28 3×3', N: 64, C: 32, H: 28, W: 28, Cout: 64, k: 3, stride: 1, pad: 1 }
]

// Pools: flop counts one per window cell visited (a comparison or an add).
const POOL = [
  { name: 'maxPool 2×2/2 64@56×56', op: 'max', N: 8, C: 64, H: 56, W: 56, k: 2, stride: 2, pad: 0 },
  { name: 'maxPool 3×3/2 p1 64@56×56', op: 'max', N: 8, C: 64, H: 56, W: 56, k: 3, stride: 2, pad: 1 },
  { name: 'avgPool 2×2/2 64@56×56', op: 'avg', N: 8, C: 64, H: 56, W: 56, k: 2, stride: 2, pad: 0 },
  { name: 'globalAvgPool 256@14×14', op: 'global', N: 8, C: 256, H: 14, W: 14 }
]

function outSize (n, k, s, p) { return Math.floor((n + 2 * p - k) / s) + 1 }

// NCHW → NHWC for tfjs.
function toNHWC (a, N, C, H, W) {
  const out = new Float32Array(a.length)
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) out[(n * H * W + i) * C + c] = a[(n * C + c) * H * W + i]
  return out
}

async function convRows (s, { fv, report, measure, ort, tfjs }, torchFwd, torchBwd) {
  const suite = 'conv'
  const groups = s.groups || 1
  const OH = outSize(s.H, s.k, s.stride, s.pad); const OW = outSize(s.W, s.k, s.stride, s.pad)
  const flop = 2 * s.N * s.Cout * OH * OW * (s.C / groups) * s.k * s.k
  const x = fv.tensor(rand(s.N * s.C * s.H * s.W, 1), [s.N, s.C, s.H, s.W])
  const w = fv.tensor(rand(s.Cout * (s.C / groups) * s.k * s.k, 2), [s.Cout, s.C / groups, s.k, s.k])
  const b = fv.tensor(rand(s.Cout, 3), [s.Cout])
  const opts = { stride: s.stride, padding: s.pad, groups }
  const out = fv.tensor(new Float32Array(s.N * s.Cout * OH * OW), [s.N, s.Cout, OH, OW])
  const fwd = `N=${s.N} ${s.name} fwd`
  // foveal takes Winograd F(2×2,3×3) on these (3×3, stride 1, ≥ 8 channels each side): its
  // GFLOP/s and % of peak count the direct convolution's flops, 2.25× its own.
  const wino = s.k === 3 && s.stride === 1 && s.C / groups >= 8 && s.Cout / groups >= 8
  const note = wino ? 'Winograd: direct-conv flops' : undefined
  report.add({ suite, group: fwd, impl: 'foveal', flop, note, ...(await measure(() => fv.ops.conv2d(x, w, b, opts))) })
  report.add({ suite, group: fwd, impl: 'foveal out', flop, ...(await measure(() => fv.ops.conv2d(x, w, b, { ...opts, out }))) })
  if (!ort.error) {
    const sess = await ort.session(model({
      inputs: [['x', [s.N, s.C, s.H, s.W]]],
      outputs: [['y', [s.N, s.Cout, OH, OW]]],
      initializers: [['w', w.shape, w.data], ['b', [s.Cout], b.data]],
      nodes: [{
        op: 'Conv',
        inputs: ['x', 'w', 'b'],
        outputs: ['y'],
        attrs: { kernel_shape: [s.k, s.k], strides: [s.stride, s.stride], pads: [s.pad, s.pad, s.pad, s.pad], group: groups }
      }]
    }))
    const feeds = { x: ort.feed(x.data, [s.N, s.C, s.H, s.W]) }
    report.add({ suite, group: fwd, impl: 'onnxruntime-node', flop, ...(await measure(() => sess.run(feeds))) })
  }
  if (!tfjs.error) {
    const tf = tfjs.tf
    const tx = tf.tensor4d(toNHWC(x.data, s.N, s.C, s.H, s.W), [s.N, s.H, s.W, s.C])
    // tfjs filters are [kh, kw, in, out] ([kh, kw, in, multiplier] for depthwise).
    const wt = new Float32Array(w.data.length)
    const Cg = s.C / groups
    for (let co = 0; co < s.Cout; co++) {
      for (let ci = 0; ci < Cg; ci++) {
        for (let i = 0; i < s.k * s.k; i++) wt[(i * Cg + ci) * s.Cout + co] = w.data[(co * Cg + ci) * s.k * s.k + i]
      }
    }
    const depthwise = groups === s.C && groups > 1
    const tw = depthwise ? tf.tensor4d(wt, [s.k, s.k, s.C, 1]) : tf.tensor4d(wt, [s.k, s.k, Cg, s.Cout])
    const pad = s.pad === 0 ? 'valid' : [[0, 0], [s.pad, s.pad], [s.pad, s.pad], [0, 0]]
    if (groups === 1 || depthwise) {
      const m = await measure(() => {
        const y = depthwise ? tf.depthwiseConv2d(tx, tw, s.stride, pad) : tf.conv2d(tx, tw, s.stride, pad)
        y.dataSync()
        y.dispose()
      })
      report.add({ suite, group: fwd, impl: 'tfjs-wasm', flop, ...m, threads: 1, note: 'one thread in Node, NHWC' })
    }
    tf.dispose([tx, tw])
  }
  report.add({ suite, group: fwd, impl: 'pytorch', flop, ms: torchFwd.ms, error: torchFwd.error })

  const bwd = `N=${s.N} ${s.name} bwd (dx+dw)`
  const dy = fv.tensor(rand(s.N * s.Cout * OH * OW, 4), [s.N, s.Cout, OH, OW])
  const outs = {
    dx: fv.tensor(new Float32Array(x.data.length), x.shape),
    dw: fv.tensor(new Float32Array(w.data.length), w.shape),
    db: fv.tensor(new Float32Array(s.Cout), [s.Cout])
  }
  report.add({ suite, group: bwd, impl: 'foveal', flop: 2 * flop, note, ...(await measure(() => fv.ops.conv2dBackward(dy, x, w, opts))) })
  report.add({ suite, group: bwd, impl: 'foveal out', flop: 2 * flop, ...(await measure(() => fv.ops.conv2dBackward(dy, x, w, { ...opts, out: outs }))) })
  report.add({ suite, group: bwd, impl: 'pytorch', flop: 2 * flop, ms: torchBwd.ms, error: torchBwd.error })
}

async function poolRows (s, { fv, report, measure, ort, tfjs }, torchRes) {
  const suite = 'conv'
  const x = fv.tensor(rand(s.N * s.C * s.H * s.W, 5), [s.N, s.C, s.H, s.W])
  let OH = 1; let OW = 1; let run; let node
  if (s.op === 'global') {
    run = () => fv.ops.globalAvgPool2d(x)
    node = { op: 'GlobalAveragePool', inputs: ['x'], outputs: ['y'] }
  } else {
    OH = outSize(s.H, s.k, s.stride, s.pad); OW = outSize(s.W, s.k, s.stride, s.pad)
    const o = { kernel: s.k, stride: s.stride, padding: s.pad }
    run = s.op === 'max' ? () => fv.ops.maxPool2d(x, o) : () => fv.ops.avgPool2d(x, o)
    node = {
      op: s.op === 'max' ? 'MaxPool' : 'AveragePool',
      inputs: ['x'],
      outputs: ['y'],
      attrs: { kernel_shape: [s.k, s.k], strides: [s.stride, s.stride], pads: [s.pad, s.pad, s.pad, s.pad] }
    }
  }
  const cells = s.op === 'global' ? s.H * s.W : s.k * s.k
  const flop = s.N * s.C * OH * OW * cells
  const group = `N=${s.N} ${s.name}`
  report.add({ suite, group, impl: 'foveal', flop, ...(await measure(run)), note: 'flop = window cells visited' })
  if (!ort.error) {
    const sess = await ort.session(model({ inputs: [['x', x.shape]], outputs: [['y', [s.N, s.C, OH, OW]]], nodes: [node] }))
    const feeds = { x: ort.feed(x.data, x.shape) }
    report.add({ suite, group, impl: 'onnxruntime-node', flop, ...(await measure(() => sess.run(feeds))) })
  }
  if (!tfjs.error) {
    const tf = tfjs.tf
    const tx = tf.tensor4d(toNHWC(x.data, s.N, s.C, s.H, s.W), [s.N, s.H, s.W, s.C])
    const pad = s.pad === 0 ? 'valid' : [[0, 0], [s.pad, s.pad], [s.pad, s.pad], [0, 0]]
    const fn = s.op === 'global'
      ? () => tf.mean(tx, [1, 2], true)
      : s.op === 'max' ? () => tf.maxPool(tx, s.k, s.stride, pad) : () => tf.avgPool(tx, s.k, s.stride, s.pad === 0 ? 'valid' : pad)
    let m
    try {
      m = await measure(() => { const y = fn(); y.dataSync(); y.dispose() })
      report.add({ suite, group, impl: 'tfjs-wasm', flop, ...m, threads: 1, note: 'one thread in Node, NHWC' })
    } catch (err) {
      report.add({ suite, group, impl: 'tfjs-wasm', flop, error: err.message.split('\n')[0] })
    }
    tx.dispose()
  }
  report.add({ suite, group, impl: 'pytorch', flop, ms: torchRes.ms, error: torchRes.error })
}

async function run (ctx) {
  // FOVEAL_BENCH_ROWS=<regex> keeps only the rows whose name matches (e.g. 'MNIST|depthwise').
  const only = process.env.FOVEAL_BENCH_ROWS ? new RegExp(process.env.FOVEAL_BENCH_ROWS) : null
  const keep = (s) => !only || only.test(s.name)
  const rows = (ctx.quick ? [CONV[0], CONV[2], CONV[6]] : CONV).filter(keep)
  const pools = (ctx.quick ? POOL.slice(0, 1) : POOL).filter(keep)
  const torchCase = (s, backward) => ({
    op: 'conv2d', N: s.N, C: s.C, H: s.H, W: s.W, Cout: s.Cout, kh: s.k, kw: s.k, stride: s.stride, padding: s.pad,
    groups: s.groups || 1, backward
  })
  const poolCase = (s) => s.op === 'global'
    ? { op: 'global_avg_pool2d', N: s.N, C: s.C, H: s.H, W: s.W }
    : { op: s.op === 'max' ? 'max_pool2d' : 'avg_pool2d', N: s.N, C: s.C, H: s.H, W: s.W, k: s.k, stride: s.stride, padding: s.pad }
  const torchRes = ctx.torch([...rows.flatMap((s) => [torchCase(s, false), torchCase(s, true)]), ...pools.map(poolCase)])
  for (const [i, s] of rows.entries()) await convRows(s, ctx, torchRes[2 * i], torchRes[2 * i + 1])
  for (const [i, s] of pools.entries()) await poolRows(s, ctx, torchRes[2 * rows.length + i])
}

module.exports = { run }
