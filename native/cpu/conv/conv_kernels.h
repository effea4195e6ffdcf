// conv kernel bodies, compiled once per ISA by cpu/simd/variant.h (conv_generic/avx2/
// avx512.cpp; rules in core/isa.h).
//
// The bodies are written once against cpu/simd/vec.h and its conv additions (vec.h); every valid lane
// range here is contiguous: a pixel run of one output row reads one input row, and the
// in-bounds columns of a run are an interval.
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including conv_kernels.h"
#endif
#include "cpu/conv/vec.h"

namespace foveal {
namespace cpu {
namespace convk {
namespace FOVEAL_ISA_NS {
namespace {

using namespace ::foveal::vec::FOVEAL_ISA_NS;

// A run of consecutive output pixels in one output row: lanes [lane, lane + len).
struct Seg {
  int lane, len;
  int64_t oy, ox;
};

// The runs of the cv pixels from p on (at most kV of them).
inline int chunk_segments(const Im2col& a, int64_t p, int cv, Seg* segs) {
  int n = 0;
  int64_t oy = p / a.OW, ox = p % a.OW;
  for (int l = 0; l < cv;) {
    const int len = static_cast<int>(min64(cv - l, a.OW - ox));
    segs[n++] = {l, len, oy, ox};
    l += len;
    ox = 0, ++oy;
  }
  return n;
}

// What those runs read for tap kk: the entries (lanes [a, b) from x[off + (lane − a)·sw]).
inline int tap_entries(const Im2col& a, const Seg* segs, int nseg, int64_t kk, Im2colEntry* ents) {
  const int64_t ky = kk / a.kw, kx = kk % a.kw;
  int ne = 0;
  for (int s = 0; s < nseg; ++s) {
    const int64_t iy = segs[s].oy * a.sh - a.pt + ky * a.dh;
    if (iy < 0 || iy >= a.H) continue;
    const int64_t ix0 = segs[s].ox * a.sw - a.pl + kx * a.dw;
    int64_t lo, hi;
    valid_lanes(ix0, a.sw, a.W, segs[s].len, &lo, &hi);
    if (lo >= hi) continue;
    ents[ne++] = {iy * a.W + ix0 + lo * a.sw, segs[s].lane + static_cast<int>(lo), segs[s].lane + static_cast<int>(hi)};
  }
  return ne;
}

// The most runs kV consecutive pixels can span.
inline int64_t max_segments(int64_t OW) { return min64(kV, (kV - 2 + OW) / OW + 1); }

// The plan: the entries of every aligned kV-pixel chunk of the image and every tap, so the
// per-image, per-channel work is only loads and stores. Pays off when the same geometry
// is replayed for every image (and when the channel loop is short, as for C = 1 or 3).
size_t im2col_plan_size(const Im2col& a, int64_t P) {
  if (a.nr % kV != 0) return 0;
  const int64_t chunks = (P + kV - 1) / kV, khw = a.kh * a.kw, S = max_segments(a.OW);
  const int64_t bytes = chunks * khw * (S * static_cast<int64_t>(sizeof(Im2colEntry)) + 1);
  return bytes <= (int64_t{4} << 20) ? static_cast<size_t>(bytes) + 64 : 0;
}

void im2col_plan(const Im2col& a, int64_t P, void* mem) {
  const int64_t chunks = (P + kV - 1) / kV, khw = a.kh * a.kw, S = max_segments(a.OW);
  Im2colEntry* ents = static_cast<Im2colEntry*>(mem);
  uint8_t* counts = reinterpret_cast<uint8_t*>(ents + chunks * khw * S);
  Seg segs[kV];
  for (int64_t g = 0; g < chunks; ++g) {
    const int nseg = chunk_segments(a, g * kV, static_cast<int>(min64(kV, P - g * kV)), segs);
    for (int64_t kk = 0; kk < khw; ++kk)
      counts[g * khw + kk] = static_cast<uint8_t>(tap_entries(a, segs, nseg, kk, ents + (g * khw + kk) * S));
  }
}

// One chunk of one tap for every channel: cw lanes at d, d + khw·nr, ...
template <bool kUnitStride>
inline void fill_channels(const Im2col& a, const Im2colEntry* ents, int ne, int cw, float* d, int64_t dstep) {
  const int64_t HW = a.H * a.W;
  const float* xc = a.x;
  if (ne == 1 && kUnitStride) {  // the common case: one run, one masked load per channel
    const float* src = xc + (ents[0].off - ents[0].a);
    const int lo = ents[0].a, hi = ents[0].b;
    if (lo == 0 && hi == kV && cw == kV) {
      for (int64_t ci = 0; ci < a.Cg; ++ci, d += dstep, src += HW) vstore(d, vload(src));
    } else {
      for (int64_t ci = 0; ci < a.Cg; ++ci, d += dstep, src += HW) {
        const vf v = vload_range(src, lo, hi);
        if (cw == kV) vstore(d, v);
        else vstore_n(d, v, cw);
      }
    }
    return;
  }
#if FOVEAL_VEC_LEVEL == 3
  // AVX-512, two runs (a chunk across a row end) or stride 2: every mask is computed once
  // for all channels, and runs merge by masked loads into one register.
  if (ne == 2 && kUnitStride) {
    const __mmask16 m0 = range_mask(ents[0].a, ents[0].b), m1 = range_mask(ents[1].a, ents[1].b);
    const float* s0 = xc + (ents[0].off - ents[0].a);
    const float* s1 = xc + (ents[1].off - ents[1].a);
    const __mmask16 store = range_mask(0, cw);
    for (int64_t ci = 0; ci < a.Cg; ++ci, d += dstep, s0 += HW, s1 += HW)
      _mm512_mask_storeu_ps(d, store, _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps(m0, s0), m1, s1));
    return;
  }
  if (!kUnitStride && a.sw == 2 && ne <= 2) {
    // Lanes [a, b) of a run read elements 2·(lane − a) from its start: two masked loads of
    // 16 elements, the even ones picked by one permute.
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    __mmask16 lane[2] = {0, 0}, elo[2] = {0, 0}, ehi[2] = {0, 0};
    const float* src[2] = {xc, xc};
    for (int e = 0; e < ne; ++e) {
      const int lo = ents[e].a, hi = ents[e].b;
      const uint64_t el = ((uint64_t{1} << (2 * hi - 1)) - 1) & ~((uint64_t{1} << (2 * lo)) - 1);
      lane[e] = range_mask(lo, hi);
      elo[e] = static_cast<__mmask16>(el);
      ehi[e] = static_cast<__mmask16>(el >> 16);
      src[e] = xc + (ents[e].off - 2 * lo);
    }
    const __mmask16 store = range_mask(0, cw);
    for (int64_t ci = 0; ci < a.Cg; ++ci, d += dstep, src[0] += HW, src[1] += HW) {
      __m512 v = _mm512_setzero_ps();
      for (int e = 0; e < ne; ++e) {
        const __m512 p = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(elo[e], src[e]), even,
                                                _mm512_maskz_loadu_ps(ehi[e], src[e] + 16));
        v = _mm512_mask_mov_ps(v, lane[e], p);
      }
      _mm512_mask_storeu_ps(d, store, v);
    }
    return;
  }
#endif
  for (int64_t ci = 0; ci < a.Cg; ++ci, d += dstep, xc += HW) {
    vf v = vzero();
    for (int e = 0; e < ne; ++e)
      v = kUnitStride ? vor(v, vload_range(xc + (ents[e].off - ents[e].a), ents[e].a, ents[e].b))
                      : vor(v, vload_strided(xc + (ents[e].off - ents[e].a * a.sw), a.sw, ents[e].a, ents[e].b));
    if (cw == kV) vstore(d, v);
    else vstore_n(d, v, cw);
  }
}

void im2col(const Im2col& a) {
  const int64_t khw = a.kh * a.kw;
  const int64_t K = a.Cg * khw;
  const int64_t nr = a.nr;
  const int64_t S = max_segments(a.OW);
  const int64_t plan_chunks = (a.P + kV - 1) / kV;
  const Im2colEntry* plan = static_cast<const Im2colEntry*>(a.plan);
  const uint8_t* counts = plan ? reinterpret_cast<const uint8_t*>(plan + plan_chunks * khw * S) : nullptr;
  Seg segs[kV];
  Im2colEntry local[kV];
  for (int64_t q0 = 0; q0 < a.np; q0 += nr) {
    float* panel = a.dst + (q0 / nr) * K * nr;
    const int64_t pw = min64(nr, a.np - q0);  // real pixels in this panel
    for (int64_t c0 = 0; c0 < nr; c0 += kV) {
      const int cw = static_cast<int>(min64(kV, nr - c0));             // lanes written
      const int cv = static_cast<int>(max64(0, min64(cw, pw - c0)));  // lanes holding pixels
      const int64_t p = a.p0 + q0 + c0;
      const int nseg = plan ? 0 : chunk_segments(a, p, cv, segs);
      for (int64_t kk = 0; kk < khw; ++kk) {
        const Im2colEntry* ents = local;
        int ne;
        if (cv == 0) {
          ne = 0;
        } else if (plan) {
          const int64_t at = (p / kV) * khw + kk;
          ents = plan + at * S;
          ne = counts[at];
        } else {
          ne = tap_entries(a, segs, nseg, kk, local);
        }
        if (a.sw == 1) fill_channels<true>(a, ents, ne, cw, panel + kk * nr + c0, khw * nr);
        else fill_channels<false>(a, ents, ne, cw, panel + kk * nr + c0, khw * nr);
      }
    }
  }
}

// What one output chunk (kV columns from ox0) reads for one kernel column kx, the same
// on every row: lanes [lo, hi) from row[off + lane·sw] (lo ≥ hi: none). Computed once per
// call so the inner loops do no division.
struct ColTap {
  int64_t off;
  int lo, hi;
  uint32_t bits;  // lanes [lo, hi) as a bit mask (AVX-512's load mask)
};

// The T input rows (from oy0 − pt on) that a block of stride-1 output rows reads: row
// pointers into the plane xp, or the zero row above or below the input.
template <int T>
inline void block_rows(const float* (&rows)[T], const float* xp, int64_t oy0, const ConvShape& s, const float* zeros) {
  for (int i = 0; i < T; ++i) {
    const int64_t iy = oy0 - s.pt + i;
    rows[i] = iy >= 0 && iy < s.H ? xp + iy * s.W : zeros;
  }
}

// A stride-1 tap of a column chunk from one input row (lanes outside the tap are 0).
inline vf tap_load1(const float* row, const ColTap& t) {
#if FOVEAL_VEC_LEVEL == 3
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>(t.bits), row + t.off);
#else
  return vload_range(row + t.off, t.lo, t.hi);
#endif
}

// Writes one computed output vector (its first `lanes` lanes): y += v when accumulating,
// else y = act(v + bias).
inline void store_output(float* yo, vf v, int lanes, const Depthwise& d, vf bias) {
  if (d.accumulate) {
    v = vadd(lanes == kV ? vload(yo) : vload_zn(yo, lanes), v);
  } else {
    if (d.bias) v = vadd(v, bias);
    if (d.relu) v = vrelu(v);
  }
  if (lanes == kV) vstore(yo, v);
  else vstore_n(yo, v, lanes);
}

// Output rows computed together by the depthwise kernels: independent FMA chains, so the
// FMA latency is hidden (one chain would wait 4 cycles per tap).
constexpr int kRows = 4;

// Scratch for one depthwise call: the column taps, a row of zeros (read in place of rows
// above or below the input, so the inner loops never branch on the row) and the row
// pointers of one block of output rows.
struct DepthwiseScratch {
  ColTap* tab;
  const float* zeros;
  const float** rows;  // [kh][kRows]
};

inline DepthwiseScratch depthwise_scratch(const ConvShape& s, int64_t chunks, int slot) {
  const size_t tab_bytes = (static_cast<size_t>(chunks * s.kw) * sizeof(ColTap) + 63) / 64 * 64;
  const size_t zero_bytes = (static_cast<size_t>(s.W) * sizeof(float) + 63) / 64 * 64;
  const size_t row_bytes = static_cast<size_t>(s.kh * kRows) * sizeof(float*);
  char* base = static_cast<char*>(mem::scratch(slot, tab_bytes + zero_bytes + row_bytes));
  DepthwiseScratch ds;
  ds.tab = reinterpret_cast<ColTap*>(base);
  float* z = reinterpret_cast<float*>(base + tab_bytes);
  for (int64_t i = 0; i < s.W; ++i) z[i] = 0.f;
  ds.zeros = z;
  ds.rows = reinterpret_cast<const float**>(base + tab_bytes + zero_bytes);
  for (int64_t j = 0; j < chunks; ++j) {
    const int64_t ox0 = j * kV;
    const int64_t lanes = min64(kV, s.OW - ox0);
    for (int64_t kx = 0; kx < s.kw; ++kx) {
      const int64_t ix0 = ox0 * s.sw - s.pl + kx * s.dw;
      int64_t lo, hi;
      valid_lanes(ix0, s.sw, s.W, lanes, &lo, &hi);
      if (hi < lo) hi = lo;
      const uint32_t bits = hi > lo ? ((hi >= 32 ? ~0u : (1u << hi) - 1u) & ~((1u << lo) - 1u)) : 0u;
      ds.tab[j * s.kw + kx] = {ix0, static_cast<int>(lo), static_cast<int>(hi), bits};
    }
  }
  return ds;
}

// The kV (or fewer) values a tap reads from one input row; zero outside [lo, hi).
inline vf tap_load(const float* row, const ColTap& t, int64_t sw) {
#if FOVEAL_VEC_LEVEL == 3
  if (sw == 1) return _mm512_maskz_loadu_ps(static_cast<__mmask16>(t.bits), row + t.off);
#else
  if (sw == 1) return vload_range(row + t.off, t.lo, t.hi);
#endif
  return vload_strided(row + t.off, sw, t.lo, t.hi);
}

// Depthwise forward over a range of planes, kRows output rows at a time. KH, KW > 0 fix
// the kernel at compile time (3×3), so its weights live in registers; 0 takes them from
// the shape. Each output's taps are summed in (ky, kx) order whatever the blocking.
template <int KH, int KW>
void depthwise_planes(const Depthwise& d, const DepthwiseScratch& ds) {
  const ConvShape& s = d.s;
  const int64_t kh = KH > 0 ? KH : s.kh, kw = KW > 0 ? KW : s.kw;
  const int64_t HW = s.H * s.W, P = s.OH * s.OW, khw = kh * kw;
  const int64_t chunks = (s.OW + kV - 1) / kV;
  vf wreg[KH > 0 ? KH * KW : 1];
  for (int64_t plane = d.plane0; plane < d.plane1; ++plane) {
    const int64_t c = plane % s.C;
    const float* xp = d.x + plane * HW;
    float* yp = d.y + plane * P;
    const float* wk = d.w + c * khw;
    if (KH > 0)
      for (int64_t k = 0; k < khw; ++k) wreg[k] = vset1(wk[k]);
    const vf b = vset1(d.bias ? d.bias[c] : 0.f);
    for (int64_t oy0 = 0; oy0 < s.OH; oy0 += kRows) {
      const int rb = static_cast<int>(min64(kRows, s.OH - oy0));
      for (int64_t ky = 0; ky < kh; ++ky)
        for (int r = 0; r < kRows; ++r) {
          const int64_t iy = (oy0 + r) * s.sh - s.pt + ky * s.dh;
          ds.rows[ky * kRows + r] = r < rb && iy >= 0 && iy < s.H ? xp + iy * s.W : ds.zeros;
        }
      for (int64_t j = 0; j < chunks; ++j) {
        const ColTap* tj = ds.tab + j * kw;
        const int lanes = static_cast<int>(min64(kV, s.OW - j * kV));
        // Four named accumulators (kRows = 4): an array here ends up in memory, and every
        // FMA would then wait on a store-to-load round trip.
        vf a0 = vzero(), a1 = vzero(), a2 = vzero(), a3 = vzero();
        for (int64_t ky = 0; ky < kh; ++ky) {
          const float* const* rp = ds.rows + ky * kRows;
          const float *r0 = rp[0], *r1 = rp[1], *r2 = rp[2], *r3 = rp[3];
          for (int64_t kx = 0; kx < kw; ++kx) {
            const ColTap& t = tj[kx];
            const vf wv = KH > 0 ? wreg[ky * kw + kx] : vset1(wk[ky * kw + kx]);
            if (s.sw == 1 && t.lo == 0 && t.hi == kV) {
              const int64_t o = t.off;
              a0 = vfmadd(wv, vload(r0 + o), a0);
              a1 = vfmadd(wv, vload(r1 + o), a1);
              a2 = vfmadd(wv, vload(r2 + o), a2);
              a3 = vfmadd(wv, vload(r3 + o), a3);
            } else if (t.lo < t.hi) {
              a0 = vfmadd(wv, tap_load(r0, t, s.sw), a0);
              a1 = vfmadd(wv, tap_load(r1, t, s.sw), a1);
              a2 = vfmadd(wv, tap_load(r2, t, s.sw), a2);
              a3 = vfmadd(wv, tap_load(r3, t, s.sw), a3);
            }
          }
        }
        static_assert(kRows == 4, "the accumulators above are written out for four rows");
        const vf acc[kRows] = {a0, a1, a2, a3};
        for (int r = 0; r < rb; ++r) store_output(yp + (oy0 + r) * s.OW + j * kV, acc[r], lanes, d, b);
      }
    }
  }
}

// The common case, stride 1 and no dilation with a K×K kernel: kRows output rows share
// each input row load (kRows + K − 1 rows of loads for kRows·K rows of taps), the column
// masks stay in registers for a whole column chunk, and every loop is unrolled at compile
// time. Each output still sums its taps in (ky, kx) order.
template <int K>
void depthwise_s1(const Depthwise& d, const DepthwiseScratch& ds) {
  const ConvShape& s = d.s;
  constexpr int R = kRows, T = kRows + K - 1;
  const int64_t HW = s.H * s.W, P = s.OH * s.OW;
  const int64_t chunks = (s.OW + kV - 1) / kV;
  for (int64_t plane = d.plane0; plane < d.plane1; ++plane) {
    const int64_t c = plane % s.C;
    const float* xp = d.x + plane * HW;
    float* yp = d.y + plane * P;
    vf w[K * K];
    for (int k = 0; k < K * K; ++k) w[k] = vset1(d.w[c * K * K + k]);
    const vf b = vset1(d.bias ? d.bias[c] : 0.f);
    for (int64_t j = 0; j < chunks; ++j) {
      ColTap t[K];
      for (int kx = 0; kx < K; ++kx) t[kx] = ds.tab[j * K + kx];
      const int lanes = static_cast<int>(min64(kV, s.OW - j * kV));
      for (int64_t oy0 = 0; oy0 < s.OH; oy0 += R) {
        const float* rows[T];
        block_rows(rows, xp, oy0, s, ds.zeros);
        vf a[R];
        for (int r = 0; r < R; ++r) a[r] = vzero();
#pragma GCC unroll 16
        for (int i = 0; i < T; ++i) {
#pragma GCC unroll 8
          for (int kx = 0; kx < K; ++kx) {
            const vf v = tap_load1(rows[i], t[kx]);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r)
              if (i - r >= 0 && i - r < K) a[r] = vfmadd(w[(i - r) * K + kx], v, a[r]);
          }
        }
        const int rb = static_cast<int>(min64(R, s.OH - oy0));
        for (int r = 0; r < rb; ++r) store_output(yp + (oy0 + r) * s.OW + j * kV, a[r], lanes, d, b);
      }
    }
  }
}

// A convolution with few output channels per group (Cout/groups ≤ 4: an attention gate's
// C → 1 map, the input gradient of a first layer), stride 1, no dilation, K×K: where a
// GEMM would fill one row of a micro-panel, the outputs are computed directly: all MG
// output channels of a group × kRows rows × kV columns in registers, each input row load
// shared by all of them, summing over the input channels and taps in the GEMM's
// (ci, ky, kx) order. Runs the items [plane0, plane1) (item = n·groups + g).
template <int K, int MG>
void direct_s1(const Depthwise& d, const DepthwiseScratch& ds) {
  const ConvShape& s = d.s;
  constexpr int R = kRows, T = kRows + K - 1;
  const int64_t HW = s.H * s.W, P = s.OH * s.OW;
  const int64_t Cg = s.C / s.groups;
  const int64_t chunks = (s.OW + kV - 1) / kV;
  for (int64_t item = d.plane0; item < d.plane1; ++item) {
    const int64_t n = item / s.groups, g = item % s.groups;
    const float* xg = d.x + (n * s.C + g * Cg) * HW;
    const float* wg = d.w + g * MG * Cg * K * K;  // [MG][Cg][K][K]
    float* yg = d.y + (n * s.Cout + g * MG) * P;
    for (int64_t j = 0; j < chunks; ++j) {
      ColTap t[K];
      for (int kx = 0; kx < K; ++kx) t[kx] = ds.tab[j * K + kx];
      const int lanes = static_cast<int>(min64(kV, s.OW - j * kV));
      for (int64_t oy0 = 0; oy0 < s.OH; oy0 += R) {
        int64_t rowoff[T];  // offset of each input row in a plane, or −1 outside the input
        for (int i = 0; i < T; ++i) {
          const int64_t iy = oy0 - s.pt + i;
          rowoff[i] = iy >= 0 && iy < s.H ? iy * s.W : -1;
        }
        vf a[MG][R];
        for (int m = 0; m < MG; ++m)
          for (int r = 0; r < R; ++r) a[m][r] = vzero();
        for (int64_t ci = 0; ci < Cg; ++ci) {
          const float* xp = xg + ci * HW;
          const float* wk = wg + ci * K * K;
#pragma GCC unroll 16
          for (int i = 0; i < T; ++i) {
            const float* row = rowoff[i] >= 0 ? xp + rowoff[i] : ds.zeros;
#pragma GCC unroll 8
            for (int kx = 0; kx < K; ++kx) {
              const vf v = tap_load1(row, t[kx]);
#pragma GCC unroll 8
              for (int r = 0; r < R; ++r) {
                if (i - r < 0 || i - r >= K) continue;
#pragma GCC unroll 4
                for (int m = 0; m < MG; ++m)
                  a[m][r] = vfmadd(vset1(wk[m * Cg * K * K + (i - r) * K + kx]), v, a[m][r]);
              }
            }
          }
        }
        const int rb = static_cast<int>(min64(R, s.OH - oy0));
        for (int m = 0; m < MG; ++m) {
          const int64_t co = g * MG + m;
          const vf b = vset1(d.bias ? d.bias[co] : 0.f);
          for (int r = 0; r < rb; ++r) store_output(yg + m * P + (oy0 + r) * s.OW + j * kV, a[m][r], lanes, d, b);
        }
      }
    }
  }
}

template <int K>
void direct_k(const Depthwise& d, const DepthwiseScratch& ds) {
  switch (d.s.Cout / d.s.groups) {
    case 1: return direct_s1<K, 1>(d, ds);
    case 2: return direct_s1<K, 2>(d, ds);
    case 3: return direct_s1<K, 3>(d, ds);
    default: return direct_s1<K, 4>(d, ds);
  }
}

void direct(const Depthwise& d) {
  const ConvShape& s = d.s;
  const DepthwiseScratch ds = depthwise_scratch(s, (s.OW + kV - 1) / kV, 3);
  switch (s.kh) {
    case 1: return direct_k<1>(d, ds);
    case 3: return direct_k<3>(d, ds);
    case 5: return direct_k<5>(d, ds);
    default: return direct_k<7>(d, ds);
  }
}

void depthwise(const Depthwise& d) {
  const ConvShape& s = d.s;
  const int64_t chunks = (s.OW + kV - 1) / kV;
  const DepthwiseScratch ds = depthwise_scratch(s, chunks, 3);
  const bool unit = s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1;
  if (unit && s.kh == 3 && s.kw == 3) depthwise_s1<3>(d, ds);
  else if (unit && s.kh == 5 && s.kw == 5) depthwise_s1<5>(d, ds);
  else if (s.kh == 3 && s.kw == 3) depthwise_planes<3, 3>(d, ds);
  else depthwise_planes<0, 0>(d, ds);
}

void depthwise_dx(const DepthwiseDx& d) {
  const ConvShape& s = d.s;
  const int64_t HW = s.H * s.W, P = s.OH * s.OW, khw = s.kh * s.kw;
  for (int64_t plane = d.plane0; plane < d.plane1; ++plane) {
    const int64_t c = plane % s.C;
    float* dxp = d.dx + plane * HW;
    const float* dyp = d.dy + plane * P;
    const float* wk = d.w + c * khw;
    if (!d.accumulate)
      for (int64_t i = 0; i < HW; ++i) dxp[i] = 0.f;
    for (int64_t oy = 0; oy < s.OH; ++oy)
      for (int64_t ky = 0; ky < s.kh; ++ky) {
        const int64_t iy = oy * s.sh - s.pt + ky * s.dh;
        if (iy < 0 || iy >= s.H) continue;
        float* dxrow = dxp + iy * s.W;
        const float* g = dyp + oy * s.OW;
        for (int64_t kx = 0; kx < s.kw; ++kx) {
          const float wv = wk[ky * s.kw + kx];
          const int64_t ix0 = -s.pl + kx * s.dw;
          int64_t lo, hi;
          valid_lanes(ix0, s.sw, s.W, s.OW, &lo, &hi);
          for (int64_t ox = lo; ox < hi; ++ox) dxrow[ix0 + ox * s.sw] += wv * g[ox];
        }
      }
    if (d.bias || d.relu) {
      const float b = d.bias ? d.bias[c] : 0.f;
      for (int64_t i = 0; i < HW; ++i) {
        float v = dxp[i] + b;
        if (d.relu) v = v > 0.f ? v : 0.f;
        dxp[i] = v;
      }
    }
  }
}

// dw for one channel; KHW > 0 fixes the tap count at compile time so the accumulators
// live in registers (3×3), 0 takes it from the shape.
template <int KHW>
void depthwise_dw_channel(const DepthwiseDw& d, int64_t c, vf* acc) {
  const ConvShape& s = d.s;
  const int64_t khw = KHW > 0 ? KHW : s.kh * s.kw;
  const int64_t HW = s.H * s.W, P = s.OH * s.OW;
  vf a[KHW > 0 ? KHW : 1];
  vf* A = KHW > 0 ? a : acc;
  for (int64_t k = 0; k < khw; ++k) A[k] = vzero();
  for (int64_t n = 0; n < s.N; ++n) {
    const float* xp = d.x + (n * s.C + c) * HW;
    const float* dyp = d.dy + (n * s.C + c) * P;
    for (int64_t oy = 0; oy < s.OH; ++oy)
      for (int64_t ox0 = 0; ox0 < s.OW; ox0 += kV) {
        const int lanes = static_cast<int>(min64(kV, s.OW - ox0));
        const vf g = lanes == kV ? vload(dyp + oy * s.OW + ox0) : vload_zn(dyp + oy * s.OW + ox0, lanes);
        for (int64_t ky = 0; ky < s.kh; ++ky) {
          const int64_t iy = oy * s.sh - s.pt + ky * s.dh;
          if (iy < 0 || iy >= s.H) continue;
          const float* row = xp + iy * s.W;
          for (int64_t kx = 0; kx < s.kw; ++kx) {
            const int64_t ix0 = ox0 * s.sw - s.pl + kx * s.dw;
            vf v;
            if (s.sw == 1 && lanes == kV && ix0 >= 0 && ix0 + kV <= s.W) {
              v = vload(row + ix0);
            } else {
              int64_t lo, hi;
              valid_lanes(ix0, s.sw, s.W, lanes, &lo, &hi);
              if (lo >= hi) continue;
              v = s.sw == 1 ? vload_range(row + ix0, static_cast<int>(lo), static_cast<int>(hi))
                            : vload_strided(row + ix0, s.sw, static_cast<int>(lo), static_cast<int>(hi));
            }
            A[ky * s.kw + kx] = vfmadd(g, v, A[ky * s.kw + kx]);
          }
        }
      }
  }
  float* dw = d.dw + c * khw;
  for (int64_t k = 0; k < khw; ++k) {
    const float v = vhsum(A[k]);
    dw[k] = d.accumulate ? dw[k] + v : v;
  }
}

// dw at stride 1 without dilation for a K×K kernel: kRows rows of dy at a time against the
// kRows + K − 1 input rows they read, the K·K accumulators in registers.
template <int K>
void depthwise_dw_s1(const DepthwiseDw& d, const DepthwiseScratch& ds) {
  const ConvShape& s = d.s;
  constexpr int R = kRows, T = kRows + K - 1;
  const int64_t HW = s.H * s.W, P = s.OH * s.OW;
  const int64_t chunks = (s.OW + kV - 1) / kV;
  // Items are (output channel, input channel of its group) pairs; depthwise is the case
  // of one input channel per group, where the pair is the channel itself.
  const int64_t Cg = s.C / s.groups, Mg = s.Cout / s.groups;
  for (int64_t c = d.c0; c < d.c1; ++c) {
    const int64_t co = c / Cg, ci = (co / Mg) * Cg + c % Cg;
    vf A[K * K];
    for (int k = 0; k < K * K; ++k) A[k] = vzero();
    for (int64_t n = 0; n < s.N; ++n) {
      const float* xp = d.x + (n * s.C + ci) * HW;
      const float* dyp = d.dy + (n * s.Cout + co) * P;
      for (int64_t j = 0; j < chunks; ++j) {
        ColTap t[K];
        for (int kx = 0; kx < K; ++kx) t[kx] = ds.tab[j * K + kx];
        const int lanes = static_cast<int>(min64(kV, s.OW - j * kV));
        for (int64_t oy0 = 0; oy0 < s.OH; oy0 += R) {
          const float* rows[T];
          block_rows(rows, xp, oy0, s, ds.zeros);
          vf g[R];
          for (int r = 0; r < R; ++r)
            g[r] = oy0 + r < s.OH ? vload_zn(dyp + (oy0 + r) * s.OW + j * kV, lanes) : vzero();
#pragma GCC unroll 16
          for (int i = 0; i < T; ++i) {
#pragma GCC unroll 8
            for (int kx = 0; kx < K; ++kx) {
              const vf v = tap_load1(rows[i], t[kx]);
#pragma GCC unroll 8
              for (int r = 0; r < R; ++r)
                if (i - r >= 0 && i - r < K) A[(i - r) * K + kx] = vfmadd(g[r], v, A[(i - r) * K + kx]);
            }
          }
        }
      }
    }
    float* dw = d.dw + c * K * K;  // w[co][ci within the group] is pair c
    for (int k = 0; k < K * K; ++k) {
      const float v = vhsum(A[k]);
      dw[k] = d.accumulate ? dw[k] + v : v;
    }
  }
}

// dw of a convolution with few input channels per group (stride 1, no dilation, 3×3 or
// 5×5): where a GEMM over im2col rows would be a few columns wide, each (output channel,
// input channel) pair correlates its dy and x planes directly. Items [c0, c1) are pairs.
void pair_dw(const DepthwiseDw& d) {
  const DepthwiseScratch ds = depthwise_scratch(d.s, (d.s.OW + kV - 1) / kV, 3);
  if (d.s.kh == 3) depthwise_dw_s1<3>(d, ds);
  else depthwise_dw_s1<5>(d, ds);
}

void depthwise_dw(const DepthwiseDw& d) {
  const ConvShape& s = d.s;
  const int64_t khw = s.kh * s.kw;
  if (s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1 && (khw == 9 || khw == 25) && s.kh == s.kw) {
    const DepthwiseScratch ds = depthwise_scratch(s, (s.OW + kV - 1) / kV, 3);
    if (s.kh == 3) depthwise_dw_s1<3>(d, ds);
    else depthwise_dw_s1<5>(d, ds);
    return;
  }
  vf* acc = khw == 9 ? nullptr : static_cast<vf*>(mem::scratch(1, static_cast<size_t>(khw) * sizeof(vf)));
  for (int64_t c = d.c0; c < d.c1; ++c) {
    if (khw == 9) depthwise_dw_channel<9>(d, c, nullptr);
    else depthwise_dw_channel<0>(d, c, acc);
  }
}

void channel_sum(const ChannelSum& cs) {
  for (int64_t c = cs.c0; c < cs.c1; ++c) {
    vf acc = vzero();
    for (int64_t n = 0; n < cs.N; ++n) {
      const float* v = cs.v + (n * cs.C + c) * cs.P;
      int64_t p = 0;
      for (; p + kV <= cs.P; p += kV) acc = vadd(acc, vload(v + p));
      if (p < cs.P) acc = vadd(acc, vload_zn(v + p, static_cast<int>(cs.P - p)));
    }
    const float s = vhsum(acc);
    cs.out[c] = cs.accumulate ? cs.out[c] + s : s;
  }
}

// dst[2·t] += src[t] for t in [lo, hi). AVX-512: 16 sources at a time spread to the even
// lanes of two 16-float windows, added under an even-lane mask (the odd cells untouched).
inline void col2im_add_stride2(float* dst, const float* src, int64_t lo, int64_t hi) {
  int64_t t = lo;
#if FOVEAL_VEC_LEVEL == 3
  const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 16, 2, 16, 3, 16, 4, 16, 5, 16, 6, 16, 7, 16);
  const __m512i hi_idx = _mm512_setr_epi32(8, 16, 9, 16, 10, 16, 11, 16, 12, 16, 13, 16, 14, 16, 15, 16);
  for (; t + kV <= hi; t += kV) {
    const __m512 v = _mm512_loadu_ps(src + t);
    float* d = dst + 2 * t;
    const __mmask16 even = 0x5555;
    _mm512_mask_storeu_ps(d, even, _mm512_add_ps(_mm512_loadu_ps(d), _mm512_permutex2var_ps(v, lo_idx, _mm512_setzero_ps())));
    // The last even cell of the run is d[30]: load up to d[30] only, never past the row.
    const __mmask16 upto = 0x7FFF;
    _mm512_mask_storeu_ps(d + 16, even, _mm512_add_ps(_mm512_maskz_loadu_ps(upto, d + 16),
                                                     _mm512_permutex2var_ps(v, hi_idx, _mm512_setzero_ps())));
  }
#endif
  for (; t < hi; ++t) dst[2 * t] += src[t];
}

