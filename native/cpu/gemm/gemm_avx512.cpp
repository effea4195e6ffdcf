// GEMM: the AVX-512 variant (see core/isa.h for the rules of variant files).
//
// Micro-kernel 8 × 32: 16 zmm accumulators, two B vectors and a broadcast per k. On Zen 4
// (one 512-bit FMA per cycle, 4-cycle latency) it measured 95% of the FMA peak with B in
// L1, ahead of 12×32, 14×32, 6×64 and 16×16; 8 rows also divide the channel counts conv
// uses and 32 columns the head sizes attention uses, so callers' tiles waste nothing.
#include "core/isa.h"
#if FOVEAL_X86
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <thread>
#include <utility>

#include "core/check.h"
#include "core/memory.h"
#include "core/parallel.h"
#include "cpu/gemm/gemm_variants.h"

// GCC 12's AVX-512 intrinsics pass _mm512_undefined_ps() as the unused merge source of
// unmasked operations, which -Wmaybe-uninitialized reports at every use: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

FOVEAL_TARGET_AVX512_BEGIN
#define FOVEAL_ISA_NS avx512
#define FOVEAL_VEC_LEVEL 3
#include "cpu/simd/transpose.h"
#undef FOVEAL_VEC_LEVEL
#undef FOVEAL_ISA_NS
namespace foveal {
namespace cpu {
namespace avx512 {
namespace {

constexpr Isa kIsa = Isa::avx512;
constexpr int kMR = 8;
constexpr int kNV = 2;

struct V {
  using T = __m512;
  using Mask = __mmask16;
  static constexpr int W = 16;
  static Mask mask(int n) { return n >= 16 ? Mask(0xFFFF) : Mask((1u << (n > 0 ? n : 0)) - 1u); }
  static T zero() { return _mm512_setzero_ps(); }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static T load_mask(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static void store_mask(float* p, T v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static T set1(float x) { return _mm512_set1_ps(x); }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T relu(T v) { return _mm512_max_ps(_mm512_setzero_ps(), v); }  // NaN stays NaN
  static float hsum(T v) {
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
  }
};

// dst[k·32 + c] = Bt[c·ldb + k] for c < ncols (zero beyond), k < K: 16 × 16 blocks
// transposed in registers.
void transpose_pack(const float* Bt, int64_t ldb, int64_t K, int ncols, float* dst) {
  for (int h = 0; h < 2; ++h) {
    const int rows = std::min(16, ncols - 16 * h);
    float* d = dst + 16 * h;
    if (rows <= 0) {
      for (int64_t k = 0; k < K; ++k) _mm512_storeu_ps(d + k * 32, _mm512_setzero_ps());
      continue;
    }
    const float* src = Bt + 16 * h * ldb;
    for (int64_t k = 0; k < K; k += 16) {
      const int kn = static_cast<int>(std::min<int64_t>(16, K - k));
      const __mmask16 km = V::mask(kn);
      __m512 r[16];
      for (int c = 0; c < 16; ++c) r[c] = c < rows ? _mm512_maskz_loadu_ps(km, src + c * ldb + k) : _mm512_setzero_ps();
      transpose16(r);
      for (int q = 0; q < kn; ++q) _mm512_storeu_ps(d + (k + q) * 32, r[q]);
    }
  }
}

}  // namespace
}  // namespace avx512
}  // namespace cpu
}  // namespace foveal

#define FOVEAL_ISA_NS avx512
#include "cpu/gemm/gemm_impl.h"
#undef FOVEAL_ISA_NS
FOVEAL_TARGET_END
#endif
