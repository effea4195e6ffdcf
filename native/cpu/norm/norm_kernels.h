// norm kernel bodies, compiled once per ISA (see core/isa.h and cpu/simd/vec.h).
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including norm_kernels.h"
#endif

#include "cpu/simd/vec.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

// Sums run in float vectors over chunks of kChunk elements, and the chunk sums add up in
// double: the order is fixed by the shapes, the error bounded by the chunk, not by n.
constexpr int64_t kChunk = 4096;
// layerNorm's parameter gradients: rows are summed in blocks of kRowBlock (partials in
// scratch), then the block partials in order.
constexpr int64_t kRowBlock = 64;


// Σ (x − pivot) over n ≤ kChunk elements. With the pivot an element of the data, the
// terms are small when the mean is large against the spread, so the float sum keeps the
// digits that matter (summing 64 values near 1000 directly loses 6e-5 of the mean).
inline float chunk_sum(const float* x, int64_t n, float pivot) {
  const Vf pv = vset1(pivot);
  Vf s0 = vzero(), s1 = vzero();
  int64_t i = 0;
  for (; i + 2 * kN <= n; i += 2 * kN) {
    s0 = vadd(s0, vsub(vload(x + i), pv));
    s1 = vadd(s1, vsub(vload(x + i + kN), pv));
  }
  for (; i < n; i += kN) s0 = vadd(s0, vsub(vload_part(x + i, n - i, pivot), pv));  // padding: 0
  return vhsum(vadd(s0, s1));
}

// The mean as an unevaluated sum hi + lo of two floats: x − hi is exact for x near the
// mean (Sterbenz), so x − mean keeps its precision when the mean is large against the
// spread (data around 1000 ± 0.01 has a float mean off by up to 3e-5, 0.5% of its σ).
struct Mean {
  float hi, lo;
};
inline Mean split_mean(double m) {
  const float hi = static_cast<float>(m);
  return {hi, static_cast<float>(m - static_cast<double>(hi))};
}
struct MeanV {
  Vf hi, lo;
};
inline MeanV vmean(Mean m) { return {vset1(m.hi), vset1(m.lo)}; }
inline Vf centre(Vf x, MeanV m) { return vsub(vsub(x, m.hi), m.lo); }  // x − mean

// Σ (x − m)² over n ≤ kChunk elements.
inline float chunk_sqdev(const float* x, int64_t n, Mean m) {
  const MeanV mv = vmean(m);
  Vf s0 = vzero(), s1 = vzero();
  int64_t i = 0;
  for (; i + 2 * kN <= n; i += 2 * kN) {
    const Vf d0 = centre(vload(x + i), mv), d1 = centre(vload(x + i + kN), mv);
    s0 = vfmadd(d0, d0, s0);
    s1 = vfmadd(d1, d1, s1);
  }
  for (; i < n; i += kN) {
    const int64_t left = n - i;
    const Vf c = vselect(vfirst(left), centre(vload_part(x + i, left, 0.f), mv), vzero());  // padding: 0
    s0 = vfmadd(c, c, s0);
  }
  return vhsum(vadd(s0, s1));
}

// Σ g and Σ g·(x − m) with g = dy·w (w a row, or nullptr for ones), n ≤ kChunk.
inline void chunk_dot2(const float* dy, const float* x, const float* w, int64_t n, Mean m, float* sg, float* sgx) {
  const MeanV mv = vmean(m);
  Vf a = vzero(), b = vzero();
  for (int64_t i = 0; i < n; i += kN) {
    Vf g = vload_part(dy + i, n - i);
    if (w) g = vmul(g, vload_part(w + i, n - i));
    a = vadd(a, g);
    b = vfmadd(g, centre(vload_part(x + i, n - i), mv), b);  // padding: g = 0
  }
  *sg = vhsum(a);
  *sgx = vhsum(b);
}

inline double seg_sum(const float* x, int64_t n, float pivot) {
  double s = 0;
  for (int64_t i = 0; i < n; i += kChunk) s += chunk_sum(x + i, n - i < kChunk ? n - i : kChunk, pivot);
  return s;
}
inline double seg_sqdev(const float* x, int64_t n, Mean m) {
  double s = 0;
  for (int64_t i = 0; i < n; i += kChunk) s += chunk_sqdev(x + i, n - i < kChunk ? n - i : kChunk, m);
  return s;
}
inline void seg_dot2(const float* dy, const float* x, const float* w, int64_t n, Mean m, double* sg, double* sgx) {
  for (int64_t i = 0; i < n; i += kChunk) {
    float a, b;
    chunk_dot2(dy + i, x + i, w ? w + i : nullptr, n - i < kChunk ? n - i : kChunk, m, &a, &b);
    *sg += a;
    *sgx += b;
  }
}

