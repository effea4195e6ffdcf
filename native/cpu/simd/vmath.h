// Vector exp, sigmoid, tanh and the normal CDF on cpu/simd/vec.h, for every ISA level.
//
// Accuracy: the max error in ulps, relative, over every third float of |x| ≤ 110 (exp,
// sigmoid), 20 (tanh), 16 (Φ, gelu) and the specials, measured against double-precision
// libm by scripts/vmath/ulp.sh; the same on AVX-512 / AVX2, generic in brackets:
//   vexp      1.01 (0.99), subnormal results included; ±∞, NaN and overflow as std::exp
//   vsigmoid  2.4 everywhere (no overflow: e^{−|x|} only)
//   vtanh     1.33 (1.32)
//   vncdf     Φ(x) 5.7 (6.2), also deep in the lower tail (Φ(−13) ≈ 6e−39)
//   vgelu     x·Φ(x) 5.9 (6.5), to the last normal result
// (re-measure with `sh scripts/vmath/ulp.sh`; the comments beside the functions say where
// the error comes from).
//
// The polynomial coefficients are our own minimax fits (scripts/vmath/fit.py: Lawson's
// iteratively reweighted least squares against mpmath, relative-error weighted).
// Never compiled with -ffast-math: the NaN and ±∞ handling below relies on IEEE rules and
// on vmin/vmax passing a NaN in their second operand through.
#pragma once

#include "cpu/simd/vec.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

// e^x. x = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite: ln2 split so n·ln2_hi is exact for
// |n| < 2^15 without an FMA), e^r by a degree-6 minimax polynomial (relative error 3e-9),
// then ·2ⁿ with one rounding (vldexp), which also produces subnormals and ∞.
// The one exp of the CPU kernels, attention's softmax included: it replaced attention's own
// (Cephes expf's polynomial, flushed to 0 below FLT_MIN on AVX2/generic), measured over
// every float in [−104, 0] as worst 1.01 ulp against 1.26, correctly rounded 99.2% against
// 96.5%, subnormal results right, and no slower (0.19 against 0.23 ns per element in
// attention's exp-and-sum pass on AVX-512, 0.39 against 0.43 on AVX2).
inline Vf vexp(Vf x) {
  // Below −104 the result rounds to 0, above 89 to ∞; the clamp keeps n in vldexp's
  // range. Operand order lets a NaN through both.
  const Vf xc = vmax(vset1(-104.f), vmin(vset1(89.f), x));
  const Vf n = vround(vmul(xc, vset1(1.44269502f)));
  Vf r = vfnmadd(n, vset1(0.693359375f), xc);
  r = vfnmadd(n, vset1(-2.12194442e-4f), r);
  Vf q = vset1(0.00138146128f);
  q = vfmadd(q, r, vset1(0.00836871006f));
  q = vfmadd(q, r, vset1(0.041668389f));
  q = vfmadd(q, r, vset1(0.166665211f));
  q = vfmadd(q, r, vset1(0.49999994f));
  const Vf p = vadd(vset1(1.f), vfmadd(q, vmul(r, r), r));  // 1 + r + r²·q(r)
  return vldexp(p, n);
}

// σ(x) and σ(−x) = 1 − σ(x), both to full relative precision: with e = e^{−|x|} ≤ 1,
// σ(x) = 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0; e never overflows, so σ(−100) is a
// correct subnormal rather than 1/∞.
inline void vsigmoid2(Vf x, Vf* s, Vf* sc) {
  const Vf e = vexp(vneg(vabs(x)));
  const Vf d = vadd(vset1(1.f), e);
  const Vm neg = vlt(x, vzero());
  *s = vdiv(vselect(neg, e, vset1(1.f)), d);
  *sc = vdiv(vselect(neg, vset1(1.f), e), d);
}

inline Vf vsigmoid(Vf x) {
  const Vf e = vexp(vneg(vabs(x)));
  return vdiv(vselect(vlt(x, vzero()), e, vset1(1.f)), vadd(vset1(1.f), e));
}

// tanh: an odd minimax polynomial x + x³·P(x²) below |x| = 0.625 (relative error 4e-9;
// 1 − 2/(e^{2|x|}+1) would cancel there), else sign(x)·(1 − 2/(e^{2|x|}+1)), which is
// exactly ±1 once e^{2|x|} is large and stays so when it overflows to ∞.
inline Vf vtanh(Vf x) {
  const Vf a = vabs(x);
  const Vf x2 = vmul(x, x);
  Vf p = vset1(-0.00570498733f);
  p = vfmadd(p, x2, vset1(0.020639088f));
  p = vfmadd(p, x2, vset1(-0.0537397154f));
  p = vfmadd(p, x2, vset1(0.133314416f));
  p = vfmadd(p, x2, vset1(-0.333332807f));
  const Vf small = vfmadd(vmul(p, x2), x, x);
  const Vf e = vexp(vadd(a, a));
  const Vf big = vcopysign(vsub(vset1(1.f), vdiv(vset1(2.f), vadd(e, vset1(1.f)))), x);
  return vselect(vlt(a, vset1(0.625f)), small, big);
}

