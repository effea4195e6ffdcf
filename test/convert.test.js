'use strict'
// fv.ops.f16ToF32 / bf16ToF32 / f32ToF16 / f32ToBf16 against the plain-JS reference in
// test/reference/convert.js: every 16-bit code, every rounding tie, random bit patterns,
// on every ISA level, sync and Async.
const test = require('ava')
const fv = require('./helpers/fv')
const ref = require('./reference/convert')
const { forEachIsa } = require('./helpers/determinism')
const { rng } = require('./helpers/random')

const ALL_CODES = Uint16Array.from({ length: 65536 }, (_, i) => i)

function bitsOfArray (f) { return new Uint32Array(f.buffer, f.byteOffset, f.length) }

// The first index where got and expected (arrays of integers) differ, or -1.
function firstDiff (got, expected) {
  if (got.length !== expected.length) return -2
  for (let i = 0; i < got.length; i++) if (got[i] !== expected[i]) return i
  return -1
}

function assertSameCodes (t, got, expected, input, label) {
  const i = firstDiff(got, expected)
  const shown = (k) => input instanceof Float32Array
    ? `${input[k]} (bits 0x${ref.bitsOf(input[k]).toString(16)})`
    : `0x${input[k].toString(16)}`
  const where = i === -2
    ? `lengths ${got.length} and ${expected.length}`
    : i >= 0 ? `at ${i}: input ${shown(i)} gave 0x${got[i].toString(16)}, expected 0x${expected[i].toString(16)}` : ''
  t.is(i, -1, `${label}: ${where}`)
}

// float32 inputs that exercise narrowing: edge values, every F16 value and every tie
// between neighbouring F16 codes with a float ulp either side, every BF16 tie likewise,
// and random bit patterns (all exponents, NaNs included).
function narrowingInputs () {
  const v = [0, -0, 1, -1, 1 / 3, 65504, 65519.99, 65520, -65520, 65536, 1e30, -1e30, 3.4028234663852886e38,
    Infinity, -Infinity, NaN, 2 ** -14, 2 ** -24, 2 ** -25, -(2 ** -25), 2 ** -25 * 1.5, 2 ** -26, 1e-40, -1e-40,
    1.401298464324817e-45, 1.1754942106924411e-38, 2 ** -14 - 2 ** -25]
  const bits = [0x7F800001, 0xFF800001, 0x7FC00000, 0xFFC00000, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FA00000, 0x7F802000,
    0xFFC02000, 0x7F7FFFFF, 0x7F7F8000, 0x7F7F7FFF, 0x00008000, 0x80018000, 0x3F808000, 0x3F818000]
  for (const b of bits) v.push(ref.floatOf(b))
  for (let h = 0; h < 0x7C00; h++) {
    const a = ref.f16Value(h)
    const b = h + 1 === 0x7C00 ? 65536 : ref.f16Value(h + 1)
    const mid = (a + b) / 2  // exactly a float32: at most 12 significant bits
    for (const s of [1, -1]) {
      v.push(s * a, s * mid)
      const mb = ref.bitsOf(s * mid)
      v.push(ref.floatOf(mb + 1), ref.floatOf(mb - 1))
    }
  }
  for (let c = 0; c < 0x10000; c++) {
    if ((c & 0x7F80) === 0x7F80) continue
    const tie = ((c << 16) | 0x8000) >>> 0
    v.push(ref.floatOf(tie), ref.floatOf(tie + 1), ref.floatOf(tie - 1))
  }
  const r = rng(20240611)
  for (let i = 0; i < 100000; i++) v.push(ref.floatOf(Math.floor(r() * 2 ** 32)))
  return Float32Array.from(v)
}

const X = narrowingInputs()
const EXPECT = {
  f16ToF32: Uint32Array.from(ALL_CODES, ref.f16ToF32Bits),
  bf16ToF32: Uint32Array.from(ALL_CODES, ref.bf16ToF32Bits),
  f32ToF16: Uint16Array.from(X, ref.f32ToF16),
  f32ToBf16: Uint16Array.from(X, ref.f32ToBf16)
}

test('the reference itself: known codes', (t) => {
  // Independent anchors (IEEE 754 tables), so the reference cannot be wrong in a way the
  // kernels copy: 1.0, the largest half, the smallest subnormal, 1/3 in both formats.
  t.is(ref.f32ToF16(1), 0x3C00)
  t.is(ref.f32ToF16(65504), 0x7BFF)
  t.is(ref.f32ToF16(2 ** -24), 0x0001)
  t.is(ref.f32ToF16(1 / 3), 0x3555)
  t.is(ref.f32ToBf16(1 / 3), 0x3EAB)
  t.is(ref.f32ToBf16(1), 0x3F80)
  t.is(ref.f16Value(0x3555), 0.333251953125)
})

