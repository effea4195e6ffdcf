'use strict'
// GEMM: C = A·B for square and tall-skinny shapes (the ones linear layers, attention tiles
// and convolution lowered to matrices produce), on one thread and on all threads, beside
// onnxruntime-node's MatMul, tfjs-wasm's matMul and PyTorch's torch.matmul (OpenBLAS).
// foveal is timed allocating its result (fv.ops.matmul) and writing into `out`.
const { model } = require('../lib/onnx')
const { rand } = require('../lib/data')

// M × K × N. 3136 = 56·56 positions, 576 = 64 channels · 3·3: a ResNet stage-1 3×3 conv
// as NHWC im2col (3136×576×64), its weight gradient (64×3136×576: dy·colᵀ), and the NCHW
// forward (64×576×3136: W·col).
const SHAPES = [
  { M: 64, K: 64, N: 64 },
  { M: 256, K: 256, N: 256 },
  { M: 512, K: 512, N: 512 },
  { M: 1024, K: 1024, N: 1024 },
  { M: 2048, K: 2048, N: 2048 },
  { M: 4096, K: 64, N: 64 },
  { M: 3136, K: 576, N: 64 },
  { M: 64, K: 3136, N: 576 },
  { M: 64, K: 576, N: 3136 }
]

async function run ({ fv, report, measure, ort, tfjs, torch, quick, threads }) {
  const suite = 'gemm'
  const shapes = quick ? SHAPES.filter((s) => s.M * s.K * s.N <= 512 ** 3) : SHAPES
  const counts = [...new Set([1, threads])]
  const torchRes = new Map(counts.map((t) => [t, torch(shapes.map((s) => ({ op: 'matmul', ...s })), t)]))
  const tfjsRes = new Map()
  const before = fv.getNumThreads()
  try {
    for (const nt of counts) {
      for (const [i, { M, K, N }] of shapes.entries()) {
        const group = `${M}x${K}x${N} ${nt}t`
        const flop = 2 * M * N * K
        const a = fv.tensor(rand(M * K, 1), [M, K])
        const b = fv.tensor(rand(K * N, 2), [K, N])
        const out = fv.tensor(new Float32Array(M * N), [M, N])
        fv.setNumThreads(nt)
        report.add({ suite, group, impl: 'foveal', flop, threads: nt, ...(await measure(() => fv.ops.matmul(a, b))) })
        report.add({ suite, group, impl: 'foveal out', flop, threads: nt, ...(await measure(() => fv.ops.matmul(a, b, { out }))) })
        fv.setNumThreads(before)

        if (!ort.error) {
          const feeds = { a: ort.feed(a.data, [M, K]), b: ort.feed(b.data, [K, N]) }
          const s = await ort.session(model({
            inputs: [['a', [M, K]], ['b', [K, N]]],
            outputs: [['y', [M, N]]],
            nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }]
          }), { intraOpNumThreads: nt })
          report.add({ suite, group, impl: 'onnxruntime-node', flop, threads: nt, ...(await measure(() => s.run(feeds))) })
          // With B a constant, onnxruntime prepacks it once at load time (what a weight gets).
          const sc = await ort.session(model({
            inputs: [['a', [M, K]]],
            outputs: [['y', [M, N]]],
            initializers: [['b', [K, N], b.data]],
            nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }]
          }), { intraOpNumThreads: nt })
          const fa = { a: feeds.a }
          report.add({ suite, group, impl: 'ort, B const', flop, threads: nt, ...(await measure(() => sc.run(fa))), note: 'B prepacked at load' })
        }
        if (!tfjs.error) {
          // One thread in Node whatever the setting: measured once, shown in both groups.
          const key = `${M}x${K}x${N}`
          if (!tfjsRes.has(key)) {
            const tf = tfjs.tf
            const ta = tf.tensor2d(a.data, [M, K]); const tb = tf.tensor2d(b.data, [K, N])
            const big = flop > 1e9
            tfjsRes.set(key, await measure(() => {
              const y = tf.matMul(ta, tb)
              y.dataSync()
              y.dispose()
            }, big ? { warmup: 1, minRuns: 3, minMs: 0 } : undefined))
            tf.dispose([ta, tb])
          }
          report.add({ suite, group, impl: 'tfjs-wasm', flop, ...tfjsRes.get(key), threads: 1, note: 'one thread in Node' })
        }
        const tr = torchRes.get(nt)[i]
        report.add({ suite, group, impl: 'pytorch', flop, threads: nt, ms: tr.ms, error: tr.error })
        // The bar for small products, where packing could cost more than it saves: the
        // plain triple loop a user would write (i-k-j order, which V8 runs best).
        if (nt === 1 && flop <= 2 * 256 ** 3) {
          const c = new Float32Array(M * N)
          report.add({ suite, group, impl: 'naive loop (JS)', flop, threads: 1, ...(await measure(() => naive(a.data, b.data, c, M, K, N))), note: 'i-k-j triple loop' })
        }
      }
    }
  } finally {
    fv.setNumThreads(before)
  }
}

function naive (a, b, c, M, K, N) {
  c.fill(0)
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const aik = a[i * K + k]
      for (let j = 0; j < N; j++) c[i * N + j] += aik * b[k * N + j]
    }
  }
  return c
}

module.exports = { run }
