// softmax kernel bodies, compiled once per ISA (see core/isa.h and cpu/simd/vec.h).
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including softmax_kernels.h"
#endif

#include "cpu/simd/map.h"
#include "cpu/simd/vmath.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// Columns reduced together down the axis when inner > 1 (four vectors per row step).
constexpr int kColVecs = 4;
constexpr int64_t kColBlock = kColVecs * kN;

// ---------------------------------------------------------------- rows (inner == 1)

// Σ e^{x−m} in two vector accumulators (a fixed order for a given n), storing the terms
// to y when kStore.
template <bool kStore>
inline float row_exp_sum(const float* x, float* y, int64_t n, float m) {
  const Vf mv = vset1(m);
  Vf s0 = vzero(), s1 = vzero();
  int64_t i = 0;
  for (; i + 2 * kN <= n; i += 2 * kN) {
    const Vf e0 = vexp(vsub(vload(x + i), mv));
    const Vf e1 = vexp(vsub(vload(x + i + kN), mv));
    if (kStore) vstore(y + i, e0), vstore(y + i + kN, e1);
    s0 = vadd(s0, e0);
    s1 = vadd(s1, e1);
  }
  for (; i < n; i += kN) {
    const Vf e = vexp(vsub(vload_part(x + i, n - i, kNegInf), mv));  // padding: e^{−∞} = 0
    if (kStore) vstore_part(y + i, e, n - i);
    s0 = vadd(s0, e);
  }
  return vhsum(vadd(s0, s1));
}

inline void row_fill(float* y, int64_t n, float v) {
  for (int64_t i = 0; i < n; i += kN) vstore_part(y + i, vset1(v), n - i);
}

void forward_row(const float* x, float* y, int64_t n, bool log) {
  const float m = row_max_nan(x, n);
  if (m == kNegInf) return row_fill(y, n, log ? kNegInf : 0.f);  // nothing visible
  if (log) {
    // (x − m) − log s: x − m is exact near the max, so the largest outputs keep their
    // precision even when m is huge (m + log s first would round it away).
    const Vf mv = vset1(m), ls = vset1(std::log(row_exp_sum<false>(x, nullptr, n, m)));
    for (int64_t i = 0; i < n; i += kN) vstore_part(y + i, vsub(vsub(vload_part(x + i, n - i, 0.f), mv), ls), n - i);
  } else {
    const Vf r = vset1(1.f / row_exp_sum<true>(x, y, n, m));  // the sum is in [1, n]
    for (int64_t i = 0; i < n; i += kN) vstore_part(y + i, vmul(vload_part(y + i, n - i, 0.f), r), n - i);
  }
}

void backward_row(const float* dy, const float* y, float* dx, int64_t n, bool log) {
  Vf s0 = vzero(), s1 = vzero();
  int64_t i = 0;
  if (log) {
    // dx = dy − e^y·Σdy; a slice whose y are all −∞ had nothing visible: zero gradient.
    Vf m = vset1(kNegInf);
    for (; i + 2 * kN <= n; i += 2 * kN) {
      s0 = vadd(s0, vload(dy + i));
      s1 = vadd(s1, vload(dy + i + kN));
      m = vmax(m, vmax(vload(y + i), vload(y + i + kN)));
    }
    for (; i < n; i += kN) {
      s0 = vadd(s0, vload_part(dy + i, n - i, 0.f));
      m = vmax(m, vload_part(y + i, n - i, kNegInf));
    }
    if (vhmax(m) == kNegInf) return row_fill(dx, n, 0.f);
    const Vf s = vset1(vhsum(vadd(s0, s1)));
    for (i = 0; i < n; i += kN) {
      const Vf e = vexp(vload_part(y + i, n - i, 0.f));
      vstore_part(dx + i, vfnmadd(e, s, vload_part(dy + i, n - i, 0.f)), n - i);
    }
  } else {
    // dx = y·(dy − Σ dy·y)
    for (; i + 2 * kN <= n; i += 2 * kN) {
      s0 = vfmadd(vload(dy + i), vload(y + i), s0);
      s1 = vfmadd(vload(dy + i + kN), vload(y + i + kN), s1);
    }
    for (; i < n; i += kN) s0 = vfmadd(vload_part(dy + i, n - i, 0.f), vload_part(y + i, n - i, 0.f), s0);
    const Vf dot = vset1(vhsum(vadd(s0, s1)));
    for (i = 0; i < n; i += kN)
      vstore_part(dx + i, vmul(vload_part(y + i, n - i, 0.f), vsub(vload_part(dy + i, n - i, 0.f), dot)), n - i);
  }
}

// ---------------------------------------------------------------- columns (inner > 1)
// A block of up to kColBlock adjacent columns of one outer index, reduced down the axis:
// every lane is its own column, so no horizontal sums and one fixed order per column.

struct ColBlock {
  int64_t len, inner;  // axis length, distance between its elements
  int nv;              // vectors in this block
  int64_t cnt[kColVecs];  // live lanes per vector
};

inline ColBlock col_block(int64_t len, int64_t inner, int64_t width) {
  ColBlock b{len, inner, static_cast<int>((width + kN - 1) / kN), {0, 0, 0, 0}};
  for (int v = 0; v < b.nv; ++v) b.cnt[v] = width - v * kN < kN ? width - v * kN : kN;
  return b;
}

// Per-lane log (once per column, so the scalar libm call costs nothing).
inline Vf vlog_lanes(Vf s) {
  alignas(64) float tmp[kN];
  vstore(tmp, s);
  for (int i = 0; i < kN; ++i) tmp[i] = std::log(tmp[i]);
  return vload(tmp);
}

