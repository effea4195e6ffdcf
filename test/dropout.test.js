'use strict'
const test = require('ava')
const fv = require('./helpers/fv')
const { philox4x32 } = require('./reference/random')
const { dropout: expected } = require('./reference/dropout')
const { assertDeterministic, forEachIsa } = require('./helpers/determinism')
const { rand } = require('./helpers/random')
const { assertBitIdentical } = require('./helpers/check')

const hex = (w) => w.map((v) => v.toString(16).padStart(8, '0')).join(' ')

test('the JS Philox4x32-10 matches the Random123 known-answer vectors', (t) => {
  t.is(hex(philox4x32(0, 0, 0, 0, 0, 0)), '6627e8d5 e169c58d bc57ac4c 9b00dbd8')
  t.is(hex(philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff)), '408f276d 41c83b0e a20bc7c6 6d5451fd')
  t.is(hex(philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0)), 'd16cfe09 94fdcceb 5001e420 24126ea1')
})

// Lengths around the vector steps (64 / 32 elements) and the 4-element Philox blocks.
for (const n of [1, 3, 4, 5, 31, 33, 63, 64, 65, 1000, 100003]) {
  for (const [p, seed] of [[0.5, 1], [0.1, 2 ** 32 + 7], [0.9, Number.MAX_SAFE_INTEGER]]) {
    test(`dropout x=[${n}] p=${p} seed=${seed}: the mask equals the JS Philox reference bit for bit`, (t) => {
      const x = rand([n], n + 1, -2, 2)
      const y = fv.ops.dropout(x, { p, seed })
      assertBitIdentical(t, y.data, expected(x.data, p, seed), 'y')
      // The backward regenerates the same mask from the seed.
      const dy = rand([n], n + 2)
      assertBitIdentical(t, fv.ops.dropoutBackward(dy, { p, seed }).data, expected(dy.data, p, seed), 'dx')
    })
  }
}

test('dropout keeps about 1 − p of the elements and preserves the mean', (t) => {
  const n = 1 << 20
  const x = fv.tensor(new Float32Array(n).fill(1), [n])
  for (const p of [0.1, 0.5, 0.8]) {
    const y = fv.ops.dropout(x, { p, seed: 42 })
    let kept = 0; let sum = 0
    for (const v of y.data) { if (v !== 0) kept++; sum += v }
    // binomial: 5 standard deviations
    t.true(Math.abs(kept / n - (1 - p)) < 5 * Math.sqrt(p * (1 - p) / n), `p=${p}: kept ${kept / n}`)
    t.true(Math.abs(sum / n - 1) < 0.01, `p=${p}: mean ${sum / n}`)
  }
})

test('dropout edge cases: p=0 copies, p=1 zeroes, training=false is the identity, NaN stays NaN', (t) => {
  const x = rand([1000], 1)
  assertBitIdentical(t, fv.ops.dropout(x, { p: 0, seed: 3 }).data, x.data, 'p=0')
  t.true(fv.ops.dropout(x, { p: 1, seed: 3 }).data.every((v) => v === 0), 'p=1')
  assertBitIdentical(t, fv.ops.dropout(x, { p: 0.7, training: false }).data, x.data, 'eval')
  const y = fv.ops.dropout(x, { p: 0.7, training: false })
  t.not(y.data, x.data, 'eval returns a copy, not the input')
  const nan = fv.tensor(new Float32Array(256).fill(NaN), [256])
  t.true(fv.ops.dropout(nan, { p: 0.5, seed: 9 }).data.every(Number.isNaN), 'NaN·0 = NaN (PyTorch)')
})

test('different seeds give different masks; the same seed the same mask', (t) => {
  const x = fv.tensor(new Float32Array(4096).fill(1), [4096])
  const a = fv.ops.dropout(x, { seed: 1 }); const b = fv.ops.dropout(x, { seed: 2 }); const c = fv.ops.dropout(x, { seed: 1 })
  assertBitIdentical(t, a.data, c.data, 'same seed')
  let diff = 0
  for (let i = 0; i < 4096; i++) if (a.data[i] !== b.data[i]) diff++
  t.true(diff > 1500, `seeds 1 and 2 differ in ${diff} of 4096`)
})

test('dropout is bit-identical across thread counts and ISA variants', async (t) => {
  const x = rand([3, 333333], 5)
  const ref = fv.ops.dropout(x, { p: 0.3, seed: 77 })
  assertDeterministic(t, () => [fv.ops.dropout(x, { p: 0.3, seed: 77 }), fv.ops.dropoutBackward(x, { p: 0.3, seed: 77 })])
  forEachIsa((isa) => {
    assertBitIdentical(t, fv.ops.dropout(x, { p: 0.3, seed: 77 }).data, ref.data, isa)
  })
  assertBitIdentical(t, (await fv.ops.dropoutAsync(x, { p: 0.3, seed: 77 })).data, ref.data, 'Async')
  assertBitIdentical(t, (await fv.ops.dropoutBackwardAsync(x, { p: 0.3, seed: 77 })).data, ref.data, 'backward Async')
})

test('dropout writes into out', (t) => {
  const x = rand([70], 1); const out = fv.tensor(new Float32Array(70), [70])
  t.is(fv.ops.dropout(x, { seed: 5, out }), out)
  assertBitIdentical(t, out.data, fv.ops.dropout(x, { seed: 5 }).data)
})

test('dropout rejects bad input with TypeError / RangeError naming the op and argument', (t) => {
  const x = rand([4], 1)
  t.throws(() => fv.ops.dropout(x), { instanceOf: TypeError, message: /^dropout: seed must be a non-negative safe integer when p > 0 \(the mask's key\), got undefined/ })
  t.throws(() => fv.ops.dropout(x, { seed: -1 }), { instanceOf: RangeError, message: /^dropout: seed must be an integer from 0 to 9007199254740991, got -1/ })
  t.throws(() => fv.ops.dropout(x, { seed: 1.5 }), { instanceOf: RangeError, message: /^dropout: seed must be an integer/ })
  t.throws(() => fv.ops.dropout(x, { seed: '1' }), { instanceOf: TypeError, message: /^dropout: seed must be an integer, got a string/ })
  t.throws(() => fv.ops.dropout(x, { seed: 1, p: 1.2 }), { instanceOf: RangeError, message: /^dropout: p must be a number from 0 to 1, got 1.2/ })
  t.throws(() => fv.ops.dropout(x, { seed: 1, training: 'yes' }), { instanceOf: TypeError, message: /^dropout: training must be a boolean/ })
  t.throws(() => fv.ops.dropoutBackward(3, { seed: 1 }), { instanceOf: TypeError, message: /^dropoutBackward: dy must be a tensor/ })
  const { binding } = require('../dist/native')
  t.throws(() => binding.dropout(new Float32Array(4), null, 2, 1), { instanceOf: RangeError, message: /dropout: p must be in \[0, 1\]/ })
  t.throws(() => binding.dropout(new Float32Array(4), null, 0.5, 2 ** 53), { instanceOf: RangeError, message: /dropout: seed must be an integer from 0 to 9007199254740991/ })
})
