// Element-wise loops and row reductions over cpu/simd/vec.h: full vectors, then one
// masked tail vector, so an element's result never depends on where a chunk boundary
// falls (bit-identical across thread counts). Include inside a target region, like vec.h.
#pragma once

#include "cpu/simd/vec.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

// y[i] = f(x[i]) for i < n.
template <class F>
inline void map1(const float* __restrict x, float* __restrict y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 2 * kN <= n; i += 2 * kN) {
    const Vf a = f(vload(x + i)), b = f(vload(x + i + kN));
    vstore(y + i, a);
    vstore(y + i + kN, b);
  }
  for (; i + kN <= n; i += kN) vstore(y + i, f(vload(x + i)));
  if (i < n) vstore_n(y + i, f(vload_n(x + i, n - i, 0.f)), n - i);
}

// y[i] = f(a[i], b[i]) for i < n.
template <class F>
inline void map2(const float* __restrict a, const float* __restrict b, float* __restrict y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 2 * kN <= n; i += 2 * kN) {
    const Vf u = f(vload(a + i), vload(b + i)), v = f(vload(a + i + kN), vload(b + i + kN));
    vstore(y + i, u);
    vstore(y + i + kN, v);
  }
  for (; i + kN <= n; i += kN) vstore(y + i, f(vload(a + i), vload(b + i)));
  if (i < n) vstore_n(y + i, f(vload_n(a + i, n - i, 0.f), vload_n(b + i, n - i, 0.f)), n - i);
}

// max over n elements (−∞ for n = 0), NaN if any element is NaN.
inline float row_max_nan(const float* x, int64_t n) {
  const float lowest = -std::numeric_limits<float>::infinity();
  Vf a0 = vset1(lowest), a1 = vset1(lowest);
  int64_t i = 0;
  for (; i + 2 * kN <= n; i += 2 * kN) {
    a0 = vmax_nan(a0, vload(x + i));
    a1 = vmax_nan(a1, vload(x + i + kN));
  }
  for (; i < n; i += kN) a0 = vmax_nan(a0, vload_part(x + i, n - i, lowest));
  return vhmax_nan(vmax_nan(a0, a1));
}

// Elements per parallel chunk for an element-wise op costing about `cost` vector
// operations per element: a chunk must be worth a thread wake-up (~10 µs).
inline int64_t map_grain(int cost) { return cost <= 1 ? 65536 : 65536 / cost; }

}  // namespace
}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
