'use strict'
// onnxruntime-node in a loop, the way people call it (`await session.run(feeds)`, its
// outputs dropped), in a process of its own so the parent can choose its malloc settings:
// bench/suites/memory.js runs it with glibc told to keep freed memory, onnxruntime "at its
// best". Reads { threads, case, batch, batches } as JSON from argv[2]; prints
// { ms } (median per call over the batches) or { error }.
const { rand } = require('../lib/data')
const path = require('path')
const { model } = require('../lib/onnx')

// Models per case kind: the op with its weights as initializers (constants, as a deployed
// model has them) and the activations as inputs.
function build (c) {
  if (c.kind === 'linear') {
    const { M, K, N } = c
    return {
      bytes: model({
        inputs: [['x', [M, K]]],
        outputs: [['y', [M, N]]],
        initializers: [['w', [N, K], rand(N * K, 2)]],
        nodes: [{ op: 'Gemm', inputs: ['x', 'w'], outputs: ['y'], attrs: { transB: 1 } }]
      }),
      feeds: [['x', rand(M * K, 1), [M, K]]]
    }
  }
  if (c.kind === 'conv') {
    const { N, C, H, W, Cout, k, pad, groups = 1 } = c
    return {
      bytes: model({
        inputs: [['x', [N, C, H, W]]],
        outputs: [['y', [N, Cout, H, W]]],
        initializers: [['w', [Cout, C / groups, k, k], rand(Cout * (C / groups) * k * k, 2)]],
        nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { kernel_shape: [k, k], pads: [pad, pad, pad, pad], group: groups } }]
      }),
      feeds: [['x', rand(N * C * H * W, 1), [N, C, H, W]]]
    }
  }
  if (c.kind === 'attention') {
    const { B, H, L, D } = c
    const n = B * H * L * D
    return {
      bytes: model({
        opset: 23,
        inputs: [['q', [B, H, L, D]], ['k', [B, H, L, D]], ['v', [B, H, L, D]]],
        outputs: [['o', [B, H, L, D]]],
        nodes: [{ op: 'Attention', inputs: ['q', 'k', 'v'], outputs: ['o'], attrs: { is_causal: c.causal ? 1 : 0 } }]
      }),
      feeds: [['q', rand(n, 1), [B, H, L, D]], ['k', rand(n, 2), [B, H, L, D]], ['v', rand(n, 3), [B, H, L, D]]]
    }
  }
  throw new Error(`ort_loop: unknown case kind ${c.kind}`)
}

async function main () {
  const { threads, case: c, batch, batches } = JSON.parse(process.argv[2])
  const ort = require(path.join(__dirname, '..', 'node_modules', 'onnxruntime-node'))
  const { bytes, feeds } = build(c)
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential'
  })
  const f = Object.fromEntries(feeds.map(([name, data, dims]) => [name, new ort.Tensor('float32', data, dims)]))
  const perCall = []
  for (let b = 0; b <= batches; b++) {
    const t0 = performance.now()
    for (let i = 0; i < batch; i++) await session.run(f)
    if (b > 0) perCall.push((performance.now() - t0) / batch) // batch 0 warms up
  }
  perCall.sort((a, b) => a - b)
  process.stdout.write(JSON.stringify({ ms: perCall[perCall.length >> 1], version: require(path.join(__dirname, '..', 'node_modules', 'onnxruntime-node', 'package.json')).version }) + '\n')
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err.message || err).split('\n')[0].slice(0, 160) }) + '\n')
})