void col2im(const Col2im& a) {
  const int64_t khw = a.kh * a.kw, HW = a.H * a.W;
  for (int64_t ci = 0; ci < a.Cb; ++ci) {
    float* dxc = a.dx + ci * HW;
    for (int64_t kk = 0; kk < khw; ++kk) {
      const int64_t ky = kk / a.kw, kx = kk % a.kw;
      const float* crow = a.col + (ci * khw + kk) * a.ldc;
      for (int64_t j = 0; j < a.np;) {
        const int64_t p = a.p0 + j;
        const int64_t oy = p / a.OW, ox = p % a.OW;
        const int64_t len = min64(a.np - j, a.OW - ox);
        const int64_t iy = oy * a.sh - a.pt + ky * a.dh;
        if (iy >= 0 && iy < a.H) {
          const int64_t ix0 = ox * a.sw - a.pl + kx * a.dw;
          int64_t lo, hi;
          valid_lanes(ix0, a.sw, a.W, len, &lo, &hi);
          float* dst = dxc + iy * a.W + ix0;
          const float* src = crow + j;
          if (a.sw == 1) {
            for (int64_t t = lo; t < hi; ++t) dst[t] += src[t];
          } else if (a.sw == 2) {
            col2im_add_stride2(dst, src, lo, hi);
          } else {
            for (int64_t t = lo; t < hi; ++t) dst[t * a.sw] += src[t];
          }
        }
        j += len;
      }
    }
  }
}