test.serial('f16ToF32 and bf16ToF32 give all 65536 codes exactly, on every ISA', (t) => {
  forEachIsa((isa) => {
    assertSameCodes(t, bitsOfArray(fv.ops.f16ToF32(ALL_CODES)), EXPECT.f16ToF32, ALL_CODES, `f16ToF32 ${isa}`)
    assertSameCodes(t, bitsOfArray(fv.ops.bf16ToF32(ALL_CODES)), EXPECT.bf16ToF32, ALL_CODES, `bf16ToF32 ${isa}`)
  })
})

test.serial(`f32ToF16 and f32ToBf16 round ${X.length} values (every tie, NaNs, subnormals) to nearest even, on every ISA`, (t) => {
  forEachIsa((isa) => {
    assertSameCodes(t, fv.ops.f32ToF16(X), EXPECT.f32ToF16, X, `f32ToF16 ${isa}`)
    assertSameCodes(t, fv.ops.f32ToBf16(X), EXPECT.f32ToBf16, X, `f32ToBf16 ${isa}`)
  })
})

test.serial('every length 0…40 and an unaligned start take the vector and the tail paths alike', (t) => {
  forEachIsa((isa) => {
    for (let n = 0; n <= 40; n++) {
      for (const start of [0, 1, 3]) {
        const h = ALL_CODES.subarray(0x3B00 + start, 0x3B00 + start + n)
        const f = X.subarray(1000 + start, 1000 + start + n)
        const tag = `${isa} n=${n} start=${start}`
        assertSameCodes(t, bitsOfArray(fv.ops.f16ToF32(h)), EXPECT.f16ToF32.subarray(0x3B00 + start, 0x3B00 + start + n), h, `f16ToF32 ${tag}`)
        assertSameCodes(t, bitsOfArray(fv.ops.bf16ToF32(h)), EXPECT.bf16ToF32.subarray(0x3B00 + start, 0x3B00 + start + n), h, `bf16ToF32 ${tag}`)
        assertSameCodes(t, fv.ops.f32ToF16(f), EXPECT.f32ToF16.subarray(1000 + start, 1000 + start + n), f, `f32ToF16 ${tag}`)
        assertSameCodes(t, fv.ops.f32ToBf16(f), EXPECT.f32ToBf16.subarray(1000 + start, 1000 + start + n), f, `f32ToBf16 ${tag}`)
      }
    }
  })
})

test.serial('1 and 3 threads give the reference on an array that spans several chunks', (t) => {
  const before = fv.getNumThreads()
  try {
    for (const n of [1, 3]) {
      fv.setNumThreads(n)
      assertSameCodes(t, fv.ops.f32ToF16(X), EXPECT.f32ToF16, X, `f32ToF16 ${n} threads`)
      assertSameCodes(t, fv.ops.f32ToBf16(X), EXPECT.f32ToBf16, X, `f32ToBf16 ${n} threads`)
    }
  } finally {
    fv.setNumThreads(before)
  }
})

test('round trips: F16 codes → float32 → F16 give back every non-signalling code', (t) => {
  const back = fv.ops.f32ToF16(fv.ops.f16ToF32(ALL_CODES))
  // A signalling NaN (exponent all ones, top mantissa bit clear, payload non-zero) comes
  // back quiet; every other code comes back as it was.
  const expected = ALL_CODES.map((h) => ((h & 0x7C00) === 0x7C00 && (h & 0x3FF) !== 0) ? h | 0x200 : h)
  assertSameCodes(t, back, expected, ALL_CODES, 'f16 round trip')
  const bback = fv.ops.f32ToBf16(fv.ops.bf16ToF32(ALL_CODES))
  const bexpected = ALL_CODES.map((h) => ((h & 0x7F80) === 0x7F80 && (h & 0x7F) !== 0) ? h | 0x40 : h)
  assertSameCodes(t, bback, bexpected, ALL_CODES, 'bf16 round trip')
})