struct Stats {
  Mean mean;
  double mean_d;  // the mean in double (for the running statistics)
  float rstd;
  double var;  // biased
};

// Mean and 1/√(var + eps) over `segs` segments of n elements, segment k at x + k·stride.
inline Stats stats(const float* x, int64_t segs, int64_t n, int64_t stride, float eps) {
  const double count = static_cast<double>(segs) * static_cast<double>(n);
  const float pivot = segs > 0 && n > 0 ? x[0] : 0.f;
  double s = 0;
  for (int64_t k = 0; k < segs; ++k) s += seg_sum(x + k * stride, n, pivot);
  const double mean_d = static_cast<double>(pivot) + s / count;
  const Mean mean = split_mean(mean_d);
  double q = 0;
  for (int64_t k = 0; k < segs; ++k) q += seg_sqdev(x + k * stride, n, mean);
  const double var = q / count;
  return {mean, mean_d, static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps))), var};
}

// y = (x − mean)·scale + shift over n elements (scale, shift: per-element rows, or scalars).
inline void affine_row(const float* x, float* y, int64_t n, Mean mean, float rstd, const float* w, const float* b) {
  const MeanV mv = vmean(mean);
  const Vf rv = vset1(rstd);
  for (int64_t i = 0; i < n; i += kN) {
    Vf v = vmul(centre(vload_part(x + i, n - i), mv), rv);
    if (w && b) v = vfmadd(v, vload_part(w + i, n - i), vload_part(b + i, n - i));
    else if (w) v = vmul(v, vload_part(w + i, n - i));
    else if (b) v = vadd(v, vload_part(b + i, n - i));
    vstore_part(y + i, v, n - i);
  }
}
inline void affine_row_scalar(const float* x, float* y, int64_t n, Mean mean, float scale, float shift) {
  const MeanV mv = vmean(mean);
  const Vf sv = vset1(scale), bv = vset1(shift);
  for (int64_t i = 0; i < n; i += kN) vstore_part(y + i, vfmadd(centre(vload_part(x + i, n - i), mv), sv, bv), n - i);
}

// dx = a·dy − c1 − (x − mean)·c2 over n elements (the shared form of every norm's dx).
inline void dx_row(const float* dy, const float* x, float* dx, int64_t n, const float* wrow, float a, float c1,
                   float c2, Mean mean, bool accumulate) {
  const Vf av = vset1(a), c1v = vset1(c1), c2v = vset1(c2);
  const MeanV mv = vmean(mean);
  for (int64_t i = 0; i < n; i += kN) {
    Vf g = vmul(vload_part(dy + i, n - i), av);
    if (wrow) g = vmul(g, vload_part(wrow + i, n - i));
    const Vf r = vfnmadd(centre(vload_part(x + i, n - i), mv), c2v, vsub(g, c1v));
    vstore_part(dx + i, accumulate ? vadd(vload_part(dx + i, n - i), r) : r, n - i);
  }
}

inline int64_t grain_for(int64_t work) { return work >= 32768 ? 1 : 32768 / (work > 0 ? work : 1); }

}  // namespace

// ---------------------------------------------------------------- layerNorm

void layer_norm_forward(const LayerNormParams& p) {
  if (p.D == 0) return;
  parallel_for(p.rows, grain_for(p.D), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = p.x + r * p.D;
      const Stats s = stats(x, 1, p.D, 0, p.eps);
      affine_row(x, p.y + r * p.D, p.D, s.mean, s.rstd, p.weight, p.bias);
    }
  });
}

