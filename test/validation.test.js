'use strict'
// Bad input: every wrong argument gets a TypeError (wrong kind of value) or a RangeError
// (wrong value) whose message names the op and the argument — never a crash. The native
// layer re-checks what it is given, so calling the binding directly with lies is safe too.
const test = require('ava')
const fv = require('./helpers/fv')
const { throwsLike, rejectsLike } = require('./helpers/errors')
const { binding } = require('../dist/native')
const { rand } = require('./helpers/random')

const x = rand([4, 3], 1)
const w = rand([5, 3], 2)
const b = rand([5], 3)

test('tensor(): data of the wrong kind, a bad shape, or a shape that does not fit the data', (t) => {
  throwsLike(t, () => fv.tensor('abc', [3]), TypeError, 'tensor', 'data')
  throwsLike(t, () => fv.tensor(new Float32Array(6), [2, -3]), RangeError, 'tensor', 'shape')
  throwsLike(t, () => fv.tensor(new Float32Array(6), [2, 3.5]), RangeError, 'tensor', 'shape')
  throwsLike(t, () => fv.tensor(new Float32Array(6), [2, NaN]), RangeError, 'tensor', 'shape')
  throwsLike(t, () => fv.tensor(new Float32Array(6), [2, Infinity]), RangeError, 'tensor', 'shape')
  throwsLike(t, () => fv.tensor(new Float32Array(6), [2, '3']), TypeError, 'tensor', 'shape')
  throwsLike(t, () => fv.tensor(new Float32Array(6), 6), TypeError, 'tensor', 'shape')
  throwsLike(t, () => fv.tensor(new Float32Array(6), [4, 2]), RangeError, 'tensor', 'shape', '6')
  throwsLike(t, () => new fv.Tensor(new Float64Array(6), [6]), TypeError, 'tensor', 'data', 'Float64Array')
  t.deepEqual(fv.tensor([1, 2, 3]).shape, [3])
  throwsLike(t, () => fv.tensor(new Float32Array(6), [6]).reshape([4, -1]), RangeError, 'tensor', 'shape')
  t.deepEqual(fv.tensor(new Float32Array(6), [6]).reshape([3, -1]).shape, [3, 2])
})

test('linear: arguments of the wrong kind are TypeErrors naming the argument', (t) => {
  throwsLike(t, () => fv.ops.linear(42, w), TypeError, 'linear: x must be', 'got 42')
  throwsLike(t, () => fv.ops.linear(null, w), TypeError, 'linear: x', 'got null')
  throwsLike(t, () => fv.ops.linear(new Float32Array(12), w), TypeError, 'linear: x', 'Float32Array(12)')
  throwsLike(t, () => fv.ops.linear({ data: new Float64Array(12), shape: [4, 3] }, w), TypeError, 'linear: x.data', 'Float64Array(12)')
  throwsLike(t, () => fv.ops.linear({ data: Array(12).fill(0), shape: [4, 3] }, w), TypeError, 'linear: x.data')
  throwsLike(t, () => fv.ops.linear({ data: x.data }, w), TypeError, 'linear: x.shape')
  throwsLike(t, () => fv.ops.linear({ data: x.data, shape: '4,3' }, w), TypeError, 'linear: x.shape')
  throwsLike(t, () => fv.ops.linear(x, w, 'bias'), TypeError, 'linear: bias')
  throwsLike(t, () => fv.ops.linear(x, w, b, 'out'), TypeError, 'linear: options')
  throwsLike(t, () => fv.ops.linear(x, w, b, { outt: x }), TypeError, 'linear: options', "'outt'")
  throwsLike(t, () => fv.ops.linear(x, w, b, { out: new Float32Array(20) }), TypeError, 'linear: out')
})

test('linear: wrong values are RangeErrors naming the argument, what was expected and what came', (t) => {
  throwsLike(t, () => fv.ops.linear({ data: x.data, shape: [4, -3] }, w), RangeError, 'linear: x.shape', '[4,-3]')
  throwsLike(t, () => fv.ops.linear({ data: x.data, shape: [4, NaN] }, w), RangeError, 'linear: x.shape')
  throwsLike(t, () => fv.ops.linear({ data: x.data, shape: [4, 1e300] }, w), RangeError, 'linear: x')
  throwsLike(t, () => fv.ops.linear({ data: x.data, shape: [5, 3] }, w), RangeError, 'linear: x.data', '15 elements', 'got 12')
  throwsLike(t, () => fv.ops.linear(x, { data: w.data, shape: [15] }), RangeError, 'linear: w', '[out, in]', '[15]')
  throwsLike(t, () => fv.ops.linear(x, rand([5, 4], 1)), RangeError, 'linear: x', 'in=4', '[4,3]')
  throwsLike(t, () => fv.ops.linear({ data: new Float32Array(0), shape: [] }, w), RangeError, 'linear: x')
  throwsLike(t, () => fv.ops.linear(x, w, rand([4], 1)), RangeError, 'linear: bias', '[5]', '[4]')
  throwsLike(t, () => fv.ops.linear(x, w, b, { out: rand([5, 4], 1) }), RangeError, 'linear: out.shape', '[4,5]', '[5,4]')
  // An out that shares memory with an input would be read while it is written.
  const shared = new Float32Array(40)
  const xs = { data: shared.subarray(0, 12), shape: [4, 3] }
  throwsLike(t, () => fv.ops.linear(xs, w, b, { out: { data: shared.subarray(10, 30), shape: [4, 5] } }), RangeError, 'linear: out', 'x')
})

