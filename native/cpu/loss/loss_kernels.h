// loss kernel bodies, compiled once per ISA (see core/isa.h and cpu/simd/vec.h).
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including loss_kernels.h"
#endif

#include "cpu/simd/map.h"
#include "cpu/simd/vmath.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
// mse sums (p − t)² over fixed chunks of kChunk elements in float vectors; the chunk sums
// are added in double in chunk order, whatever thread computed them.
constexpr int64_t kChunk = 8192;

// Σ e^{x−m} and Σ (m − x) over a row (both terms ≥ 0: no cancellation, even for 1e30).
inline void exp_and_gap_sums(const float* x, int64_t n, float m, double* s, double* gap) {
  const Vf mv = vset1(m);
  Vf se = vzero(), sg = vzero();
  for (int64_t i = 0; i < n; i += kN) {
    const int64_t left = n - i;
    const Vf t = vsub(vload_part(x + i, left, m), mv);  // x − m ≤ 0; padding 0
    const Vm live = vfirst(left);
    se = vadd(se, vselect(live, vexp(t), vzero()));
    sg = vsub(sg, t);
  }
  *s = vhsum(se);
  *gap = vhsum(sg);
}

// The loss of one row: (1−ε)·(lse − x_y) + ε·mean_c(lse − x_c), with lse − x_c written
// as (m − x_c) + log Σ e^{x−m}, so huge logits never overflow or cancel.
double row_loss(const float* x, int64_t C, int32_t y, float eps) {
  const float m = row_max_nan(x, C);
  if (m != m) return std::numeric_limits<double>::quiet_NaN();
  if (m == -kInf) return std::numeric_limits<double>::infinity();  // no class has any mass
  double s, gap;
  exp_and_gap_sums(x, C, m, &s, &gap);
  const double ls = std::log(s);
  const double nll = (static_cast<double>(m) - x[y]) + ls;
  if (eps == 0.f) return nll;
  const double smooth = gap / static_cast<double>(C) + ls;
  return (1.0 - eps) * nll + eps * smooth;
}

// dlogits of one row: g·(softmax − (1−ε)·onehot(y) − ε/C).
void row_grad(const float* x, float* dx, int64_t C, int32_t y, float eps, float g) {
  const float m = row_max_nan(x, C);
  if (m == -kInf) {
    for (int64_t i = 0; i < C; i += kN) vstore_part(dx + i, vzero(), C - i);
    return;
  }
  double s, gap;
  exp_and_gap_sums(x, C, m, &s, &gap);
  const float r = static_cast<float>(1.0 / s);
  const float off = eps / static_cast<float>(C);
  const Vf mv = vset1(m), rv = vset1(r), ov = vset1(off), gv = vset1(g);
  for (int64_t i = 0; i < C; i += kN) {
    const int64_t left = C - i;
    const Vf p = vmul(vexp(vsub(vload_part(x + i, left, m), mv)), rv);
    vstore_part(dx + i, vmul(vsub(p, ov), gv), left);
  }
  // The label's entry in one expression: p_y − (1−ε) − ε/C.
  const float py = static_cast<float>(std::exp(static_cast<double>(x[y]) - m) / s);
  dx[y] = g * ((py - (1.f - eps)) - off);
}

// (p − t)², and (p − t)·k as the map2 functors of mse.
struct SquaredError {
  Vf operator()(Vf p, Vf t) const {
    const Vf d = vsub(p, t);
    return vmul(d, d);
  }
};
struct ScaledError {
  Vf k;
  Vf operator()(Vf p, Vf t) const { return vmul(vsub(p, t), k); }
};

inline int64_t rows_grain(int64_t C) { return C >= 16384 ? 1 : 16384 / (C > 0 ? C : 1); }

}  // namespace

void cross_entropy_forward(const CrossEntropyParams& p, double* rows) {
  parallel_for(p.N, rows_grain(p.C), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const int32_t y = p.labels[i];  // read once: checked already, but JS may write to it meanwhile
      if (y == p.ignore_index) rows[i] = 0.0;
      else if (y < 0 || y >= p.C) rows[i] = std::numeric_limits<double>::quiet_NaN();
      else rows[i] = row_loss(p.logits + i * p.C, p.C, y, p.smoothing);
    }
  });
}

void cross_entropy_backward(const CrossEntropyBackwardParams& p, float scale) {
  parallel_for(p.N, rows_grain(p.C), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const int32_t y = p.labels[i];
      float* dx = p.dlogits + i * p.C;
      if (y == p.ignore_index || y < 0 || y >= p.C) {  // (out of range only if JS changed it meanwhile)
        for (int64_t c = 0; c < p.C; c += kN) vstore_part(dx + c, vzero(), p.C - c);
        continue;
      }
      const float g = (p.reduction == Reduction::none ? p.dloss[i] : p.dloss[0]) * scale;
      row_grad(p.logits + i * p.C, dx, p.C, y, p.smoothing, g);
    }
  });
}

void mse_forward(const MseParams& p) {
  if (p.reduction == Reduction::none) {
    parallel_for(p.n, map_grain(1),
                 [&](int64_t b, int64_t e) { map2(p.pred + b, p.target + b, p.loss + b, e - b, SquaredError{}); });
    return;
  }
  const int64_t chunks = (p.n + kChunk - 1) / kChunk;
  double* part = mem::scratch_as<double>(0, static_cast<size_t>(chunks > 0 ? chunks : 1));
  parallel_for(chunks, 8, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t b = c * kChunk, e = b + kChunk < p.n ? b + kChunk : p.n;
      // Four accumulators: enough independent FMAs to cover their latency, so the sum
      // runs at the speed the data streams in.
      Vf s[4] = {vzero(), vzero(), vzero(), vzero()};
      int64_t i = b;
      for (; i + 4 * kN <= e; i += 4 * kN) {
        for (int k = 0; k < 4; ++k) {
          const Vf d = vsub(vload(p.pred + i + k * kN), vload(p.target + i + k * kN));
          s[k] = vfmadd(d, d, s[k]);
        }
      }
      for (; i < e; i += kN) {
        const Vf d = vsub(vload_part(p.pred + i, e - i), vload_part(p.target + i, e - i));
        s[0] = vfmadd(d, d, s[0]);
      }
      part[c] = vhsum(vadd(vadd(s[0], s[1]), vadd(s[2], s[3])));
    }
  });
  double total = 0;
  for (int64_t c = 0; c < chunks; ++c) total += part[c];
  p.loss[0] = static_cast<float>(p.reduction == Reduction::mean ? total / static_cast<double>(p.n) : total);
}

void mse_backward(const MseBackwardParams& p) {
  const float k = p.reduction == Reduction::mean ? static_cast<float>(2.0 / static_cast<double>(p.n)) : 2.f;
  if (p.reduction != Reduction::none) {  // one upstream scalar: a two-stream map
    const ScaledError f{vset1(k * p.dloss[0])};
    parallel_for(p.n, map_grain(1), [&](int64_t b, int64_t e) { map2(p.pred + b, p.target + b, p.dpred + b, e - b, f); });
    return;
  }
  parallel_for(p.n, map_grain(1), [&](int64_t b, int64_t e) {
    const Vf kv = vset1(k);
    for (int64_t i = b; i < e; i += kN) {
      const int64_t left = e - i;
      const Vf d = vsub(vload_part(p.pred + i, left), vload_part(p.target + i, left));
      vstore_part(p.dpred + i, vmul(vmul(d, kv), vload_part(p.dloss + i, left)), left);
    }
  });
}

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