void forward_cols(const float* x, float* y, const ColBlock& b, bool log) {
  Vf m[kColVecs], s[kColVecs];
  for (int v = 0; v < b.nv; ++v) m[v] = vset1(kNegInf), s[v] = vzero();
  for (int64_t l = 0; l < b.len; ++l)
    for (int v = 0; v < b.nv; ++v) m[v] = vmax_nan(m[v], vload_part(x + l * b.inner + v * kN, b.cnt[v], kNegInf));
  Vm dead[kColVecs];
  for (int v = 0; v < b.nv; ++v) {
    dead[v] = veq(m[v], vset1(kNegInf));  // nothing visible in this column
    m[v] = vselect(dead[v], vzero(), m[v]);  // so x − m = −∞ there, not NaN
  }
  for (int64_t l = 0; l < b.len; ++l) {
    for (int v = 0; v < b.nv; ++v) {
      const int64_t off = l * b.inner + v * kN;
      const Vf e = vexp(vsub(vload_part(x + off, b.cnt[v], kNegInf), m[v]));
      if (!log) vstore_part(y + off, e, b.cnt[v]);
      s[v] = vadd(s[v], e);
    }
  }
  for (int v = 0; v < b.nv; ++v)  // 1/s for softmax, log s for logSoftmax; 0 on dead columns
    s[v] = vselect(dead[v], vzero(), log ? vlog_lanes(s[v]) : vdiv(vset1(1.f), s[v]));
  for (int64_t l = 0; l < b.len; ++l) {
    for (int v = 0; v < b.nv; ++v) {
      const int64_t off = l * b.inner + v * kN;
      const Vf r = log ? vsub(vsub(vload_part(x + off, b.cnt[v], 0.f), m[v]), s[v])
                       : vmul(vload_part(y + off, b.cnt[v], 0.f), s[v]);
      vstore_part(y + off, r, b.cnt[v]);
    }
  }
}

void backward_cols(const float* dy, const float* y, float* dx, const ColBlock& b, bool log) {
  Vf s[kColVecs], m[kColVecs];
  for (int v = 0; v < b.nv; ++v) s[v] = vzero(), m[v] = vset1(kNegInf);
  for (int64_t l = 0; l < b.len; ++l) {
    for (int v = 0; v < b.nv; ++v) {
      const int64_t off = l * b.inner + v * kN;
      const Vf g = vload_part(dy + off, b.cnt[v], 0.f);
      const Vf yv = vload_part(y + off, b.cnt[v], 0.f);
      if (log) {
        s[v] = vadd(s[v], g);
        m[v] = vmax(m[v], yv);
      } else {
        s[v] = vfmadd(g, yv, s[v]);
      }
    }
  }
  if (log)  // columns whose y are all −∞ get a zero gradient
    for (int v = 0; v < b.nv; ++v) s[v] = vselect(veq(m[v], vset1(kNegInf)), vzero(), s[v]);
  for (int64_t l = 0; l < b.len; ++l) {
    for (int v = 0; v < b.nv; ++v) {
      const int64_t off = l * b.inner + v * kN;
      const Vf g = vload_part(dy + off, b.cnt[v], 0.f);
      const Vf yv = vload_part(y + off, b.cnt[v], 0.f);
      Vf r;
      if (log) {
        r = vfnmadd(vexp(yv), s[v], g);
        r = vselect(veq(m[v], vset1(kNegInf)), vzero(), r);
      } else {
        r = vmul(yv, vsub(g, s[v]));
      }
      vstore_part(dx + off, r, b.cnt[v]);
    }
  }
}

// Runs fn(slice base offset, ColBlock or row length) over every slice, in parallel over
// slices: rows when inner == 1, (outer, column block) pairs otherwise.
template <class RowFn, class ColFn>
void for_each_slice(int64_t outer, int64_t len, int64_t inner, RowFn row, ColFn col) {
  if (outer == 0 || len == 0 || inner == 0) return;
  const int64_t slice_elems = len * (inner == 1 ? 1 : (inner < kColBlock ? inner : kColBlock));
  const int64_t grain = slice_elems >= 16384 ? 1 : 16384 / slice_elems;
  if (inner == 1) {
    parallel_for(outer, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) row(r * len, len);
    });
    return;
  }
  const int64_t blocks = (inner + kColBlock - 1) / kColBlock;
  parallel_for(outer * blocks, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / blocks, j0 = (t % blocks) * kColBlock;
      const int64_t w = inner - j0 < kColBlock ? inner - j0 : kColBlock;
      col(o * len * inner + j0, col_block(len, inner, w));
    }
  });
}

}  // namespace

void softmax_forward(const SoftmaxParams& p) {
  for_each_slice(
      p.outer, p.len, p.inner, [&](int64_t off, int64_t n) { forward_row(p.x + off, p.y + off, n, p.log); },
      [&](int64_t off, const ColBlock& b) { forward_cols(p.x + off, p.y + off, b, p.log); });
}

void softmax_backward(const SoftmaxBackwardParams& p) {
  for_each_slice(
      p.outer, p.len, p.inner,
      [&](int64_t off, int64_t n) { backward_row(p.dy + off, p.y + off, p.dx + off, n, p.log); },
      [&](int64_t off, const ColBlock& b) { backward_cols(p.dy + off, p.y + off, p.dx + off, b, p.log); });
}

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
