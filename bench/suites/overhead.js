'use strict'
// A tiny op's call overhead: what a 1×4·4×1 linear costs end to end through validation,
// the binding and the pool, sync and Async, against onnxruntime-node's session.run on
// the same op (its per-call floor) in the same run.
const { model } = require('../lib/onnx')

async function run ({ fv, report, measure, ort }) {
  const suite = 'overhead'
  const x = fv.tensor(new Float32Array([1, 2, 3, 4]), [1, 4])
  const w = fv.tensor(new Float32Array([1, 1, 1, 1]), [1, 4])
  const out = fv.tensor(new Float32Array(1), [1, 1])
  const flop = 8
  const batch = 1000
  const per = async (fn) => {
    const m = await measure(fn, { minRuns: 9 })
    return { ms: m.ms / batch, note: `µs/call ${((m.ms / batch) * 1000).toFixed(2)}` }
  }
  const group = 'linear x=[1,4] w=[1,4]'
  report.add({ suite, group, impl: 'foveal', flop, ...(await per(() => { for (let i = 0; i < batch; i++) fv.ops.linear(x, w) })) })
  report.add({ suite, group, impl: 'foveal out', flop, ...(await per(() => { for (let i = 0; i < batch; i++) fv.ops.linear(x, w, null, { out }) })) })
  report.add({
    suite, group, impl: 'foveal async', flop,
    ...(await per(async () => { for (let i = 0; i < batch; i++) await fv.ops.linearAsync(x, w) }))
  })
  report.add({
    suite, group, impl: 'foveal async ×1000 in flight', flop,
    ...(await per(() => Promise.all(Array.from({ length: batch }, () => fv.ops.linearAsync(x, w)))))
  })
  if (!ort.error) {
    const s = await ort.session(model({
      inputs: [['x', [1, 4]]],
      outputs: [['y', [1, 1]]],
      initializers: [['w', [1, 4], w.data]],
      nodes: [{ op: 'Gemm', inputs: ['x', 'w'], outputs: ['y'], attrs: { transB: 1 } }]
    }))
    const feeds = { x: ort.feed(x.data, [1, 4]) }
    report.add({ suite, group, impl: 'onnxruntime-node', flop, ...(await per(async () => { for (let i = 0; i < batch; i++) await s.run(feeds) })) })
  }
}

module.exports = { run }
