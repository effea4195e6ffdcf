// A small SIMD vocabulary shared by the conv and pool kernels, compiled once per ISA:
// include it inside a FOVEAL_TARGET_* region with FOVEAL_ISA_NS and FOVEAL_VEC_LEVEL
// (0 generic, 2 AVX2, 3 AVX-512) defined (core/isa.h); it defines foveal::vec::<isa>.
//
// vf holds kV floats. Loads take a lane range [lo, hi): only those lanes' addresses are
// touched, the other lanes get 0 (or `fill`). The generic level is plain loops over 16
// lanes that the compiler vectorises for the baseline.
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including vec.h"
#endif
#ifndef FOVEAL_VEC_LEVEL
#error "define FOVEAL_VEC_LEVEL before including vec.h"
#endif

namespace foveal {
namespace vec {
namespace FOVEAL_ISA_NS {
namespace {

// Strides above this are read lane by lane: a gather's 32-bit lane offsets (lane·stride)
// must not overflow.
constexpr int64_t kMaxGatherStride = int64_t{1} << 26;

#if FOVEAL_VEC_LEVEL == 3
constexpr int kV = 16;
using vf = __m512;
inline __mmask16 range_mask(int lo, int hi) {
  if (hi <= lo) return 0;
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}
inline vf vzero() { return _mm512_setzero_ps(); }
inline vf vset1(float a) { return _mm512_set1_ps(a); }
inline vf vload(const float* p) { return _mm512_loadu_ps(p); }
inline vf vload_range_or(vf fill, const float* p, int lo, int hi) { return _mm512_mask_loadu_ps(fill, range_mask(lo, hi), p); }
inline vf vload_range(const float* p, int lo, int hi) { return _mm512_maskz_loadu_ps(range_mask(lo, hi), p); }
inline vf vload_strided_or(vf fill, const float* p, int64_t stride, int lo, int hi) {
  if (hi <= lo) return fill;
  if (stride == 2) {
    // Elements [2·lo, 2·hi − 1) of p in two masked loads, then the even ones.
    const uint64_t e = ((uint64_t{1} << (2 * hi - 1)) - 1) & ~((uint64_t{1} << (2 * lo)) - 1);
    const __m512 a = _mm512_maskz_loadu_ps(static_cast<__mmask16>(e), p);
    const __m512 b = _mm512_maskz_loadu_ps(static_cast<__mmask16>(e >> 16), p + 16);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_mask_mov_ps(fill, range_mask(lo, hi), _mm512_permutex2var_ps(a, even, b));
  }
  if (stride > kMaxGatherStride) {
    alignas(64) float t[kV];
    _mm512_store_ps(t, fill);
    for (int l = lo; l < hi; ++l) t[l] = p[l * stride];
    return _mm512_load_ps(t);
  }
  const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                         _mm512_set1_epi32(static_cast<int>(stride)));
  return _mm512_mask_i32gather_ps(fill, range_mask(lo, hi), idx, p, 4);
}
inline vf vload_strided(const float* p, int64_t stride, int lo, int hi) {
  return vload_strided_or(_mm512_setzero_ps(), p, stride, lo, hi);
}
inline vf vor(vf a, vf b) { return _mm512_or_ps(a, b); }
inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
inline vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
inline void vstore_aligned(float* p, vf v) { _mm512_store_ps(p, v); }
inline vf vdiv(vf a, vf b) { return _mm512_div_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
inline vf vfmadd(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
// max(v, 0) with NaN → 0, as the GEMM epilogue's `v > 0 ? v : 0`.
inline vf vrelu(vf a) { return _mm512_maskz_max_ps(0xFFFF, a, _mm512_setzero_ps()); }
// PyTorch's max-pool step: v replaces m when v > m or v is NaN.
inline vf vmax_nan(vf m, vf v) {
  const __mmask16 take = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_mask_mov_ps(m, take, v);
}
inline void vstore(float* p, vf v) { _mm512_storeu_ps(p, v); }
inline void vstore_n(float* p, vf v, int n) { _mm512_mask_storeu_ps(p, range_mask(0, n), v); }
inline vf vload_n(const float* p, int n) { return _mm512_maskz_loadu_ps(range_mask(0, n), p); }
inline float vhsum(vf v) {
  // A fixed tree: halves added pairwise down to one lane.
  const __m256 h = _mm256_add_ps(_mm512_extractf32x8_ps(v, 0), _mm512_extractf32x8_ps(v, 1));
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}

#elif FOVEAL_VEC_LEVEL == 2
constexpr int kV = 8;
using vf = __m256;
inline __m256i range_mask(int lo, int hi) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(hi), iota),
                          _mm256_cmpgt_epi32(_mm256_add_epi32(iota, _mm256_set1_epi32(1)), _mm256_set1_epi32(lo)));
}
inline vf vzero() { return _mm256_setzero_ps(); }
inline vf vset1(float a) { return _mm256_set1_ps(a); }
inline vf vload(const float* p) { return _mm256_loadu_ps(p); }
inline vf vload_range(const float* p, int lo, int hi) { return _mm256_maskload_ps(p, range_mask(lo, hi)); }
inline vf vload_range_or(vf fill, const float* p, int lo, int hi) {
  const __m256i m = range_mask(lo, hi);
  return _mm256_blendv_ps(fill, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
inline vf vload_strided_or(vf fill, const float* p, int64_t stride, int lo, int hi) {
  if (hi <= lo) return fill;
  if (stride > kMaxGatherStride) {
    alignas(32) float t[kV];
    _mm256_store_ps(t, fill);
    for (int l = lo; l < hi; ++l) t[l] = p[l * stride];
    return _mm256_load_ps(t);
  }
  const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                         _mm256_set1_epi32(static_cast<int>(stride)));
  return _mm256_mask_i32gather_ps(fill, p, idx, _mm256_castsi256_ps(range_mask(lo, hi)), 4);
}
inline vf vload_strided(const float* p, int64_t stride, int lo, int hi) {
  return vload_strided_or(_mm256_setzero_ps(), p, stride, lo, hi);
}
inline vf vor(vf a, vf b) { return _mm256_or_ps(a, b); }
inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
inline void vstore_aligned(float* p, vf v) { _mm256_store_ps(p, v); }
inline vf vdiv(vf a, vf b) { return _mm256_div_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
inline vf vfmadd(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
inline vf vrelu(vf a) { return _mm256_max_ps(a, _mm256_setzero_ps()); }
inline vf vmax_nan(vf m, vf v) {
  const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  return _mm256_blendv_ps(m, v, take);
}
inline void vstore(float* p, vf v) { _mm256_storeu_ps(p, v); }
inline void vstore_n(float* p, vf v, int n) { _mm256_maskstore_ps(p, range_mask(0, n), v); }
inline vf vload_n(const float* p, int n) { return _mm256_maskload_ps(p, range_mask(0, n)); }
inline float vhsum(vf v) {
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}

#else
constexpr int kV = 16;
struct vf {
  float v[kV];
};
inline vf vset1(float a) {
  vf r;
  for (int l = 0; l < kV; ++l) r.v[l] = a;
  return r;
}
inline vf vzero() { return vset1(0.f); }
inline vf vload(const float* p) {
  vf r;
  for (int l = 0; l < kV; ++l) r.v[l] = p[l];
  return r;
}
inline vf vload_range_or(vf r, const float* p, int lo, int hi) {
  for (int l = lo; l < hi; ++l) r.v[l] = p[l];
  return r;
}
inline vf vload_range(const float* p, int lo, int hi) { return vload_range_or(vzero(), p, lo, hi); }
inline vf vload_strided_or(vf r, const float* p, int64_t stride, int lo, int hi) {
  for (int l = lo; l < hi; ++l) r.v[l] = p[l * stride];
  return r;
}
inline vf vload_strided(const float* p, int64_t stride, int lo, int hi) { return vload_strided_or(vzero(), p, stride, lo, hi); }
// Merges two vectors whose non-zero lanes are disjoint, bit-exactly (a sum would turn −0 into +0).
inline vf vor(vf a, vf b) {
  vf r;
  for (int l = 0; l < kV; ++l) {
    uint32_t x, y;
    std::memcpy(&x, &a.v[l], 4);
    std::memcpy(&y, &b.v[l], 4);
    x |= y;
    std::memcpy(&r.v[l], &x, 4);
  }
  return r;
}
inline vf vadd(vf a, vf b) {
  for (int l = 0; l < kV; ++l) a.v[l] += b.v[l];
  return a;
}
inline vf vdiv(vf a, vf b) {
  for (int l = 0; l < kV; ++l) a.v[l] /= b.v[l];
  return a;
}
inline vf vsub(vf a, vf b) {
  for (int l = 0; l < kV; ++l) a.v[l] -= b.v[l];
  return a;
}
inline void vstore_aligned(float* p, vf v) {
  for (int l = 0; l < kV; ++l) p[l] = v.v[l];
}
inline vf vmul(vf a, vf b) {
  for (int l = 0; l < kV; ++l) a.v[l] *= b.v[l];
  return a;
}
inline vf vfmadd(vf a, vf b, vf c) {
  for (int l = 0; l < kV; ++l) c.v[l] += a.v[l] * b.v[l];
  return c;
}
inline vf vrelu(vf a) {
  for (int l = 0; l < kV; ++l) a.v[l] = a.v[l] > 0.f ? a.v[l] : 0.f;
  return a;
}
inline vf vmax_nan(vf m, vf v) {
  for (int l = 0; l < kV; ++l) m.v[l] = (v.v[l] > m.v[l] || v.v[l] != v.v[l]) ? v.v[l] : m.v[l];
  return m;
}
inline void vstore(float* p, vf v) {
  for (int l = 0; l < kV; ++l) p[l] = v.v[l];
}
inline void vstore_n(float* p, vf v, int n) {
  for (int l = 0; l < n; ++l) p[l] = v.v[l];
}
inline vf vload_n(const float* p, int n) { return vload_range(p, 0, n); }
inline float vhsum(vf v) {
  for (int width = kV / 2; width >= 1; width /= 2)
    for (int l = 0; l < width; ++l) v.v[l] += v.v[l + width];
  return v.v[0];
}
#endif

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// The lanes t ∈ [0, n) with 0 ≤ x0 + t·stride < limit: [*lo, *hi) (empty when *lo ≥ *hi).
inline void valid_lanes(int64_t x0, int64_t stride, int64_t limit, int64_t n, int64_t* lo, int64_t* hi) {
  if (stride == 1) {  // the common case, without the divisions (tens of cycles each)
    *lo = x0 >= 0 ? 0 : -x0;
    *hi = min64(n, limit - x0);
  } else {
    *lo = x0 >= 0 ? 0 : (-x0 + stride - 1) / stride;
    *hi = x0 > limit - 1 ? 0 : min64(n, (limit - 1 - x0) / stride + 1);
  }
  if (*hi < *lo) *hi = *lo;
}

}  // namespace
}  // namespace FOVEAL_ISA_NS
}  // namespace vec
}  // namespace foveal
