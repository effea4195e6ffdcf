// GEMM: the AVX2 + FMA variant (see core/isa.h for the rules of variant files).
//
// Micro-kernel 6 × 16: 12 ymm accumulators, two B vectors and a broadcast fill 15 of the 16
// registers AVX2 has (the Haswell-era BLIS shape).
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

FOVEAL_TARGET_AVX2_BEGIN
#define FOVEAL_ISA_NS avx2
#define FOVEAL_VEC_LEVEL 2
#include "cpu/simd/transpose.h"
#undef FOVEAL_VEC_LEVEL
#undef FOVEAL_ISA_NS
namespace foveal {
namespace cpu {
namespace avx2 {
namespace {

constexpr Isa kIsa = Isa::avx2;
constexpr int kMR = 6;
constexpr int kNV = 2;

struct V {
  using T = __m256;
  using Mask = __m256i;
  static constexpr int W = 8;
  static Mask mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static T zero() { return _mm256_setzero_ps(); }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static T load_mask(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static void store_mask(float* p, T v, Mask m) { _mm256_maskstore_ps(p, m, v); }
  static T set1(float x) { return _mm256_set1_ps(x); }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T relu(T v) { return _mm256_max_ps(_mm256_setzero_ps(), v); }  // NaN stays NaN
  static float hsum(T v) {
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
  }
};

// dst[k·16 + c] = Bt[c·ldb + k] for c < ncols (zero beyond), k < K.
void transpose_pack(const float* Bt, int64_t ldb, int64_t K, int ncols, float* dst) {
  for (int h = 0; h < 2; ++h) {
    const int rows = std::min(8, ncols - 8 * h);
    float* d = dst + 8 * h;
    if (rows <= 0) {
      for (int64_t k = 0; k < K; ++k) _mm256_storeu_ps(d + k * 16, _mm256_setzero_ps());
      continue;
    }
    const float* src = Bt + 8 * h * ldb;
    for (int64_t k = 0; k < K; k += 8) {
      const int kn = static_cast<int>(std::min<int64_t>(8, K - k));
      const __m256i km = V::mask(kn);
      __m256 r[8];
      for (int c = 0; c < 8; ++c) r[c] = c < rows ? _mm256_maskload_ps(src + c * ldb + k, km) : _mm256_setzero_ps();
      transpose8(r);
      for (int q = 0; q < kn; ++q) _mm256_storeu_ps(d + (k + q) * 16, r[q]);
    }
  }
}

}  // namespace
}  // namespace avx2
}  // namespace cpu
}  // namespace foveal

#define FOVEAL_ISA_NS avx2
#include "cpu/gemm/gemm_impl.h"
#undef FOVEAL_ISA_NS
FOVEAL_TARGET_END
#endif
