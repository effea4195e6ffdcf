'use strict'
// A hierarchical attention network (Yang et al., 2016) built from the pieces: words →
// sentence vectors by AttentionPool, sentences → a document vector by AttentionPool, over an
// Embedding, then a Linear classifier. It trains on a toy task (is the keyword anywhere in
// the document?) and must learn it, with its attention landing on the keyword.
const test = require('ava')
const fv = require('./helpers/fv')
const { assertBitIdentical } = require('./helpers/check')
const { rng } = require('./helpers/random')

const nn = fv.nn
const KEYWORD = 1

class HAN extends nn.Module {
  constructor (vocab, dim, classes) {
    super()
    this.embedding = new nn.Embedding(vocab, dim)
    this.words = new nn.AttentionPool(dim)
    this.sentences = new nn.AttentionPool(dim)
    this.fc = new nn.Linear(dim, classes)
  }

  // docs: { data: Int32Array, shape: [D, S, W] } (D documents of S sentences of W words).
  forward (docs) {
    const [D, S, W] = docs.shape; const dim = this.embedding.embeddingDim
    this.dims = [D, S, W, dim]
    const e = this.embedding.forward(docs)
    const s = this.words.forward({ data: e.data, shape: [D * S, W, dim] }).out
    const d = this.sentences.forward({ data: s.data, shape: [D, S, dim] }).out
    return this.fc.forward(d)
  }

  backward (dy) {
    const [D, S, W, dim] = this.dims
    const ds = this.sentences.backward(this.fc.backward(dy))
    const de = this.words.backward({ data: ds.data, shape: [D * S, dim] })
    this.embedding.backward({ data: de.data, shape: [D, S, W, dim] })
    return null
  }

  async forwardAsync (docs) {
    const [D, S, W] = docs.shape; const dim = this.embedding.embeddingDim
    this.dims = [D, S, W, dim]
    const e = await this.embedding.forwardAsync(docs)
    const s = (await this.words.forwardAsync({ data: e.data, shape: [D * S, W, dim] })).out
    const d = (await this.sentences.forwardAsync({ data: s.data, shape: [D, S, dim] })).out
    return this.fc.forwardAsync(d)
  }

  async backwardAsync (dy) {
    const [D, S, W, dim] = this.dims
    const ds = await this.sentences.backwardAsync(await this.fc.backwardAsync(dy))
    const de = await this.words.backwardAsync({ data: ds.data, shape: [D * S, dim] })
    await this.embedding.backwardAsync({ data: de.data, shape: [D, S, W, dim] })
    return null
  }
}

/** n documents of S sentences of W filler words (2…11); half of them get the keyword once. */
function corpus (n, seed, S = 4, W = 6) {
  const r = rng(seed)
  const tokens = new Int32Array(n * S * W); const labels = new Int32Array(n); const where = new Int32Array(n).fill(-1)
  for (let d = 0; d < n; d++) {
    for (let i = 0; i < S * W; i++) tokens[d * S * W + i] = 2 + Math.floor(r() * 10)
    if (r() < 0.5) {
      labels[d] = 1
      where[d] = Math.floor(r() * S * W)
      tokens[d * S * W + where[d]] = KEYWORD
    }
  }
  return { docs: { data: tokens, shape: [n, S, W] }, labels, where }
}

function sgdStep (model, loss, data, lr) {
  model.zeroGrad()
  const value = loss.forward(model.forward(data.docs), data.labels).data[0]
  model.backward(loss.backward())
  for (const p of model.parameters()) {
    const w = p.value.data; const g = p.grad.data
    for (let i = 0; i < w.length; i++) w[i] -= lr * g[i]
  }
  return value
}

function accuracy (model, data) {
  model.eval()
  const z = model.forward(data.docs)
  model.train()
  let right = 0
  for (let i = 0; i < data.labels.length; i++) right += Number((z.data[2 * i + 1] > z.data[2 * i]) === (data.labels[i] === 1))
  return right / data.labels.length
}

