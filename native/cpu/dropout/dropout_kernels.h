// dropout kernel bodies, compiled once per ISA (see core/isa.h and cpu/simd/vec.h).
//
// The vector paths run Philox on one counter per 32-bit lane (16 or 8 counters, so 64 or
// 32 elements, per step): the 32×32→64-bit products come from two even/odd-lane
// multiplies, the keep bits of word j for counter q are compared in lane q, and BMI2's
// pdep interleaves them into element order (element 4q + j).
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including dropout_kernels.h"
#endif

#include "cpu/simd/vec.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;

struct Mask {
  uint32_t threshold;  // keep iff (word >> 8) ≥ threshold; 2²⁴ keeps nothing
  float scale;         // 1/(1 − p), 0 for p = 1
};

inline Mask mask_params(double p) {
  const double t = std::ceil(p * 16777216.0);
  return {static_cast<uint32_t>(t < 0 ? 0 : t > 16777216.0 ? 16777216.0 : t),
          p >= 1 ? 0.f : static_cast<float>(1.0 / (1.0 - p))};
}

// Elements [i0, i1) one Philox block (4 elements) at a time: the reference path, and the
// ragged ends of the vector paths.
inline void apply_scalar(const float* x, float* y, int64_t i0, int64_t i1, const Mask& m, uint64_t seed) {
  for (int64_t i = i0; i < i1;) {
    const uint64_t q = static_cast<uint64_t>(i) >> 2;
    const Philox4 r = philox4x32_10(static_cast<uint32_t>(q), static_cast<uint32_t>(q >> 32), 0, kStreamDropout, seed);
    for (int j = static_cast<int>(i & 3); j < 4 && i < i1; ++j, ++i)
      y[i] = x[i] * ((r.w[j] >> 8) >= m.threshold ? m.scale : 0.f);
  }
}

#if FOVEAL_VEC_LEVEL == 3
constexpr int64_t kStep = 64;  // 16 counters × 4 words

inline void mulhilo(__m512i a, __m512i mul, __m512i* hi, __m512i* lo) {
  const __m512i pe = _mm512_mul_epu32(a, mul);                          // even lanes, 64-bit
  const __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), mul);  // odd lanes
  *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
  *lo = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
}

// 64 elements from counter q0 (a multiple of 16; the 16 counters share hi32(q)).
inline void step(const float* x, float* y, uint64_t q0, const Mask& m, uint64_t seed) {
  __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(q0))),
                                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  __m512i c1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(q0 >> 32)));
  __m512i c2 = _mm512_setzero_si512();
  __m512i c3 = _mm512_set1_epi32(static_cast<int>(kStreamDropout));
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(kM0)), m1 = _mm512_set1_epi32(static_cast<int>(kM1));
  for (int round = 0; round < 10; ++round) {
    __m512i hi0, lo0, hi1, lo1;
    mulhilo(c0, m0, &hi0, &lo0);
    mulhilo(c2, m1, &hi1, &lo1);
    c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(static_cast<int>(k0)));
    c1 = lo1;
    c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(static_cast<int>(k1)));
    c3 = lo0;
    k0 += kW0, k1 += kW1;
  }
  const __m512i t = _mm512_set1_epi32(static_cast<int>(m.threshold));
  const uint64_t b0 = _mm512_cmpge_epi32_mask(_mm512_srli_epi32(c0, 8), t);
  const uint64_t b1 = _mm512_cmpge_epi32_mask(_mm512_srli_epi32(c1, 8), t);
  const uint64_t b2 = _mm512_cmpge_epi32_mask(_mm512_srli_epi32(c2, 8), t);
  const uint64_t b3 = _mm512_cmpge_epi32_mask(_mm512_srli_epi32(c3, 8), t);
  const uint64_t keep = _pdep_u64(b0, 0x1111111111111111ull) | _pdep_u64(b1, 0x2222222222222222ull) |
                        _pdep_u64(b2, 0x4444444444444444ull) | _pdep_u64(b3, 0x8888888888888888ull);
  const __m512 s = _mm512_set1_ps(m.scale);
  for (int v = 0; v < 4; ++v) {
    const __m512 f = _mm512_maskz_mov_ps(static_cast<__mmask16>(keep >> (16 * v)), s);
    _mm512_storeu_ps(y + 16 * v, _mm512_mul_ps(_mm512_loadu_ps(x + 16 * v), f));
  }
}
#elif FOVEAL_VEC_LEVEL == 2
constexpr int64_t kStep = 32;  // 8 counters × 4 words

