// optim kernel bodies, compiled once per ISA (see core/isa.h and cpu/simd/vec.h).
//
// The updates are memory-bound (Adam moves 28 bytes per parameter: p, g, m, v read, p, m,
// v written, for ~10 flops), so the loop body mirrors PyTorch's op order rather than
// saving arithmetic: the two divides and the square root hide under the memory traffic.
// Each op rounds where PyTorch's CPU kernel does, as Debian's build of PyTorch executes
// them: add with alpha is fmadd(b, alpha, a); addcmul is fma(s·t1, t2, self) (GCC
// contracts `self + s*t1*t2`); mul, div, sqrt and addcdiv's `self + s*t1/t2` round each
// operation. The result: the same bits as PyTorch 1.13 on every level, checked against its
// trajectories in test/optim.test.js.
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including optim_kernels.h"
#endif

#include "cpu/simd/vec.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

// Threads split the tensor into runs of whole 64-float (256-byte) pieces, so no two
// threads write the same cache line; the grain keeps small tensors on one thread.
constexpr int64_t kPiece = 64;
constexpr int64_t kGrainPieces = 512;  // 32K elements, ~0.9 MB of Adam traffic

// x as rounded: an empty asm the compiler cannot see through, so the multiply that made x
// is never contracted into a later add. GCC contracts a·b + c into an FMA across
// statements in C++ (-ffp-contract=fast is its default outside ISO C), and intrinsics
// are plain vector arithmetic to it; PyTorch rounds such products where they are the
// result of one op (param.mul_) and the input of the next, so the fused update must too.
// Every FMA PyTorch's kernels do execute is written out as vfma below.
inline Vf rounded(Vf x) {
#if FOVEAL_VEC_LEVEL == 3 || FOVEAL_VEC_LEVEL == 2
  __asm__("" : "+v"(x));
#elif !FOVEAL_X86
  __asm__("" : "+m"(x));  // aarch64 and others have FMA in their baseline
#endif
  return x;
}

#if FOVEAL_VEC_LEVEL == 0
// a·b + c rounded once without an FMA unit: the double product of two floats is exact,
// the double sum is made round-to-odd (TwoSum's error decides the last bit), and
// rounding that to float is then correct (round-to-odd needs 2 more bits than the target;
// double has 29). So the generic variant gives the same bits as the FMA variants.
inline float fma_exact(float a, float b, float c) {
#if defined(__FP_FAST_FMAF)
  return std::fma(a, b, c);
#else
  const double p = static_cast<double>(a) * static_cast<double>(b);
  const double d = c;
  double s = p + d;
  const double bp = s - d, bd = s - bp;
  const double err = (p - bp) + (d - bd);
  // Inexact with an even last bit: step one ulp away from 0 (err has s's sign) or towards
  // it. Branch-free: err's sign is as good as random.
  uint64_t u;
  std::memcpy(&u, &s, sizeof u);
  const bool odd_up = err != 0 && (u & 1) == 0 && std::isfinite(s);
  u += odd_up ? ((err > 0) == (s > 0) ? uint64_t{1} : ~uint64_t{0}) : uint64_t{0};
  std::memcpy(&s, &u, sizeof u);
  return static_cast<float>(s);
#endif
}
#endif

// a·b + c with one rounding on every level: the multiply-adds PyTorch's kernels execute.
inline Vf vfma(Vf a, Vf b, Vf c) {
#if FOVEAL_VEC_LEVEL == 0
  Vf r;
  for (int i = 0; i < kN; ++i) r.v[i] = fma_exact(a.v[i], b.v[i], c.v[i]);
  return r;
#else
  return vfmadd(a, b, c);
#endif
}

template <class F>
void for_pieces(int64_t n, F&& body) {
  parallel_for((n + kPiece - 1) / kPiece, kGrainPieces, [&](int64_t c0, int64_t c1) {
    const int64_t i0 = c0 * kPiece;
    const int64_t i1 = c1 * kPiece < n ? c1 * kPiece : n;
    body(i0, i1);
  });
}

struct AdamCoef {
  Vf b1, c1;     // β1, 1 − β1
  Vf b2, c2;     // β2, 1 − β2
  Vf wd;         // weight decay (L2)
  Vf decay;      // 1 − lr·wd (decoupled)
  Vf bc2s;       // √(1 − β2^step)
  Vf eps;
  Vf nss;        // −lr / (1 − β1^step)
};

