// convert kernel bodies, compiled once per ISA (see core/isa.h and cpu/simd/variant.h).
// Full vectors go through the ISA's conversion instructions (F16C's vcvtph2ps/vcvtps2ph,
// integer shifts for bfloat16); the last partial vector and the generic level use the
// scalar functions below, which give the same bits as the instructions for every input
// (test/convert.test.js checks all 65536 16-bit patterns and the float32 edge cases on
// every level).
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including convert_kernels.h"
#endif

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float f32_from(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t man = h & 0x3FFu;
  if (exp == 0x1F) {
    // ±Inf, or a NaN made quiet (the top mantissa bit set) with its payload kept.
    return f32_from(sign | 0x7F800000u | (man << 13) | (man != 0 ? 0x00400000u : 0u));
  }
  if (exp != 0) return f32_from(sign | ((exp + 112u) << 23) | (man << 13));  // rebias 15 → 127
  if (man == 0) return f32_from(sign);
  // A subnormal half, man·2^-24: normalise it (a float32 holds it exactly).
  uint32_t e = 113;  // the float exponent of 2^-14, the subnormals' scale
  while ((man & 0x400u) == 0) {
    man <<= 1;
    --e;
  }
  return f32_from(sign | (e << 23) | ((man & 0x3FFu) << 13));
}

inline uint16_t f32_to_f16(float f) {
  const uint32_t x = f32_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));  // quiet NaN
  // From 65520 = 65504 + half an ulp up, round-to-even goes to Inf (65504's mantissa is odd).
  if (ax >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);
  if (ax < 0x38800000u) {
    // Below 2^-14: a subnormal half, in units of 2^-24. At or below 2^-25 (half the
    // smallest subnormal, a tie that goes to the even 0) the result is a signed zero.
    if (ax <= 0x33000000u) return static_cast<uint16_t>(sign);
    const uint32_t e = ax >> 23;                     // 102 … 112
    const uint32_t m = (ax & 0x7FFFFFu) | 0x800000u;  // the 24-bit significand
    const uint32_t shift = 126u - e;                  // 14 … 24
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) ++r;  // may carry into the smallest normal: right
    return static_cast<uint16_t>(sign | r);
  }
  // Normal: rebias the exponent (127 → 15) and round off 13 mantissa bits; a carry out of
  // the mantissa bumps the exponent, up to Inf, which is the right answer.
  uint32_t r = (ax - 0x38000000u) >> 13;
  const uint32_t rem = ax & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return static_cast<uint16_t>(sign | r);
}

inline float bf16_to_f32(uint16_t h) { return f32_from(static_cast<uint32_t>(h) << 16); }

inline uint16_t f32_to_bf16(float f) {
  const uint32_t x = f32_bits(f);
  // A NaN keeps its sign and top payload bits, made quiet: rounding could carry it into Inf.
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);  // nearest, ties to even
}

void widen_scalar(const uint16_t* src, float* dst, int64_t n, Half kind) {
  if (kind == Half::f16) {
    for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
  }
}

void narrow_scalar(const float* src, uint16_t* dst, int64_t n, Half kind) {
  if (kind == Half::f16) {
    for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_f16(src[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
  }
}

#if FOVEAL_VEC_LEVEL == 3
constexpr int64_t kLanes = 16;
constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

// Returns how many leading elements were done; the caller finishes the rest.
int64_t widen_vec(const uint16_t* src, float* dst, int64_t n, Half kind) {
  int64_t i = 0;
  if (kind == Half::f16) {
    for (; i + kLanes <= n; i += kLanes)
      _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  } else {
    for (; i + kLanes <= n; i += kLanes) {
      const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
      _mm512_storeu_si512(dst + i, _mm512_slli_epi32(w, 16));
    }
  }
  return i;
}

int64_t narrow_vec(const float* src, uint16_t* dst, int64_t n, Half kind) {
  int64_t i = 0;
  if (kind == Half::f16) {
    for (; i + kLanes <= n; i += kLanes)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm512_cvtps_ph(_mm512_loadu_ps(src + i), kRound));
  } else {
    const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7FFF), quiet = _mm512_set1_epi32(0x40);
    for (; i + kLanes <= n; i += kLanes) {
      const __m512 v = _mm512_loadu_ps(src + i);
      const __m512i u = _mm512_castps_si512(v), hi = _mm512_srli_epi32(u, 16);
      const __m512i up = _mm512_add_epi32(u, _mm512_add_epi32(bias, _mm512_and_si512(hi, one)));
      const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
      const __m512i r = _mm512_mask_or_epi32(_mm512_srli_epi32(up, 16), nan, hi, quiet);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm512_cvtepi32_epi16(r));
    }
  }
  return i;
}
#elif FOVEAL_VEC_LEVEL == 2
constexpr int64_t kLanes = 8;
constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

int64_t widen_vec(const uint16_t* src, float* dst, int64_t n, Half kind) {
  int64_t i = 0;
  if (kind == Half::f16) {
    for (; i + kLanes <= n; i += kLanes)
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  } else {
    for (; i + kLanes <= n; i += kLanes) {
      const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_slli_epi32(w, 16));
    }
  }
  return i;
}

int64_t narrow_vec(const float* src, uint16_t* dst, int64_t n, Half kind) {
  int64_t i = 0;
  if (kind == Half::f16) {
    for (; i + kLanes <= n; i += kLanes)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), kRound));
  } else {
    const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7FFF), quiet = _mm256_set1_epi32(0x40);
    for (; i + kLanes <= n; i += kLanes) {
      const __m256 v = _mm256_loadu_ps(src + i);
      const __m256i u = _mm256_castps_si256(v), hi = _mm256_srli_epi32(u, 16);
      const __m256i up = _mm256_add_epi32(u, _mm256_add_epi32(bias, _mm256_and_si256(hi, one)));
      const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
      const __m256i r = _mm256_blendv_epi8(_mm256_srli_epi32(up, 16), _mm256_or_si256(hi, quiet), nan);
      // Every lane is ≤ 0xFFFF, so the unsigned saturating pack is exact.
      const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), packed);
    }
  }
  return i;
}
#else
int64_t widen_vec(const uint16_t*, float*, int64_t, Half) { return 0; }
int64_t narrow_vec(const float*, uint16_t*, int64_t, Half) { return 0; }
#endif

// A chunk must be worth a thread wake-up: the conversions only stream memory.
constexpr int64_t kGrain = 65536;

}  // namespace

void convert_widen(const WidenParams& p) {
  parallel_for(p.n, kGrain, [&](int64_t b, int64_t e) {
    const int64_t done = widen_vec(p.src + b, p.dst + b, e - b, p.kind);
    widen_scalar(p.src + b + done, p.dst + b + done, e - b - done, p.kind);
  });
}

void convert_narrow(const NarrowParams& p) {
  parallel_for(p.n, kGrain, [&](int64_t b, int64_t e) {
    const int64_t done = narrow_vec(p.src + b, p.dst + b, e - b, p.kind);
    narrow_scalar(p.src + b + done, p.dst + b + done, e - b - done, p.kind);
  });
}

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
