// A small fixed-width float vector for kernels written once and compiled per ISA.
//
// Include inside a FOVEAL_TARGET_* region with FOVEAL_ISA_NS and FOVEAL_VEC_LEVEL defined
// (0 generic, 2 AVX2+FMA, 3 AVX-512; see core/isa.h), after <immintrin.h> on x86. Each
// translation unit compiles one level, so `#pragma once` is enough; everything lives in an
// anonymous namespace inside FOVEAL_ISA_NS, so no symbol is shared across levels.
//
//   Vf  kN float lanes        Vm  a lane mask        Vi  kN uint32 lanes (counters, bits)
//
// Semantics every level shares (so a kernel means the same thing on each):
//  - vmax(a, b) / vmin(a, b) return b when either is NaN (the x86 rule): write
//    vmax(bound, x) to let a NaN in x through, vmax(x, bound) to replace it;
//  - vload_n / vstore_n touch only the first n lanes' memory (never past the end);
//    vfirst(n) is the mask of those lanes; vload_mask / vstore_mask take such a mask made
//    once (a loop's invariant tail) and touch only its lanes' memory, reading 0 elsewhere;
//  - vbits(b) is the mask of the lanes whose bit is set in b (lane e: bit e), mbits(m) the
//    bits of a mask; vkeep(m, a) is a in m's lanes and +0 in the others;
//  - vhsum / vhmax reduce the lanes in one fixed order;
//  - vldexp(p, n) = p·2ⁿ rounded once, for integral n in [-152, 128];
//  - Vi arithmetic wraps modulo 2³²; vimulhilo(a, b, &lo) is the high word of the 64-bit
//    product a·b (lo its low word); vicvt converts lanes read as int32 to float.
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
inline Vf vabs(Vf a) {
  return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(0x7FFFFFFF)));
}
inline Vf vneg(Vf a) {
  return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(INT32_MIN)));
}
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

inline Vf vload_mask(const float* p, Vm m) { return _mm512_maskz_loadu_ps(m, p); }
inline void vstore_mask(float* p, Vf a, Vm m) { _mm512_mask_storeu_ps(p, m, a); }
inline Vm vbits(uint32_t b) { return static_cast<Vm>(b); }
inline uint32_t mbits(Vm m) { return m; }
inline Vf vkeep(Vm m, Vf a) { return _mm512_maskz_mov_ps(m, a); }

using Vi = __m512i;
inline Vi viset1(uint32_t a) { return _mm512_set1_epi32(static_cast<int>(a)); }
inline Vi viota(uint32_t a) {  // a, a+1, …, a+15
  return _mm512_add_epi32(viset1(a), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}
inline Vi viadd(Vi a, Vi b) { return _mm512_add_epi32(a, b); }
inline Vi vixor(Vi a, Vi b) { return _mm512_xor_si512(a, b); }
inline Vi visrl(Vi a, unsigned n) { return _mm512_srli_epi32(a, n); }
inline Vf vicvt(Vi a) { return _mm512_cvtepi32_ps(a); }
// 32×32→64 products of the even lanes and of the odd lanes, then the halves regrouped.
inline Vi vimulhilo(Vi a, Vi b, Vi* lo) {
  const __m512i even = _mm512_mul_epu32(a, b);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(b, 32));
  *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
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

inline Vf vload_mask(const float* p, Vm m) { return _mm256_maskload_ps(p, _mm256_castps_si256(m)); }
inline void vstore_mask(float* p, Vf a, Vm m) { _mm256_maskstore_ps(p, _mm256_castps_si256(m), a); }
inline Vm vbits(uint32_t b) {
  const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_castsi256_ps(
      _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>(b)), lane_bit), lane_bit));
}
inline uint32_t mbits(Vm m) { return static_cast<uint32_t>(_mm256_movemask_ps(m)); }
inline Vf vkeep(Vm m, Vf a) { return _mm256_and_ps(m, a); }

