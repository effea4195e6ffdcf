// A small fixed-width float vector for kernels written once and compiled per ISA.
//
// Include inside a FOVEAL_TARGET_* region with FOVEAL_ISA_NS and FOVEAL_VEC_LEVEL defined
// (0 generic, 2 AVX2+FMA, 3 AVX-512; see core/isa.h), after <immintrin.h> on x86. Each
// translation unit compiles one level, so `#pragma once` is enough; everything lives in an
// anonymous namespace inside FOVEAL_ISA_NS, so no symbol is shared across levels.
//
//   Vf  kN float lanes        Vm  a lane mask
//
// Semantics every level shares (so a kernel means the same thing on each):
//  - vmax(a, b) / vmin(a, b) return b when either is NaN (the x86 rule): write
//    vmax(bound, x) to let a NaN in x through, vmax(x, bound) to replace it;
//  - vload_n / vstore_n touch only the first n lanes' memory (never past the end);
//    vfirst(n) is the mask of those lanes;
//  - vhsum / vhmax reduce the lanes in one fixed order;
//  - vldexp(p, n) = p·2ⁿ rounded once, for integral n in [-152, 128].
// Results may differ in the last bit between levels (FMA against multiply-then-add), never
// between runs or thread counts.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including cpu/simd/vec.h"
#endif
#ifndef FOVEAL_VEC_LEVEL
#error "define FOVEAL_VEC_LEVEL (0, 2 or 3) before including cpu/simd/vec.h"
#endif

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

#if FOVEAL_VEC_LEVEL == 3
// ---------------------------------------------------------------- AVX-512: 16 lanes
constexpr int kN = 16;
using Vf = __m512;
using Vm = __mmask16;