void layer_norm_backward(const LayerNormBackwardParams& p) {
  const int64_t D = p.D;
  if (p.rows == 0 || D == 0) {
    for (int64_t d = 0; d < D; ++d) {
      if (!p.accumulate_dweight) p.dweight[d] = 0.f;
      if (!p.accumulate_dbias) p.dbias[d] = 0.f;
    }
    return;
  }
  const int64_t blocks = (p.rows + kRowBlock - 1) / kRowBlock;
  // Block partials of dweight and dbias: [blocks][2][D] (or straight into the result when
  // there is one block and nothing to add to).
  const bool acc = p.accumulate_dweight || p.accumulate_dbias;
  float* part = blocks > 1 || acc ? mem::scratch_as<float>(0, static_cast<size_t>(blocks * 2 * D)) : nullptr;
  parallel_for(blocks, grain_for(kRowBlock * D), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      float* pw = part ? part + b * 2 * D : p.dweight;
      float* pb = part ? pw + D : p.dbias;
      const int64_t r1 = (b + 1) * kRowBlock < p.rows ? (b + 1) * kRowBlock : p.rows;
      for (int64_t r = b * kRowBlock; r < r1; ++r) {
        const float* x = p.x + r * D;
        const float* dy = p.dy + r * D;
        const Stats s = stats(x, 1, D, 0, p.eps);
        double sg = 0, sgx = 0;  // Σ g, Σ g·(x − mean), g = dy·w
        seg_dot2(dy, x, p.weight, D, s.mean, &sg, &sgx);
        // dx = rstd·(g − mean(g) − x̂·mean(g·x̂))
        const double rstd = s.rstd;
        const float c1 = static_cast<float>(rstd * sg / D);
        const float c2 = static_cast<float>(rstd * rstd * rstd * sgx / D);
        // One pass: dx, and dweight += dy·x̂, dbias += dy (the first row of a block
        // initialises its partials).
        const MeanV mv = vmean(s.mean);
        const Vf rv = vset1(s.rstd), c1v = vset1(c1), c2v = vset1(c2);
        const bool first = r == b * kRowBlock;
        float* dx = p.dx + r * D;
        for (int64_t i = 0; i < D; i += kN) {
          const int64_t left = D - i;
          const Vf g = vload_part(dy + i, left);
          const Vf xc = centre(vload_part(x + i, left), mv);
          const Vf gw = p.weight ? vmul(g, vload_part(p.weight + i, left)) : g;
          const Vf dxv = vfnmadd(xc, c2v, vfmsub(gw, rv, c1v));
          vstore_part(dx + i, p.accumulate_dx ? vadd(vload_part(dx + i, left), dxv) : dxv, left);
          const Vf xh = vmul(xc, rv);
          vstore_part(pw + i, first ? vmul(g, xh) : vfmadd(g, xh, vload_part(pw + i, left)), left);
          vstore_part(pb + i, first ? g : vadd(g, vload_part(pb + i, left)), left);
        }
      }
    }
  });
  if (part) {
    parallel_for(D, 4096, [&](int64_t d0, int64_t d1) {
      for (int64_t i = d0; i < d1; i += kN) {
        const int64_t left = d1 - i;
        Vf w = vload_part(part + i, left), bb = vload_part(part + D + i, left);
        for (int64_t b = 1; b < blocks; ++b) {
          w = vadd(w, vload_part(part + b * 2 * D + i, left));
          bb = vadd(bb, vload_part(part + b * 2 * D + D + i, left));
        }
        vstore_part(p.dweight + i, p.accumulate_dweight ? vadd(vload_part(p.dweight + i, left), w) : w, left);
        vstore_part(p.dbias + i, p.accumulate_dbias ? vadd(vload_part(p.dbias + i, left), bb) : bb, left);
      }
    });
  }
}

// ---------------------------------------------------------------- batchNorm2d

void batch_norm_forward(const BatchNormParams& p) {
  const int64_t M = p.N * p.S, CS = p.C * p.S;
  if (M == 0) return;
  if (!p.training) {
    // Running statistics: every (n, c) row is independent.
    parallel_for(p.N * p.C, grain_for(p.S), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t c = r % p.C;
        const float rstd = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.running_var[c]) + p.eps));
        const float w = p.weight ? p.weight[c] : 1.f;
        affine_row_scalar(p.x + r * p.S, p.y + r * p.S, p.S, {p.running_mean[c], 0.f}, rstd * w, p.bias ? p.bias[c] : 0.f);
      }
    });
    return;
  }
  // Batch statistics: one channel per task (its N rows of S are summed in a fixed order).
  parallel_for(p.C, grain_for(M), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const Stats s = stats(p.x + c * p.S, p.N, p.S, CS, p.eps);
      if (p.running_mean) {
        const double m = p.momentum;
        p.running_mean[c] = static_cast<float>((1 - m) * p.running_mean[c] + m * s.mean_d);
        const double unbiased = M > 1 ? s.var * static_cast<double>(M) / static_cast<double>(M - 1) : s.var;
        p.running_var[c] = static_cast<float>((1 - m) * p.running_var[c] + m * unbiased);
      }
      const float w = p.weight ? p.weight[c] : 1.f;
      const float b = p.bias ? p.bias[c] : 0.f;
      for (int64_t n = 0; n < p.N; ++n) {
        const int64_t off = n * CS + c * p.S;
        affine_row_scalar(p.x + off, p.y + off, p.S, s.mean, s.rstd * w, b);
      }
    }
  });
}

