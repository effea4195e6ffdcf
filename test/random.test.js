'use strict'
// fv.ops.uniform_ / normal_: the Philox stream of native/cpu/random/random.h against a JS
// reference (uniform bit for bit, normal within an ulp: JS's Math.log/cos/sin are not
// glibc's), the bounds and moments of the distributions, determinism across thread counts
// and ISA levels, the Async twins, and bad input.
const test = require('ava')
const fv = require('./helpers/fv')
const { uniform: uniformRef, normal: normalRef } = require('./reference/random')
const { assertDeterministic, forEachIsa } = require('./helpers/determinism')
const { assertBitIdentical, assertUlps } = require('./helpers/check')

const empty = (n) => fv.tensor(new Float32Array(n), [n])

for (const n of [1, 15, 17, 63, 64, 65, 1000, 4099]) {
  for (const [lo, hi, seed] of [[0, 1, 1], [-3, 5, 2 ** 32 + 9], [1, 1 + 2 ** -20, Number.MAX_SAFE_INTEGER]]) {
    test(`uniform_ t=[${n}] [${lo}, ${hi}) seed=${seed} equals the JS Philox reference bit for bit`, (t) => {
      const x = empty(n)
      t.is(fv.ops.uniform_(x, lo, hi, seed), x, 'returns t itself')
      assertBitIdentical(t, x.data, uniformRef(n, lo, hi, seed), 'values')
      t.true(x.data.every((v) => v >= lo && v < hi), 'every value in [lo, hi)')
    })
  }
  test(`normal_ t=[${n}] equals the JS Box–Muller reference within an ulp`, (t) => {
    const x = empty(n)
    fv.ops.normal_(x, 0.5, 2, 77)
    assertUlps(t, x.data, normalRef(n, 0.5, 2, 77), 1, 'values')
  })
}

test('distributions: moments of uniform_ and normal_ (within 5 standard errors), lo = hi, std = 0', (t) => {
  const n = 1 << 20
  const x = empty(n)
  const moments = () => {
    let s = 0; let q = 0
    for (const v of x.data) { s += v; q += v * v }
    const m = s / n
    return [m, Math.sqrt(q / n - m * m)]
  }
  fv.ops.uniform_(x, -1, 3, 5)
  let [m, s] = moments()
  t.true(Math.abs(m - 1) < 5 * (4 / Math.sqrt(12)) / Math.sqrt(n), `uniform mean ${m}`)
  t.true(Math.abs(s - 4 / Math.sqrt(12)) < 1e-3, `uniform std ${s}`)
  const bins = new Array(8).fill(0)
  for (const v of x.data) bins[Math.floor((v + 1) * 2)]++
  t.true(bins.every((c) => Math.abs(c - n / 8) < 5 * Math.sqrt(n / 8)), `uniform bins ${bins}`)
  fv.ops.normal_(x, -2, 3, 6);
  [m, s] = moments()
  t.true(Math.abs(m + 2) < 5 * 3 / Math.sqrt(n), `normal mean ${m}`)
  t.true(Math.abs(s - 3) < 5 * 3 / Math.sqrt(2 * n), `normal std ${s}`)
  let within1 = 0
  for (const v of x.data) if (Math.abs(v + 2) < 3) within1++
  t.true(Math.abs(within1 / n - 0.682689) < 3e-3, `normal: ${within1 / n} within one sd`)
  fv.ops.uniform_(x, 2, 2, 1); t.true(x.data.every((v) => v === 2), 'lo = hi')
  fv.ops.normal_(x, 7, 0, 1); t.true(x.data.every((v) => v === 7), 'std = 0')
})

test.serial('uniform_ and normal_ are bit-identical across thread counts and ISA levels', (t) => {
  const run = () => {
    const a = empty(100003); const b = empty(100003)
    fv.ops.uniform_(a, -1, 1, 12345)
    fv.ops.normal_(b, 0, 1, 12345)
    return [a, b]
  }
  assertDeterministic(t, run)
  const ref = run()
  forEachIsa((isa) => run().forEach((r, i) => assertBitIdentical(t, r, ref[i], `${isa}: result ${i}`)))
})

test('the Async twins fill the same values; a plain TensorLike comes back as a Tensor over its data', async (t) => {
  const a = empty(5000); const b = empty(5000)
  fv.ops.normal_(a, 1, 2, 3)
  t.is(await fv.ops.normal_Async(b, 1, 2, 3), b)
  assertBitIdentical(t, b, a, 'normal_Async')
  fv.ops.uniform_(a, 0, 1, 4)
  await fv.ops.uniform_Async(b, 0, 1, 4)
  assertBitIdentical(t, b, a, 'uniform_Async')
  const plain = { data: new Float32Array(6), dims: [2, 3] }
  const r = fv.ops.uniform_(plain, 0, 1, 1)
  t.true(r instanceof fv.Tensor); t.is(r.data, plain.data); t.deepEqual([...r.shape], [2, 3])
  await t.throwsAsync(fv.ops.uniform_Async(a, 1, 0, 1), { instanceOf: RangeError, message: /^uniform_: hi must be a number ≥ lo=1, got 0/ })
})

test('uniform_ / normal_ reject bad input naming the op and argument', (t) => {
  const x = empty(4)
  const cases = [
    [() => fv.ops.uniform_([1, 2], 0, 1, 1), TypeError, /^uniform_: t must be a tensor/],
    [() => fv.ops.uniform_(x, 0, 1), TypeError, /^uniform_: seed must be a non-negative safe integer, got undefined/],
    [() => fv.ops.uniform_(x, 0, 1, -1), RangeError, /^uniform_: seed must be an integer from 0 to 9007199254740991, got -1/],
    [() => fv.ops.uniform_(x, 2, 1, 1), RangeError, /^uniform_: hi must be a number ≥ lo=2, got 1/],
    [() => fv.ops.uniform_(x, 0, Infinity, 1), RangeError, /^uniform_: hi must be a finite number, got Infinity/],
    [() => fv.ops.uniform_(x, NaN, 1, 1), RangeError, /^uniform_: lo must be a finite number, got NaN/],
    [() => fv.ops.uniform_(x, '0', 1, 1), TypeError, /^uniform_: lo must be a finite number, got a string/],
    [() => fv.ops.uniform_(x, -1.7e308, 1.7e308, 1), RangeError, /^uniform_: hi must be within the float64 range of lo/],
    [() => fv.ops.normal_(x, 0, -1, 1), RangeError, /^normal_: std must be a number ≥ 0, got -1/],
    [() => fv.ops.normal_(x, 0, 1, 1.5), RangeError, /^normal_: seed must be an integer/]
  ]
  for (const [fn, Err, re] of cases) t.throws(fn, { instanceOf: Err, message: re })
  const disposed = fv.ops.relu(fv.tensor(new Float32Array(1 << 15), [1 << 15]))
  disposed.dispose()
  t.throws(() => fv.ops.normal_(disposed, 0, 1, 1), { instanceOf: TypeError, message: /^normal_: t must be a live tensor/ })
})