// ---- Winograd F(2×2, 3×3) transforms ----
//
// Input: V = Bᵀ·d·B of every 4×4 input patch d (rows 2·ty − pt .. +3, columns 2·tx − pl ..
// +3, zero outside the input), B = [[1,0,0,0],[0,1,−1,1],[−1,1,1,0],[0,0,0,−1]]; kV tiles
// of a tile row at once, one lane each (columns 2 apart: stride-2 loads).
void winograd_input(const WinoIn& a) {
  const int64_t HW = a.H * a.W;
  const int64_t gpr = (a.b.TW + kV - 1) / kV;  // groups per tile row
  const int64_t K = a.Cg;
  for (int64_t gi = 0; gi < a.b.ngroups; ++gi) {
    const int64_t grp = a.b.g0 + gi;
    const int64_t ty = grp / gpr, tx0 = (grp % gpr) * kV;
    const int nvalid = static_cast<int>(min64(kV, a.b.TW - tx0));
    // Column c of lane l is input column 2·(tx0 + l) − pl + c: its valid lanes.
    int lo[4], hi[4];
    int64_t col0[4];
    for (int c = 0; c < 4; ++c) {
      col0[c] = 2 * tx0 - a.pl + c;
      int64_t l0, l1;
      valid_lanes(col0[c], 2, a.W, nvalid, &l0, &l1);
      lo[c] = static_cast<int>(l0), hi[c] = static_cast<int>(l1);
    }
    int64_t rowoff[4];
    for (int r = 0; r < 4; ++r) {
      const int64_t iy = 2 * ty - a.pt + r;
      rowoff[r] = iy >= 0 && iy < a.H ? iy * a.W : -1;
    }
    // Slot j of the block sits at (j / nr)·K·nr + ci·nr + j % nr of each V[ξ] panel.
    const int64_t j0 = gi * kV;
    float* base = a.dst + (j0 / a.nr) * K * a.nr + j0 % a.nr;
#if FOVEAL_VEC_LEVEL == 3
    // The element and lane masks of each column's stride-2 loads, once for all channels.
    __mmask16 elo[4], ehi[4], lane[4];
    int64_t start[4];
    for (int c = 0; c < 4; ++c) {
      const uint64_t e = hi[c] > lo[c] ? ((uint64_t{1} << (2 * hi[c] - 1)) - 1) & ~((uint64_t{1} << (2 * lo[c])) - 1) : 0;
      elo[c] = static_cast<__mmask16>(e), ehi[c] = static_cast<__mmask16>(e >> 16), lane[c] = range_mask(lo[c], hi[c]);
      start[c] = col0[c];
    }
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
#endif
    for (int64_t ci = 0; ci < a.Cg; ++ci) {
      const float* xp = a.x + ci * HW;
      vf d[4][4];
      for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) {
#if FOVEAL_VEC_LEVEL == 3
          if (rowoff[r] < 0) {
            d[r][c] = vzero();
          } else {
            const float* p = xp + rowoff[r] + start[c];
            d[r][c] = _mm512_maskz_mov_ps(lane[c], _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(elo[c], p), even,
                                                                          _mm512_maskz_loadu_ps(ehi[c], p + 16)));
          }
#else
          d[r][c] = rowoff[r] < 0 || lo[c] >= hi[c] ? vzero() : vload_strided(xp + rowoff[r] + col0[c], 2, lo[c], hi[c]);
#endif
        }
      // t = Bᵀ·d (rows), then V = t·B (columns).
      vf t[4][4];
      for (int c = 0; c < 4; ++c) {
        t[0][c] = vsub(d[0][c], d[2][c]);
        t[1][c] = vadd(d[1][c], d[2][c]);
        t[2][c] = vsub(d[2][c], d[1][c]);
        t[3][c] = vsub(d[1][c], d[3][c]);
      }
      float* dp = base + ci * a.nr;
      for (int r = 0; r < 4; ++r) {
        vstore(dp + (r * 4 + 0) * a.stride, vsub(t[r][0], t[r][2]));
        vstore(dp + (r * 4 + 1) * a.stride, vadd(t[r][1], t[r][2]));
        vstore(dp + (r * 4 + 2) * a.stride, vsub(t[r][2], t[r][1]));
        vstore(dp + (r * 4 + 3) * a.stride, vsub(t[r][1], t[r][3]));
      }
    }
  }
}

