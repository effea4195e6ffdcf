// Attention: topK, the per-row thresholds (the k-th largest visible score, ties to the
// lower key index).
//
// Attention's kernels are text compiled once per ISA level: cpu/simd/variant.h includes
// attention_isa.h inside the level's target region, which includes this file.
#pragma once

#ifndef FOVEAL_ISA_NS
#error "include cpu/attention/attention_topk_isa.h through attention_isa.h (cpu/simd/variant.h)"
#endif

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace attn {

// Per-row topK thresholds: key j of a row is kept iff s > t or (s == t and j ≤ c).
struct Threshold {
  float t;
  int64_t c;
};

inline Threshold topk_cut(const float* s, int64_t n, int64_t k, float t);

// Selection written out rather than std::nth_element / std::*_heap: a standard algorithm
// instantiated here is compiled for the baseline ISA (its template lives outside this
// file's target region) and cannot inline our comparator, which made it 3x slower.

// Min-heap of k floats: sift h[i] down.
inline void heap_sift_down(float* h, int64_t k, int64_t i) {
  const float v = h[i];
  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= k) break;
    if (c + 1 < k && h[c + 1] < h[c]) ++c;
    if (!(h[c] < v)) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = v;
}

// The k-th largest (k ≥ 1) of a[0, n) (no NaN), reordering a: quickselect with a
// median-of-three pivot, and std::nth_element if it ever degenerates.
inline float kth_largest(float* a, int64_t n, int64_t k) {
  int64_t lo = 0, hi = n - 1;
  const int64_t target = k - 1;  // position in descending order
  for (int round = 0; lo < hi; ++round) {
    if (round > 64) {
      std::nth_element(a + lo, a + target, a + hi + 1, [](float x, float y) { return x > y; });
      return a[target];
    }
    const float x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi];
    const float pivot = std::max(std::min(x, y), std::min(std::max(x, y), z));
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] > pivot) ++i;
      while (a[j] < pivot) --j;
      if (i <= j) {
        const float t = a[i];
        a[i++] = a[j];
        a[j--] = t;
      }
    }
    // Now a[lo..j] ≥ pivot ≥ a[i..hi], and anything between equals the pivot.
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

// Finds the threshold of one row of n scores (−Infinity: invisible; NaN: never kept). The
// row must be readable, −Infinity-padded, up to n rounded up to whole vectors; `tmp`
// holds n floats.
inline Threshold topk_threshold(const float* s, int64_t n, int64_t k, float* tmp) {
  int64_t m = 0;
  if (k * 8 > n) {
    // A large k keeps the bar low and a heap busy: select among all visible scores.
    for (int64_t j = 0; j < n; ++j)
      if (s[j] > kNegInf) tmp[m++] = s[j];
    if (m <= k) return {kNegInf, n};
    return topk_cut(s, n, k, kth_largest(tmp, m, k));
  }
  // The k largest visible scores so far in a min-heap (tmp[0] the smallest of them). Once
  // it is full, a vector of scores none of which beats tmp[0] costs one compare: most of
  // a row, since the bar rises quickly.
  for (int64_t j = 0; j < n; j += kN) {
    if (m == k && !many(vgt(vload(s + j), vset1(tmp[0])))) continue;
    for (int64_t e = j; e < j + kN; ++e) {
      const float v = s[e];
      if (!(v > kNegInf)) continue;  // hidden, padding, or NaN
      if (m < k) {
        tmp[m++] = v;
        if (m == k)
          for (int64_t i = k / 2 - 1; i >= 0; --i) heap_sift_down(tmp, k, i);
      } else if (v > tmp[0]) {
        tmp[0] = v;
        heap_sift_down(tmp, k, 0);
      }
    }
  }
  if (m < k) return {kNegInf, n};  // fewer than k visible: all of them are kept
  return topk_cut(s, n, k, tmp[0]);
}

// The threshold for the k-th largest visible score t: ties at t go to the lower indices.
inline Threshold topk_cut(const float* s, int64_t n, int64_t k, float t) {
  int64_t above = 0;
  for (int64_t j = 0; j < n; ++j) above += s[j] > t;
  int64_t need = k - above;  // ≥ 1: t itself is among the k largest
  int64_t c = n;
  for (int64_t j = 0; j < n; ++j)
    if (s[j] == t && --need == 0) {
      c = j;
      break;
    }
  return {t, c};
}

}  // namespace attn
}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
