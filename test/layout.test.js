'use strict'
// permute (x.permute(dims).contiguous()), the layout change the attention modules make
// between [L, B, E] / [N, C, H·W] and the heads the fused kernels read: an exact copy,
// checked element by element against index arithmetic.
const test = require('ava')
const fv = require('./helpers/fv')
const { rand } = require('./helpers/random')
const { assertBitIdentical } = require('./helpers/check')
const { permute: refPermute } = require('./reference/layout')

const sh = (s) => `[${s.join(',')}]`

const CASES = [
  [[], []], [[7], [0]], [[3, 5], [1, 0]], [[2, 3, 4, 5], [0, 2, 1, 3]], [[2, 3, 4, 5], [3, 2, 1, 0]],
  [[6, 2, 4, 8], [1, 2, 0, 3]], [[4, 1, 3, 1, 5], [4, 3, 2, 1, 0]], [[3, 70, 45], [0, 2, 1]], [[3, 70, 45], [2, 1, 0]],
  [[2, 33, 3, 8, 4], [2, 0, 3, 1, 4]], [[5, 2, 3, 4, 8], [0, 1, 3, 2, 4]], [[2, 2, 2, 2, 2, 2, 2, 3], [7, 1, 5, 3, 0, 6, 2, 4]],
  [[0, 4, 3], [2, 0, 1]], [[1, 1, 9], [2, 1, 0]]
]

for (const [shape, perm] of CASES) {
  test(`permute x=${sh(shape)} dims=${sh(perm)} is exact`, async (t) => {
    const x = rand(shape, shape.length * 7 + perm[0] || 1)
    const y = fv.ops.permute(x, perm)
    t.deepEqual(y.shape, perm.map((a) => shape[a]))
    const r = refPermute(x.data, shape, perm)
    assertBitIdentical(t, y.data, r, 'sync')
    assertBitIdentical(t, (await fv.ops.permuteAsync(x, perm)).data, r, 'async')
    const back = fv.ops.permute(y, fv.ops.inversePermutation(perm))
    assertBitIdentical(t, back.data, x.data, 'inverse permutation restores x')
  })
}

test('permute x=[8,64,8,32] dims=[0,2,1,3] (MHA heads) with out, negative dims', (t) => {
  const x = rand([8, 64, 8, 32], 5)
  const out = fv.tensor(new Float32Array(x.data.length), [8, 8, 64, 32])
  const y = fv.ops.permute(x, [0, -2, 1, -1], { out })
  t.is(y, out)
  assertBitIdentical(t, out.data, refPermute(x.data, x.shape, [0, 2, 1, 3]), 'into out')
})

test('permute bad arguments name the op and the argument', async (t) => {
  const x = rand([2, 3, 4], 1)
  t.throws(() => fv.ops.permute(x, [0, 1]), { instanceOf: RangeError, message: /permute: dims must be a permutation of 0 to 2/ })
  t.throws(() => fv.ops.permute(x, [0, 1, 1]), { instanceOf: RangeError, message: /permute: dims/ })
  t.throws(() => fv.ops.permute(x, [0, 1, 3]), { instanceOf: RangeError, message: /permute: dims/ })
  t.throws(() => fv.ops.permute(x, [0, 1.5, 2]), { instanceOf: RangeError, message: /permute: dims/ })
  t.throws(() => fv.ops.permute(x, '012'), { instanceOf: TypeError, message: /permute: dims/ })
  t.throws(() => fv.ops.permute([1, 2], [0]), { instanceOf: TypeError, message: /permute: x/ })
  t.throws(() => fv.ops.permute(x, [0, 2, 1], { out: fv.tensor(new Float32Array(24), [2, 3, 4]) }),
    { instanceOf: RangeError, message: /permute: out\.shape must be \[2,4,3\]/ })
  t.throws(() => fv.ops.permute(x, [0, 2, 1], { out: { data: x.data, shape: [2, 4, 3] } }),
    { instanceOf: RangeError, message: /permute: out must be memory not shared with x/ })
  t.throws(() => fv.ops.permute(x, [0, 2, 1], { outt: 1 }), { instanceOf: TypeError, message: /permute: options/ })
  await t.throwsAsync(fv.ops.permuteAsync(x, [2, 2, 0]), { instanceOf: RangeError, message: /permute: dims/ })
  t.throws(() => fv.ops.permute(rand([1, 1, 1, 1, 1, 1, 1, 1, 2], 1), [0, 1, 2, 3, 4, 5, 6, 7, 8]),
    { instanceOf: RangeError, message: /permute: x must be a tensor of rank ≤ 8/ })
})

test('inversePermutation: anything but an array is a TypeError naming it', (t) => {
  for (const bad of [undefined, null, 3, '012', { length: 2 }]) {
    t.throws(() => fv.ops.inversePermutation(bad), { instanceOf: TypeError, message: /^inversePermutation: dims must be a permutation/ })
  }
  t.deepEqual(fv.ops.inversePermutation([]), [])
  t.deepEqual(fv.ops.inversePermutation([2, 0, -2]), [1, 2, 0])
})