// Output: Y = Aᵀ·M·A (A = [[1,0],[1,1],[1,−1],[0,−1]]) of every tile, then bias/ReLU or
// accumulation, written to the 2×2 outputs that lie inside OH × OW.
void winograd_output(const WinoOut& a) {
  const int64_t P = a.OH * a.OW;
  const int64_t gpr = (a.b.TW + kV - 1) / kV;
  alignas(64) float buf[4][kV];
  for (int64_t gi = 0; gi < a.b.ngroups; ++gi) {
    const int64_t grp = a.b.g0 + gi;
    const int64_t ty = grp / gpr, tx0 = (grp % gpr) * kV;
    const int nvalid = static_cast<int>(min64(kV, a.b.TW - tx0));
    const int64_t j0 = gi * kV;
    for (int64_t co = 0; co < a.Mg; ++co) {
      const float* mp = a.m + co * a.b.slots + j0;
      vf m[16];
      for (int x = 0; x < 16; ++x) m[x] = vload(mp + x * a.stride);
      // s = Aᵀ·M (rows), then Y = s·A (columns).
      vf s0[4], s1[4];
      for (int c = 0; c < 4; ++c) {
        s0[c] = vadd(vadd(m[c], m[4 + c]), m[8 + c]);
        s1[c] = vsub(vsub(m[4 + c], m[8 + c]), m[12 + c]);
      }
      const vf y00 = vadd(vadd(s0[0], s0[1]), s0[2]), y01 = vsub(vsub(s0[1], s0[2]), s0[3]);
      const vf y10 = vadd(vadd(s1[0], s1[1]), s1[2]), y11 = vsub(vsub(s1[1], s1[2]), s1[3]);
      const float b = a.bias ? a.bias[co] : 0.f;
      float* yp = a.y + co * P;
#if FOVEAL_VEC_LEVEL == 3
      {
        // Interleave each row's two columns (tile l → outputs 2l, 2l + 1) with two permutes
        // and store them under the mask of the columns inside OW.
        const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const __m512i hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        const int64_t ncols = min64(2 * nvalid, a.OW - 2 * tx0);
        const __mmask16 mlo = range_mask(0, static_cast<int>(min64(16, ncols)));
        const __mmask16 mhi = range_mask(0, static_cast<int>(max64(0, ncols - 16)));
        const vf bv = vset1(b);
        const vf rows[2][2] = {{y00, y01}, {y10, y11}};
        for (int dy = 0; dy < 2; ++dy) {
          const int64_t oy = 2 * ty + dy;
          if (oy >= a.OH) break;
          float* out = yp + oy * a.OW + 2 * tx0;
          vf lo = _mm512_permutex2var_ps(rows[dy][0], lo_idx, rows[dy][1]);
          vf hi = _mm512_permutex2var_ps(rows[dy][0], hi_idx, rows[dy][1]);
          if (a.accumulate) {
            lo = vadd(_mm512_maskz_loadu_ps(mlo, out), lo);
            hi = vadd(_mm512_maskz_loadu_ps(mhi, out + 16), hi);
          } else {
            if (a.bias) lo = vadd(lo, bv), hi = vadd(hi, bv);
            if (a.relu) lo = vrelu(lo), hi = vrelu(hi);
          }
          _mm512_mask_storeu_ps(out, mlo, lo);
          _mm512_mask_storeu_ps(out + 16, mhi, hi);
        }
        continue;
      }
#endif
      vstore_aligned(buf[0], y00);
      vstore_aligned(buf[1], y01);
      vstore_aligned(buf[2], y10);
      vstore_aligned(buf[3], y11);
      for (int dy = 0; dy < 2; ++dy) {
        const int64_t oy = 2 * ty + dy;
        if (oy >= a.OH) break;
        float* row = yp + oy * a.OW;
        for (int l = 0; l < nvalid; ++l) {
          const int64_t ox = 2 * (tx0 + l);
          for (int dx = 0; dx < 2 && ox + dx < a.OW; ++dx) {
            float v = buf[dy * 2 + dx][l];
            if (a.accumulate) {
              v = row[ox + dx] + v;
            } else {
              if (a.bias) v += b;
              if (a.relu) v = v > 0.f ? v : 0.f;
            }
            row[ox + dx] = v;
          }
        }
      }
    }
  }
}

