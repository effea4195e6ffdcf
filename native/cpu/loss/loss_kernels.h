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

// The loss of one row with class weights w (PyTorch's): (1−ε)·w_y·(lse − x_y) +
// ε/C·Σ_c w_c·(lse − x_c), the second sum as Σ w_c·(m − x_c) + lse·Σ w_c.
double row_loss_weighted(const float* x, int64_t C, int32_t y, float eps, const float* w) {
  const float m = row_max_nan(x, C);
  if (m != m) return std::numeric_limits<double>::quiet_NaN();
  if (m == -kInf) return std::numeric_limits<double>::infinity();
  double s, gap;
  exp_and_gap_sums(x, C, m, &s, &gap);
  const double ls = std::log(s);
  const double nll = w[y] * ((static_cast<double>(m) - x[y]) + ls);
  if (eps == 0.f) return nll;
  double gw = 0, wsum = 0;
  for (int64_t c = 0; c < C; ++c) {
    gw += static_cast<double>(w[c]) * (static_cast<double>(m) - x[c]);
    wsum += w[c];
  }
  return (1.0 - eps) * nll + eps * (gw + ls * wsum) / static_cast<double>(C);
}

// dlogits of one weighted row: g·(p_c·((1−ε)·w_y + ε·W/C) − ε·w_c/C − (1−ε)·w_y·[c = y]),
// W = Σ w_c.
void row_grad_weighted(const float* x, float* dx, int64_t C, int32_t y, float eps, float g, const float* w) {
  const float m = row_max_nan(x, C);
  if (m == -kInf) {
    for (int64_t i = 0; i < C; i += kN) vstore_part(dx + i, vzero(), C - i);
    return;
  }
  double s, gap;
  exp_and_gap_sums(x, C, m, &s, &gap);
  double wsum = 0;
  for (int64_t c = 0; c < C; ++c) wsum += w[c];
  const float r = static_cast<float>(1.0 / s);
  const float a = static_cast<float>((1.0 - eps) * w[y] + eps * wsum / static_cast<double>(C));
  const float off = eps / static_cast<float>(C);
  const Vf mv = vset1(m), rv = vset1(r), av = vset1(a), ov = vset1(off), gv = vset1(g);
  for (int64_t i = 0; i < C; i += kN) {
    const int64_t left = C - i;
    const Vf p = vmul(vexp(vsub(vload_part(x + i, left, m), mv)), rv);
    vstore_part(dx + i, vmul(vfnmadd(vload_part(w + i, left), ov, vmul(p, av)), gv), left);
  }
  const float py = static_cast<float>(std::exp(static_cast<double>(x[y]) - m) / s);
  dx[y] = g * ((py * a - (1.f - eps) * w[y]) - off * w[y]);
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

// ---------------------------------------------------------------- bceWithLogits

// log1p(u) for u in [0, 1] (NaN passes through): 2·atanh(s) with s = u/(2 + u) in
// [0, 1/3], by atanh's series in s² up to s¹⁵ (the first term left out is below 2e-9
// relative). Every term is positive, so nothing cancels: a few ulp over the whole range,
// and u's own precision down to the smallest u (log1p(u) = u there, where log(1 + u)
// would round to 0).
inline Vf vlog1p_unit(Vf u) {
  const Vf s = vdiv(u, vadd(vset1(2.f), u));
  const Vf z = vmul(s, s);
  Vf q = vset1(1.f / 15.f);
  q = vfmadd(q, z, vset1(1.f / 13.f));
  q = vfmadd(q, z, vset1(1.f / 11.f));
  q = vfmadd(q, z, vset1(1.f / 9.f));
  q = vfmadd(q, z, vset1(1.f / 7.f));
  q = vfmadd(q, z, vset1(1.f / 5.f));
  q = vfmadd(q, z, vset1(1.f / 3.f));
  q = vfmadd(q, z, vset1(1.f));
  return vmul(vadd(s, s), q);
}

// The unweighted loss (1 − t)·max(x, 0) + pw·t·max(−x, 0) + (1 + (pw − 1)·t)·log1p(e^{−|x|})
// (see loss.h); with pw = 1 the middle factors are exactly t and 1.
inline Vf bce_loss(Vf x, Vf t, Vf pw) {
  const Vf one = vset1(1.f);
  const Vf soft = vlog1p_unit(vexp(vneg(vabs(x))));
  const Vf lw = vfmadd(vsub(pw, one), t, one);
  const Vf l = vfmadd(vmul(pw, t), vmax(vneg(x), vzero()), vmul(vsub(one, t), vmax(x, vzero())));
  return vfmadd(lw, soft, l);
}

// ∂ℓ/∂x unweighted: (1 + (pw − 1)·t)·σ(x) − pw·t, written (1 − t)·σ(x) − pw·t·σ(−x) so
// that σ(x) − 1 at large x is −σ(−x) to full precision rather than 1 − 1 = 0.
inline Vf bce_grad(Vf x, Vf t, Vf pw) {
  Vf s, sc;
  vsigmoid2(x, &s, &sc);
  return vfmsub(vsub(vset1(1.f), t), s, vmul(vmul(pw, t), sc));
}

// Calls fn(e, len, wo, po) for each piece of [e0, e1) that lies in one inner row of the
// view: elements e..e+len, whose weights start at wo and pos_weights at po (offsets into
// their arrays; the inner strides are 0 or 1). An odometer over the outer dims, so no
// division per row.
template <class F>
inline void bce_walk(const BceView& v, int64_t e0, int64_t e1, F&& fn) {
  const int last = v.rank - 1;
  const int64_t inner = v.n[last];
  if (e0 >= e1 || inner <= 0) return;
  int64_t idx[kBceMaxRank] = {0};
  int64_t col = e0 % inner, wo = 0, po = 0;
  for (int64_t q = e0 / inner, d = last - 1; d >= 0; --d) {
    idx[d] = q % v.n[d];
    q /= v.n[d];
    wo += idx[d] * v.sw[d];
    po += idx[d] * v.sp[d];
  }
  for (int64_t e = e0; e < e1;) {
    const int64_t len = inner - col < e1 - e ? inner - col : e1 - e;
    fn(e, len, wo + col * v.sw[last], po + col * v.sp[last]);
    e += len;
    col = 0;
    for (int d = last - 1; d >= 0; --d) {
      wo += v.sw[d];
      po += v.sp[d];
      if (++idx[d] < v.n[d]) break;
      wo -= v.sw[d] * v.n[d];
      po -= v.sp[d] * v.n[d];
      idx[d] = 0;
    }
  }
}

// One row piece of the forward: stores w·ℓ (kStore) or returns its sum. kW / kP: the
// weight / pos_weight advance along the row (else one value serves the piece).
template <bool kW, bool kP, bool kStore>
double bce_piece(const float* x, const float* t, const float* w, const float* pw, int64_t len, float* y) {
  const Vf w1 = vset1(*w), p1 = vset1(*pw);
  Vf s0 = vzero(), s1 = vzero();
  int64_t i = 0;
  for (; i + 2 * kN <= len; i += 2 * kN) {
    const Vf a = vmul(bce_loss(vload(x + i), vload(t + i), kP ? vload(pw + i) : p1), kW ? vload(w + i) : w1);
    const Vf b = vmul(bce_loss(vload(x + i + kN), vload(t + i + kN), kP ? vload(pw + i + kN) : p1),
                      kW ? vload(w + i + kN) : w1);
    if (kStore) {
      vstore(y + i, a);
      vstore(y + i + kN, b);
    } else {
      s0 = vadd(s0, a);
      s1 = vadd(s1, b);
    }
  }
  for (; i < len; i += kN) {
    const int64_t left = len - i;
    const Vf a = vmul(bce_loss(vload_part(x + i, left), vload_part(t + i, left), kP ? vload_part(pw + i, left, 1.f) : p1),
                      kW ? vload_part(w + i, left) : w1);
    if (kStore) vstore_part(y + i, a, left);
    else s0 = vadd(s0, vselect(vfirst(left), a, vzero()));
  }
  return kStore ? 0.0 : static_cast<double>(vhsum(vadd(s0, s1)));
}

template <bool kW, bool kP>
void bce_grad_piece(const float* x, const float* t, const float* w, const float* pw, const float* g, bool g_vec,
                    int64_t len, float* dx) {
  const Vf w1 = vset1(*w), p1 = vset1(*pw), g1 = vset1(*g);
  for (int64_t i = 0; i < len; i += kN) {
    const int64_t left = len - i;
    const Vf d = bce_grad(vload_part(x + i, left), vload_part(t + i, left), kP ? vload_part(pw + i, left, 1.f) : p1);
    const Vf gw = vmul(kW ? vload_part(w + i, left) : w1, g_vec ? vload_part(g + i, left) : g1);
    vstore_part(dx + i, vmul(d, gw), left);
  }
}

}  // namespace