// kWd: 0 none, 1 L2 on the gradient (Adam), 2 decoupled (AdamW).
template <int kWd, bool kAms, bool kMax>
inline void adam_vec(const AdamParams& p, const AdamCoef& c, int64_t i, int64_t cnt) {
  Vf w = vload_part(p.param + i, cnt);
  Vf g = vload_part(p.grad + i, cnt);
  Vf m = vload_part(p.exp_avg + i, cnt);
  Vf v = vload_part(p.exp_avg_sq + i, cnt);
  if (kMax) g = vneg(g);
  if (kWd == 2) w = rounded(vmul(w, c.decay));                  // param.mul_(1 − lr·wd)
  if (kWd == 1) g = vfma(w, c.wd, g);                          // grad.add(param, alpha=wd)
  m = vfma(g, c.c1, vmul(m, c.b1));                            // mul_(β1).add_(g, alpha=1−β1)
  v = vfma(vmul(c.c2, g), g, vmul(v, c.b2));                   // mul_(β2).addcmul_(g, g, value=1−β2)
  Vf vh = v;
  if (kAms) {
    vh = vmax_nan(vload_part(p.max_exp_avg_sq + i, cnt), v);  // torch.maximum: NaN if either is
    vstore_part(p.max_exp_avg_sq + i, vh, cnt);
  }
  const Vf denom = vadd(vdiv(vsqrt(vh), c.bc2s), c.eps);
  w = vadd(w, vdiv(vmul(c.nss, m), denom));
  vstore_part(p.param + i, w, cnt);
  vstore_part(p.exp_avg + i, m, cnt);
  vstore_part(p.exp_avg_sq + i, v, cnt);
}

template <int kWd, bool kAms, bool kMax>
void adam_run(const AdamParams& p, const AdamCoef& c) {
  for_pieces(p.n, [&](int64_t i0, int64_t i1) {
    int64_t i = i0;
    for (; i + 2 * kN <= i1; i += 2 * kN) {
      adam_vec<kWd, kAms, kMax>(p, c, i, kN);
      adam_vec<kWd, kAms, kMax>(p, c, i + kN, kN);
    }
    for (; i < i1; i += kN) adam_vec<kWd, kAms, kMax>(p, c, i, i1 - i);
  });
}

template <int kWd>
void adam_wd(const AdamParams& p, const AdamCoef& c) {
  if (p.amsgrad) {
    if (p.maximize) adam_run<kWd, true, true>(p, c);
    else adam_run<kWd, true, false>(p, c);
  } else {
    if (p.maximize) adam_run<kWd, false, true>(p, c);
    else adam_run<kWd, false, false>(p, c);
  }
}

template <bool kWd, bool kMom, bool kNesterov>
inline void sgd_vec(const SgdParams& p, Vf wd, Vf mom, Vf omd, Vf nlr, bool init, bool maximize, int64_t i, int64_t cnt) {
  Vf w = vload_part(p.param + i, cnt);
  Vf d = vload_part(p.grad + i, cnt);
  if (maximize) d = vneg(d);
  if (kWd) d = vfma(w, wd, d);
  if (kMom) {
    Vf b = init ? d : vfma(d, omd, vmul(vload_part(p.momentum_buffer + i, cnt), mom));
    vstore_part(p.momentum_buffer + i, b, cnt);
    d = kNesterov ? vfma(b, mom, d) : b;
  }
  vstore_part(p.param + i, vfma(d, nlr, w), cnt);
}

template <bool kWd, bool kMom, bool kNesterov>
void sgd_run(const SgdParams& p) {
  const Vf wd = vset1(static_cast<float>(p.weight_decay));
  const Vf mom = vset1(static_cast<float>(p.momentum));
  const Vf omd = vset1(static_cast<float>(1.0 - p.dampening));
  const Vf nlr = vset1(static_cast<float>(-p.lr));
  const bool init = p.init_buffer, maximize = p.maximize;
  for_pieces(p.n, [&](int64_t i0, int64_t i1) {
    int64_t i = i0;
    for (; i + kN <= i1; i += kN) sgd_vec<kWd, kMom, kNesterov>(p, wd, mom, omd, nlr, init, maximize, i, kN);
    if (i < i1) sgd_vec<kWd, kMom, kNesterov>(p, wd, mom, omd, nlr, init, maximize, i, i1 - i);
  });
}

// Norm blocks: fixed 16K-element blocks, each summed in 16 double lanes (element j of
// every 16 into lane j) reduced by a fixed pairwise tree. The squares of floats are exact
// in double, so FMA or not, every ISA gives the same bits.
constexpr int64_t kNormBlock = 16384;
constexpr int kLanes = 16;

enum class NormKind { kMax, kMin, kZero, kTwo, kOne, kPow };

