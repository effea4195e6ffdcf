'use strict'
// Bad input to the conv family: TypeError for a wrong kind of value, RangeError for a wrong
// value, each message naming the op and the argument; and the native re-check, reached
// directly, refuses inconsistent sizes instead of reading out of bounds.
const test = require('ava')
const fv = require('./helpers/fv')
const { throwsLike } = require('./helpers/errors')
const { rand } = require('./helpers/random')
const { binding } = require('../dist/native')

const x = rand([2, 3, 8, 8], 1)
const w = rand([4, 3, 3, 3], 2)

test('conv2d: channel mismatch, groups, kernel size and shapes are RangeErrors naming the argument', (t) => {
  throwsLike(t, () => fv.ops.conv2d(x, rand([4, 2, 3, 3], 3)), RangeError,
    /^conv2d: w must be \[Cout,C\/groups,kH,kW\] with C\/groups=3 .*got \[4,2,3,3\]$/)
  throwsLike(t, () => fv.ops.conv2d(x, rand([4, 1, 3, 3], 3), null, { groups: 2 }), RangeError,
    /^conv2d: groups must be a divisor of the input channels C=3, got 2$/)
  throwsLike(t, () => fv.ops.conv2d(rand([1, 4, 5, 5], 1), rand([3, 2, 3, 3], 3), null, { groups: 2 }), RangeError,
    /^conv2d: groups must be a divisor of the output channels Cout=3/)
  throwsLike(t, () => fv.ops.conv2d(x, w, null, { groups: 0 }), RangeError, /^conv2d: groups must be an integer from 1/)
  throwsLike(t, () => fv.ops.conv2d(x, rand([4, 3, 9, 3], 3)), RangeError,
    /^conv2d: w must be a window that fits the padded input 8x8, got 9x3$/)
  throwsLike(t, () => fv.ops.conv2d(x, w, null, { dilation: 4 }), RangeError,
    /^conv2d: w must be a window \(dilated 9x9\) that fits the padded input 8x8, got 3x3$/)
  t.notThrows(() => fv.ops.conv2d(x, rand([4, 3, 9, 3], 3), null, { padding: [1, 0] }), 'fits once padded')
  throwsLike(t, () => fv.ops.conv2d(rand([3, 8, 8], 1), w), RangeError, /^conv2d: x must be \[N,C,H,W\] \(rank 4\), got \[3,8,8\]$/)
  throwsLike(t, () => fv.ops.conv2d(x, rand([4, 3, 3], 1)), RangeError, /^conv2d: w must be \[Cout,C\/groups,kH,kW\] \(rank 4\)/)
  throwsLike(t, () => fv.ops.conv2d(x, { data: new Float32Array(0), shape: [4, 3, 0, 3] }), RangeError, /^conv2d: w must be .* kernel sizes ≥ 1/)
  throwsLike(t, () => fv.ops.conv2d(x, w, rand([5], 1)), RangeError, /^conv2d: bias must be \[4\] \(the output channels\), got \[5\]$/)
})

test('conv2d: zero or negative stride and dilation, bad padding and activation', (t) => {
  for (const stride of [0, -1, [1, 0], 1.5]) {
    throwsLike(t, () => fv.ops.conv2d(x, w, null, { stride }), RangeError, /^conv2d: stride must be a positive integer or \[h, w\]/)
  }
  for (const dilation of [0, -2, [0, 1]]) {
    throwsLike(t, () => fv.ops.conv2d(x, w, null, { dilation }), RangeError, /^conv2d: dilation must be a positive integer/)
  }
  throwsLike(t, () => fv.ops.conv2d(x, w, null, { stride: '2' }), TypeError, /^conv2d: stride must be .*, got a string "2"$/)
  throwsLike(t, () => fv.ops.conv2d(x, w, null, { stride: [1, 2, 3] }), TypeError, /^conv2d: stride must be/)
  throwsLike(t, () => fv.ops.conv2d(x, w, null, { padding: -1 }), RangeError, /^conv2d: padding must be an integer ≥ 0/)
  throwsLike(t, () => fv.ops.conv2d(x, w, null, { padding: [1, 2, 3] }), TypeError, /^conv2d: padding must be/)
  throwsLike(t, () => fv.ops.conv2d(x, w, null, { padding: 'SAME' }), RangeError, /^conv2d: padding must be .* or 'same' or 'valid', got a string "SAME"$/)
  throwsLike(t, () => fv.ops.conv2d(x, w, null, { activation: 'gelu' }), RangeError, /^conv2d: activation must be 'none' or 'relu'/)
  throwsLike(t, () => fv.ops.conv2d(x, w, null, { activation: true }), TypeError, /^conv2d: activation must be/)
  throwsLike(t, () => fv.ops.conv2d(x, w, null, { strides: 2 }), TypeError, /^conv2d: options must be .*unknown key 'strides'$/)
  throwsLike(t, () => fv.ops.conv2d(x.data, w), TypeError, /^conv2d: x must be a tensor/)
  throwsLike(t, () => fv.ops.conv2d(x, { data: [1, 2], shape: [1, 1, 1, 2] }), TypeError, /^conv2d: w.data must be a Float32Array/)
  throwsLike(t, () => fv.ops.conv2d(x, w, null, { out: rand([2, 4, 8, 8], 3) }), RangeError, /^conv2d: out.shape must be \[2,4,6,6\], got \[2,4,8,8\]$/)
  throwsLike(t, () => fv.ops.conv2d(x, w, null, { out: { data: x.data.subarray(0, 288), shape: [2, 4, 6, 6] } }), RangeError,
    /^conv2d: out must be memory not shared with x/)
})

