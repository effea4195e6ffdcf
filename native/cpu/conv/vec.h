// The conv and pool kernels' additions to cpu/simd/vec.h (the shared per-ISA vector
// vocabulary): loads of a contiguous lane range (the other lanes 0 or `fill`, their
// addresses never touched), strided loads (AVX-512: two masked loads and a permute at
// stride 2, a gather otherwise), a bit-exact merge of disjoint lanes, PyTorch's max-pool
// step (vpool_max), and the lane-range arithmetic the kernels share. Compiled once per ISA like
// cpu/simd/vec.h: include inside the variant's target region (cpu/simd/variant.h).
//
// Every valid lane range here is contiguous: a run of output pixels of one output row reads
// one input row, and the in-bounds columns of a run are an interval.
#include "cpu/simd/vec.h"

namespace foveal {
namespace vec {
namespace FOVEAL_ISA_NS {
namespace {

using namespace ::foveal::cpu::FOVEAL_ISA_NS;
using vf = Vf;
constexpr int kV = kN;

// Strides above this are read lane by lane: a gather's 32-bit lane offsets (lane·stride)
// must not overflow.
constexpr int64_t kMaxGatherStride = int64_t{1} << 26;

// The first n lanes from p (only their memory touched), the others 0.
inline vf vload_zn(const float* p, int n) { return vload_n(p, n, 0.f); }
// max(v, 0) with NaN → 0, as the GEMM epilogue's `v > 0 ? v : 0`.
inline vf vrelu(vf a) { return vmax(a, vzero()); }

#if FOVEAL_VEC_LEVEL == 3
inline __mmask16 range_mask(int lo, int hi) {
  if (hi <= lo) return 0;
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}
inline vf vload_range_or(vf fill, const float* p, int lo, int hi) {
  return _mm512_mask_loadu_ps(fill, range_mask(lo, hi), p);
}
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
inline vf vor(vf a, vf b) { return _mm512_or_ps(a, b); }
// PyTorch's max-pool step: v replaces m when v > m or v is NaN (so the first of equal
// maxima and the last NaN stay). Not cpu/simd/vec.h's vmax_nan, a running max that keeps
// the first NaN and the last of equal values: a kernel that sees both through using-
// directives gets that one (its namespace is the nearer), hence the distinct name.
inline vf vpool_max(vf m, vf v) {
  const __mmask16 take = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_mask_mov_ps(m, take, v);
}
inline void vstore_aligned(float* p, vf v) { _mm512_store_ps(p, v); }
// The three taps of kV stride-2 windows along a row of W floats: t[x] lane l = p[off + 2l + x],
// or −Infinity where that index falls outside [0, W) (its address never touched). The 33
// floats p[off .. off + 32] in three masked loads; even, odd and even-shifted-by-one lanes.
inline void vtaps3_s2(const float* p, int64_t off, int64_t W, vf t[3]) {
  const int64_t lo = off >= 0 ? 0 : (-off < 33 ? -off : 33);
  const int64_t hi = W - off < 33 ? (W - off > lo ? W - off : lo) : 33;
  const uint64_t m = ((uint64_t{1} << hi) - 1) & ~((uint64_t{1} << lo) - 1);
  const vf ninf = _mm512_set1_ps(-__builtin_inff());
  const vf a = _mm512_mask_loadu_ps(ninf, static_cast<__mmask16>(m), p + off);
  const vf b = _mm512_mask_loadu_ps(ninf, static_cast<__mmask16>(m >> 16), p + off + 16);
  const vf c = _mm512_mask_loadu_ps(ninf, static_cast<__mmask16>(m >> 32), p + off + 32);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  t[0] = _mm512_permutex2var_ps(a, even, b);
  t[1] = _mm512_permutex2var_ps(a, odd, b);
  // Lanes 1..15 of t[0], then p[off + 32] (lane 0 of c).
  t[2] = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(c), _mm512_castps_si512(t[0]), 1));
}

#elif FOVEAL_VEC_LEVEL == 2
inline __m256i range_mask(int lo, int hi) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(hi), iota),
                          _mm256_cmpgt_epi32(_mm256_add_epi32(iota, _mm256_set1_epi32(1)), _mm256_set1_epi32(lo)));
}
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
  const __m256i idx =
      _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(stride)));
  return _mm256_mask_i32gather_ps(fill, p, idx, _mm256_castsi256_ps(range_mask(lo, hi)), 4);
}
inline vf vor(vf a, vf b) { return _mm256_or_ps(a, b); }
inline vf vpool_max(vf m, vf v) {
  const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  return _mm256_blendv_ps(m, v, take);
}
inline void vstore_aligned(float* p, vf v) { _mm256_store_ps(p, v); }

#else
inline vf vload_range_or(vf r, const float* p, int lo, int hi) {
  for (int l = lo; l < hi; ++l) r.v[l] = p[l];
  return r;
}
inline vf vload_range(const float* p, int lo, int hi) { return vload_range_or(vzero(), p, lo, hi); }
inline vf vload_strided_or(vf r, const float* p, int64_t stride, int lo, int hi) {
  for (int l = lo; l < hi; ++l) r.v[l] = p[l * stride];
  return r;
}
// Merges two vectors whose non-zero lanes are disjoint, bit-exactly (a sum would turn −0 into +0).
inline vf vor(vf a, vf b) {
  vf r;
  for (int l = 0; l < kV; ++l) r.v[l] = float_of(bits_of(a.v[l]) | bits_of(b.v[l]));
  return r;
}
inline vf vpool_max(vf m, vf v) {
  for (int l = 0; l < kV; ++l) m.v[l] = (v.v[l] > m.v[l] || v.v[l] != v.v[l]) ? v.v[l] : m.v[l];
  return m;
}
inline void vstore_aligned(float* p, vf v) { vstore(p, v); }
#endif

inline vf vload_strided(const float* p, int64_t stride, int lo, int hi) {
  return vload_strided_or(vzero(), p, stride, lo, hi);
}

#if FOVEAL_VEC_LEVEL != 3
// vtaps3_s2 (see the AVX-512 one) lane by lane.
inline void vtaps3_s2(const float* p, int64_t off, int64_t W, vf t[3]) {
  alignas(64) float b[3][kV];
  for (int x = 0; x < 3; ++x)
    for (int l = 0; l < kV; ++l) {
      const int64_t i = off + 2 * l + x;
      b[x][l] = i >= 0 && i < W ? p[i] : -__builtin_inff();
    }
  for (int x = 0; x < 3; ++x) t[x] = vload(b[x]);
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