// dw side: W = A·dy·Aᵀ, A = [[1,0],[1,1],[1,−1],[0,−1]], of every 2×2 tile of dy.
void winograd_dy(const WinoDy& a) {
  const int64_t P = a.OH * a.OW;
  const int64_t gpr = (a.b.TW + kV - 1) / kV;
  for (int64_t gi = 0; gi < a.b.ngroups; ++gi) {
    const int64_t grp = a.b.g0 + gi;
    const int64_t ty = grp / gpr, tx0 = (grp % gpr) * kV;
    const int nvalid = static_cast<int>(min64(kV, a.b.TW - tx0));
    int lo[2], hi[2];
    for (int c = 0; c < 2; ++c) {
      int64_t l0, l1;
      valid_lanes(2 * tx0 + c, 2, a.OW, nvalid, &l0, &l1);
      lo[c] = static_cast<int>(l0), hi[c] = static_cast<int>(l1);
    }
    const int64_t j0 = gi * kV;
#if FOVEAL_VEC_LEVEL == 3
    // Both columns of a tile row from one pair of masked loads: the even and odd elements.
    const int64_t ncols = min64(2 * nvalid, a.OW - 2 * tx0);
    const __mmask16 mlo = range_mask(0, static_cast<int>(min64(16, ncols)));
    const __mmask16 mhi = range_mask(0, static_cast<int>(max64(0, ncols - 16)));
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    (void)lo, (void)hi;
#endif
    for (int64_t co = 0; co < a.Mg; ++co) {
      const float* dp = a.dy + co * P;
      vf v[2][2];
      for (int r = 0; r < 2; ++r) {
        const int64_t oy = 2 * ty + r;
#if FOVEAL_VEC_LEVEL == 3
        if (oy < a.OH) {
          const float* p = dp + oy * a.OW + 2 * tx0;
          const __m512 l = _mm512_maskz_loadu_ps(mlo, p), h = _mm512_maskz_loadu_ps(mhi, p + 16);
          v[r][0] = _mm512_permutex2var_ps(l, even, h);
          v[r][1] = _mm512_permutex2var_ps(l, odd, h);
        } else {
          v[r][0] = v[r][1] = vzero();
        }
#else
        for (int c = 0; c < 2; ++c)
          v[r][c] = oy < a.OH ? vload_strided(dp + oy * a.OW + 2 * tx0 + c, 2, lo[c], hi[c]) : vzero();
#endif
      }
      // rows: A·dy
      const vf r[4][2] = {{v[0][0], v[0][1]},
                          {vadd(v[0][0], v[1][0]), vadd(v[0][1], v[1][1])},
                          {vsub(v[0][0], v[1][0]), vsub(v[0][1], v[1][1])},
                          {vsub(vzero(), v[1][0]), vsub(vzero(), v[1][1])}};
      float* out = a.dst + co * a.b.slots + j0;
      for (int i = 0; i < 4; ++i) {  // columns: ·Aᵀ
        vstore(out + (i * 4 + 0) * a.stride, r[i][0]);
        vstore(out + (i * 4 + 1) * a.stride, vadd(r[i][0], r[i][1]));
        vstore(out + (i * 4 + 2) * a.stride, vsub(r[i][0], r[i][1]));
        vstore(out + (i * 4 + 3) * a.stride, vsub(vzero(), r[i][1]));
      }
    }
  }
}

}  // namespace

extern const Kernels kKernels;
const Kernels kKernels{im2col, im2col_plan_size, im2col_plan, depthwise, direct, depthwise_dx, depthwise_dw, pair_dw, channel_sum, col2im, kV, winograd_input, winograd_output, winograd_dy};

}  // namespace FOVEAL_ISA_NS
}  // namespace convk
}  // namespace cpu
}  // namespace foveal