inline Vm lanes_below(int64_t n) {
  return n >= kN ? static_cast<Vm>(0xFFFF) : static_cast<Vm>((1u << (n > 0 ? n : 0)) - 1u);
}
inline Vm vfirst(int64_t n) { return lanes_below(n); }  // lanes [0, n)
inline Vf vzero() { return _mm512_setzero_ps(); }
inline Vf vset1(float a) { return _mm512_set1_ps(a); }
inline Vf vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, Vf a) { _mm512_storeu_ps(p, a); }
inline Vf vload_n(const float* p, int64_t n, float fill) {
  return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), lanes_below(n), p);
}
inline void vstore_n(float* p, Vf a, int64_t n) { _mm512_mask_storeu_ps(p, lanes_below(n), a); }
inline Vf vadd(Vf a, Vf b) { return _mm512_add_ps(a, b); }
inline Vf vsub(Vf a, Vf b) { return _mm512_sub_ps(a, b); }
inline Vf vmul(Vf a, Vf b) { return _mm512_mul_ps(a, b); }
inline Vf vdiv(Vf a, Vf b) { return _mm512_div_ps(a, b); }
inline Vf vfmadd(Vf a, Vf b, Vf c) { return _mm512_fmadd_ps(a, b, c); }    // a·b + c
inline Vf vfnmadd(Vf a, Vf b, Vf c) { return _mm512_fnmadd_ps(a, b, c); }  // c − a·b
inline Vf vfmsub(Vf a, Vf b, Vf c) { return _mm512_fmsub_ps(a, b, c); }    // a·b − c
inline Vf vmax(Vf a, Vf b) { return _mm512_max_ps(a, b); }
inline Vf vmin(Vf a, Vf b) { return _mm512_min_ps(a, b); }
inline Vf vabs(Vf a) { return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(0x7FFFFFFF))); }
inline Vf vneg(Vf a) { return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(INT32_MIN))); }
inline Vf vsqrt(Vf a) { return _mm512_sqrt_ps(a); }
inline Vm vlt(Vf a, Vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
inline Vm vle(Vf a, Vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
inline Vm vgt(Vf a, Vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
inline Vm vge(Vf a, Vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
inline Vm veq(Vf a, Vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
inline Vm visnan(Vf a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
inline Vm mand(Vm a, Vm b) { return static_cast<Vm>(a & b); }
inline Vm mor(Vm a, Vm b) { return static_cast<Vm>(a | b); }
inline Vm mnot(Vm a) { return static_cast<Vm>(~a); }
inline bool many(Vm a) { return a != 0; }
inline Vf vselect(Vm m, Vf a, Vf b) { return _mm512_mask_blend_ps(m, b, a); }  // m ? a : b
inline Vf vround(Vf a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline Vf vldexp(Vf p, Vf n) { return _mm512_scalef_ps(p, n); }
// |mag| with the sign bit of sgn.
inline Vf vcopysign(Vf mag, Vf sgn) {
  return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(mag), _mm512_castps_si512(sgn),
                                                       _mm512_set1_epi32(INT32_MIN), 0xD8));
}
// a·b − fl(a·b) exactly (the rounding error of the product).
inline Vf vprod_err(Vf a, Vf b, Vf p) { return _mm512_fmsub_ps(a, b, p); }
inline float vhsum(Vf a) {
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}
inline float vhmax(Vf a) {
  const __m256 h = _mm256_max_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
  __m128 q = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  q = _mm_max_ps(q, _mm_movehl_ps(q, q));
  q = _mm_max_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}

#elif FOVEAL_VEC_LEVEL == 2
// ---------------------------------------------------------------- AVX2 + FMA: 8 lanes
constexpr int kN = 8;
using Vf = __m256;
using Vm = __m256;  // all-ones lanes

inline __m256i lanes_below(int64_t n) {
  const int k = n >= kN ? kN : (n > 0 ? static_cast<int>(n) : 0);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline Vm vfirst(int64_t n) { return _mm256_castsi256_ps(lanes_below(n)); }
inline Vf vzero() { return _mm256_setzero_ps(); }
inline Vf vset1(float a) { return _mm256_set1_ps(a); }
inline Vf vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, Vf a) { _mm256_storeu_ps(p, a); }
inline Vf vload_n(const float* p, int64_t n, float fill) {
  const __m256i m = lanes_below(n);
  return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
inline void vstore_n(float* p, Vf a, int64_t n) { _mm256_maskstore_ps(p, lanes_below(n), a); }
inline Vf vadd(Vf a, Vf b) { return _mm256_add_ps(a, b); }
inline Vf vsub(Vf a, Vf b) { return _mm256_sub_ps(a, b); }
inline Vf vmul(Vf a, Vf b) { return _mm256_mul_ps(a, b); }
inline Vf vdiv(Vf a, Vf b) { return _mm256_div_ps(a, b); }
inline Vf vfmadd(Vf a, Vf b, Vf c) { return _mm256_fmadd_ps(a, b, c); }
inline Vf vfnmadd(Vf a, Vf b, Vf c) { return _mm256_fnmadd_ps(a, b, c); }
inline Vf vfmsub(Vf a, Vf b, Vf c) { return _mm256_fmsub_ps(a, b, c); }
inline Vf vmax(Vf a, Vf b) { return _mm256_max_ps(a, b); }
inline Vf vmin(Vf a, Vf b) { return _mm256_min_ps(a, b); }
inline Vf vabs(Vf a) { return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF))); }
inline Vf vneg(Vf a) { return _mm256_xor_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN))); }
inline Vf vsqrt(Vf a) { return _mm256_sqrt_ps(a); }
inline Vm vlt(Vf a, Vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
inline Vm vle(Vf a, Vf b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
inline Vm vgt(Vf a, Vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
inline Vm vge(Vf a, Vf b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
inline Vm veq(Vf a, Vf b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
inline Vm visnan(Vf a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
inline Vm mand(Vm a, Vm b) { return _mm256_and_ps(a, b); }
inline Vm mor(Vm a, Vm b) { return _mm256_or_ps(a, b); }
inline Vm mnot(Vm a) { return _mm256_xor_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(-1))); }
inline bool many(Vm a) { return _mm256_movemask_ps(a) != 0; }
inline Vf vselect(Vm m, Vf a, Vf b) { return _mm256_blendv_ps(b, a, m); }
inline Vf vround(Vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
// Two exact power-of-two factors, so results reach the subnormals and overflow to ∞ with
// one rounding, as AVX-512's scalef does.
inline Vf vldexp(Vf p, Vf n) {
  const __m256i k = _mm256_cvtps_epi32(n);
  const __m256i k1 = _mm256_srai_epi32(k, 1);
  const __m256i k2 = _mm256_sub_epi32(k, k1);
  const __m256i bias = _mm256_set1_epi32(127);
  const Vf s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, bias), 23));
  const Vf s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}
inline Vf vcopysign(Vf mag, Vf sgn) {
  const Vf sign = _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN));
  return _mm256_or_ps(_mm256_andnot_ps(sign, mag), _mm256_and_ps(sign, sgn));
}
inline Vf vprod_err(Vf a, Vf b, Vf p) { return _mm256_fmsub_ps(a, b, p); }
inline float vhsum(Vf a) {
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}
inline float vhmax(Vf a) {
  __m128 q = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  q = _mm_max_ps(q, _mm_movehl_ps(q, q));
  q = _mm_max_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}

