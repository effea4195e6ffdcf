'use strict'
// linear (x·wᵀ + b) beside onnxruntime-node's Gemm, tfjs-wasm's matMul and PyTorch's
// F.linear: the pattern every suite follows (foveal allocating, foveal with `out`, peers).
const { rand } = require('../lib/data')
const { model } = require('../lib/onnx')

const SHAPES = [
  { M: 64, K: 64, N: 64 },
  { M: 256, K: 256, N: 256 },
  { M: 1024, K: 1024, N: 1024 },
  { M: 4096, K: 64, N: 64 }
]

async function run ({ fv, report, measure, ort, tfjs, torch, quick }) {
  const suite = 'linear'
  const shapes = quick ? SHAPES.slice(0, 2) : SHAPES
  const torchRes = torch(shapes.map((s) => ({ op: 'linear', ...s })))
  for (const [i, { M, K, N }] of shapes.entries()) {
    const group = `x=[${M},${K}] w=[${N},${K}]`
    const flop = 2 * M * N * K
    const x = fv.tensor(rand(M * K, 1), [M, K])
    const w = fv.tensor(rand(N * K, 2), [N, K])
    const b = fv.tensor(rand(N, 3), [N])
    const out = fv.tensor(new Float32Array(M * N), [M, N])
    report.add({ suite, group, impl: 'foveal', flop, ...(await measure(() => fv.ops.linear(x, w, b))) })
    report.add({ suite, group, impl: 'foveal out', flop, ...(await measure(() => fv.ops.linear(x, w, b, { out }))) })

    if (!ort.error) {
      const s = await ort.session(model({
        inputs: [['x', [M, K]]],
        outputs: [['y', [M, N]]],
        initializers: [['w', [N, K], w.data], ['b', [N], b.data]],
        nodes: [{ op: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { transB: 1 } }]
      }))
      const feeds = { x: ort.feed(x.data, [M, K]) }
      report.add({ suite, group, impl: 'onnxruntime-node', flop, ...(await measure(() => s.run(feeds))) })
    }
    if (!tfjs.error) {
      const tf = tfjs.tf
      const tx = tf.tensor2d(x.data, [M, K]); const tw = tf.tensor2d(w.data, [N, K]); const tb = tf.tensor1d(b.data)
      const m = await measure(() => {
        const y = tf.tidy(() => tf.add(tf.matMul(tx, tw, false, true), tb))
        y.dataSync()
        y.dispose()
      })
      report.add({ suite, group, impl: 'tfjs-wasm', flop, ...m, threads: 1, note: 'one thread in Node' })
      tf.dispose([tx, tw, tb])
    }
    const tr = torchRes[i]
    report.add({ suite, group, impl: 'pytorch', flop, ms: tr.ms, error: tr.error })
  }
}

module.exports = { run }
