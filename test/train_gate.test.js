'use strict'
// A real run of the default model (the gate CNN, fv.nn and fv.optim, 2,000 MNIST images for
// 3 epochs): what it leaves in runs/<name>/ is what a user looks at. attention.png is the
// model's own gate drawn over its test digits — brighter where the gate is larger —
// curves.png plots the run's metrics, and `foveal predict` on that model.safetensors
// classifies PNGs of any size and colour type and draws a heat-map beside each.
const test = require('ava')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { execFile } = require('child_process')
const { PNG } = require('pngjs')
const fv = require('./helpers/fv')

const dist = path.join(__dirname, '..', 'dist')
const { trainRun } = require(path.join(dist, 'train', 'run'))
const { loadData, parseDataSpec } = require(path.join(dist, 'train', 'datasets'))
const { createModel } = require(path.join(dist, 'train', 'models'))
const { attentionGrid, displayImage } = require(path.join(dist, 'train', 'outputs'))
const CLI = path.join(dist, 'cli.js')

const data = loadData(parseDataSpec('mnist'), { limit: 2000, testLimit: 1000 })
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'foveal-gate-'))
let run = null // { result, model, wall }

test.before(async () => {
  let model = null
  const t0 = Date.now()
  const result = await trainRun({
    model: 'gate', modelFactory: (s) => (model = createModel('gate', s)), data, fit: { epochs: 3, seed: 0 }, outDir: path.join(dir, 'run')
  })
  run = { result, model, wall: Date.now() - t0 }
})
test.after.always(() => fs.rmSync(dir, { recursive: true, force: true }))

const file = (name) => path.join(dir, 'run', name)
const readPngFile = (f) => PNG.sync.read(fs.readFileSync(f))
const luminance = (d, o) => 0.2126 * d[o] + 0.7152 * d[o + 1] + 0.0722 * d[o + 2]

function correlation (a, b) {
  const n = a.length
  let ma = 0; let mb = 0
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i] }
  ma /= n; mb /= n
  let sab = 0; let saa = 0; let sbb = 0
  for (let i = 0; i < n; i++) { const x = a[i] - ma; const y = b[i] - mb; sab += x * y; saa += x * x; sbb += y * y }
  return sab / Math.sqrt(saa * sbb)
}

function foveal (args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120e3 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr })
    })
  })
}

test('the gate run learns and writes its four files', (t) => {
  const m = JSON.parse(fs.readFileSync(file('metrics.json'), 'utf8'))
  t.deepEqual(m.files.slice().sort(), ['attention.png', 'curves.png', 'metrics.json', 'model.safetensors'])
  t.deepEqual(m.skipped, {})
  t.is(m.model, 'gate')
  t.is(m.config.schedule, 'onecycle')
  t.is(m.epochs.length, 3)
  t.true(m.final.testAccuracy >= 0.9, `test accuracy ${m.final.testAccuracy} after 3 epochs of 2000 images`)
  t.true(m.epochs[2].trainLoss < m.epochs[0].trainLoss)
  const sd = fv.io.loadSafetensors(file('model.safetensors'))
  t.deepEqual(Object.keys(sd).sort(), Object.keys(run.model.stateDict()).sort())
  t.true('3.conv_a.weight' in sd && '3.conv_b.weight' in sd, 'the SpatialGate sits at index 3 with PyTorch names')
})