test('a hierarchical attention network learns the keyword task, and its attention finds the keyword', (t) => {
  fv.manualSeed(0)
  const model = new HAN(12, 8, 2)
  t.deepEqual(Object.keys(model.stateDict()), ['embedding.weight', 'words.score.weight', 'words.score.bias',
    'sentences.score.weight', 'sentences.score.bias', 'fc.weight', 'fc.bias'])
  const loss = new nn.CrossEntropyLoss()
  const train = corpus(64, 1); const heldOut = corpus(64, 2)
  const before = accuracy(model, heldOut)
  const first = sgdStep(model, loss, train, 0.5)
  let last = first
  for (let step = 1; step < 80; step++) last = sgdStep(model, loss, train, 0.5)
  t.true(last < 0.1 && last < first / 5, `loss ${first} → ${last}`)
  const after = accuracy(model, heldOut)
  t.true(after >= 0.95, `held-out accuracy ${before} → ${after}`)

  // Where the keyword is, the word attention of its sentence and the sentence attention of
  // its document put most of their weight on it.
  model.eval()
  model.forward(heldOut.docs)
  const [, S, W] = heldOut.docs.shape
  const words = model.words.lastAttention; const sentences = model.sentences.lastAttention
  t.deepEqual([...words.shape], [64 * S, W]); t.deepEqual([...sentences.shape], [64, S])
  let checked = 0
  for (let d = 0; d < 64; d++) {
    if (heldOut.where[d] < 0) continue
    const s = Math.floor(heldOut.where[d] / W); const w = heldOut.where[d] % W
    t.true(words.data[(d * S + s) * W + w] > 0.5, `doc ${d}: word weight ${words.data[(d * S + s) * W + w]}`)
    t.true(sentences.data[d * S + s] > 0.5, `doc ${d}: sentence weight ${sentences.data[d * S + s]}`)
    checked++
  }
  t.is(checked, heldOut.labels.reduce((a, b) => a + b, 0))
  t.true(checked >= 10, `${checked} documents with the keyword`)
})

test('the network trains the same through forwardAsync/backwardAsync, bit for bit', async (t) => {
  const make = () => { fv.manualSeed(3); return new HAN(12, 8, 2) }
  const a = make(); const b = make()
  const data = corpus(16, 5)
  const lossA = new nn.CrossEntropyLoss(); const lossB = new nn.CrossEntropyLoss()
  for (let step = 0; step < 3; step++) {
    sgdStep(a, lossA, data, 0.5)
    b.zeroGrad()
    await lossB.forwardAsync(await b.forwardAsync(data.docs), data.labels)
    await b.backwardAsync(await lossB.backwardAsync())
    for (const p of b.parameters()) {
      const w = p.value.data; const g = p.grad.data
      for (let i = 0; i < w.length; i++) w[i] -= 0.5 * g[i]
    }
  }
  b.parameters().forEach((p, i) => assertBitIdentical(t, p.value.data, a.parameters()[i].value.data, p.name))
})

test('Embedding: PyTorch layout and init, gradients scatter-added into weight.grad, paddingIdx, errors', (t) => {
  fv.manualSeed(1)
  const e = new nn.Embedding(10, 4, { paddingIdx: -1 })
  t.is(e.paddingIdx, 9)
  t.deepEqual([...e.weight.shape], [10, 4])
  t.true(e.weight.value.data.subarray(36).every((v) => v === 0), 'padding row zeros')
  const idx = { data: Int32Array.of(2, 9, 2, 0), shape: [2, 2] }
  const y = e.forward(idx)
  t.deepEqual([...y.shape], [2, 2, 4])
  assertBitIdentical(t, y.data.subarray(0, 4), e.weight.value.data.subarray(8, 12), 'row 2')
  t.is(e.backward(fv.tensor(new Float32Array(16).fill(1), [2, 2, 4])), null)
  t.deepEqual(Array.from(e.weight.grad.data.subarray(8, 12)), [2, 2, 2, 2])
  t.deepEqual(Array.from(e.weight.grad.data.subarray(36)), [0, 0, 0, 0])
  t.throws(() => new nn.Embedding(10, 4, { paddingIdx: 10 }), { instanceOf: RangeError, message: /Embedding: paddingIdx/ })
  t.throws(() => e.forward(Int32Array.of(10)), { instanceOf: RangeError, message: /embedding: indices\[0\]/ })
  t.throws(() => e.backward(y), { message: /Embedding: backward needs a forward first/ })
})
