'use strict'
// Reference 16-bit float conversions in plain JS, written from the formats' definitions
// rather than from the kernels' bit tricks: a code's value is decoded with powers of two,
// and narrowing picks the nearer of the two codes around a value by comparing distances
// in float64 (exact for these magnitudes), a tie going to the even code.
//
// NaN bits follow foveal's documented rule: widening keeps sign and payload and sets the
// quiet bit; narrowing gives a quiet NaN of the same sign with the float's top payload bits.

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

function bitsOf (x) { f32[0] = x; return u32[0] }
function floatOf (bits) { u32[0] = bits >>> 0; return f32[0] }

/** The value of an F16 code (±Infinity for 0x7C00/0xFC00; NaN codes are handled apart). */
function f16Value (h) {
  const sign = h & 0x8000 ? -1 : 1
  const e = (h >> 10) & 0x1F
  const m = h & 0x3FF
  if (e === 0x1F) return sign * Infinity
  if (e === 0) return sign * m * 2 ** -24
  return sign * (1 + m / 1024) * 2 ** (e - 15)
}

/** F16 code → float32 bits. */
function f16ToF32Bits (h) {
  if ((h & 0x7C00) === 0x7C00 && (h & 0x3FF) !== 0) {
    return (((h & 0x8000) << 16) | 0x7F800000 | 0x00400000 | ((h & 0x3FF) << 13)) >>> 0
  }
  return bitsOf(f16Value(h))
}

/** BF16 code → float32 bits (bfloat16 is the top half of a float32, NaN or not). */
function bf16ToF32Bits (h) { return (h << 16) >>> 0 }

// The nearer of codes lo and lo+1 (same sign, magnitudes a ≤ |x| ≤ b), ties to the even one.
function nearer (x, lo, a, b) {
  const da = Math.abs(x) - a
  const db = b - Math.abs(x)
  if (da < db) return lo
  if (db < da) return lo + 1
  return lo % 2 === 0 ? lo : lo + 1
}

/** float32 value → F16 code, round to nearest even. */
function f32ToF16 (x) {
  const bits = bitsOf(x)
  const sign = (bits >>> 16) & 0x8000
  if (Number.isNaN(x)) return sign | 0x7E00 | ((bits >>> 13) & 0x3FF)
  const ax = Math.abs(x)
  if (ax === Infinity) return sign | 0x7C00
  // Binary search for the largest positive code whose value is ≤ |x|; the code after
  // 0x7BFF (65504) is 0x7C00, whose value for rounding purposes is 65536.
  let lo = 0; let hi = 0x7C00
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (f16Value(mid) <= ax) lo = mid; else hi = mid - 1
  }
  if (lo === 0x7C00) return sign | 0x7C00
  const b = lo + 1 === 0x7C00 ? 65536 : f16Value(lo + 1)
  return sign | nearer(x, lo, f16Value(lo), b)
}

/** float32 value → BF16 code, round to nearest even. */
function f32ToBf16 (x) {
  const bits = bitsOf(x)
  if (Number.isNaN(x)) return ((bits >>> 16) | 0x40) & 0xFFFF
  if (Math.abs(x) === Infinity) return bits >>> 16
  const sign = (bits >>> 16) & 0x8000
  const lo = (bits >>> 16) & 0x7FFF  // truncation toward zero: the code just below |x|
  const a = Math.abs(floatOf(lo << 16))
  const b = lo + 1 === 0x7F80 ? 2 ** 128 : Math.abs(floatOf((lo + 1) << 16))
  return sign | nearer(x, lo, a, b)
}

module.exports = { f16Value, f16ToF32Bits, bf16ToF32Bits, f32ToF16, f32ToBf16, bitsOf, floatOf }