test('attention.png: the run\'s own test digits under the gate, brighter where the gate is larger', (t) => {
  const { model, result } = run
  const png = readPngFile(file('attention.png'))
  // 32 tiles of 28×28 at scale 3, 8 columns: 2-pixel frames, 4-pixel gaps, a 14-pixel label strip.
  const cellW = 84 + 4; const cellH = 84 + 4 + 14
  t.is(png.width, 4 + 8 * (cellW + 4))
  t.is(png.height, 4 + 4 * (cellH + 4))
  // The file is the grid of the trained model over the run's last predictions, bit for bit.
  const predictions = result.fit.testPredictions
  t.true(fv.viz.encodePng(attentionGrid(model, data.test, predictions)).equals(fs.readFileSync(file('attention.png'))))

  // The tiles, as attentionGrid picks them: up to 8 misclassified test images first, framed red.
  const wrong = []; const right = []
  for (let i = 0; i < predictions.length; i++) (predictions[i] === data.test.labels[i] ? right : wrong).push(i)
  const picks = [...wrong.slice(0, 8), ...right].slice(0, 32)
  t.true(wrong.length > 0 && wrong.length < 100, `${wrong.length} of 1000 misclassified`)
  // The gate of each picked image, as the model computes it: [32, 1, 14, 14].
  const x = new Float32Array(32 * 784)
  picks.forEach((i, j) => x.set(data.test.images.subarray(i * 784, (i + 1) * 784), j * 784))
  model.eval()
  fv.dispose(model.forward(fv.tensor(x, [32, 1, 28, 28])))
  const gate = Float32Array.from(model.attentionMap().data)
  model.train()
  t.is(gate.length, 32 * 196)

  let worst = 1
  for (let j = 0; j < 32; j++) {
    const fx = 4 + (j % 8) * (cellW + 4); const fy = 4 + Math.floor(j / 8) * (cellH + 4)
    const frame = [...png.data.subarray((fy * png.width + fx) * 4, (fy * png.width + fx) * 4 + 3)].join()
    t.is(frame, j < Math.min(8, wrong.length) ? '230,40,40' : '40,190,70', `tile ${j} frame`)
    // Undo the blend (out = 0.45·digit + 0.55·colour) to get the colour-map layer alone, and
    // hold its brightness against the gate spread over the tile as the heat-map spreads it.
    const picture = displayImage(data.test, picks[j])
    const g = gate.subarray(j * 196, (j + 1) * 196)
    const lo = Math.min(...g); const hi = Math.max(...g)
    t.true(hi - lo > 0.05, `tile ${j}: the gate varies (${lo.toFixed(3)}..${hi.toFixed(3)})`)
    const up = fv.viz.resizeBilinear(g, 14, 14, 84, 84)
    const layer = new Float64Array(84 * 84)
    let min = 255; let max = 0
    for (let y = 0; y < 84; y++) {
      for (let xx = 0; xx < 84; xx++) {
        const o = ((fy + 2 + y) * png.width + fx + 2 + xx) * 4
        const p = (Math.floor(y / 3) * 28 + Math.floor(xx / 3)) * 4
        const lum = luminance(png.data, o)
        min = Math.min(min, lum); max = Math.max(max, lum)
        layer[y * 84 + xx] = (lum - 0.45 * luminance(picture.data, p)) / 0.55
      }
    }
    t.true(max - min > 100, `tile ${j} is not flat: luminance ${min.toFixed(0)}..${max.toFixed(0)}`)
    const r = correlation(layer, up)
    worst = Math.min(worst, r)
    t.true(r > 0.95, `tile ${j}: the heat-map's brightness follows the gate (correlation ${r.toFixed(3)})`)
    // And plainly: the brightest tenth of the gate is drawn brighter than its darkest tenth.
    const order = Array.from(up.keys()).sort((a, b) => up[a] - up[b])
    const mean = (idx) => idx.reduce((s, i) => s + layer[i], 0) / idx.length
    const tenth = Math.floor(order.length / 10)
    t.true(mean(order.slice(-tenth)) > mean(order.slice(0, tenth)) + 60, `tile ${j}: high gate brighter`)
  }
  t.log(`lowest correlation of heat-map brightness and gate over the 32 tiles: ${worst.toFixed(4)}`)
})

