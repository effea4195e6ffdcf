// pool kernel bodies, compiled once per ISA by cpu/simd/variant.h (pool_generic/avx2/
// avx512.cpp; rules in core/isa.h), on cpu/simd/vec.h and the conv additions (cpu/conv/vec.h). The
// forwards run kV output columns at a time; every output's window is visited in
// row-major order, so sums and NaN/tie rules do not depend on the vector width.
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including pool_kernels.h"
#endif
#include "cpu/conv/vec.h"

namespace foveal {
namespace cpu {
namespace poolk {
namespace FOVEAL_ISA_NS {
namespace {

using namespace ::foveal::vec::FOVEAL_ISA_NS;

constexpr int kSlotRow = 2;  // mem::scratch slot: column tables, argmax rows

// What output chunk j (kV columns) reads for window column kx, the same on every row:
// lanes [lo, hi) from row[off + lane·sw].
struct PoolCols {
  int64_t off;
  int lo, hi;
};

inline PoolCols* pool_cols(const PoolShape& s, int64_t chunks, void* mem) {
  PoolCols* tab = static_cast<PoolCols*>(mem);
  for (int64_t j = 0; j < chunks; ++j) {
    const int64_t ox0 = j * kV, lanes = min64(kV, s.OW - ox0);
    for (int64_t kx = 0; kx < s.kw; ++kx) {
      const int64_t ix0 = ox0 * s.sw - s.pl + kx * s.dw;
      int64_t lo, hi;
      valid_lanes(ix0, s.sw, s.W, lanes, &lo, &hi);
      tab[j * s.kw + kx] = {ix0, static_cast<int>(lo), static_cast<int>(hi)};
    }
  }
  return tab;
}

// The outputs o ∈ [0, n) whose cell x0 + o·stride lies in [0, limit): [*lo, *hi).
inline void valid_range(int64_t x0, int64_t stride, int64_t limit, int64_t n, int64_t* lo, int64_t* hi) {
  *lo = x0 >= 0 ? 0 : (-x0 + stride - 1) / stride;
  *hi = x0 > limit - 1 ? 0 : min64(n, (limit - 1 - x0) / stride + 1);
  if (*hi < *lo) *hi = *lo;
}

// 3×3 windows at stride 2, no dilation (the ResNet stem's pool), separably: a chunk of kV
// outputs folds the three taps of each input row it reads once (h), and each output row
// folds its rows' h, keeping the row it shares with the next output row. The same result,
// bit for bit, as folding the window in row-major order: vpool_max keeps the first of equal
// maxima and the last NaN, and both survive folding rows first. Columns are walked outer so
// the shared row stays in a register; a plane is a few KiB, so its rows stay in L1.
void max_forward_3x3_s2(const MaxPoolParams& p, int64_t plane0, int64_t plane1) {
  const PoolShape& s = p.s;
  const vf ninf = vset1(-__builtin_inff());
  for (int64_t plane = plane0; plane < plane1; ++plane) {
    const float* xp = p.x + plane * s.H * s.W;
    float* yp = p.y + plane * s.OH * s.OW;
    for (int64_t ox0 = 0; ox0 < s.OW; ox0 += kV) {
      const int64_t off = ox0 * 2 - s.pl;
      const int lanes = static_cast<int>(min64(kV, s.OW - ox0));
      vf shared = ninf;
      int64_t shared_row = -1;
      for (int64_t oy = 0; oy < s.OH; ++oy) {
        vf m = ninf;
        for (int64_t ky = 0; ky < 3; ++ky) {
          const int64_t iy = oy * 2 - s.pt + ky;
          if (iy < 0 || iy >= s.H) continue;
          vf h;
          if (iy == shared_row) {
            h = shared;
          } else {
            vf t[3];
            vtaps3_s2(xp + iy * s.W, off, s.W, t);
            h = vpool_max(vpool_max(t[0], t[1]), t[2]);
          }
          m = vpool_max(m, h);
          if (ky == 2) shared = h, shared_row = iy;
        }
        float* yo = yp + oy * s.OW + ox0;
        if (lanes == kV) vstore(yo, m);
        else vstore_n(yo, m, lanes);
      }
    }
  }
}

void max_forward(const MaxPoolParams& p, int64_t plane0, int64_t plane1) {
  const PoolShape& s = p.s;
  if (s.kh == 3 && s.kw == 3 && s.sh == 2 && s.sw == 2 && s.dh == 1 && s.dw == 1)
    return max_forward_3x3_s2(p, plane0, plane1);
  const int64_t chunks = (s.OW + kV - 1) / kV;
  const PoolCols* tab =
      pool_cols(s, chunks, mem::scratch(kSlotRow, static_cast<size_t>(chunks * s.kw) * sizeof(PoolCols)));
  const vf ninf = vset1(-__builtin_inff());
  for (int64_t plane = plane0; plane < plane1; ++plane) {
    const float* xp = p.x + plane * s.H * s.W;
    float* yp = p.y + plane * s.OH * s.OW;
    for (int64_t oy = 0; oy < s.OH; ++oy) {
      for (int64_t j = 0; j < chunks; ++j) {
        const PoolCols* tj = tab + j * s.kw;
        vf m = ninf;  // lanes no input cell reaches stay −Infinity
        for (int64_t ky = 0; ky < s.kh; ++ky) {
          const int64_t iy = oy * s.sh - s.pt + ky * s.dh;
          if (iy < 0 || iy >= s.H) continue;
          const float* row = xp + iy * s.W;
          for (int64_t kx = 0; kx < s.kw; ++kx) {
            const PoolCols& t = tj[kx];
            if (t.lo >= t.hi) continue;
            const vf v = s.sw == 1 ? vload_range_or(ninf, row + t.off, t.lo, t.hi)
                                   : vload_strided_or(ninf, row + t.off, s.sw, t.lo, t.hi);
            m = vpool_max(m, v);
          }
        }
        const int lanes = static_cast<int>(min64(kV, s.OW - j * kV));
        float* yo = yp + oy * s.OW + j * kV;
        if (lanes == kV) vstore(yo, m);
        else vstore_n(yo, m, lanes);
      }
    }
  }
}

void max_backward_scalar(const MaxPoolBackwardParams& p, int64_t plane0, int64_t plane1) {
  const PoolShape& s = p.s;
  const int64_t HW = s.H * s.W;
  const float ninf = -__builtin_inff();
  char* buf = static_cast<char*>(mem::scratch(kSlotRow, static_cast<size_t>(s.OW) * (sizeof(float) + sizeof(int64_t))));
  int64_t* __restrict idx = reinterpret_cast<int64_t*>(buf);
  float* __restrict m = reinterpret_cast<float*>(buf + s.OW * sizeof(int64_t));
  for (int64_t plane = plane0; plane < plane1; ++plane) {
    const float* xp = p.x + plane * HW;
    const float* dyp = p.dy + plane * s.OH * s.OW;
    float* dxp = p.dx + plane * HW;
    if (!p.accumulate)
      for (int64_t i = 0; i < HW; ++i) dxp[i] = 0.f;
    for (int64_t oy = 0; oy < s.OH; ++oy) {
      for (int64_t ox = 0; ox < s.OW; ++ox) m[ox] = ninf, idx[ox] = -1;
      for (int64_t ky = 0; ky < s.kh; ++ky) {
        const int64_t iy = oy * s.sh - s.pt + ky * s.dh;
        if (iy < 0 || iy >= s.H) continue;
        for (int64_t kx = 0; kx < s.kw; ++kx) {
          const int64_t ix0 = kx * s.dw - s.pl;
          int64_t lo, hi;
          valid_range(ix0, s.sw, s.W, s.OW, &lo, &hi);
          const int64_t base = iy * s.W + ix0;
          for (int64_t ox = lo; ox < hi; ++ox) {
            const int64_t i = base + ox * s.sw;
            const float v = xp[i];
            // The first cell of the window is the argmax until a larger value or a NaN comes.
            if (idx[ox] < 0 || v > m[ox] || v != v) m[ox] = v, idx[ox] = i;
          }
        }
      }
      const float* g = dyp + oy * s.OW;
      for (int64_t ox = 0; ox < s.OW; ++ox)
        if (idx[ox] >= 0) dxp[idx[ox]] += g[ox];
    }
  }
}

#if FOVEAL_VEC_LEVEL == 3
// The argmax of kV windows at once (values and plane indices in registers, the same
// first-max / last-NaN rule as max_backward_scalar), then the gradients routed in output
// order. Windows that cannot overlap (stride ≥ window) route with one scatter: no two
// lanes, and no two chunks, can name the same cell.
void max_backward(const MaxPoolBackwardParams& p, int64_t plane0, int64_t plane1) {
  const PoolShape& s = p.s;
  const int64_t HW = s.H * s.W;
  if (HW >= (int64_t{1} << 31) || s.sw > (int64_t{1} << 26)) return max_backward_scalar(p, plane0, plane1);
  const int64_t chunks = (s.OW + kV - 1) / kV;
  const size_t tab_bytes = (static_cast<size_t>(chunks * s.kw) * sizeof(PoolCols) + 63) / 64 * 64;
  char* buf = static_cast<char*>(mem::scratch(kSlotRow, tab_bytes + kV * sizeof(int32_t)));
  const PoolCols* tab = pool_cols(s, chunks, buf);
  int32_t* lane_idx = reinterpret_cast<int32_t*>(buf + tab_bytes);
  const bool disjoint = (s.kh - 1) * s.dh + 1 <= s.sh && (s.kw - 1) * s.dw + 1 <= s.sw;
  const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
  const __m512i none = _mm512_set1_epi32(-1);
  const __m512i steps = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(static_cast<int>(s.sw)));
  for (int64_t plane = plane0; plane < plane1; ++plane) {
    const float* xp = p.x + plane * HW;
    const float* dyp = p.dy + plane * s.OH * s.OW;
    float* dxp = p.dx + plane * HW;
    if (!p.accumulate) std::memset(dxp, 0, static_cast<size_t>(HW) * sizeof(float));
    for (int64_t oy = 0; oy < s.OH; ++oy) {
      for (int64_t j = 0; j < chunks; ++j) {
        const PoolCols* tj = tab + j * s.kw;
        __m512 m = ninf;
        __m512i idx = none;
        for (int64_t ky = 0; ky < s.kh; ++ky) {
          const int64_t iy = oy * s.sh - s.pt + ky * s.dh;
          if (iy < 0 || iy >= s.H) continue;
          const float* row = xp + iy * s.W;
          for (int64_t kx = 0; kx < s.kw; ++kx) {
            const PoolCols& t = tj[kx];
            if (t.lo >= t.hi) continue;
            const __mmask16 valid = range_mask(t.lo, t.hi);
            const __m512 v = s.sw == 1 ? vload_range_or(ninf, row + t.off, t.lo, t.hi)
                                       : vload_strided_or(ninf, row + t.off, s.sw, t.lo, t.hi);
            const __mmask16 take = valid & (_mm512_cmpeq_epi32_mask(idx, none) | _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) |
                                            _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
            m = _mm512_mask_mov_ps(m, take, v);
            const __m512i cell = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(iy * s.W + t.off)), steps);
            idx = _mm512_mask_mov_epi32(idx, take, cell);
          }
        }
        const int lanes = static_cast<int>(min64(kV, s.OW - j * kV));
        const float* g = dyp + oy * s.OW + j * kV;
        const __mmask16 routed = range_mask(0, lanes) & _mm512_cmpneq_epi32_mask(idx, none);
        if (disjoint) {
          __m512 val = _mm512_maskz_loadu_ps(routed, g);
          if (p.accumulate) val = _mm512_add_ps(_mm512_mask_i32gather_ps(_mm512_setzero_ps(), routed, idx, dxp, 4), val);
          _mm512_mask_i32scatter_ps(dxp, routed, idx, val, 4);
        } else {
          _mm512_storeu_si512(lane_idx, idx);
          for (int l = 0; l < lanes; ++l)
            if (lane_idx[l] >= 0) dxp[lane_idx[l]] += g[l];
        }
      }
    }
  }
}
#else
void max_backward(const MaxPoolBackwardParams& p, int64_t plane0, int64_t plane1) {
  max_backward_scalar(p, plane0, plane1);
}
#endif

// The window of output (oy, ox) for average pooling: its input cells [h0, h1) × [w0, w1)
// (empty when h0 ≥ h1 or w0 ≥ w1) and the divisor.
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  float div;
};
inline AvgWindow avg_window(const PoolShape& s, bool count_include_pad, int64_t oy, int64_t ox) {
  const int64_t hs = oy * s.sh - s.pt, ws = ox * s.sw - s.pl;
  const int64_t he = min64(hs + s.kh, s.H + s.pb), we = min64(ws + s.kw, s.W + s.pr);
  AvgWindow w;
  w.h0 = max64(hs, 0), w.h1 = min64(he, s.H), w.w0 = max64(ws, 0), w.w1 = min64(we, s.W);
  const int64_t n = count_include_pad ? (he - hs) * (we - ws) : (w.h1 - w.h0) * (w.w1 - w.w0);
  w.div = static_cast<float>(n);
  return w;
}

// One axis of an average window: the size PyTorch divides by (countIncludePad: the window
// clipped to the padded input; else its count of input cells), at least 1 (an empty window
// sums to 0 whatever it is divided by).
inline float avg_extent(int64_t start, int64_t k, int64_t n, int64_t pad_end, bool count_include_pad) {
  const int64_t end = min64(start + k, n + pad_end);
  const int64_t e = count_include_pad ? end - start : min64(end, n) - max64(start, 0);
  return static_cast<float>(e > 1 ? e : 1);
}

void avg_forward(const AvgPoolParams& p, int64_t plane0, int64_t plane1) {
  const PoolShape& s = p.s;
  const int64_t chunks = (s.OW + kV - 1) / kV;
  const size_t tab_bytes = (static_cast<size_t>(chunks * s.kw) * sizeof(PoolCols) + 63) / 64 * 64;
  char* buf = static_cast<char*>(mem::scratch(kSlotRow, tab_bytes + static_cast<size_t>(chunks * kV) * sizeof(float)));
  const PoolCols* tab = pool_cols(s, chunks, buf);
  float* colw = reinterpret_cast<float*>(buf + tab_bytes);  // the column factor of each output column
  for (int64_t ox = 0; ox < chunks * kV; ++ox)
    colw[ox] = ox < s.OW ? avg_extent(ox * s.sw - s.pl, s.kw, s.W, s.pr, p.count_include_pad) : 1.f;
  for (int64_t plane = plane0; plane < plane1; ++plane) {
    const float* xp = p.x + plane * s.H * s.W;
    float* yp = p.y + plane * s.OH * s.OW;
    for (int64_t oy = 0; oy < s.OH; ++oy) {
      const vf rows = vset1(avg_extent(oy * s.sh - s.pt, s.kh, s.H, s.pb, p.count_include_pad));
      for (int64_t j = 0; j < chunks; ++j) {
        const PoolCols* tj = tab + j * s.kw;
        vf acc = vzero();
        for (int64_t ky = 0; ky < s.kh; ++ky) {
          const int64_t iy = oy * s.sh - s.pt + ky;
          if (iy < 0 || iy >= s.H) continue;
          const float* row = xp + iy * s.W;
          for (int64_t kx = 0; kx < s.kw; ++kx) {
            const PoolCols& t = tj[kx];
            if (t.lo >= t.hi) continue;
            acc = vadd(acc, s.sw == 1 ? vload_range(row + t.off, t.lo, t.hi) : vload_strided(row + t.off, s.sw, t.lo, t.hi));
          }
        }
        acc = vdiv(acc, vmul(rows, vload(colw + j * kV)));
        const int lanes = static_cast<int>(min64(kV, s.OW - j * kV));
        float* yo = yp + oy * s.OW + j * kV;
        if (lanes == kV) vstore(yo, acc);
        else vstore_n(yo, acc, lanes);
      }
    }
  }
}

void avg_backward(const AvgPoolBackwardParams& p, int64_t plane0, int64_t plane1) {
  const PoolShape& s = p.s;
  const int64_t HW = s.H * s.W;
  for (int64_t plane = plane0; plane < plane1; ++plane) {
    const float* dyp = p.dy + plane * s.OH * s.OW;
    float* dxp = p.dx + plane * HW;
    if (!p.accumulate)
      for (int64_t i = 0; i < HW; ++i) dxp[i] = 0.f;
    for (int64_t oy = 0; oy < s.OH; ++oy)
      for (int64_t ox = 0; ox < s.OW; ++ox) {
        const AvgWindow w = avg_window(s, p.count_include_pad, oy, ox);
        if (!(w.h0 < w.h1 && w.w0 < w.w1)) continue;
        const float g = dyp[oy * s.OW + ox] / w.div;
        for (int64_t iy = w.h0; iy < w.h1; ++iy) {
          float* __restrict r = dxp + iy * s.W;
          for (int64_t ix = w.w0; ix < w.w1; ++ix) r[ix] += g;
        }
      }
  }
}

inline int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
inline int64_t adaptive_end(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

void adaptive_forward(const AdaptiveAvgPoolParams& p, int64_t plane0, int64_t plane1) {
  const PoolShape& s = p.s;
  const int64_t HW = s.H * s.W;
  for (int64_t plane = plane0; plane < plane1; ++plane) {
    const float* xp = p.x + plane * HW;
    float* yp = p.y + plane * s.OH * s.OW;
    if (s.OH == 1 && s.OW == 1) {
      // Global: kV running sums over the plane (two interleaved vectors, so the adds
      // overlap), then vec.h's fixed tree.
      vf a0 = vzero(), a1 = vzero();
      int64_t i = 0;
      for (; i + 2 * kV <= HW; i += 2 * kV) a0 = vadd(a0, vload(xp + i)), a1 = vadd(a1, vload(xp + i + kV));
      if (i + kV <= HW) a0 = vadd(a0, vload(xp + i)), i += kV;
      if (i < HW) a1 = vadd(a1, vload_zn(xp + i, static_cast<int>(HW - i)));
      yp[0] = vhsum(vadd(a0, a1)) / static_cast<float>(HW);
      continue;
    }
    for (int64_t oy = 0; oy < s.OH; ++oy) {
      const int64_t h0 = adaptive_start(oy, s.H, s.OH), h1 = adaptive_end(oy, s.H, s.OH);
      for (int64_t ox = 0; ox < s.OW; ++ox) {
        const int64_t w0 = adaptive_start(ox, s.W, s.OW), w1 = adaptive_end(ox, s.W, s.OW);
        float sum = 0.f;
        for (int64_t iy = h0; iy < h1; ++iy)
          for (int64_t ix = w0; ix < w1; ++ix) sum += xp[iy * s.W + ix];
        yp[oy * s.OW + ox] = sum / static_cast<float>((h1 - h0) * (w1 - w0));
      }
    }
  }
}

void adaptive_backward(const AdaptiveAvgPoolBackwardParams& p, int64_t plane0, int64_t plane1) {
  const PoolShape& s = p.s;
  const int64_t HW = s.H * s.W;
  for (int64_t plane = plane0; plane < plane1; ++plane) {
    const float* dyp = p.dy + plane * s.OH * s.OW;
    float* dxp = p.dx + plane * HW;
    if (!p.accumulate)
      for (int64_t i = 0; i < HW; ++i) dxp[i] = 0.f;
    for (int64_t oy = 0; oy < s.OH; ++oy) {
      const int64_t h0 = adaptive_start(oy, s.H, s.OH), h1 = adaptive_end(oy, s.H, s.OH);
      for (int64_t ox = 0; ox < s.OW; ++ox) {
        const int64_t w0 = adaptive_start(ox, s.W, s.OW), w1 = adaptive_end(ox, s.W, s.OW);
        const float g = dyp[oy * s.OW + ox] / static_cast<float>((h1 - h0) * (w1 - w0));
        for (int64_t iy = h0; iy < h1; ++iy) {
          float* __restrict r = dxp + iy * s.W;
          for (int64_t ix = w0; ix < w1; ++ix) r[ix] += g;
        }
      }
    }
  }
}

}  // namespace

extern const Kernels kKernels;
const Kernels kKernels{max_forward, max_backward, avg_forward, avg_backward, adaptive_forward, adaptive_backward};

}  // namespace FOVEAL_ISA_NS
}  // namespace poolk
}  // namespace cpu
}  // namespace foveal
