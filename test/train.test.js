'use strict'
// The training layer behind `foveal train`, driven through its seams by a model of the
// test's own (softmax regression on fv.ops.linear, helpers/linear-model.js: fast, and what a
// user's registered model looks like): the loop learns on real MNIST, stops at a target, is
// repeatable from its seed, reports progress, and a run writes model.safetensors,
// metrics.json, curves.png and attention.png as documented. The built-in models are
// checked in train_models.test.js, a real gate run's pictures in train_gate.test.js.
const test = require('ava')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { PNG } = require('pngjs')
const fv = require('./helpers/fv')
const { linearModel, sgd } = require('./helpers/linear-model')

const dist = path.join(__dirname, '..', 'dist', 'train')
const { fit, countCorrect } = require(path.join(dist, 'loop'))
const { trainRun } = require(path.join(dist, 'run'))
const { loadData, parseDataSpec } = require(path.join(dist, 'datasets'))
const models = require(path.join(dist, 'models'))
const { LineReporter, BarReporter, reporterFor, epochLine } = require(path.join(dist, 'progress'))
const { compareMarkdown } = require(path.join(dist, 'compare'))
const { runName, RUN_FILES } = require(path.join(dist, 'outputs'))
const predictCore = require(path.join(dist, 'predict'))

const data = loadData(parseDataSpec('mnist'), { limit: 2000, testLimit: 1000 })

