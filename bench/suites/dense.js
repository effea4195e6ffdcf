'use strict'
// The dense ops of issue 3 and the norms of issue 5 — activations, softmax, broadcast
// add/mul, layerNorm / batchNorm2d / groupNorm, losses, dropout — and the ops issue 10's
// modules need (bceWithLogits, embedding, the spatialGate / channelPool gates), forward
// and backward,
// beside onnxruntime-node's equivalent op (forward only: it has no backward) and PyTorch
// (autograd for the backward rows).
//
// These ops are memory-bound, so every row reports GB/s: the bytes the op must move at
// least (each input read once, each output written once) over its median time. GFLOP/s
// uses nominal counts per element (stated in FLOP below: relu 1, sigmoid/tanh 4, gelu 8,
// softmax 5, norms 8, ...) and is only comparable within a row group.
const { model, float } = require('../lib/onnx')

function rand (n, seed, lo = -1, hi = 1) {
  const a = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; a[i] = lo + (hi - lo) * (s / 2 ** 32) }
  return a
}
const size = (s) => s.reduce((p, d) => p * d, 1)
const sh = (s) => `[${s.join(',')}]`

// Nominal flops per element of the op's main tensor.
const FLOP = { relu: 1, gelu: 8, sigmoid: 4, tanh: 4, softmax: 5, add: 1, mul: 1, norm: 8, ce: 5, mse: 3, dropout: 1, bce: 10, gate: 5, pool: 2 }