test('curves.png: the run\'s loss and accuracy, each epoch a point in its series\' colour', (t) => {
  const m = JSON.parse(fs.readFileSync(file('metrics.json'), 'utf8'))
  const png = readPngFile(file('curves.png'))
  t.is(png.width, 800)
  t.is(png.height, 340)
  // Where the points go comes from the SVG the project draws from the same metrics.
  const points = m.epochs.map((e) => ({ epoch: e.epoch, trainLoss: e.trainLoss, trainAccuracy: e.trainAccuracy, testLoss: e.testLoss, testAccuracy: e.testAccuracy }))
  const svg = fv.viz.curvesSvg(points, { title: 'gate on mnist' })
  const circles = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="3" fill="#([0-9a-f]{6})"\/>/g)]
    .map(([, cx, cy, hex]) => ({ cx: Number(cx), cy: Number(cy), rgb: [0, 8, 16].map((s) => (parseInt(hex, 16) >> (16 - s)) & 255) }))
  t.is(circles.length, 12, '3 epochs × train/test × loss/accuracy')
  for (const c of circles) {
    let found = false
    for (let dy = -3; dy <= 3 && !found; dy++) {
      for (let dx = -3; dx <= 3 && !found; dx++) {
        const o = ((Math.round(c.cy) + dy) * 800 + Math.round(c.cx) + dx) * 4
        found = c.rgb.every((v, k) => Math.abs(png.data[o + k] - v) < 10)
      }
    }
    t.true(found, `a point of colour ${c.rgb} at ${c.cx},${c.cy}`)
  }
  // Training loss falls and training accuracy rises in this run: the first points lie above / below the last.
  const train = circles.filter((c) => c.rgb.join() === '31,119,180')
  const [loss, acc] = [train.filter((c) => c.cx < 400), train.filter((c) => c.cx >= 400)]
  t.true(loss[0].cy < loss[2].cy, 'the loss line goes down')
  t.true(acc[0].cy > acc[2].cy, 'the accuracy line goes up')
  // The lines between the points: many pixels of each series' colour.
  const count = (rgb) => {
    let n = 0
    for (let i = 0; i < png.data.length; i += 4) if (rgb.every((v, k) => Math.abs(png.data[i + k] - v) < 10)) n++
    return n
  }
  t.true(count([0x1f, 0x77, 0xb4]) > 500, 'train series (blue)')
  t.true(count([0xff, 0x7f, 0x0e]) > 300, 'test series (orange, dashed)')
})

// ---- foveal predict on the run's model.safetensors --------------------------------------

/** Test digit i as a picture: scaled to size×size, ink and paper in the colours given. */
function drawDigit (i, size, ink, paper) {
  const digit = data.test.images.subarray(i * 784, (i + 1) * 784)
  const { mean, std } = data.test.normalization
  const plain = Float32Array.from(digit, (v) => Math.min(1, Math.max(0, v * std[0] + mean[0])))
  const big = fv.viz.resizeBilinear(plain, 28, 28, size, size)
  const img = fv.viz.rgbaImage(size, size)
  for (let p = 0; p < size * size; p++) {
    const a = Math.min(1, Math.max(0, big[p]))
    for (let c = 0; c < 4; c++) img.data[p * 4 + c] = Math.round(ink[c] * a + paper[c] * (1 - a))
  }
  return img
}

/** Three digits the trained model gets right, each drawn another way. */
function pictures (t) {
  const pd = path.join(dir, `pictures-${Math.random().toString(36).slice(2)}`)
  fs.mkdirSync(pd)
  const picks = []
  for (let i = 0; picks.length < 3; i++) if (run.result.fit.testPredictions[i] === data.test.labels[i]) picks.push(i)
  // 56×56 RGBA, dark ink on white paper (a scan).
  const a = path.join(pd, 'scan.png')
  fs.writeFileSync(a, fv.viz.encodePng(drawDigit(picks[0], 56, [20, 20, 60, 255], [255, 255, 250, 255])))
  // 28×28 8-bit grey (colour type 0), MNIST's own white on black.
  const b = path.join(pd, 'grey.png')
  const g = drawDigit(picks[1], 28, [255, 255, 255, 255], [0, 0, 0, 255])
  fs.writeFileSync(b, PNG.sync.write({ width: 28, height: 28, data: Buffer.from(g.data.buffer) }, { colorType: 0 }))
  // 40×40 RGB (colour type 2): green chalk on a dark-blue board.
  const c = path.join(pd, 'board.png')
  const rgb = drawDigit(picks[2], 40, [120, 230, 120, 255], [10, 20, 70, 255])
  fs.writeFileSync(c, PNG.sync.write({ width: 40, height: 40, data: Buffer.from(rgb.data.buffer) }, { colorType: 2 }))
  t.is(readPngFile(b).width, 28)
  t.is(fs.readFileSync(b)[25], 0, 'colour type 0')
  t.is(fs.readFileSync(c)[25], 2, 'colour type 2')
  return { files: [a, b, c], labels: picks.map((i) => String(data.test.labels[i])) }
}