test('linearBackward: mismatched dy, bad out and accumulate without outs', (t) => {
  const dy = rand([4, 5], 4)
  throwsLike(t, () => fv.ops.linearBackward(rand([4, 4], 1), x, w), RangeError, 'linearBackward: dy', '[4,5]', '[4,4]')
  throwsLike(t, () => fv.ops.linearBackward(dy, x, w, { out: 5 }), TypeError, 'linearBackward: out must be an object { dx?, dw?, db? }, got 5')
  throwsLike(t, () => fv.ops.linearBackward(dy, x, w, { out: { dz: x } }), TypeError, "'dz'")
  throwsLike(t, () => fv.ops.linearBackward(dy, x, w, { out: { dw: rand([3, 5], 1) } }), RangeError, 'linearBackward: out.dw.shape')
  throwsLike(t, () => fv.ops.linearBackward(dy, x, w, { accumulate: 1 }), TypeError, 'linearBackward: accumulate')
  throwsLike(t, () => fv.ops.linearBackward(dy, x, w, { accumulate: true }), RangeError, 'linearBackward: out')
})

test('Async twins reject with the same errors instead of throwing', async (t) => {
  let threw = false
  let p
  try {
    p = fv.ops.linearAsync(42, w)
  } catch {
    threw = true
  }
  t.false(threw)
  await rejectsLike(t, p, TypeError, 'linear: x')
  await rejectsLike(t, fv.ops.linearAsync(x, rand([5, 4], 1)), RangeError, 'linear: x')
  await rejectsLike(t, fv.ops.linearBackwardAsync(rand([4, 4], 1), x, w), RangeError, 'linearBackward: dy')
})

test('the native layer re-checks sizes and types when called directly', async (t) => {
  // Lie about the sizes: the binding must refuse, not read past the arrays.
  throwsLike(t, () => binding.linear(x.data, w.data, null, null, 1000, 3, 5), RangeError, 'linear: x', '3000')
  throwsLike(t, () => binding.linear(x.data, w.data, null, null, 4, 3, 50), RangeError, 'linear: w')
  throwsLike(t, () => binding.linear(x.data, w.data, b.data.subarray(1), null, 4, 3, 5), RangeError, 'linear: bias')
  throwsLike(t, () => binding.linear(x.data, w.data, null, new Float32Array(3), 4, 3, 5), RangeError, 'linear: out')
  throwsLike(t, () => binding.linear(x.data, w.data, null, null, -4, 3, 5), RangeError, 'linear: M')
  throwsLike(t, () => binding.linear(x.data, w.data, null, null, 4.5, 3, 5), RangeError, 'linear: M')
  throwsLike(t, () => binding.linear(x.data, w.data, null, null, 2 ** 40, 2 ** 40, 5), RangeError, 'linear')
  throwsLike(t, () => binding.linear(new Float64Array(12), w.data, null, null, 4, 3, 5), TypeError, 'linear: x', 'Float64Array')
  throwsLike(t, () => binding.linear(x.data, w.data, null, null, '4', 3, 5), TypeError, 'linear: M')
  throwsLike(t, () => binding.linear(), TypeError, 'linear: x', 'undefined')
  const w3 = rand([3, 3], 5).data
  throwsLike(t, () => binding.linear(x.data, w3, null, x.data, 4, 3, 3), RangeError, 'linear: out', 'share memory with x')
  await rejectsLike(t, binding.linearAsync(x.data, w.data, null, null, 1000, 3, 5), RangeError, 'linear: x')
  throwsLike(t, () => binding.linearBackward(x.data, x.data, w.data, null, null, null, 4, 3, 5, false), RangeError, 'linearBackward: dy')
  // A detached buffer has length 0: refused like any short array.
  const d = new Float32Array(12)
  structuredClone(d.buffer, { transfer: [d.buffer] })
  throwsLike(t, () => binding.linear(d, w.data, null, null, 4, 3, 5), RangeError, 'linear: x')
})

test('runtime settings validate their arguments', (t) => {
  throwsLike(t, () => fv.setNumThreads(0), RangeError, 'setNumThreads: n', 'got 0')
  throwsLike(t, () => fv.setNumThreads(1.5), RangeError, 'setNumThreads: n')
  throwsLike(t, () => fv.setNumThreads(2000), RangeError, 'setNumThreads: n')
  throwsLike(t, () => fv.setNumThreads('2'), TypeError, 'setNumThreads: n')
  throwsLike(t, () => fv.setIsa('sse9'), RangeError, 'setIsa', 'sse9')
  throwsLike(t, () => fv.setIsa(5), TypeError, 'setIsa: isa')
  throwsLike(t, () => fv.setPoolLimit(-1), RangeError, 'setPoolLimit: bytes')
  t.is(fv.info().isa.active, fv.info().isa.best)
})

test('a result larger than a Float32Array can hold is refused before any work', (t) => {
  const x = fv.tensor(new Float32Array(4), [1, 1, 2, 2])
  throwsLike(t, () => fv.ops.maxPool2d(x, { kernel: 1, padding: 2 ** 15 }), RangeError, 'maxPool2d', 'more than a Float32Array holds')
})