async function run ({ fv, report, measure, ort, torch, quick }) {
  const suite = 'dense'
  const ACT = quick ? [8, 128, 28, 28] : [64, 128, 28, 28]
  const SM = quick ? [4096, 512] : [8 * 8 * 512, 512]
  const LN = quick ? [1024, 768] : [4096, 768]
  const BN = [8, 64, 56, 56]
  const CE = quick ? [1024, 1000] : [4096, 1000]
  const nAct = size(ACT); const nSm = size(SM); const nLn = size(LN); const nBn = size(BN); const nCe = size(CE)

  const x = fv.tensor(rand(nAct, 1, -4, 4), ACT)
  const dy = fv.tensor(rand(nAct, 2), ACT)
  const outAct = fv.tensor(new Float32Array(nAct), ACT)
  const sig = fv.ops.sigmoid(x); const th = fv.ops.tanh(x)
  const xs = fv.tensor(rand(nSm, 3, -8, 8), SM); const dys = fv.tensor(rand(nSm, 4), SM)
  const outSm = fv.tensor(new Float32Array(nSm), SM)
  const ys = fv.ops.softmax(xs); const yls = fv.ops.logSoftmax(xs)
  const xb = fv.tensor(rand(nBn, 5, -2, 2), BN); const dyb = fv.tensor(rand(nBn, 6), BN)
  const outBn = fv.tensor(new Float32Array(nBn), BN)
  const C = BN[1]
  const gateC = fv.tensor(rand(BN[0] * C, 7, 0, 1), [BN[0], C, 1, 1])
  const gateS = fv.tensor(rand(BN[0] * BN[2] * BN[3], 8, 0, 1), [BN[0], 1, BN[2], BN[3]])
  const xb2 = fv.tensor(rand(nBn, 9), BN)
  const wC = fv.tensor(rand(C, 10), [C]); const bC = fv.tensor(rand(C, 11), [C])
  const rm = fv.tensor(rand(C, 12, -0.1, 0.1), [C]); const rv = fv.tensor(rand(C, 13, 0.5, 1.5), [C])
  const xl = fv.tensor(rand(nLn, 14, -2, 2), LN); const dyl = fv.tensor(rand(nLn, 15), LN)
  const wl = fv.tensor(rand(LN[1], 16), [LN[1]]); const bl = fv.tensor(rand(LN[1], 17), [LN[1]])
  const outLn = fv.tensor(new Float32Array(nLn), LN)
  const logits = fv.tensor(rand(nCe, 18, -5, 5), CE)
  const labels = new Int32Array(CE[0]).map((_, i) => (i * 7919) % CE[1])
  const target = fv.tensor(rand(nCe, 19), CE)
  const outCe = fv.tensor(new Float32Array(nCe), CE)
  const scalar = fv.tensor(new Float32Array(1), [])

  // Each case: group (the row label), flop, bytes, foveal (allocating) and fovealOut
  // (writing into a preallocated result), ort (an ONNX graph + feeds), torch (a case for
  // bench/peers/torch_bench.py).
  const cases = []
  const unary = (name, flopName, call, callOut, onnx, torchFn) => cases.push({
    group: `${name} x=${sh(ACT)}`, flop: FLOP[flopName] * nAct, bytes: 8 * nAct,
    foveal: call, fovealOut: callOut,
    ort: onnx && {
      inputs: [['x', ACT]], outputs: [['y', ACT]], nodes: [{ inputs: ['x'], outputs: ['y'], ...onnx.node }],
      opset: onnx.opset, initializers: onnx.initializers, feeds: { x: [x.data, ACT] }
    },
    torch: torchFn && { op: 'dense', fn: torchFn, shape: ACT }
  })
  const unaryBack = (name, flopName, call, callOut, torchFn) => cases.push({
    group: `${name} x=${sh(ACT)}`, flop: FLOP[flopName] * nAct, bytes: 12 * nAct, foveal: call, fovealOut: callOut,
    torch: torchFn && { op: 'dense', fn: torchFn, shape: ACT, backward: true }
  })

  unary('relu', 'relu', () => fv.ops.relu(x), () => fv.ops.relu(x, { out: outAct }), { node: { op: 'Relu' } }, 'relu')
  unaryBack('reluBackward', 'relu', () => fv.ops.reluBackward(dy, x), () => fv.ops.reluBackward(dy, x, { out: outAct }), 'relu')
  unary('gelu', 'gelu', () => fv.ops.gelu(x), () => fv.ops.gelu(x, { out: outAct }), { node: { op: 'Gelu' }, opset: 20 }, 'gelu')
  unaryBack('geluBackward', 'gelu', () => fv.ops.geluBackward(dy, x), () => fv.ops.geluBackward(dy, x, { out: outAct }), 'gelu')
  unary("gelu 'tanh'", 'gelu', () => fv.ops.gelu(x, { approximate: 'tanh' }), () => fv.ops.gelu(x, { approximate: 'tanh', out: outAct }),
    { node: { op: 'Gelu', attrs: { approximate: 'tanh' } }, opset: 20 }, 'gelu_tanh')
  unary('sigmoid', 'sigmoid', () => fv.ops.sigmoid(x), () => fv.ops.sigmoid(x, { out: outAct }), { node: { op: 'Sigmoid' } }, 'sigmoid')
  unaryBack('sigmoidBackward', 'sigmoid', () => fv.ops.sigmoidBackward(dy, sig), () => fv.ops.sigmoidBackward(dy, sig, { out: outAct }), 'sigmoid')
  unary('tanh', 'tanh', () => fv.ops.tanh(x), () => fv.ops.tanh(x, { out: outAct }), { node: { op: 'Tanh' } }, 'tanh')
  unaryBack('tanhBackward', 'tanh', () => fv.ops.tanhBackward(dy, th), () => fv.ops.tanhBackward(dy, th, { out: outAct }), 'tanh')
  unary('dropout p=0.5', 'dropout', () => fv.ops.dropout(x, { p: 0.5, seed: 1 }), () => fv.ops.dropout(x, { p: 0.5, seed: 1, out: outAct }),
    {
      node: { op: 'Dropout', inputs: ['x', 'ratio', 'training_mode'] },
      opset: 13,
      initializers: [['ratio', [], Float32Array.of(0.5)], ['training_mode', [], Uint8Array.of(1), 'bool']]
    }, 'dropout')

  for (const [name, log, y] of [['softmax', false, ys], ['logSoftmax', true, yls]]) {
    cases.push({
      group: `${name} x=${sh(SM)}`, flop: FLOP.softmax * nSm, bytes: 8 * nSm,
      foveal: () => fv.ops[name](xs), fovealOut: () => fv.ops[name](xs, -1, { out: outSm }),
      ort: { inputs: [['x', SM]], outputs: [['y', SM]], nodes: [{ op: log ? 'LogSoftmax' : 'Softmax', inputs: ['x'], outputs: ['y'], attrs: { axis: -1 } }], feeds: { x: [xs.data, SM] } },
      torch: { op: 'dense', fn: log ? 'log_softmax' : 'softmax', shape: SM }
    })
    cases.push({
      group: `${name}Backward x=${sh(SM)}`, flop: FLOP.softmax * nSm, bytes: 12 * nSm,
      foveal: () => fv.ops[name + 'Backward'](dys, y), fovealOut: () => fv.ops[name + 'Backward'](dys, y, -1, { out: outSm }),
      torch: { op: 'dense', fn: log ? 'log_softmax' : 'softmax', shape: SM, backward: true }
    })
  }

  const binary = (name, op, b, bytes) => {
    cases.push({
      group: `${name} a=${sh(BN)} b=${sh(b.shape)}`, flop: nBn, bytes,
      foveal: () => fv.ops[op](xb, b), fovealOut: () => fv.ops[op](xb, b, { out: outBn }),
      ort: { inputs: [['a', BN], ['b', b.shape]], outputs: [['y', BN]], nodes: [{ op: op === 'add' ? 'Add' : 'Mul', inputs: ['a', 'b'], outputs: ['y'] }], feeds: { a: [xb.data, BN], b: [b.data, b.shape] } },
      torch: { op: 'dense', fn: op, a: BN, b: b.shape }
    })
  }
  binary('add', 'add', xb2, 12 * nBn)
  binary('mul (channel gate)', 'mul', gateC, 8 * nBn)
  binary('mul (spatial gate)', 'mul', gateS, 8 * nBn)
  const dgS = { da: fv.tensor(new Float32Array(nBn), BN), db: fv.tensor(new Float32Array(gateS.size), gateS.shape) }
  const dgC = { da: fv.tensor(new Float32Array(nBn), BN), db: fv.tensor(new Float32Array(gateC.size), gateC.shape) }
  for (const [name, g, o] of [['channel', gateC, dgC], ['spatial', gateS, dgS]]) {
    cases.push({
      group: `mulBackward (${name} gate) a=${sh(BN)} b=${sh(g.shape)}`, flop: 2 * nBn, bytes: 12 * nBn,
      foveal: () => fv.ops.mulBackward(dyb, xb, g), fovealOut: () => fv.ops.mulBackward(dyb, xb, g, { out: o }),
      torch: { op: 'dense', fn: 'mul', a: BN, b: g.shape, backward: true }
    })
  }

  const lnOut = { dx: fv.tensor(new Float32Array(nLn), LN), dweight: fv.tensor(new Float32Array(LN[1]), [LN[1]]), dbias: fv.tensor(new Float32Array(LN[1]), [LN[1]]) }
  cases.push({
    group: `layerNorm x=${sh(LN)}`, flop: FLOP.norm * nLn, bytes: 8 * nLn,
    foveal: () => fv.ops.layerNorm(xl, [LN[1]], wl, bl), fovealOut: () => fv.ops.layerNorm(xl, [LN[1]], wl, bl, { out: outLn }),
    ort: {
      inputs: [['x', LN]], outputs: [['y', LN]], opset: 17,
      initializers: [['w', [LN[1]], wl.data], ['b', [LN[1]], bl.data]],
      nodes: [{ op: 'LayerNormalization', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { axis: -1, epsilon: float(1e-5) } }],
      feeds: { x: [xl.data, LN] }
    },
    torch: { op: 'dense', fn: 'layer_norm', shape: LN }
  })
  cases.push({
    group: `layerNormBackward x=${sh(LN)}`, flop: FLOP.norm * nLn, bytes: 12 * nLn,
    foveal: () => fv.ops.layerNormBackward(dyl, xl, [LN[1]], wl), fovealOut: () => fv.ops.layerNormBackward(dyl, xl, [LN[1]], wl, { out: lnOut }),
    torch: { op: 'dense', fn: 'layer_norm', shape: LN, backward: true }
  })

  const bnOut = { dx: fv.tensor(new Float32Array(nBn), BN), dweight: fv.tensor(new Float32Array(C), [C]), dbias: fv.tensor(new Float32Array(C), [C]) }
  cases.push({
    group: `batchNorm2d eval x=${sh(BN)}`, flop: FLOP.norm * nBn, bytes: 8 * nBn,
    foveal: () => fv.ops.batchNorm2d(xb, rm, rv, wC, bC), fovealOut: () => fv.ops.batchNorm2d(xb, rm, rv, wC, bC, { out: outBn }),
    ort: {
      inputs: [['x', BN]], outputs: [['y', BN]], opset: 15,
      initializers: [['w', [C], wC.data], ['b', [C], bC.data], ['m', [C], rm.data], ['v', [C], rv.data]],
      nodes: [{ op: 'BatchNormalization', inputs: ['x', 'w', 'b', 'm', 'v'], outputs: ['y'], attrs: { epsilon: float(1e-5) } }],
      feeds: { x: [xb.data, BN] }
    },
    torch: { op: 'dense', fn: 'batch_norm', shape: BN }
  })
  const rmT = fv.tensor(rm.data.slice(), [C]); const rvT = fv.tensor(rv.data.slice(), [C])
  cases.push({
    group: `batchNorm2d training x=${sh(BN)}`, flop: FLOP.norm * nBn, bytes: 8 * nBn,
    foveal: () => fv.ops.batchNorm2d(xb, rmT, rvT, wC, bC, { training: true }),
    fovealOut: () => fv.ops.batchNorm2d(xb, rmT, rvT, wC, bC, { training: true, out: outBn }),
    torch: { op: 'dense', fn: 'batch_norm', shape: BN, training: true }
  })
  cases.push({
    group: `batchNorm2dBackward training x=${sh(BN)}`, flop: FLOP.norm * nBn, bytes: 12 * nBn,
    foveal: () => fv.ops.batchNorm2dBackward(dyb, xb, null, null, wC, { training: true }),
    fovealOut: () => fv.ops.batchNorm2dBackward(dyb, xb, null, null, wC, { training: true, out: bnOut }),
    torch: { op: 'dense', fn: 'batch_norm', shape: BN, training: true, backward: true }
  })
  cases.push({
    group: `groupNorm G=32 x=${sh(BN)}`, flop: FLOP.norm * nBn, bytes: 8 * nBn,
    foveal: () => fv.ops.groupNorm(xb, 32, wC, bC), fovealOut: () => fv.ops.groupNorm(xb, 32, wC, bC, { out: outBn }),
    ort: {
      inputs: [['x', BN]], outputs: [['y', BN]], opset: 21,
      initializers: [['w', [C], wC.data], ['b', [C], bC.data]],
      nodes: [{ op: 'GroupNormalization', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { num_groups: 32, epsilon: float(1e-5) } }],
      feeds: { x: [xb.data, BN] }
    },
    torch: { op: 'dense', fn: 'group_norm', shape: BN, groups: 32 }
  })
  cases.push({
    group: `groupNormBackward G=32 x=${sh(BN)}`, flop: FLOP.norm * nBn, bytes: 12 * nBn,
    foveal: () => fv.ops.groupNormBackward(dyb, xb, 32, wC), fovealOut: () => fv.ops.groupNormBackward(dyb, xb, 32, wC, { out: bnOut }),
    torch: { op: 'dense', fn: 'group_norm', shape: BN, groups: 32, backward: true }
  })

  cases.push({
    group: `crossEntropy logits=${sh(CE)}`, flop: FLOP.ce * nCe, bytes: 4 * nCe,
    foveal: () => fv.ops.crossEntropy(logits, labels), fovealOut: () => fv.ops.crossEntropy(logits, labels, { out: scalar }),
    ort: {
      inputs: [['x', CE], ['labels', [CE[0]], 'int64']], outputs: [['loss', []]], opset: 13,
      nodes: [{ op: 'SoftmaxCrossEntropyLoss', inputs: ['x', 'labels'], outputs: ['loss'], attrs: { reduction: 'mean' } }],
      feeds: { x: [logits.data, CE], labels: [BigInt64Array.from(labels, (v) => BigInt(v)), [CE[0]], 'int64'] }
    },
    torch: { op: 'dense', fn: 'cross_entropy', N: CE[0], C: CE[1] }
  })
  cases.push({
    group: `crossEntropyBackward logits=${sh(CE)}`, flop: FLOP.ce * nCe, bytes: 8 * nCe,
    foveal: () => fv.ops.crossEntropyBackward(1, logits, labels), fovealOut: () => fv.ops.crossEntropyBackward(1, logits, labels, { out: outCe }),
    torch: { op: 'dense', fn: 'cross_entropy', N: CE[0], C: CE[1], backward: true }
  })
  cases.push({
    group: `mse pred=${sh(CE)}`, flop: FLOP.mse * nCe, bytes: 8 * nCe,
    foveal: () => fv.ops.mse(logits, target), fovealOut: () => fv.ops.mse(logits, target, { out: scalar }),
    ort: {
      inputs: [['p', CE], ['t', CE]], outputs: [['loss', []]],
      nodes: [{ op: 'Sub', inputs: ['p', 't'], outputs: ['d'] }, { op: 'Mul', inputs: ['d', 'd'], outputs: ['d2'] },
        { op: 'ReduceMean', inputs: ['d2'], outputs: ['loss'], attrs: { keepdims: 0 } }],
      feeds: { p: [logits.data, CE], t: [target.data, CE] }
    },
    torch: { op: 'dense', fn: 'mse', shape: CE }
  })
  cases.push({
    group: `mseBackward pred=${sh(CE)}`, flop: FLOP.mse * nCe, bytes: 12 * nCe,
    foveal: () => fv.ops.mseBackward(1, logits, target), fovealOut: () => fv.ops.mseBackward(1, logits, target, { out: outCe }),
    torch: { op: 'dense', fn: 'mse', shape: CE, backward: true }
  })

  // bceWithLogits with a [C] posWeight (PyTorch's multi-label setting), on the CE shape.
  const posWeight = fv.tensor(rand(CE[1], 20, 0.5, 3), [CE[1]])
  const target01 = fv.tensor(rand(nCe, 21, 0, 1), CE)
  cases.push({
    group: `bceWithLogits posWeight=[${CE[1]}] logits=${sh(CE)}`, flop: FLOP.bce * nCe, bytes: 8 * nCe,
    foveal: () => fv.ops.bceWithLogits(logits, target01, { posWeight }),
    fovealOut: () => fv.ops.bceWithLogits(logits, target01, { posWeight, out: scalar }),
    torch: { op: 'dense', fn: 'bce_logits', shape: CE }
  })
  cases.push({
    group: `bceWithLogitsBackward posWeight=[${CE[1]}] logits=${sh(CE)}`, flop: FLOP.bce * nCe, bytes: 12 * nCe,
    foveal: () => fv.ops.bceWithLogitsBackward(1, logits, target01, { posWeight }),
    fovealOut: () => fv.ops.bceWithLogitsBackward(1, logits, target01, { posWeight, out: outCe }),
    torch: { op: 'dense', fn: 'bce_logits', shape: CE, backward: true }
  })

  // embedding: a [32,128] batch of token ids into a [30000,256] table; the backward writes
  // the whole dense gradient, as PyTorch's (sparse=False) does.
  const EMB = quick ? [8000, 128] : [30000, 256]; const IDX = [32, 128]
  const nIdx = size(IDX)
  const table = fv.tensor(rand(EMB[0] * EMB[1], 22), EMB)
  const ids = { data: Int32Array.from({ length: nIdx }, (_, i) => (i * 7919 + 13) % EMB[0]), shape: IDX }
  const embOut = fv.tensor(new Float32Array(nIdx * EMB[1]), [...IDX, EMB[1]])
  const dEmb = fv.tensor(rand(nIdx * EMB[1], 23), [...IDX, EMB[1]])
  const dTable = fv.tensor(new Float32Array(EMB[0] * EMB[1]), EMB)
  cases.push({
    group: `embedding indices=${sh(IDX)} weight=${sh(EMB)}`, flop: 0, bytes: 8 * nIdx * EMB[1],
    foveal: () => fv.ops.embedding(ids, table), fovealOut: () => fv.ops.embedding(ids, table, { out: embOut }),
    torch: { op: 'dense', fn: 'embedding', idx: IDX, num: EMB[0], dim: EMB[1] }
  })
  cases.push({
    group: `embeddingBackward indices=${sh(IDX)} weight=${sh(EMB)}`, flop: nIdx * EMB[1], bytes: 4 * (nIdx + EMB[0]) * EMB[1],
    foveal: () => fv.ops.embeddingBackward(dEmb, ids, EMB[0]), fovealOut: () => fv.ops.embeddingBackward(dEmb, ids, EMB[0], { out: dTable }),
    torch: { op: 'dense', fn: 'embedding', idx: IDX, num: EMB[0], dim: EMB[1], backward: true }
  })

  // The CNN-attention gates on BN (fused; PyTorch composes conv1x1 ×2, mul, sigmoid, mul
  // and mean / max / cat).
  const gw = () => fv.tensor(rand(C, 24, -0.1, 0.1), [1, C, 1, 1])
  const wa = gw(); const wb = gw(); const ba = fv.tensor(Float32Array.of(0.1), [1]); const bb = fv.tensor(Float32Array.of(-0.2), [1])
  const gateOut = { out: fv.tensor(new Float32Array(nBn), BN), gate: fv.tensor(new Float32Array(nBn / C), [BN[0], 1, BN[2], BN[3]]) }
  const sgate = fv.ops.spatialGate(xb, wa, ba, wb, bb).gate
  const sgOut = { dx: fv.tensor(new Float32Array(nBn), BN), dwa: fv.tensor(new Float32Array(C), [1, C, 1, 1]), dba: fv.tensor(new Float32Array(1), [1]), dwb: fv.tensor(new Float32Array(C), [1, C, 1, 1]), dbb: fv.tensor(new Float32Array(1), [1]) }
  cases.push({
    group: `spatialGate x=${sh(BN)}`, flop: FLOP.gate * nBn, bytes: 8 * nBn,
    foveal: () => fv.ops.spatialGate(xb, wa, ba, wb, bb), fovealOut: () => fv.ops.spatialGate(xb, wa, ba, wb, bb, { out: gateOut }),
    torch: { op: 'dense', fn: 'spatial_gate', shape: BN }
  })
  cases.push({
    group: `spatialGateBackward x=${sh(BN)}`, flop: 2 * FLOP.gate * nBn, bytes: 12 * nBn,
    foveal: () => fv.ops.spatialGateBackward(dyb, xb, wa, ba, wb, bb, sgate),
    fovealOut: () => fv.ops.spatialGateBackward(dyb, xb, wa, ba, wb, bb, sgate, { out: sgOut }),
    torch: { op: 'dense', fn: 'spatial_gate', shape: BN, backward: true }
  })
  const pooled = fv.tensor(new Float32Array(2 * nBn / C), [BN[0], 2, BN[2], BN[3]])
  const dPooled = fv.tensor(rand(2 * nBn / C, 25), pooled.shape)
  cases.push({
    group: `channelPool x=${sh(BN)}`, flop: FLOP.pool * nBn, bytes: 4 * nBn,
    foveal: () => fv.ops.channelPool(xb), fovealOut: () => fv.ops.channelPool(xb, { out: pooled }),
    torch: { op: 'dense', fn: 'channel_pool', shape: BN }
  })
  cases.push({
    group: `channelPoolBackward x=${sh(BN)}`, flop: FLOP.pool * nBn, bytes: 8 * nBn,
    foveal: () => fv.ops.channelPoolBackward(dPooled, xb), fovealOut: () => fv.ops.channelPoolBackward(dPooled, xb, { out: outBn }),
    torch: { op: 'dense', fn: 'channel_pool', shape: BN, backward: true }
  })

  // A reference for the machine's memory bandwidth: one JS memcpy (TypedArray.set, one
  // thread) of the activation tensor, read + write.
  const copyDst = new Float32Array(nAct)
  report.add({ suite, group: `memcpy reference x=${sh(ACT)}`, impl: 'TypedArray.set', flop: 0, bytes: 8 * nAct, threads: 1, ...(await measure(() => copyDst.set(x.data))), note: 'one thread, the bandwidth yardstick' })

  const torchRes = torch(cases.map((c) => c.torch || { op: 'none' }))
  for (const [i, c] of cases.entries()) {
    const row = { suite, group: c.group, flop: c.flop, bytes: c.bytes }
    report.add({ ...row, impl: 'foveal', ...(await measure(c.foveal)) })
    report.add({ ...row, impl: 'foveal out', ...(await measure(c.fovealOut)) })
    if (c.ort && !ort.error) {
      try {
        const s = await ort.session(model({ inputs: c.ort.inputs, outputs: c.ort.outputs, nodes: c.ort.nodes, initializers: c.ort.initializers || [], opset: c.ort.opset || 17 }))
        const feeds = {}
        for (const [k, [data, dims, type]] of Object.entries(c.ort.feeds)) feeds[k] = type ? new ort.Tensor(type, data, dims) : ort.feed(data, dims)
        report.add({ ...row, impl: 'onnxruntime-node', ...(await measure(() => s.run(feeds))) })
      } catch (err) {
        report.add({ ...row, impl: 'onnxruntime-node', error: `failed: ${String(err.message || err).split('\n')[0].slice(0, 80)}` })
      }
    }
    if (c.torch) report.add({ ...row, impl: 'pytorch', ms: torchRes[i].ms, error: torchRes[i].error })
  }
}

module.exports = { run }
