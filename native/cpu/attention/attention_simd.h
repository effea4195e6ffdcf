// The few vector operations the attention kernels are written in, once per ISA: include
// inside a FOVEAL_TARGET_* region with FOVEAL_ISA_NS and FOVEAL_ATTN_SIMD (512, 256 or 0
// for generic) defined, after <immintrin.h> and <cmath> were included outside it.
//
// vexp is exp for the arguments attention gives it (x ≤ ~0: a score minus its row max or
// log-sum-exp): ~1 ulp, exactly 0 for −Infinity and wherever exp(x) is below FLT_MIN
// (AVX2, generic) or rounds to 0 (AVX-512), NaN stays NaN.
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including attention_simd.h"
#endif

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace attn {

// exp(r) ≈ 1 + r + r²·P(r) on |r| ≤ ln2/2 (Cephes expf's minimax coefficients), after
// x = n·ln2 + r with ln2 split in two so r is exact (Cody–Waite).
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f;
constexpr float kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

#if FOVEAL_ATTN_SIMD == 512
constexpr int kW = 16;
struct Vf {
  __m512 v;
};
inline Vf vzero() { return {_mm512_setzero_ps()}; }
inline Vf vset1(float x) { return {_mm512_set1_ps(x)}; }
inline Vf vload(const float* p) { return {_mm512_loadu_ps(p)}; }
inline void vstore(float* p, Vf a) { _mm512_storeu_ps(p, a.v); }
inline Vf vfma(Vf a, Vf b, Vf c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
inline Vf vadd(Vf a, Vf b) { return {_mm512_add_ps(a.v, b.v)}; }
inline Vf vsub(Vf a, Vf b) { return {_mm512_sub_ps(a.v, b.v)}; }
inline Vf vmul(Vf a, Vf b) { return {_mm512_mul_ps(a.v, b.v)}; }
inline Vf vmax(Vf a, Vf b) { return {_mm512_max_ps(a.v, b.v)}; }
inline float vhmax(Vf a) { return _mm512_reduce_max_ps(a.v); }
inline float vhsum(Vf a) { return _mm512_reduce_add_ps(a.v); }
inline bool vany_gt(Vf a, float t) { return _mm512_cmp_ps_mask(a.v, _mm512_set1_ps(t), _CMP_GT_OQ) != 0; }
// Lane e of a where bit c + e of bits is set, else 0.
inline Vf vkeep(Vf a, uint64_t bits, int c) { return {_mm512_maskz_mov_ps(static_cast<__mmask16>(bits >> c), a.v)}; }
inline Vf exp_poly(Vf r);
inline Vf vexp(Vf x) {
  // max(c, x) returns x when x is NaN, so NaN propagates.
  const __m512 xc = _mm512_max_ps(_mm512_set1_ps(-104.f), x.v);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  const __m512 p = exp_poly(Vf{r}).v;
  // scalef scales by 2^n with correct underflow to 0 (n = −150 for x = −104).
  return {_mm512_scalef_ps(p, n)};
}

// dst[c·ldd + r] = src[r·lds + c] for r, c < 16 (cpu/simd/transpose.h's network).
inline void vtranspose(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m512 r[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
  transpose16(r);
  for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + i * ldd, r[i]);
}

#elif FOVEAL_ATTN_SIMD == 256
constexpr int kW = 8;
struct Vf {
  __m256 v;
};
inline Vf vzero() { return {_mm256_setzero_ps()}; }
inline Vf vset1(float x) { return {_mm256_set1_ps(x)}; }
inline Vf vload(const float* p) { return {_mm256_loadu_ps(p)}; }
inline void vstore(float* p, Vf a) { _mm256_storeu_ps(p, a.v); }
inline Vf vfma(Vf a, Vf b, Vf c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
inline Vf vadd(Vf a, Vf b) { return {_mm256_add_ps(a.v, b.v)}; }
inline Vf vsub(Vf a, Vf b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline Vf vmul(Vf a, Vf b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline Vf vmax(Vf a, Vf b) { return {_mm256_max_ps(a.v, b.v)}; }
inline float vhmax(Vf a) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}
inline float vhsum(Vf a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline bool vany_gt(Vf a, float t) { return _mm256_movemask_ps(_mm256_cmp_ps(a.v, _mm256_set1_ps(t), _CMP_GT_OQ)) != 0; }
inline Vf vkeep(Vf a, uint64_t bits, int c) {
  const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i b = _mm256_and_si256(_mm256_set1_epi32(static_cast<int>((bits >> c) & 0xFF)), lane_bit);
  return {_mm256_and_ps(a.v, _mm256_castsi256_ps(_mm256_cmpeq_epi32(b, lane_bit)))};
}
inline Vf exp_poly(Vf r);
inline Vf vexp(Vf x) {
  // Clamp so 2^n is a normal number's exponent; below −87.34 the result is set to 0.
  const __m256 xc = _mm256_min_ps(_mm256_set1_ps(88.5f), _mm256_max_ps(_mm256_set1_ps(-87.5f), x.v));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  const __m256 p = exp_poly(Vf{r}).v;
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  const __m256 tiny = _mm256_cmp_ps(x.v, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ);
  return {_mm256_andnot_ps(tiny, y)};
}

// dst[c·ldd + r] = src[r·lds + c] for r, c < 8 (cpu/simd/transpose.h's network).
inline void vtranspose(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
  transpose8(r);
  for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + i * ldd, r[i]);
}
#else
// Generic: four lanes in GCC/Clang vector extensions, which become SSE2 on x86-64 and
// NEON on arm64 (a multiply and an add, never contracted: the build is ISO C++).
constexpr int kW = 4;
typedef float V4 __attribute__((vector_size(16)));
struct Vf {
  V4 v;
};
inline Vf vzero() { return {V4{0.f, 0.f, 0.f, 0.f}}; }
inline Vf vset1(float a) { return {V4{a, a, a, a}}; }
inline Vf vload(const float* p) {
  V4 r;
  std::memcpy(&r, p, sizeof r);
  return {r};
}
inline void vstore(float* p, Vf a) { std::memcpy(p, &a.v, sizeof a.v); }
inline Vf vadd(Vf a, Vf b) { return {a.v + b.v}; }
inline Vf vsub(Vf a, Vf b) { return {a.v - b.v}; }
inline Vf vmul(Vf a, Vf b) { return {a.v * b.v}; }
inline Vf vfma(Vf a, Vf b, Vf c) { return {a.v * b.v + c.v}; }
inline Vf vmax(Vf a, Vf b) { return {(b.v > a.v || b.v != b.v) ? b.v : a.v}; }  // NaN in b propagates
inline float vhmax(Vf a) {
  const float m0 = a.v[0] > a.v[2] ? a.v[0] : a.v[2], m1 = a.v[1] > a.v[3] ? a.v[1] : a.v[3];
  return m0 > m1 ? m0 : m1;
}
inline float vhsum(Vf a) { return (a.v[0] + a.v[2]) + (a.v[1] + a.v[3]); }
inline bool vany_gt(Vf a, float t) { return a.v[0] > t || a.v[1] > t || a.v[2] > t || a.v[3] > t; }
inline Vf vkeep(Vf a, uint64_t bits, int c) {
  V4 r = a.v;
  for (int e = 0; e < kW; ++e)
    if (!((bits >> (c + e)) & 1)) r[e] = 0.f;
  return {r};
}
typedef int32_t V4i __attribute__((vector_size(16)));
inline Vf exp_poly(Vf r);
// As the AVX2 one: clamp, n = round(x·log2e) (by the 1.5·2^23 trick, exact for |t| < 2^22
// in the default rounding mode), exp(r)·2^n with 2^n built in the exponent bits.
inline Vf vexp(Vf x) {
  const V4 lo = vset1(-87.5f).v, hi = vset1(88.5f).v;
  V4 xc = (x.v < lo) ? lo : x.v;  // NaN compares false: stays NaN
  xc = (xc > hi) ? hi : xc;
  const V4 magic = vset1(12582912.f).v;
  const V4 n = (xc * vset1(kLog2e).v + magic) - magic;
  V4 r = xc - n * vset1(kLn2Hi).v;
  r = r - n * vset1(kLn2Lo).v;
  const V4 p = exp_poly(Vf{r}).v;
  const V4i e = (__builtin_convertvector(n, V4i) + 127) << 23;
  V4 two_n;
  std::memcpy(&two_n, &e, sizeof e);
  const V4 y = p * two_n;
  return {(x.v < vset1(-87.33654f).v) ? vzero().v : y};
}

inline void vtranspose(const float* src, int64_t lds, float* dst, int64_t ldd) {
  for (int r = 0; r < kW; ++r)
    for (int c = 0; c < kW; ++c) dst[c * ldd + r] = src[r * lds + c];
}
#endif

// exp(r) for |r| ≤ ln2/2, in the vector type's own operations.
inline Vf exp_poly(Vf r) {
  Vf p = vset1(kP0);
  p = vfma(p, r, vset1(kP1));
  p = vfma(p, r, vset1(kP2));
  p = vfma(p, r, vset1(kP3));
  p = vfma(p, r, vset1(kP4));
  p = vfma(p, r, vset1(kP5));
  return vfma(p, vmul(r, r), vadd(r, vset1(1.f)));
}

}  // namespace attn
}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