inline void mulhilo(__m256i a, __m256i mul, __m256i* hi, __m256i* lo) {
  const __m256i pe = _mm256_mul_epu32(a, mul);
  const __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), mul);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
  *lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
}

inline void step(const float* x, float* y, uint64_t q0, const Mask& m, uint64_t seed) {
  __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(q0))),
                                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256i c1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(q0 >> 32)));
  __m256i c2 = _mm256_setzero_si256();
  __m256i c3 = _mm256_set1_epi32(static_cast<int>(kStreamDropout));
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kM0)), m1 = _mm256_set1_epi32(static_cast<int>(kM1));
  for (int round = 0; round < 10; ++round) {
    __m256i hi0, lo0, hi1, lo1;
    mulhilo(c0, m0, &hi0, &lo0);
    mulhilo(c2, m1, &hi1, &lo1);
    c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
    c1 = lo1;
    c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
    c3 = lo0;
    k0 += kW0, k1 += kW1;
  }
  // (word >> 8) ≥ t ⇔ ¬(t > word >> 8); both sides below 2²⁵, so signed compares are exact.
  const __m256i t = _mm256_set1_epi32(static_cast<int>(m.threshold));
  auto bits = [&](__m256i w) {
    return static_cast<uint32_t>(~_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(t, _mm256_srli_epi32(w, 8))))) & 0xFFu;
  };
  const uint32_t keep = _pdep_u32(bits(c0), 0x11111111u) | _pdep_u32(bits(c1), 0x22222222u) |
                        _pdep_u32(bits(c2), 0x44444444u) | _pdep_u32(bits(c3), 0x88888888u);
  const __m256 s = _mm256_set1_ps(m.scale);
  const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  for (int v = 0; v < 4; ++v) {
    const __m256i b = _mm256_set1_epi32(static_cast<int>((keep >> (8 * v)) & 0xFFu));
    const __m256 on = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(b, lane_bit), lane_bit));
    _mm256_storeu_ps(y + 8 * v, _mm256_mul_ps(_mm256_loadu_ps(x + 8 * v), _mm256_and_ps(on, s)));
  }
}
#endif

}  // namespace

void dropout_apply(const DropoutParams& p) {
  const Mask m = mask_params(p.p);
#if FOVEAL_VEC_LEVEL == 2 || FOVEAL_VEC_LEVEL == 3
  // Chunks start on a kStep boundary, so every vector step covers whole Philox blocks,
  // and its kStep/4 counters start at a multiple of kStep/4 (which divides 2³²): they
  // never straddle a carry into the counter's high word. The ragged end goes scalar.
  const int64_t steps = (p.n + kStep - 1) / kStep;
  parallel_for(steps, 1024, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t i = s * kStep;
      if (i + kStep <= p.n) step(p.x + i, p.y + i, static_cast<uint64_t>(i) >> 2, m, p.seed);
      else apply_scalar(p.x, p.y, i, p.n, m, p.seed);
    }
  });
#else
  parallel_for((p.n + 3) / 4, 4096, [&](int64_t q0, int64_t q1) {
    apply_scalar(p.x, p.y, q0 * 4, q1 * 4 < p.n ? q1 * 4 : p.n, m, p.seed);
  });
#endif
}

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