function tmpdir (t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'foveal-train-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}
const spec = (seed = 0) => ({ input: [1, 28, 28], numClasses: 10, seed })

test('fit: 2 epochs on 2000 MNIST images clearly beat chance on 1000 test images; metrics per epoch', async (t) => {
  const model = linearModel(spec())
  const opt = sgd(model.params, { lr: 0.05 })
  const calls = { start: 0, batch: 0, epoch: 0, evaluating: 0 }
  let plan = null
  const r = await fit(model, opt, data.train, data.test, { epochs: 2, batchSize: 64, seed: 1 }, {
    start (p) { calls.start++; plan = p },
    batch (p) { calls.batch++; t.true(p.samples <= 2000 && p.loss > 0) },
    evaluating () { calls.evaluating++ },
    epoch () { calls.epoch++ }
  })
  t.is(r.epochs.length, 2)
  t.is(r.stoppedBy, 'epochs')
  t.deepEqual(calls, { start: 1, batch: 2 * 32, epoch: 2, evaluating: 2 })
  t.deepEqual(plan, { epochs: 2, batchSize: 64, batchesPerEpoch: 32, trainSamples: 2000, testSamples: 1000, parameters: 7850 })
  t.is(opt.steps, 64)
  t.is(r.parameters, 7850)
  const [e1, e2] = r.epochs
  t.true(e2.testAccuracy >= 0.8, `test accuracy ${e2.testAccuracy}`)
  t.true(e2.trainLoss < e1.trainLoss, `${e1.trainLoss} → ${e2.trainLoss}`)
  for (const e of r.epochs) {
    for (const k of ['trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy', 'seconds', 'evalSeconds', 'samplesPerSecond', 'evalSamplesPerSecond']) {
      t.true(Number.isFinite(e[k]) && e[k] > 0, `${k} = ${e[k]}`)
    }
  }
  // The predictions are the last evaluation's: their accuracy is the reported one.
  let right = 0
  for (let i = 0; i < 1000; i++) if (r.testPredictions[i] === data.test.labels[i]) right++
  t.is(right / 1000, e2.testAccuracy)
  t.true(model.mode.training, 'the model is left in training mode')
  t.true(model.mode.calls.eval >= 2)
})

test('fit: stops at the target accuracy when no epoch count is given; same seed, same numbers', async (t) => {
  const run = async (seed, opts) => {
    const model = linearModel(spec(seed))
    return fit(model, sgd(model.params, { lr: 0.05 }), data.train, data.test, { batchSize: 50, seed, ...opts })
  }
  const stopped = await run(0, { targetAccuracy: 0.5, maxEpochs: 4 })
  t.is(stopped.stoppedBy, 'target')
  t.is(stopped.epochs.length, 1)
  const capped = await run(0, { targetAccuracy: 1.01, maxEpochs: 2 })
  t.is(capped.stoppedBy, 'epochs')
  t.is(capped.epochs.length, 2)
  const a = await run(3, { epochs: 1, shift: 2 })
  const b = await run(3, { epochs: 1, shift: 2 })
  const c = await run(4, { epochs: 1, shift: 2 })
  t.is(a.epochs[0].trainLoss, b.epochs[0].trainLoss)
  t.is(a.epochs[0].testLoss, b.epochs[0].testLoss)
  t.deepEqual([...a.testPredictions], [...b.testPredictions])
  t.not(a.epochs[0].trainLoss, c.epochs[0].trainLoss)
})

test('trainRun writes runs/<name>/: model.safetensors, metrics.json, curves.png, attention.png', async (t) => {
  const dir = path.join(tmpdir(t), 'runs', 'linear-test')
  const lines = []
  const reporter = new LineReporter({ write: (s) => lines.push(s) }, 'linear on mnist')
  let built = null
  const r = await trainRun({
    model: 'linear', modelFactory: (s) => (built = linearModel(s)), optimizer: sgd, lr: 0.05, data,
    fit: { epochs: 2, batchSize: 64, seed: 2 }, outDir: dir, reporter, command: 'foveal train --test'
  })
  t.is(r.dir, dir)
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8'))
  t.is(m.model, 'linear')
  t.is(m.command, 'foveal train --test')
  t.is(m.parameters, 7850)
  t.deepEqual(m.data.input, [1, 28, 28])
  t.is(m.data.train, 2000)
  t.is(m.data.test, 1000)
  t.deepEqual(m.config, { epochs: 2, maxEpochs: 2, targetAccuracy: null, batch: 64, lr: 0.05, schedule: 'constant', optimizer: 'custom', seed: 2, shift: 0, threads: fv.getNumThreads() })
  t.is(m.epochs.length, 2)
  t.deepEqual(m.epochs, r.fit.epochs)
  t.is(m.final.testAccuracy, m.epochs[1].testAccuracy)
  t.is(m.final.epochs, 2)
  t.true(m.final.samplesPerSecond > 0 && m.final.evalSamplesPerSecond > 0)
  t.deepEqual(fs.readdirSync(dir).sort(), m.files.slice().sort())
  t.true(m.files.includes('curves.png') && m.files.includes('attention.png') && m.files.includes('metrics.json'))
  t.true(m.files.includes(RUN_FILES.model))
  t.deepEqual(m.skipped, {})
  t.false(lines.some((l) => /not written/.test(l)))
  // The checkpoint: the model's state dict under its own names, and what `foveal predict` rebuilds it from.
  const sd = fv.io.loadSafetensors(path.join(dir, RUN_FILES.model))
  t.deepEqual(Object.keys(sd).sort(), ['fc.bias', 'fc.weight'])
  t.deepEqual(Array.from(sd['fc.weight'].data), Array.from(built.params[0].value.data), 'the trained weights')
  const meta = fv.io.readSafetensorsMetadata(path.join(dir, RUN_FILES.model))
  t.deepEqual(predictCore.checkpointInfo(meta, 'model.safetensors'),
    { model: 'linear', input: [1, 28, 28], classNames: data.train.classNames, normalization: data.train.normalization })
  // Progress: the plan line, then one line per epoch.
  t.regex(lines[0], /^linear on mnist: 2000 training images in 32 batches of 64, 1000 test images, 7850 parameters/)
  t.is(lines.filter((l) => /^epoch \d\/2 {2}train loss \d\.\d{4} acc \d+\.\d\d% {2}test loss \d\.\d{4} acc \d+\.\d\d% {2}\d+ img\/s {2}\d+\.\d s\n$/.test(l)).length, 2)

  const curves = PNG.sync.read(fs.readFileSync(path.join(dir, 'curves.png')))
  t.is(curves.width, 800)
  let blue = 0
  for (let i = 0; i < curves.data.length; i += 4) if (curves.data[i] === 0x1f && curves.data[i + 1] === 0x77 && curves.data[i + 2] === 0xb4) blue++
  t.true(blue > 100, 'the training curve is drawn')

  // attention.png: 32 tiles of 84×84 in 8 columns; the misclassified first, framed red.
  const att = PNG.sync.read(fs.readFileSync(path.join(dir, 'attention.png')))
  const cellW = 84 + 4; const cellH = 84 + 4 + 14
  t.is(att.width, 4 + 8 * (cellW + 4))
  t.is(att.height, 4 + 4 * (cellH + 4))
  const wrong = [...r.fit.testPredictions].filter((p, i) => p !== data.test.labels[i]).length
  t.true(wrong > 0)
  let red = 0; let green = 0
  for (let k = 0; k < 32; k++) {
    const o = ((4 + Math.floor(k / 8) * (cellH + 4)) * att.width + 4 + (k % 8) * (cellW + 4)) * 4
    const px = [att.data[o], att.data[o + 1], att.data[o + 2]]
    if (px.join() === '230,40,40') red++
    else if (px.join() === '40,190,70') green++
  }
  t.is(red, Math.min(8, wrong))
  t.is(red + green, 32)
})

test('attention.png without attention maps draws the plain digits', async (t) => {
  const dir = tmpdir(t)
  const r = await trainRun({
    model: 'linear', modelFactory: (s) => linearModel(s, { noAttention: true }), optimizer: sgd, lr: 0.05,
    data: { ...data, test: fv.data.loadMnist('test', { limit: 40, normalize: true }) },
    fit: { epochs: 1, seed: 0 }, outDir: dir
  })
  t.true(r.metrics.files.includes('attention.png'))
  const att = PNG.sync.read(fs.readFileSync(path.join(dir, 'attention.png')))
  // Inside a tile: only greys (no colour map), some white strokes.
  let coloured = 0; let white = 0
  for (let y = 6; y < 6 + 84; y++) {
    for (let x = 6; x < 6 + 84; x++) {
      const o = (y * att.width + x) * 4
      if (att.data[o] !== att.data[o + 1] || att.data[o + 1] !== att.data[o + 2]) coloured++
      if (att.data[o] > 240) white++
    }
  }
  t.is(coloured, 0)
  t.true(white > 50)
})

test('models: the built-in names build; an unknown name is a RangeError; registerModel plugs a model in', (t) => {
  t.deepEqual([...models.MODEL_NAMES], ['cnn', 'gate', 'se', 'cbam', 'nonlocal', 'mha', 'pool'])
  for (const name of models.MODEL_NAMES) t.true(models.createModel(name, spec()) instanceof fv.nn.Module, name)
  t.throws(() => models.createModel('resnet', spec()), { instanceOf: RangeError, message: /model must be one of cnn, gate, se, cbam, nonlocal, mha, pool, got 'resnet'/ })
  t.throws(() => models.createModel('test-linear', spec()), { instanceOf: RangeError })
  models.registerModel('test-linear', (s) => linearModel(s))
  const m = models.createModel('test-linear', spec())
  t.is(typeof m.forward, 'function')
  t.is(m.params[0].value.shape[1], 784)
})

test('countCorrect: argmax per row, the first of equal maxima', (t) => {
  const logits = Float32Array.from([1, 3, 3, 0, /**/ -1, -2, -3, -0.5, /**/ 7, 7, 7, 7])
  const pred = new Int32Array(5).fill(-9)
  t.is(countCorrect(logits, Int32Array.from([1, 3, 1]), 3, 4, pred, 2), 2)
  t.deepEqual([...pred], [-9, -9, 1, 3, 0])
})

test('progress: a bar on a terminal, lines elsewhere, nothing when quiet; the epoch line format', (t) => {
  let out = ''
  const tty = { isTTY: true, columns: 120, write (s) { out += s; return true } }
  t.true(reporterFor(tty) instanceof BarReporter)
  t.true(reporterFor({ isTTY: false, write () {} }) instanceof LineReporter)
  const quiet = reporterFor(tty, { quiet: true })
  t.false(quiet instanceof BarReporter || quiet instanceof LineReporter)
  const bar = reporterFor(tty)
  const plan = { epochs: 3, batchSize: 10, batchesPerEpoch: 10, trainSamples: 100, testSamples: 0, parameters: 5 }
  bar.start(plan)
  for (let b = 1; b <= 10; b++) bar.batch({ epoch: 1, batch: b, batches: 10, samples: b * 10, loss: 1 / b, accuracy: b / 10, samplesPerSecond: 1000 })
  const m = { epoch: 1, trainLoss: 0.25, trainAccuracy: 0.9, testLoss: null, testAccuracy: null, seconds: 1.25, evalSeconds: 0, samplesPerSecond: 80, evalSamplesPerSecond: 0 }
  bar.epoch(m, plan)
  bar.close()
  t.regex(out, /epoch 1\/3 .*\| loss \d\.\d{4} \| acc \d+\.\d\d% \| 1000 img\/s \| ETA \d+s/)
  t.regex(out, /epoch 1\/3 {2}train loss 0\.2500 acc 90\.00% {2}80 img\/s {2}1\.3 s\n/)
  t.is(epochLine({ ...m, testLoss: 0.5, testAccuracy: 0.875 }, 3), 'epoch 1/3  train loss 0.2500 acc 90.00%  test loss 0.5000 acc 87.50%  80 img/s  1.3 s')
})

test('compare table, run names, data specs', (t) => {
  const md = compareMarkdown([
    { model: 'cnn', parameters: 12345, epochs: 3, testAccuracy: 0.9912, seconds: 61.27, trainSamplesPerSecond: 6012.4, inferenceSamplesPerSecond: 20111 },
    { model: 'gate', parameters: 12500, epochs: 2, testAccuracy: 0.99346, seconds: 48, trainSamplesPerSecond: 5800, inferenceSamplesPerSecond: 19000 }
  ])
  const lines = md.trim().split('\n')
  t.is(lines.length, 4)
  t.regex(lines[0], /^\| model \| test accuracy \| parameters \| epochs \| wall time \| train img\/s \| inference img\/s \|$/)
  t.regex(lines[1], /^\|-+\|-+:\|/)
  t.regex(lines[2], /^\| cnn +\| +99\.12% \| +12,345 \| +3 \| +61\.3 s \| +6,012 \| +20,111 \|$/)
  t.regex(lines[3], /^\| gate .*99\.35%/)
  t.is(runName('gate', new Date(2025, 0, 2, 3, 4, 5)), 'gate-20250102-030405')
  t.deepEqual(parseDataSpec('mnist'), { kind: 'mnist', dir: null })
  t.deepEqual(parseDataSpec('./digits'), { kind: 'mnist', dir: './digits' })
  t.deepEqual(parseDataSpec('mnist:/x'), { kind: 'mnist', dir: '/x' })
  t.deepEqual(parseDataSpec('cifar10:/data/c'), { kind: 'cifar10', dir: '/data/c' })
  t.throws(() => parseDataSpec('cifar10'), { message: /cifar10:DIR/ })
})

test('predict core: checkpoint metadata checked, pictures to normalised input, probabilities and heat-maps', (t) => {
  const meta = {
    'foveal.model': 'gate', 'foveal.input': '[1,28,28]', 'foveal.classes': JSON.stringify(data.train.classNames),
    'foveal.normalization': JSON.stringify(data.train.normalization)
  }
  const info = predictCore.checkpointInfo(meta, 'm.safetensors')
  t.deepEqual(info.input, [1, 28, 28])
  t.is(info.classNames.length, 10)
  t.throws(() => predictCore.checkpointInfo({ ...meta, 'foveal.input': '[1,28]' }, 'm.safetensors'),
    { message: 'm.safetensors was not written by foveal train: its metadata has no valid foveal.input' })
  t.throws(() => predictCore.checkpointInfo({}, 'x'), { message: /no valid foveal\.model/ })
  // A safetensors file that foveal train did not write is named as such.
  const foreign = path.join(tmpdir(t), 'foreign.safetensors')
  fv.io.saveSafetensors(foreign, { w: fv.tensor(new Float32Array(4), [4]) })
  t.throws(() => predictCore.loadCheckpoint(foreign), { message: `${foreign} was not written by foveal train: its metadata has no valid foveal.model` })
  // A white picture (blank for MNIST) becomes the normalised background everywhere.
  const blank = predictCore.toModelInput(fv.viz.rgbaImage(40, 30, [255, 255, 255, 255]), info)
  t.is(blank.length, 784)
  t.true(blank.every((x) => x === Math.fround(-0.1307 / 0.3081)))
  // Two real test digits through a trained linear model.
  const model = linearModel(spec())
  const opt = sgd(model.params, { lr: 0.05 })
  return fit(model, opt, data.train, null, { epochs: 1 }).then(() => {
    const inputs = data.test.images.slice(0, 2 * 784)
    const r = predictCore.predict(model, inputs, 2, info)
    t.is(r.probabilities.length, 20)
    for (let i = 0; i < 2; i++) {
      const row = r.probabilities.subarray(i * 10, i * 10 + 10)
      t.true(Math.abs(row.reduce((s, x) => s + x, 0) - 1) < 1e-5)
      t.is(r.classes[i], row.indexOf(Math.max(...row)))
    }
    t.deepEqual(r.attention.shape, [2, 7, 7])
    const img = predictCore.predictionHeatmap(inputs, 1, info, r)
    t.is(img.width, 224)
    t.is(img.height, 224)
  })
})