// e^{−x²/2} without the error of rounding x² first (that error, times x², would cost
// ~100 ulp at |x| = 14): x² = h + l exactly, e^{−h/2}·(1 − l/2). |x| is clamped at 15,
// where the result is already 0.
inline Vf vexp_neg_half_sq(Vf x) {
  const Vf u = vmin(vset1(15.f), vabs(x));
  const Vf h = vmul(u, u);
  const Vf l = vprod_err(u, u, h);
  const Vf e = vexp(vmul(h, vset1(-0.5f)));
  return vfnmadd(e, vmul(l, vset1(0.5f)), e);
}

// Φ(x), the standard normal CDF, in two pieces that callers combine:
//  |x| ≤ 1: Φ(x) = vncdf_inner(x) = 0.5 + x·P(x²), a minimax odd polynomial (relative
//           error 5e-10 on Φ).
//  |x| > 1: Φ(−|x|) = E·S with E = e^{−x²/2} (vexp_neg_half_sq) and S = vncdf_mills(x),
//           S(u) = Φ(−u)·e^{u²/2} ≈ t·R(t), t = 1/(1 + 0.375u) (0.375 is exact in binary;
//           a degree-9 minimax polynomial, relative error 2e-9, 9e-9 with float
//           coefficients), and Φ(|x|) = 1 − Φ(−|x|).
// The lower tail is computed directly, never as 1 − something, so Φ(−10) ≈ 7.6e-24 is
// right to a few ulp where 0.5·(1 + erf(x/√2)) would give 0.
inline Vf vncdf_inner(Vf x) {
  const Vf x2 = vmul(x, x);
  Vf pa = vset1(-7.46289516e-06f);
  pa = vfmadd(pa, x2, vset1(0.000112952177f));
  pa = vfmadd(pa, x2, vset1(-0.00118578493f));
  pa = vfmadd(pa, x2, vset1(0.00997307803f));
  pa = vfmadd(pa, x2, vset1(-0.0664903149f));
  pa = vfmadd(pa, x2, vset1(0.398942292f));
  return vfmadd(x, pa, vset1(0.5f));
}

inline Vf vncdf_mills(Vf x) {
  const Vf u = vmin(vset1(15.f), vabs(x));
  const Vf t = vdiv(vset1(1.f), vfmadd(u, vset1(0.375f), vset1(1.f)));
  Vf pb = vset1(-0.0457696542f);
  pb = vfmadd(pb, t, vset1(0.184076548f));
  pb = vfmadd(pb, t, vset1(-0.258551329f));
  pb = vfmadd(pb, t, vset1(0.109854095f));
  pb = vfmadd(pb, t, vset1(-0.012804728f));
  pb = vfmadd(pb, t, vset1(0.0967257321f));
  pb = vfmadd(pb, t, vset1(0.127124637f));
  pb = vfmadd(pb, t, vset1(0.149717733f));
  pb = vfmadd(pb, t, vset1(0.149599448f));
  return vmul(t, pb);
}

inline Vm vncdf_is_inner(Vf x) { return vle(vabs(x), vset1(1.f)); }

// Φ(x) given E = vexp_neg_half_sq(x).
inline Vf vncdf_from(Vf x, Vf E) {
  const Vf q = vmul(E, vncdf_mills(x));  // Φ(−|x|)
  const Vf tail = vselect(vlt(x, vzero()), q, vsub(vset1(1.f), q));
  return vselect(vncdf_is_inner(x), vncdf_inner(x), tail);
}

inline Vf vncdf(Vf x) { return vncdf_from(x, vexp_neg_half_sq(x)); }

// gelu(x) = x·Φ(x), with the lower tail as (x·E)·S so that no factor goes subnormal before
// the result does (Φ(−13.1) is subnormal, gelu(−13.1) is not), and gelu(−∞) = −0, the
// limit, where x·Φ(x) would be −∞·0 = NaN.
inline Vf vgelu(Vf x) {
  const Vf E = vexp_neg_half_sq(x);
  const Vf xe = vselect(veq(E, vzero()), vcopysign(vzero(), x), vmul(x, E));
  const Vf s = vncdf_mills(x);
  const Vf tail = vselect(vlt(x, vzero()), vmul(xe, s), vmul(x, vfnmadd(E, s, vset1(1.f))));
  return vselect(vncdf_is_inner(x), vmul(x, vncdf_inner(x)), tail);
}

}  // namespace
}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