#else
// ---------------------------------------------------------------- generic: 4 lanes
// Plain loops over a 4-float struct: the compiler turns them into SSE2 / NEON.
constexpr int kN = 4;
struct Vf {
  float v[kN];
};
struct Vm {
  bool m[kN];
};

#define FOVEAL_VEC_MAP(expr)              \
  Vf r;                                   \
  for (int i = 0; i < kN; ++i) r.v[i] = (expr); \
  return r
#define FOVEAL_MASK_MAP(expr)             \
  Vm r;                                   \
  for (int i = 0; i < kN; ++i) r.m[i] = (expr); \
  return r

inline float fma1(float a, float b, float c) {
#if defined(__FP_FAST_FMAF)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}
inline uint32_t bits_of(float a) {
  uint32_t u;
  std::memcpy(&u, &a, 4);
  return u;
}
inline float float_of(uint32_t u) {
  float a;
  std::memcpy(&a, &u, 4);
  return a;
}
inline float max1(float a, float b) { return a > b ? a : b; }  // b when unordered
inline float min1(float a, float b) { return a < b ? a : b; }
inline float pow2i(int k) { return float_of(static_cast<uint32_t>(k + 127) << 23); }

inline Vm vfirst(int64_t n) { FOVEAL_MASK_MAP(i < n); }
inline Vf vzero() { FOVEAL_VEC_MAP(0.f); }
inline Vf vset1(float a) { FOVEAL_VEC_MAP(a); }
inline Vf vload(const float* p) { FOVEAL_VEC_MAP(p[i]); }
inline void vstore(float* p, Vf a) {
  for (int i = 0; i < kN; ++i) p[i] = a.v[i];
}
inline Vf vload_n(const float* p, int64_t n, float fill) { FOVEAL_VEC_MAP(i < n ? p[i] : fill); }
inline void vstore_n(float* p, Vf a, int64_t n) {
  for (int i = 0; i < kN && i < n; ++i) p[i] = a.v[i];
}
inline Vf vadd(Vf a, Vf b) { FOVEAL_VEC_MAP(a.v[i] + b.v[i]); }
inline Vf vsub(Vf a, Vf b) { FOVEAL_VEC_MAP(a.v[i] - b.v[i]); }
inline Vf vmul(Vf a, Vf b) { FOVEAL_VEC_MAP(a.v[i] * b.v[i]); }
inline Vf vdiv(Vf a, Vf b) { FOVEAL_VEC_MAP(a.v[i] / b.v[i]); }
inline Vf vfmadd(Vf a, Vf b, Vf c) { FOVEAL_VEC_MAP(fma1(a.v[i], b.v[i], c.v[i])); }
inline Vf vfnmadd(Vf a, Vf b, Vf c) { FOVEAL_VEC_MAP(fma1(-a.v[i], b.v[i], c.v[i])); }
inline Vf vfmsub(Vf a, Vf b, Vf c) { FOVEAL_VEC_MAP(fma1(a.v[i], b.v[i], -c.v[i])); }
inline Vf vmax(Vf a, Vf b) { FOVEAL_VEC_MAP(max1(a.v[i], b.v[i])); }
inline Vf vmin(Vf a, Vf b) { FOVEAL_VEC_MAP(min1(a.v[i], b.v[i])); }
inline Vf vabs(Vf a) { FOVEAL_VEC_MAP(float_of(bits_of(a.v[i]) & 0x7FFFFFFFu)); }
inline Vf vneg(Vf a) { FOVEAL_VEC_MAP(float_of(bits_of(a.v[i]) ^ 0x80000000u)); }
inline Vf vsqrt(Vf a) { FOVEAL_VEC_MAP(std::sqrt(a.v[i])); }
inline Vm vlt(Vf a, Vf b) { FOVEAL_MASK_MAP(a.v[i] < b.v[i]); }
inline Vm vle(Vf a, Vf b) { FOVEAL_MASK_MAP(a.v[i] <= b.v[i]); }
inline Vm vgt(Vf a, Vf b) { FOVEAL_MASK_MAP(a.v[i] > b.v[i]); }
inline Vm vge(Vf a, Vf b) { FOVEAL_MASK_MAP(a.v[i] >= b.v[i]); }
inline Vm veq(Vf a, Vf b) { FOVEAL_MASK_MAP(a.v[i] == b.v[i]); }
inline Vm visnan(Vf a) { FOVEAL_MASK_MAP(a.v[i] != a.v[i]); }
inline Vm mand(Vm a, Vm b) { FOVEAL_MASK_MAP(a.m[i] && b.m[i]); }
inline Vm mor(Vm a, Vm b) { FOVEAL_MASK_MAP(a.m[i] || b.m[i]); }
inline Vm mnot(Vm a) { FOVEAL_MASK_MAP(!a.m[i]); }
inline bool many(Vm a) {
  bool any = false;
  for (int i = 0; i < kN; ++i) any = any || a.m[i];
  return any;
}
inline Vf vselect(Vm m, Vf a, Vf b) { FOVEAL_VEC_MAP(m.m[i] ? a.v[i] : b.v[i]); }
inline Vf vround(Vf a) { FOVEAL_VEC_MAP(std::nearbyint(a.v[i])); }
inline Vf vldexp(Vf p, Vf n) {
  Vf r;
  for (int i = 0; i < kN; ++i) {
    if (!(n.v[i] == n.v[i])) {  // NaN exponent: only reached with a NaN p
      r.v[i] = p.v[i] + n.v[i];
      continue;
    }
    const int k = static_cast<int>(n.v[i]);
    const int k1 = k >> 1;
    r.v[i] = p.v[i] * pow2i(k1) * pow2i(k - k1);
  }
  return r;
}
inline Vf vcopysign(Vf mag, Vf sgn) {
  FOVEAL_VEC_MAP(float_of((bits_of(mag.v[i]) & 0x7FFFFFFFu) | (bits_of(sgn.v[i]) & 0x80000000u)));
}
// Dekker's product error without an FMA (Veltkamp split); the arguments the kernels give
// it are bounded (|a|, |b| < 2^100), so the split cannot overflow.
inline float prod_err1(float a, float b, float p) {
#if defined(__FP_FAST_FMAF)
  return std::fma(a, b, -p);
#else
  const float c = 4097.f;
  const float ta = c * a, ah = ta - (ta - a), al = a - ah;
  const float tb = c * b, bh = tb - (tb - b), bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
#endif
}
inline Vf vprod_err(Vf a, Vf b, Vf p) { FOVEAL_VEC_MAP(prod_err1(a.v[i], b.v[i], p.v[i])); }
inline float vhsum(Vf a) { return (a.v[0] + a.v[2]) + (a.v[1] + a.v[3]); }
inline float vhmax(Vf a) { return max1(max1(a.v[0], a.v[2]), max1(a.v[1], a.v[3])); }

#undef FOVEAL_VEC_MAP
#undef FOVEAL_MASK_MAP
#endif

// ---------------------------------------------------------------- on every level

// cnt ≥ kN elements: a full vector; fewer: the first cnt lanes, `fill` in the others.
inline Vf vload_part(const float* p, int64_t cnt, float fill = 0.f) {
  return cnt >= kN ? vload(p) : vload_n(p, cnt, fill);
}
inline void vstore_part(float* p, Vf v, int64_t cnt) {
  if (cnt >= kN) vstore(p, v);
  else vstore_n(p, v, cnt);
}

// A running max that keeps a NaN once it has seen one (vmax alone drops it at the next
// comparison), and its horizontal reduction.
inline Vf vmax_nan(Vf acc, Vf x) { return vselect(visnan(acc), acc, vmax(acc, x)); }
inline float vhmax_nan(Vf acc) { return many(visnan(acc)) ? std::numeric_limits<float>::quiet_NaN() : vhmax(acc); }

}  // namespace
}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