void batch_norm_backward(const BatchNormBackwardParams& p) {
  const int64_t M = p.N * p.S, CS = p.C * p.S;
  parallel_for(p.C, grain_for(M), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      if (M == 0) {
        if (!p.accumulate_dweight) p.dweight[c] = 0.f;
        if (!p.accumulate_dbias) p.dbias[c] = 0.f;
        continue;
      }
      Mean mean;
      float rstd;
      if (p.training) {
        const Stats s = stats(p.x + c * p.S, p.N, p.S, CS, p.eps);
        mean = s.mean, rstd = s.rstd;
      } else {
        mean = {p.running_mean[c], 0.f};
        rstd = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.running_var[c]) + p.eps));
      }
      double sdy = 0, sdyx = 0;  // Σ dy, Σ dy·(x − mean)
      for (int64_t n = 0; n < p.N; ++n) {
        const int64_t off = n * CS + c * p.S;
        seg_dot2(p.dy + off, p.x + off, nullptr, p.S, mean, &sdy, &sdyx);
      }
      const float db = static_cast<float>(sdy), dw = static_cast<float>(sdyx * rstd);
      p.dbias[c] = p.accumulate_dbias ? p.dbias[c] + db : db;
      p.dweight[c] = p.accumulate_dweight ? p.dweight[c] + dw : dw;
      const double wr = static_cast<double>(p.weight ? p.weight[c] : 1.f) * rstd;
      // training: dx = w·rstd·(dy − Σdy/M − x̂·Σ(dy·x̂)/M); eval: dx = w·rstd·dy
      const float c1 = p.training ? static_cast<float>(wr * sdy / M) : 0.f;
      const float c2 = p.training ? static_cast<float>(wr * rstd * rstd * sdyx / M) : 0.f;
      for (int64_t n = 0; n < p.N; ++n) {
        const int64_t off = n * CS + c * p.S;
        dx_row(p.dy + off, p.x + off, p.dx + off, p.S, nullptr, static_cast<float>(wr), c1, c2, mean, p.accumulate_dx);
      }
    }
  });
}

// ---------------------------------------------------------------- groupNorm

void group_norm_forward(const GroupNormParams& p) {
  const int64_t Cg = p.C / p.G, M = Cg * p.S;
  if (M == 0) return;
  parallel_for(p.N * p.G, grain_for(M), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t base = t * M, c_first = (t % p.G) * Cg;
      const Stats s = stats(p.x + base, 1, M, 0, p.eps);
      for (int64_t k = 0; k < Cg; ++k) {
        const int64_t c = c_first + k;
        const float w = p.weight ? p.weight[c] : 1.f;
        affine_row_scalar(p.x + base + k * p.S, p.y + base + k * p.S, p.S, s.mean, s.rstd * w, p.bias ? p.bias[c] : 0.f);
      }
    }
  });
}

void group_norm_backward(const GroupNormBackwardParams& p) {
  const int64_t Cg = p.C / p.G, M = Cg * p.S;
  // Per (n, c) partials of dweight and dbias: [N][2][C], summed over n in order below.
  float* part = mem::scratch_as<float>(0, static_cast<size_t>(p.N * 2 * p.C));
  if (M > 0) {
    parallel_for(p.N * p.G, grain_for(M), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t base = t * M, n = t / p.G, c_first = (t % p.G) * Cg;
        const Stats s = stats(p.x + base, 1, M, 0, p.eps);
        double sg = 0, sgx = 0;  // Σ g, Σ g·(x − mean) over the group, g = dy·w[c]
        for (int64_t k = 0; k < Cg; ++k) {
          const int64_t c = c_first + k;
          double sdy = 0, sdyx = 0;
          seg_dot2(p.dy + base + k * p.S, p.x + base + k * p.S, nullptr, p.S, s.mean, &sdy, &sdyx);
          part[n * 2 * p.C + c] = static_cast<float>(sdyx * s.rstd);  // Σ dy·x̂
          part[n * 2 * p.C + p.C + c] = static_cast<float>(sdy);      // Σ dy
          const double w = p.weight ? p.weight[c] : 1.f;
          sg += w * sdy;
          sgx += w * sdyx;
        }
        const double rstd = s.rstd;
        const float c1 = static_cast<float>(rstd * sg / M);
        const float c2 = static_cast<float>(rstd * rstd * rstd * sgx / M);
        for (int64_t k = 0; k < Cg; ++k) {
          const int64_t c = c_first + k, off = base + k * p.S;
          const float w = p.weight ? p.weight[c] : 1.f;
          dx_row(p.dy + off, p.x + off, p.dx + off, p.S, nullptr, static_cast<float>(w * rstd), c1, c2, s.mean,
                 p.accumulate_dx);
        }
      }
    });
  }
  for (int64_t c = 0; c < p.C; ++c) {
    float w = 0.f, b = 0.f;
    if (M > 0)
      for (int64_t n = 0; n < p.N; ++n) w += part[n * 2 * p.C + c], b += part[n * 2 * p.C + p.C + c];
    p.dweight[c] = p.accumulate_dweight ? p.dweight[c] + w : w;
    p.dbias[c] = p.accumulate_dbias ? p.dbias[c] + b : b;
  }
}

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