using Vi = __m256i;
inline Vi viset1(uint32_t a) { return _mm256_set1_epi32(static_cast<int>(a)); }
inline Vi viota(uint32_t a) { return _mm256_add_epi32(viset1(a), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
inline Vi viadd(Vi a, Vi b) { return _mm256_add_epi32(a, b); }
inline Vi vixor(Vi a, Vi b) { return _mm256_xor_si256(a, b); }
inline Vi visrl(Vi a, unsigned n) { return _mm256_srli_epi32(a, static_cast<int>(n)); }
inline Vf vicvt(Vi a) { return _mm256_cvtepi32_ps(a); }
inline Vi vimulhilo(Vi a, Vi b, Vi* lo) {
  const __m256i even = _mm256_mul_epu32(a, b);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32));
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

#else
// ---------------------------------------------------------------- generic: 4 lanes
// GCC/Clang's portable vector extension: whole-vector operations become SSE2 on x86-64 and
// NEON on arm64 (a struct of four floats was left to the auto-vectoriser, which kept
// attention's micro-kernel scalar: 3× slower). Lanes read and write as a.v[i]. Multiply
// and add stay separate where the target has no FMA (ISO C++: no contraction).
constexpr int kN = 4;
typedef float F4 __attribute__((vector_size(16)));
typedef int32_t I4 __attribute__((vector_size(16)));
typedef uint32_t U4 __attribute__((vector_size(16)));
struct Vf {
  F4 v;
};
struct Vm {
  I4 m;  // −1 (all ones) in a set lane, 0 elsewhere
};

#define FOVEAL_VEC_MAP(expr)                    \
  Vf r;                                         \
  for (int i = 0; i < kN; ++i) r.v[i] = (expr); \
  return r

inline F4 as_f4(I4 a) {
  F4 r;
  std::memcpy(&r, &a, sizeof r);
  return r;
}
inline I4 as_i4(F4 a) {
  I4 r;
  std::memcpy(&r, &a, sizeof r);
  return r;
}
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

inline Vm vfirst(int64_t n) {
  const int32_t k = n >= kN ? kN : (n > 0 ? static_cast<int32_t>(n) : 0);
  return {I4{0, 1, 2, 3} < k};
}
inline Vf vzero() { return {F4{0.f, 0.f, 0.f, 0.f}}; }
inline Vf vset1(float a) { return {F4{a, a, a, a}}; }
inline Vf vload(const float* p) {
  Vf r;
  std::memcpy(&r.v, p, sizeof r.v);
  return r;
}
inline void vstore(float* p, Vf a) { std::memcpy(p, &a.v, sizeof a.v); }
inline Vf vload_n(const float* p, int64_t n, float fill) { FOVEAL_VEC_MAP(i < n ? p[i] : fill); }
inline void vstore_n(float* p, Vf a, int64_t n) {
  for (int i = 0; i < kN && i < n; ++i) p[i] = a.v[i];
}
inline Vf vadd(Vf a, Vf b) { return {a.v + b.v}; }
inline Vf vsub(Vf a, Vf b) { return {a.v - b.v}; }
inline Vf vmul(Vf a, Vf b) { return {a.v * b.v}; }
inline Vf vdiv(Vf a, Vf b) { return {a.v / b.v}; }
#if defined(__FP_FAST_FMAF)
inline Vf vfmadd(Vf a, Vf b, Vf c) { FOVEAL_VEC_MAP(std::fma(a.v[i], b.v[i], c.v[i])); }
inline Vf vfnmadd(Vf a, Vf b, Vf c) { FOVEAL_VEC_MAP(std::fma(-a.v[i], b.v[i], c.v[i])); }
inline Vf vfmsub(Vf a, Vf b, Vf c) { FOVEAL_VEC_MAP(std::fma(a.v[i], b.v[i], -c.v[i])); }
#else
inline Vf vfmadd(Vf a, Vf b, Vf c) { return {a.v * b.v + c.v}; }
inline Vf vfnmadd(Vf a, Vf b, Vf c) { return {c.v - a.v * b.v}; }  // = (−a)·b + c, bit for bit
inline Vf vfmsub(Vf a, Vf b, Vf c) { return {a.v * b.v - c.v}; }
#endif
inline Vf vmax(Vf a, Vf b) { return {a.v > b.v ? a.v : b.v}; }  // b when unordered
inline Vf vmin(Vf a, Vf b) { return {a.v < b.v ? a.v : b.v}; }
inline Vf vabs(Vf a) { return {as_f4(as_i4(a.v) & 0x7FFFFFFF)}; }
inline Vf vneg(Vf a) { return {as_f4(as_i4(a.v) ^ INT32_MIN)}; }
inline Vf vsqrt(Vf a) { FOVEAL_VEC_MAP(std::sqrt(a.v[i])); }
inline Vm vlt(Vf a, Vf b) { return {a.v < b.v}; }
inline Vm vle(Vf a, Vf b) { return {a.v <= b.v}; }
inline Vm vgt(Vf a, Vf b) { return {a.v > b.v}; }
inline Vm vge(Vf a, Vf b) { return {a.v >= b.v}; }
inline Vm veq(Vf a, Vf b) { return {a.v == b.v}; }
inline Vm visnan(Vf a) { return {a.v != a.v}; }
inline Vm mand(Vm a, Vm b) { return {a.m & b.m}; }
inline Vm mor(Vm a, Vm b) { return {a.m | b.m}; }
inline Vm mnot(Vm a) { return {~a.m}; }
inline bool many(Vm a) { return (a.m[0] | a.m[1] | a.m[2] | a.m[3]) != 0; }
inline Vf vselect(Vm m, Vf a, Vf b) { return {m.m != 0 ? a.v : b.v}; }
// nearbyint in the default rounding mode: below 2²³ adding and subtracting 2²³ rounds to
// an integer (ties to even), from 2²³ on every float is one already (±∞ and NaN pass).
inline Vf vround(Vf a) {
  const F4 big = {8388608.f, 8388608.f, 8388608.f, 8388608.f};
  const F4 m = vabs(a).v;
  const F4 r = (m + big) - big;
  return {m < big ? as_f4((as_i4(r) & 0x7FFFFFFF) | (as_i4(a.v) & INT32_MIN)) : a.v};
}
// Two exact power-of-two factors, as the AVX2 level. A NaN exponent (vexp gives one only
// with a NaN p) counts as 0, so the NaN p comes back as it is.
inline Vf vldexp(Vf p, Vf n) {
  const I4 k = __builtin_convertvector(n.v == n.v ? n.v : F4{0.f, 0.f, 0.f, 0.f}, I4);
  const I4 k1 = k >> 1;
  const I4 k2 = k - k1;
  return {p.v * as_f4((k1 + 127) << 23) * as_f4((k2 + 127) << 23)};
}
inline Vf vcopysign(Vf mag, Vf sgn) { return {as_f4((as_i4(mag.v) & 0x7FFFFFFF) | (as_i4(sgn.v) & INT32_MIN))}; }
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
inline Vf vload_mask(const float* p, Vm m) { FOVEAL_VEC_MAP(m.m[i] ? p[i] : 0.f); }
inline void vstore_mask(float* p, Vf a, Vm m) {
  for (int i = 0; i < kN; ++i)
    if (m.m[i]) p[i] = a.v[i];
}
inline Vm vbits(uint32_t b) { return {(I4{1, 2, 4, 8} & static_cast<int32_t>(b)) != 0}; }
inline uint32_t mbits(Vm m) {
  uint32_t b = 0;
  for (int i = 0; i < kN; ++i) b |= static_cast<uint32_t>(m.m[i] != 0) << i;
  return b;
}
inline Vf vkeep(Vm m, Vf a) { return {as_f4(as_i4(a.v) & m.m)}; }

struct Vi {
  U4 v;
};
inline Vi viset1(uint32_t a) { return {U4{a, a, a, a}}; }
inline Vi viota(uint32_t a) { return {U4{a, a + 1, a + 2, a + 3}}; }
inline Vi viadd(Vi a, Vi b) { return {a.v + b.v}; }
inline Vi vixor(Vi a, Vi b) { return {a.v ^ b.v}; }
inline Vi visrl(Vi a, unsigned n) { return {a.v >> n}; }
inline Vf vicvt(Vi a) {
  I4 s;
  std::memcpy(&s, &a.v, sizeof s);
  return {__builtin_convertvector(s, F4)};
}
// As the AVX levels: 32×32→64 products of the even lanes and of the odd lanes (the
// masked 64-bit multiplies become pmuludq on SSE2), then the halves regrouped.
inline Vi vimulhilo(Vi a, Vi b, Vi* lo) {
  typedef uint64_t U2 __attribute__((vector_size(16)));
  U2 a2, b2;
  std::memcpy(&a2, &a.v, sizeof a2);
  std::memcpy(&b2, &b.v, sizeof b2);
  const U2 low = {0xFFFFFFFFull, 0xFFFFFFFFull};
  const U2 even = (a2 & low) * (b2 & low);
  const U2 odd = (a2 >> 32) * (b2 >> 32);
  const U2 l = (even & low) | (odd << 32), h = (even >> 32) | (odd & ~low);
  Vi hi;
  std::memcpy(&lo->v, &l, sizeof l);
  std::memcpy(&hi.v, &h, sizeof h);
  return hi;
}

#undef FOVEAL_VEC_MAP
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