function checkHeatmap (t, f) {
  t.true(fs.existsSync(f), f)
  const png = readPngFile(f)
  t.is(png.width, 28 * 8)
  t.is(png.height, 28 * 8)
  const lum = new Set()
  let coloured = 0
  for (let o = 0; o < png.data.length; o += 4) {
    lum.add(Math.round(luminance(png.data, o)))
    if (png.data[o] !== png.data[o + 1] || png.data[o + 1] !== png.data[o + 2]) coloured++
  }
  t.true(lum.size > 50, `${path.basename(f)}: ${lum.size} brightness levels`)
  t.true(coloured > png.width * png.height / 2, `${path.basename(f)}: the attention is drawn in colour`)
}

test('foveal predict --json: the class and probabilities of each picture, a heat-map PNG beside each', async (t) => {
  const { files, labels } = pictures(t)
  const r = await foveal(['predict', '--model', file('model.safetensors'), ...files, '--json'])
  t.is(r.code, 0, r.stderr)
  t.is(r.stderr, '')
  const out = JSON.parse(r.stdout)
  t.is(out.length, 3)
  out.forEach((p, i) => {
    t.is(p.file, files[i])
    t.deepEqual(Object.keys(p.probabilities), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
    const probs = Object.values(p.probabilities)
    t.true(probs.every((v) => v >= 0 && v <= 1))
    t.true(Math.abs(probs.reduce((s, v) => s + v, 0) - 1) < 1e-5, `${p.file}: probabilities sum to 1`)
    t.is(p.probability, Math.max(...probs))
    t.is(p.probabilities[p.class], p.probability)
    t.is(p.class, labels[i], `${path.basename(p.file)}: the digit ${labels[i]}`)
    t.log(`${path.basename(p.file)}: ${p.class} at ${(p.probability * 100).toFixed(1)}%`)
    t.is(p.heatmap, files[i].replace(/\.png$/, '.attention.png'))
    checkHeatmap(t, p.heatmap)
  })
})

test('foveal predict: a table line per picture; --out puts the heat-maps elsewhere; --no-heatmap writes none', async (t) => {
  const { files, labels } = pictures(t)
  const r = await foveal(['predict', '--model', file('model.safetensors'), ...files])
  t.is(r.code, 0, r.stderr)
  t.is(r.stderr, '')
  const lines = r.stdout.split('\n')
  t.is(lines.pop(), '')
  t.is(lines.length, 3)
  const width = Math.max(...files.map((f) => f.length))
  lines.forEach((line, i) => {
    const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    t.regex(line, new RegExp(`^${esc(files[i].padEnd(width))}  ${labels[i]}  \\d+\\.\\d%  \\(next: \\d \\d+\\.\\d%, \\d \\d+\\.\\d%\\)  → ${esc(files[i].replace(/\.png$/, '.attention.png'))}$`))
  })
  const elsewhere = path.join(path.dirname(files[0]), 'maps')
  const o = await foveal(['predict', '--model', file('model.safetensors'), files[0], '--out', elsewhere, '--json'])
  t.is(o.code, 0, o.stderr)
  t.is(JSON.parse(o.stdout)[0].heatmap, path.join(elsewhere, 'scan.attention.png'))
  checkHeatmap(t, path.join(elsewhere, 'scan.attention.png'))
  for (const f of files) fs.rmSync(f.replace(/\.png$/, '.attention.png'))
  const n = await foveal(['predict', '--model', file('model.safetensors'), ...files, '--no-heatmap', '--json'])
  t.is(n.code, 0, n.stderr)
  t.true(JSON.parse(n.stdout).every((p) => p.heatmap === null))
  t.false(files.some((f) => fs.existsSync(f.replace(/\.png$/, '.attention.png'))))
})
