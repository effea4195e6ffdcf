'use strict'
// Every model `foveal train --model` offers, on MNIST's [1,28,28] and CIFAR-10's [3,32,32]
// input: logits [B,10], one Adam step that moves the parameters, the attention map
// attention.png and `foveal predict` draw (its shape, or null for the models without a
// spatial map), and a checkpoint through fv.io that rebuilds the same model bit for bit.
const test = require('ava')
const fs = require('fs')
const os = require('os')
const path = require('path')
const fv = require('./helpers/fv')

const { createModel, MODEL_NAMES } = require(path.join(__dirname, '..', 'dist', 'train', 'models'))

const B = 4
const INPUTS = { mnist: [1, 28, 28], cifar10: [3, 32, 32] }

/**
 * What attentionMap() gives after an evaluation forward, for an input of [C, H, W]:
 * the blocks sit after the first conv stage (H/2 × W/2), attention pooling after the
 * second (H/4 × W/4). The sigmoid gates (gate, cbam) keep [B,1,h,w] maps in (0, 1); the
 * softmax maps (the non-local and MHA centre pixel's weights, the pooling weights) are
 * [B,h,w] and sum to 1 per image. cnn and se have no spatial map.
 */
function expectedMap (name, [, H, W]) {
  const h = H / 2; const w = W / 2
  switch (name) {
    case 'gate': case 'cbam': return { shape: [B, 1, h, w], kind: 'sigmoid' }
    case 'nonlocal': case 'mha': return { shape: [B, h, w], kind: 'softmax' }
    case 'pool': return { shape: [B, H / 4, W / 4], kind: 'softmax' }
    default: return null
  }
}

/**
 * The parameters one step cannot move: a non-local block starts as the identity (the
 * BatchNorm after W_z has weight 0, as Non-local NN initialises it), so the first backward
 * gives the block's convolutions zero gradients; only that BatchNorm's weight and bias move.
 */
const STILL_AT_FIRST_STEP = {
  nonlocal: ['3.g.weight', '3.g.bias', '3.W_z.0.weight', '3.W_z.0.bias', '3.theta.weight', '3.theta.bias', '3.phi.weight', '3.phi.bias']
}

function batch ([C, H, W], seed) {
  const x = fv.ops.normal_(fv.tensor(new Float32Array(B * C * H * W), [B, C, H, W]), 0, 1, seed)
  return { x, labels: Int32Array.from({ length: B }, (_, i) => (i * 3 + seed) % 10) }
}

for (const [data, input] of Object.entries(INPUTS)) {
  for (const name of MODEL_NAMES) {
    test(`${name} on ${data} [${input}]: forward [${B},10], an Adam step, its attention map, a checkpoint round trip`, (t) => {
      const model = createModel(name, { input, numClasses: 10, seed: 0 })
      const { x, labels } = batch(input, 1)

      // Training: forward, loss, backward, one Adam step.
      model.train()
      const lossFn = new fv.nn.CrossEntropyLoss()
      const opt = new fv.optim.Adam(model.parameters(), { lr: 1e-3 })
      const before = new Map([...model.namedParameters()].map(([n, p]) => [n, Float32Array.from(p.value.data)]))
      opt.zeroGrad()
      const logits = model.forward(x)
      t.deepEqual(logits.shape, [B, 10])
      const loss = lossFn.forward(logits, labels).data[0]
      t.true(Number.isFinite(loss) && loss > 0, `loss ${loss}`)
      model.backward(lossFn.backward())
      opt.step()
      const still = []
      for (const [n, p] of model.namedParameters()) {
        t.true(p.value.data.every(Number.isFinite), `${n} finite`)
        if (p.value.data.some((v, i) => v !== before.get(n)[i])) continue
        still.push(n)
        t.true(p.grad.data.every((g) => g === 0), `${n} did not move although its gradient is not zero`)
      }
      t.deepEqual(still, STILL_AT_FIRST_STEP[name] ?? [], 'every parameter with a gradient moved')

      // Evaluation: the logits and the map attention.png draws.
      model.eval()
      const y = model.forward(x)
      t.deepEqual(y.shape, [B, 10])
      t.true(y.data.every(Number.isFinite))
      const map = model.attentionMap()
      const want = expectedMap(name, input)
      if (want === null) {
        t.is(map, null)
      } else {
        t.deepEqual([...map.shape], want.shape)
        const per = map.data.length / B
        for (let b = 0; b < B; b++) {
          const m = map.data.subarray(b * per, (b + 1) * per)
          t.true(m.every((v) => v >= 0 && v <= 1), `image ${b}: values in [0, 1]`)
          t.true(Math.max(...m) > Math.min(...m), `image ${b}: the map is not constant`)
          if (want.kind === 'softmax') t.true(Math.abs(m.reduce((s, v) => s + v, 0) - 1) < 1e-4, `image ${b}: sums to 1`)
        }
      }

      // model.safetensors: the state dict through fv.io into a fresh model (other seed) → the same logits, bit for bit.
      const file = path.join(os.tmpdir(), `foveal-models-${process.pid}-${name}-${data}.safetensors`)
      t.teardown(() => fs.rmSync(file, { force: true }))
      const sd = model.stateDict()
      fv.io.saveSafetensors(file, sd)
      const loaded = fv.io.loadSafetensors(file)
      t.deepEqual(Object.keys(loaded).sort(), Object.keys(sd).sort())
      const fresh = createModel(name, { input, numClasses: 10, seed: 7 })
      fresh.eval()
      const y0 = fresh.forward(x)
      t.false(y0.data.every((v, i) => v === y.data[i]), 'a fresh model computes something else')
      fresh.loadStateDict(loaded)
      const y1 = fresh.forward(x)
      t.deepEqual(Array.from(y1.data), Array.from(y.data))
      if (want !== null) t.deepEqual(Array.from(fresh.attentionMap().data), Array.from(map.data))
    })
  }
}

test('the models are the seven the CLI lists', (t) => {
  t.deepEqual([...MODEL_NAMES], ['cnn', 'gate', 'se', 'cbam', 'nonlocal', 'mha', 'pool'])
})