void cross_entropy_forward(const CrossEntropyParams& p, double* rows) {
  parallel_for(p.N, rows_grain(p.C), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const int32_t y = p.labels[i];  // read once: checked already, but JS may write to it meanwhile
      if (y == p.ignore_index) rows[i] = 0.0;
      else if (y < 0 || y >= p.C) rows[i] = std::numeric_limits<double>::quiet_NaN();
      else if (p.weight) rows[i] = row_loss_weighted(p.logits + i * p.C, p.C, y, p.smoothing, p.weight);
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
      if (p.weight) row_grad_weighted(p.logits + i * p.C, dx, p.C, y, p.smoothing, g, p.weight);
      else row_grad(p.logits + i * p.C, dx, p.C, y, p.smoothing, g);
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

double bce_range(const BceParams& p, int64_t e0, int64_t e1, float* out) {
  static const float kOne = 1.f;  // the weight of an absent weight tensor, at stride 0
  const bool wv = p.weight != nullptr && p.v.sw[p.v.rank - 1] != 0;
  const bool pv = p.pos_weight != nullptr && p.v.sp[p.v.rank - 1] != 0;
  double total = 0;
  bce_walk(p.v, e0, e1, [&](int64_t e, int64_t len, int64_t wo, int64_t po) {
    const float* x = p.logits + e;
    const float* t = p.target + e;
    const float* w = p.weight ? p.weight + wo : &kOne;
    const float* pw = p.pos_weight ? p.pos_weight + po : &kOne;
    float* y = out ? out + e : nullptr;
    if (out) {
      if (wv) pv ? bce_piece<true, true, true>(x, t, w, pw, len, y) : bce_piece<true, false, true>(x, t, w, pw, len, y);
      else pv ? bce_piece<false, true, true>(x, t, w, pw, len, y) : bce_piece<false, false, true>(x, t, w, pw, len, y);
    } else {
      if (wv) total += pv ? bce_piece<true, true, false>(x, t, w, pw, len, y) : bce_piece<true, false, false>(x, t, w, pw, len, y);
      else total += pv ? bce_piece<false, true, false>(x, t, w, pw, len, y) : bce_piece<false, false, false>(x, t, w, pw, len, y);
    }
  });
  return total;
}

void bce_backward(const BceBackwardParams& p) {
  static const float kOne = 1.f;
  const int64_t n = p.v.total;
  const bool wv = p.weight != nullptr && p.v.sw[p.v.rank - 1] != 0;
  const bool pv = p.pos_weight != nullptr && p.v.sp[p.v.rank - 1] != 0;
  const bool g_vec = p.reduction == Reduction::none;
  // mean: ∂(Σ/n); the scalar is rounded once, as the product of dy and 1/n in double.
  const float g1 = g_vec ? 0.f
                         : static_cast<float>(p.reduction == Reduction::mean && n > 0 ? static_cast<double>(p.dloss[0]) / n
                                                                                      : static_cast<double>(p.dloss[0]));
  parallel_for(n, map_grain(12), [&](int64_t b, int64_t e1) {
    bce_walk(p.v, b, e1, [&](int64_t e, int64_t len, int64_t wo, int64_t po) {
      const float* x = p.logits + e;
      const float* t = p.target + e;
      const float* w = p.weight ? p.weight + wo : &kOne;
      const float* pw = p.pos_weight ? p.pos_weight + po : &kOne;
      const float* g = g_vec ? p.dloss + e : &g1;
      float* dx = p.dlogits + e;
      if (wv) pv ? bce_grad_piece<true, true>(x, t, w, pw, g, g_vec, len, dx) : bce_grad_piece<true, false>(x, t, w, pw, g, g_vec, len, dx);
      else pv ? bce_grad_piece<false, true>(x, t, w, pw, g, g_vec, len, dx) : bce_grad_piece<false, false>(x, t, w, pw, g, g_vec, len, dx);
    });
  });
}

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
