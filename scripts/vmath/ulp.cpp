// Measures the error of cpu/simd/vmath.h in ulps against double-precision libm, over a
// sweep of float inputs (every float in [-lim, lim] at a stride). Not part of the addon:
// scripts/vmath/ulp.sh builds it once per ISA level (-DLEVEL=0, 2 or 3) and runs it.
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/isa.h"

#if LEVEL == 3
FOVEAL_TARGET_AVX512_BEGIN
#elif LEVEL == 2
FOVEAL_TARGET_AVX2_BEGIN
#endif
#define FOVEAL_ISA_NS lvl
#define FOVEAL_VEC_LEVEL LEVEL
#include "cpu/simd/vmath.h"
namespace fc = foveal::cpu::lvl;
template <class F>
void apply(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + fc::kN <= n; i += fc::kN) fc::vstore(y + i, f(fc::vload(x + i)));
  if (i < n) fc::vstore_n(y + i, f(fc::vload_n(x + i, n - i, 0.f)), n - i);
}
void f_exp(const float* x, float* y, int64_t n) { apply(x, y, n, [](fc::Vf v) { return fc::vexp(v); }); }
void f_sigmoid(const float* x, float* y, int64_t n) { apply(x, y, n, [](fc::Vf v) { return fc::vsigmoid(v); }); }
void f_tanh(const float* x, float* y, int64_t n) { apply(x, y, n, [](fc::Vf v) { return fc::vtanh(v); }); }
void f_ncdf(const float* x, float* y, int64_t n) { apply(x, y, n, [](fc::Vf v) { return fc::vncdf(v); }); }
void f_gelu(const float* x, float* y, int64_t n) { apply(x, y, n, [](fc::Vf v) { return fc::vgelu(v); }); }
#if LEVEL != 0
FOVEAL_TARGET_END
#endif

static double ulp_of(double r) {
  const double a = std::fabs(r);
  if (a < 0x1p-126) return 0x1p-149;
  int e;
  std::frexp(a, &e);  // a = m·2^e, m in [0.5, 1)
  return std::ldexp(1.0, e - 24);
}

static double r_exp(double x) { return std::exp(x); }
static double r_sigmoid(double x) { return x < 0 ? std::exp(x) / (1 + std::exp(x)) : 1 / (1 + std::exp(-x)); }
static double r_tanh(double x) { return std::tanh(x); }
static double r_ncdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
static double r_gelu(double x) { return std::isinf(x) ? (x > 0 ? x : -0.0) : x * r_ncdf(x); }

struct Fn { const char* name; void (*f)(const float*, float*, int64_t); double (*r)(double); float lim; };

int main(int argc, char** argv) {
  const Fn fns[] = {{"exp", f_exp, r_exp, 110.f}, {"sigmoid", f_sigmoid, r_sigmoid, 120.f},
                    {"tanh", f_tanh, r_tanh, 20.f}, {"ncdf", f_ncdf, r_ncdf, 16.f}, {"gelu", f_gelu, r_gelu, 16.f}};
  const int64_t kBatch = 1 << 16;
  std::vector<float> x(kBatch), y(kBatch);
  for (const Fn& fn : fns) {
    if (argc > 1 && std::strcmp(argv[1], fn.name) != 0) continue;
    double worst = 0; float worst_x = 0; double worst_y = 0, worst_r = 0;
    bool bad_special = false;
    // Every float of magnitude ≤ lim at a stride of 3 bit patterns, both signs.
    uint32_t lim_bits; std::memcpy(&lim_bits, &fn.lim, 4);
    int64_t filled = 0;
    auto flush = [&]() {
      fn.f(x.data(), y.data(), filled);
      for (int64_t i = 0; i < filled; ++i) {
        const double r = fn.r(x[i]);
        double err;
        if (std::isnan(r)) err = std::isnan(y[i]) ? 0 : 1e9;
        else if (std::isinf(r) || std::fabs(r) > 3.4028234663852886e38) err = (y[i] == static_cast<float>(r)) ? 0 : 1e9;
        else err = std::fabs(y[i] - r) / ulp_of(r);
        if (err > worst) { worst = err; worst_x = x[i]; worst_y = y[i]; worst_r = r; }
      }
      filled = 0;
    };
    for (uint32_t b = 0; b <= lim_bits; b += 3) {
      for (uint32_t s : {0u, 0x80000000u}) {
        uint32_t u = b | s; float v; std::memcpy(&v, &u, 4);
        x[filled++] = v;
        if (filled == kBatch) flush();
      }
    }
    const float specials[] = {INFINITY, -INFINITY, NAN, 0.f, -0.f, 1e30f, -1e30f, 80.f, -80.f, 88.7f, -87.f, -103.f};
    for (float v : specials) x[filled++] = v;
    flush();
    std::printf("level %d %-8s max %.3f ulp at x=%.9g (got %.9g, want %.9g)%s\n", LEVEL, fn.name, worst, worst_x,
                worst_y, worst_r, bad_special ? " BAD SPECIAL" : "");
  }
}