test('conv2dBackward, conv2dTranspose, conv1d: their own bad input', (t) => {
  const dy = rand([2, 4, 6, 6], 3)
  throwsLike(t, () => fv.ops.conv2dBackward(rand([2, 4, 8, 8], 3), x, w), RangeError,
    /^conv2dBackward: dy must be \[2,4,6,6\] \(the shape of the forward's result\), got \[2,4,8,8\]$/)
  throwsLike(t, () => fv.ops.conv2dBackward(dy, x, w, { accumulate: true }), RangeError, /^conv2dBackward: out must be at least one of dx, dw and db/)
  throwsLike(t, () => fv.ops.conv2dBackward(dy, x, w, { stride: 0 }), RangeError, /^conv2dBackward: stride must be/)
  throwsLike(t, () => fv.ops.conv2dBackward(dy, x, w, { out: { dq: null } }), TypeError, /unknown key 'dq'/)

  const xt = rand([2, 4, 5, 5], 4)
  throwsLike(t, () => fv.ops.conv2dTranspose(xt, rand([3, 2, 3, 3], 5)), RangeError,
    /^conv2dTranspose: w must be \[C,Cout\/groups,kH,kW\] with C=4 as x, got \[3,2,3,3\]$/)
  throwsLike(t, () => fv.ops.conv2dTranspose(xt, rand([4, 2, 3, 3], 5), null, { stride: 2, outputPadding: 2 }), RangeError,
    /^conv2dTranspose: outputPadding must be less than the stride \[2,2\], got \[2,2\]$/)
  throwsLike(t, () => fv.ops.conv2dTranspose(xt, rand([4, 2, 3, 3], 5), null, { padding: 'same' }), RangeError,
    /^conv2dTranspose: padding must be an integer ≥ 0, \[h, w\] or \[top, bottom, left, right\], got a string/)
  throwsLike(t, () => fv.ops.conv2dTranspose(xt, rand([4, 2, 3, 3], 5), null, { padding: 4 }), RangeError,
    /^conv2dTranspose: padding must be small enough to leave an output/)
  throwsLike(t, () => fv.ops.conv2dTranspose(xt, rand([4, 2, 3, 3], 5), null, { groups: 3 }), RangeError,
    /^conv2dTranspose: groups must be a divisor of the input channels C=4, got 3$/)

  const x1 = rand([2, 3, 10], 6)
  throwsLike(t, () => fv.ops.conv1d(x1, rand([4, 3, 3, 1], 7)), RangeError, /^conv1d: w must be \[Cout,C\/groups,k\] \(rank 3\)/)
  throwsLike(t, () => fv.ops.conv1d(x1, rand([4, 2, 3], 7)), RangeError, /^conv1d: w must be \[Cout,C\/groups,k\] with C\/groups=3/)
  throwsLike(t, () => fv.ops.conv1d(x1, rand([4, 3, 11], 7)), RangeError, /^conv1d: w must be a window that fits the padded input 1x10, got 1x11$/)
  throwsLike(t, () => fv.ops.conv1d(x1, rand([4, 3, 3], 7), null, { stride: 0 }), RangeError, /^conv1d: stride must be a positive integer, got 0$/)
  throwsLike(t, () => fv.ops.conv1d(x1, rand([4, 3, 3], 7), null, { padding: [1, 2, 3, 4] }), TypeError, /^conv1d: padding must be/)
})

test('the native conv functions re-check what they are given and never read out of bounds', (t) => {
  const g = [2, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1]
  t.notThrows(() => binding.conv2d(x.data, w.data, null, null, g, false))
  // x one element short, w for another channel count, inconsistent geometry, zero stride,
  // a kernel past the padded input, groups not dividing, a malformed geometry array.
  throwsLike(t, () => binding.conv2d(x.data.subarray(1), w.data, null, null, g, false), RangeError, /^conv2d: x must have 384 elements/)
  throwsLike(t, () => binding.conv2d(x.data, w.data, null, null, [2, 3, 8, 8, 4, 2, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1], false), RangeError, /^conv2d: w must have/)
  throwsLike(t, () => binding.conv2d(x.data, w.data, null, null, [2, 3, 8, 8, 4, 3, 3, 0, 1, 1, 1, 0, 0, 0, 0, 1], false), RangeError, /^conv2d: strides must be positive/)
  throwsLike(t, () => binding.conv2d(x.data, w.data, null, null, [2, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, -5, 0, 0, 0, 1], false), RangeError, /^conv2d: sizes and padding/)
  throwsLike(t, () => binding.conv2d(x.data, w.data, null, null, [2, 3, 2, 2, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1], false), RangeError)
  throwsLike(t, () => binding.conv2d(x.data, w.data, null, null, [2, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 2], false), RangeError, /^conv2d: groups must divide/)
  throwsLike(t, () => binding.conv2d(x.data, w.data, null, null, [2, 3, 8, 8], false), RangeError, /^conv2d: geometry must hold 16 integers/)
  throwsLike(t, () => binding.conv2d(x.data, w.data, null, null, 'abc', false), TypeError, /^conv2d: geometry must be an array/)
  throwsLike(t, () => binding.conv2d(x.data, w.data, null, null, [2, 3, 8, 8, 4, 3, 3, 1, 1, 1e30, 1, 0, 0, 0, 0, 1], false), RangeError)
  throwsLike(t, () => binding.conv2dBackward(x.data, x.data, w.data, null, null, null, g, false), RangeError, /^conv2dBackward: dy must have/)
  throwsLike(t, () => binding.conv2dTranspose(x.data, w.data, null, null, g, false), RangeError, /^conv2dTranspose: x must have/)
})
