'use strict'
// The loss modules with their weights: buffers named as PyTorch's, the same values as the
// ops they wrap, backward from the last forward.
const test = require('ava')
const fv = require('./helpers/fv')
const { rand } = require('./helpers/random')
const { assertBitIdentical } = require('./helpers/check')
const { throwsLike } = require('./helpers/errors')

test('CrossEntropyLoss({ weight }) keeps the class weights as the buffer "weight" and applies them', async (t) => {
  const x = rand([6, 4], 1, -3, 3); const y = Int32Array.from([0, 3, 1, 2, 2, 0])
  const w = rand([4], 2, 0.2, 2)
  const loss = new fv.nn.CrossEntropyLoss({ weight: w, labelSmoothing: 0.1 })
  t.deepEqual(Object.keys(loss.stateDict()), ['weight'])
  t.not(loss.stateDict().weight.data, w.data, 'a copy, as PyTorch registers its own')
  const l = loss.forward(x, y)
  assertBitIdentical(t, l.data, fv.ops.crossEntropy(x, y, { weight: w, labelSmoothing: 0.1 }).data)
  const g = loss.backward()
  assertBitIdentical(t, g.data, fv.ops.crossEntropyBackward(1, x, y, { weight: w, labelSmoothing: 0.1 }).data)
  // A state dict from PyTorch replaces the weights.
  const w2 = rand([4], 3, 0.2, 2)
  loss.loadStateDict({ weight: w2 })
  assertBitIdentical(t, (await loss.forwardAsync(x, y)).data, fv.ops.crossEntropy(x, y, { weight: w2, labelSmoothing: 0.1 }).data)
  t.deepEqual(Object.keys(new fv.nn.CrossEntropyLoss().stateDict()), [], 'no weight, no buffer')
  throwsLike(t, () => new fv.nn.CrossEntropyLoss({ weight: 3 }), TypeError, 'CrossEntropyLoss: weight must be a tensor')
})

test('BCEWithLogitsLoss({ weight, posWeight }): buffers "weight" and "pos_weight", the op\'s values, gradients', async (t) => {
  const x = rand([5, 3], 4, -4, 4); const target = rand([5, 3], 5, 0, 1)
  const weight = rand([5, 1], 6, 0.5, 1.5); const posWeight = rand([3], 7, 0.5, 4)
  const loss = new fv.nn.BCEWithLogitsLoss({ weight, posWeight })
  t.deepEqual(Object.keys(loss.stateDict()), ['weight', 'pos_weight'])
  const opts = { weight, posWeight }
  const l = loss.forward(x, target)
  t.deepEqual([...l.shape], [])
  assertBitIdentical(t, l.data, fv.ops.bceWithLogits(x, target, opts).data)
  assertBitIdentical(t, loss.backward(2).data, fv.ops.bceWithLogitsBackward(2, x, target, opts).data)
  const none = new fv.nn.BCEWithLogitsLoss({ reduction: 'none' })
  const ln = await none.forwardAsync(x, target)
  t.deepEqual([...ln.shape], [5, 3])
  const dy = rand([5, 3], 8)
  assertBitIdentical(t, (await none.backwardAsync(dy)).data, fv.ops.bceWithLogitsBackward(dy, x, target, { reduction: 'none' }).data)
  throwsLike(t, () => none.backward(dy), Error, 'BCEWithLogitsLoss')
  throwsLike(t, () => new fv.nn.BCEWithLogitsLoss({ reduction: 'avg' }), RangeError, 'BCEWithLogitsLoss: reduction')
})