test('Async twins give the sync results', async (t) => {
  const [a, b, c, d] = await Promise.all([fv.ops.f16ToF32Async(ALL_CODES), fv.ops.bf16ToF32Async(ALL_CODES),
    fv.ops.f32ToF16Async(X), fv.ops.f32ToBf16Async(X)])
  t.true(a instanceof Float32Array)
  t.true(c instanceof Uint16Array)
  assertSameCodes(t, bitsOfArray(a), EXPECT.f16ToF32, ALL_CODES, 'f16ToF32Async')
  assertSameCodes(t, bitsOfArray(b), EXPECT.bf16ToF32, ALL_CODES, 'bf16ToF32Async')
  assertSameCodes(t, c, EXPECT.f32ToF16, X, 'f32ToF16Async')
  assertSameCodes(t, d, EXPECT.f32ToBf16, X, 'f32ToBf16Async')
})

test('out: the result is written into the given array and returned', async (t) => {
  const out = new Float32Array(ALL_CODES.length)
  t.is(fv.ops.f16ToF32(ALL_CODES, { out }), out)
  assertSameCodes(t, bitsOfArray(out), EXPECT.f16ToF32, ALL_CODES, 'f16ToF32 out')
  const h = new Uint16Array(X.length)
  t.is(await fv.ops.f32ToBf16Async(X, { out: h }), h)
  assertSameCodes(t, h, EXPECT.f32ToBf16, X, 'f32ToBf16Async out')
})

test('an odd-length narrowing result is exactly src.length codes long', (t) => {
  const r = fv.ops.f32ToF16(new Float32Array([1, 2, 3]))
  t.is(r.length, 3)
  t.deepEqual([...r], [0x3C00, 0x4000, 0x4200])
  t.is(fv.ops.f32ToBf16(new Float32Array(0)).length, 0)
  t.is(fv.ops.f16ToF32(new Uint16Array(0)).length, 0)
})

test('bad input: TypeError or RangeError naming the op and the argument', async (t) => {
  t.throws(() => fv.ops.f16ToF32(new Float32Array(2)), { instanceOf: TypeError, message: /^f16ToF32: src must be a Uint16Array, got Float32Array\(2\)/ })
  t.throws(() => fv.ops.f32ToBf16(new Uint16Array(2)), { instanceOf: TypeError, message: /^f32ToBf16: src must be a Float32Array, got Uint16Array\(2\)/ })
  t.throws(() => fv.ops.bf16ToF32([1, 2]), { instanceOf: TypeError, message: /^bf16ToF32: src must be a Uint16Array/ })
  t.throws(() => fv.ops.f16ToF32(new Uint16Array(2), { out: new Float32Array(3) }), { instanceOf: RangeError, message: /^f16ToF32: out must be 2 elements/ })
  t.throws(() => fv.ops.f32ToF16(new Float32Array(2), { out: new Float32Array(2) }), { instanceOf: TypeError, message: /^f32ToF16: out must be a Uint16Array/ })
  t.throws(() => fv.ops.f32ToF16(new Float32Array(2), { outt: 1 }), { instanceOf: TypeError, message: /^f32ToF16: options .*unknown key 'outt'/ })
  const buf = new ArrayBuffer(64)
  t.throws(() => fv.ops.f16ToF32(new Uint16Array(buf, 0, 8), { out: new Float32Array(buf, 8, 8) }),
    { instanceOf: RangeError, message: /^f16ToF32: out must be memory not shared with src/ })
  await t.throwsAsync(fv.ops.f32ToF16Async(new Float32Array(2), { out: new Uint16Array(5) }), { instanceOf: RangeError, message: /^f32ToF16: out/ })
})

test('the native layer re-checks what it is given', (t) => {
  const { binding } = require('../dist/native')
  t.throws(() => binding.f16ToF32(new Int16Array(2), null), { instanceOf: TypeError, message: /f16ToF32: src must be a Uint16Array/ })
  t.throws(() => binding.f32ToF16(new Float32Array(2), new Uint16Array(3)), { instanceOf: RangeError, message: /f32ToF16: out must have 2 elements/ })
  const buf = new ArrayBuffer(64)
  t.throws(() => binding.f32ToBf16(new Float32Array(buf, 0, 8), new Uint16Array(buf, 30, 8)), { instanceOf: RangeError, message: /f32ToBf16: out must not share memory with src/ })
  t.throws(() => binding.bf16ToF32(new Uint16Array(buf, 0, 8), new Float32Array(buf, 12, 8)), { instanceOf: RangeError, message: /bf16ToF32: out must not share memory with src/ })
})

test('fv.info() lists the convert kernels with their ISA variants', (t) => {
  const names = fv.info().kernels.map((k) => k.name)
  t.true(names.includes('convert_widen'))
  t.true(names.includes('convert_narrow'))
})