template <NormKind kKind>
inline double norm_term(float x, double ord) {
  const double a = std::fabs(static_cast<double>(x));
  switch (kKind) {
    case NormKind::kZero: return x != 0.f ? 1.0 : 0.0;  // a NaN counts as non-zero, as in PyTorch
    case NormKind::kTwo: return static_cast<double>(x) * static_cast<double>(x);
    case NormKind::kOne: return a;
    default: return std::pow(a, ord);
  }
}

template <NormKind kKind>
double norm_block(const float* x, int64_t n, double ord) {
  if (kKind == NormKind::kMax || kKind == NormKind::kMin) {
    // Sticky NaN: once m is NaN neither comparison is true and no later value replaces it.
    double m = kKind == NormKind::kMax ? 0.0 : std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) {
      const double a = std::fabs(static_cast<double>(x[i]));
      if (kKind == NormKind::kMax ? (a > m || a != a) : (a < m || a != a)) m = a;
    }
    return m;
  }
  double acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) acc[j] += norm_term<kKind>(x[i + j], ord);
  }
  for (int j = 0; i + j < n; ++j) acc[j] += norm_term<kKind>(x[i + j], ord);
  for (int w = kLanes / 2; w >= 1; w /= 2) {
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  }
  return acc[0];
}

template <NormKind kKind>
double norm_run(const NormParams& p) {
  const int64_t blocks = (p.n + kNormBlock - 1) / kNormBlock;
  if (blocks <= 1) return norm_block<kKind>(p.x, p.n, p.ord);
  double* part = mem::scratch_as<double>(0, static_cast<size_t>(blocks));
  parallel_for(blocks, 4, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t i0 = b * kNormBlock;
      const int64_t len = p.n - i0 < kNormBlock ? p.n - i0 : kNormBlock;
      part[b] = norm_block<kKind>(p.x + i0, len, p.ord);
    }
  });
  double r = part[0];
  for (int64_t b = 1; b < blocks; ++b) {
    if (kKind == NormKind::kMax) r = (part[b] > r || part[b] != part[b]) ? part[b] : r;
    else if (kKind == NormKind::kMin) r = (part[b] < r || part[b] != part[b]) ? part[b] : r;
    else r += part[b];
  }
  return r;
}

}  // namespace

void adam_step(const AdamParams& p) {
  // The scalars as PyTorch computes them: in double (Python floats), then rounded to
  // float where they become a kernel's scalar argument.
  const double step = static_cast<double>(p.step);
  const double bc1 = 1.0 - std::pow(p.beta1, step);
  const double bc2 = 1.0 - std::pow(p.beta2, step);
  const double step_size = p.lr / bc1;
  AdamCoef c;
  c.b1 = vset1(static_cast<float>(p.beta1));
  c.c1 = vset1(static_cast<float>(1.0 - p.beta1));
  c.b2 = vset1(static_cast<float>(p.beta2));
  c.c2 = vset1(static_cast<float>(1.0 - p.beta2));
  c.wd = vset1(static_cast<float>(p.weight_decay));
  c.decay = vset1(static_cast<float>(1.0 - p.lr * p.weight_decay));
  c.bc2s = vset1(static_cast<float>(std::sqrt(bc2)));
  c.eps = vset1(static_cast<float>(p.eps));
  c.nss = vset1(static_cast<float>(-step_size));
  if (p.decoupled) adam_wd<2>(p, c);
  else if (p.weight_decay != 0) adam_wd<1>(p, c);
  else adam_wd<0>(p, c);
}

void sgd_step(const SgdParams& p) {
  const bool wd = p.weight_decay != 0;
  if (p.momentum_buffer == nullptr) {
    if (wd) sgd_run<true, false, false>(p);
    else sgd_run<false, false, false>(p);
  } else if (p.nesterov) {
    if (wd) sgd_run<true, true, true>(p);
    else sgd_run<false, true, true>(p);
  } else {
    if (wd) sgd_run<true, true, false>(p);
    else sgd_run<false, true, false>(p);
  }
}

double norm_reduce(const NormParams& p) {
  if (p.ord == std::numeric_limits<double>::infinity()) return norm_run<NormKind::kMax>(p);
  if (p.ord == -std::numeric_limits<double>::infinity()) return norm_run<NormKind::kMin>(p);
  if (p.ord == 0) return norm_run<NormKind::kZero>(p);
  if (p.ord == 2) return norm_run<NormKind::kTwo>(p);
  if (p.ord == 1) return norm_run<NormKind::kOne>(p);
  return norm_run<NormKind::kPow>(p);
}

void scale_inplace(const ScaleParams& p) {
  const Vf s = vset1(static_cast<float>(p.scale));
  for_pieces(p.n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i += kN) {
      const int64_t cnt = i1 - i;
      vstore_part(p.x + i, vmul(vload_part(p.x + i, cnt), s), cnt);
    }
  });
}

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
