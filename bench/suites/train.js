'use strict'
// Whole training steps, the way people write them — forward, cross-entropy, backward, Adam
// (lr 1e-3), batch 64 of 28×28 images — and batch-64 inference, beside the same models in
// PyTorch (bench/peers/torch_bench.py's train_step / infer, Debian's python3-torch):
//  - issue 10's reference gate CNN: conv 1→32 3×3, ReLU, conv 32→64 3×3, ReLU, max-pool 2,
//    SpatialGate(64), flatten (9216), linear → 10;
//  - `foveal train`'s default model (lib/train/architectures.ts, 'gate').
// Rows report images/s in the note; GFLOP/s count the convolutions' and linears' direct
// flops of forward + backward (3× forward) for the step, forward for inference.
const { rand } = require('../lib/data')

function referenceGate (fv) {
  const { nn } = fv
  return new nn.Sequential(new nn.Conv2d(1, 32, 3), new nn.ReLU(), new nn.Conv2d(32, 64, 3), new nn.ReLU(),
    new nn.MaxPool2d(2), new nn.SpatialGate(64), new nn.Flatten(), new nn.Linear(9216, 10))
}

// Forward flops per image (conv: 2·Cout·OH·OW·Cin·9, linear: 2·in·out).
const FWD = {
  reference_gate: 2 * (32 * 26 * 26 * 9 + 64 * 24 * 24 * 32 * 9 + 9216 * 10),
  train_gate: 2 * (32 * 28 * 28 * 9 + 64 * 14 * 14 * 32 * 9 + 3136 * 128 + 128 * 10)
}

async function run ({ fv, report, measure, torch, quick }) {
  const suite = 'train'
  const B = 64
  const { buildModel } = require('../../dist/train/architectures')
  const x = fv.tensor(rand(B * 784, 7).map((v) => v + 0.5), [B, 1, 28, 28])
  const labels = Int32Array.from({ length: B }, (_, i) => (i * 7) % 10)
  const models = { reference_gate: () => referenceGate(fv), train_gate: () => buildModel('gate', { input: [1, 28, 28], numClasses: 10, seed: 0 }) }
  const names = quick ? ['train_gate'] : Object.keys(models)
  const peer = torch(names.flatMap((model) => [{ op: 'train_step', model, batch: B }, { op: 'infer', model, batch: B }]))
  for (const [i, name] of names.entries()) {
    fv.manualSeed(0)
    const model = models[name]()
    const opt = new fv.optim.Adam(model.parameters(), { lr: 1e-3 })
    const step = () => {
      opt.zeroGrad()
      const logits = model.forward(x)
      const loss = fv.ops.crossEntropy(logits, labels)
      const dl = fv.ops.crossEntropyBackward(1, logits, labels)
      const dx = model.backward(dl)
      opt.step()
      fv.dispose([logits, loss, dl, dx])
    }
    const group = `${name} step, batch ${B}`
    const flop = 3 * FWD[name] * B
    const m = await measure(step)
    report.add({ suite, group, impl: 'foveal', flop, ...m, note: `${(B / m.ms * 1000).toFixed(0)} img/s` })
    const tp = peer[2 * i]
    report.add({ suite, group, impl: 'pytorch', flop, ms: tp.ms, error: tp.error, note: tp.ms ? `${(B / tp.ms * 1000).toFixed(0)} img/s` : undefined })
    model.eval()
    const igroup = `${name} inference, batch ${B}`
    const mi = await measure(() => model.forward(x).dispose())
    report.add({ suite, group: igroup, impl: 'foveal', flop: FWD[name] * B, ...mi, note: `${(B / mi.ms * 1000).toFixed(0)} img/s` })
    const ti = peer[2 * i + 1]
    report.add({ suite, group: igroup, impl: 'pytorch', flop: FWD[name] * B, ms: ti.ms, error: ti.error, note: ti.ms ? `${(B / ti.ms * 1000).toFixed(0)} img/s` : undefined })
  }
}

module.exports = { run }
