// activation kernel bodies, compiled once per ISA (see core/isa.h and cpu/simd/vec.h).
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including activation_kernels.h"
#endif

#include "cpu/simd/map.h"
#include "cpu/simd/vmath.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

constexpr float kGeluTanhC = 0.044715f;
constexpr float kSqrt2OverPi = 0.797884583f;     // √(2/π)
constexpr float kInvSqrt2Pi = 0.398942292f;      // 1/√(2π)

// x·p where p ∈ [0, 1] is a probability-like factor: where p is 0 the result is a signed
// zero, so x = −∞ gives −0 (the limit) rather than −∞·0 = NaN. (gelu's erf form does the
// same inline.)
inline Vf times_prob(Vf x, Vf p) {
  return vselect(veq(p, vzero()), vcopysign(vzero(), x), vmul(x, p));
}

// gelu (tanh form) = x·σ(2u), u = √(2/π)(x + 0.044715x³): ½(1 + tanh u) = σ(2u), which
// never cancels for negative x.
inline Vf gelu_tanh_arg(Vf x) {
  const Vf x2 = vmul(x, x);
  return vmul(vmul(x, vset1(2.f * kSqrt2OverPi)), vfmadd(x2, vset1(kGeluTanhC), vset1(1.f)));
}

template <Activation K>
inline Vf forward(Vf x) {
  if constexpr (K == Activation::relu) {
    return vselect(vle(x, vzero()), vzero(), x);  // +0 for −0 as PyTorch; NaN compares false: passes
  } else if constexpr (K == Activation::gelu) {
    return vgelu(x);
  } else if constexpr (K == Activation::gelu_tanh) {
    return times_prob(x, vsigmoid(gelu_tanh_arg(x)));
  } else if constexpr (K == Activation::sigmoid) {
    return vsigmoid(x);
  } else {
    return vtanh(x);
  }
}

// f'(·)·dy, from x (relu, gelu) or y (sigmoid, tanh).
template <Activation K>
inline Vf backward(Vf dy, Vf t) {
  if constexpr (K == Activation::relu) {
    // PyTorch's threshold_backward: zero where x ≤ 0, dy elsewhere (NaN x passes dy).
    return vselect(vle(t, vzero()), vzero(), dy);
  } else if constexpr (K == Activation::gelu) {
    // d/dx x·Φ(x) = Φ(x) + x·φ(x); x·φ(x) is 0 where φ underflows (so ±∞ give 0, 1).
    const Vf E = vexp_neg_half_sq(t);
    const Vf cdf = vncdf_from(t, E);
    const Vf xpdf = vselect(veq(E, vzero()), vzero(), vmul(vmul(t, vset1(kInvSqrt2Pi)), E));
    return vmul(dy, vadd(cdf, xpdf));
  } else if constexpr (K == Activation::gelu_tanh) {
    // d/dx x·σ(z) = σ(z) + x·σ(z)σ(−z)·z', z' = 2√(2/π)(1 + 3·0.044715x²).
    Vf s, sc;
    vsigmoid2(gelu_tanh_arg(t), &s, &sc);
    const Vf ssc = vmul(s, sc);
    const Vf dz = vmul(vset1(2.f * kSqrt2OverPi), vfmadd(vmul(t, t), vset1(3.f * kGeluTanhC), vset1(1.f)));
    const Vf term = vselect(veq(ssc, vzero()), vzero(), vmul(vmul(t, ssc), dz));
    return vmul(dy, vadd(s, term));
  } else if constexpr (K == Activation::sigmoid) {
    return vmul(dy, vmul(t, vsub(vset1(1.f), t)));  // σ' = y(1 − y)
  } else {
    return vmul(dy, vfnmadd(t, t, vset1(1.f)));  // tanh' = 1 − y²
  }
}

constexpr int cost(Activation k) {
  return k == Activation::relu ? 1 : (k == Activation::gelu || k == Activation::gelu_tanh) ? 8 : 4;
}

// Function objects rather than captureless lambdas: a lambda's function-pointer thunk
// would be compiled without the target ISA (GCC's -Wpsabi).
template <Activation K>
struct Forward {
  Vf operator()(Vf x) const { return forward<K>(x); }
};
template <Activation K>
struct Backward {
  Vf operator()(Vf dy, Vf t) const { return backward<K>(dy, t); }
};

template <Activation K>
void run_forward(const ActivationParams& p) {
  parallel_for(p.n, map_grain(cost(K)), [&](int64_t b, int64_t e) { map1(p.x + b, p.y + b, e - b, Forward<K>{}); });
}

template <Activation K>
void run_backward(const ActivationBackwardParams& p) {
  parallel_for(p.n, map_grain(cost(K)),
               [&](int64_t b, int64_t e) { map2(p.dy + b, p.t + b, p.dx + b, e - b, Backward<K>{}); });
}

}  // namespace

void activation_forward(const ActivationParams& p) {
  switch (p.kind) {
    case Activation::relu: return run_forward<Activation::relu>(p);
    case Activation::gelu: return run_forward<Activation::gelu>(p);
    case Activation::gelu_tanh: return run_forward<Activation::gelu_tanh>(p);
    case Activation::sigmoid: return run_forward<Activation::sigmoid>(p);
    case Activation::tanh: return run_forward<Activation::tanh>(p);
  }
}

void activation_backward(const ActivationBackwardParams& p) {
  switch (p.kind) {
    case Activation::relu: return run_backward<Activation::relu>(p);
    case Activation::gelu: return run_backward<Activation::gelu>(p);
    case Activation::gelu_tanh: return run_backward<Activation::gelu_tanh>(p);
    case Activation::sigmoid: return run_backward<Activation::sigmoid>(p);
    case Activation::tanh: return run_backward<Activation::tanh>(p);
  }
}

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
