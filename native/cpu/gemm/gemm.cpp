// GEMM: the generic variant (plain C++ the compiler vectorises for the baseline ISA), the
// dispatch between variants, and the public entry points of gemm.h.
#include "cpu/gemm/gemm.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "core/check.h"
#include "core/memory.h"
#include "core/parallel.h"
#include "cpu/gemm/gemm_variants.h"

namespace foveal {
namespace cpu {
namespace generic {
namespace {

constexpr Isa kIsa = Isa::generic;
constexpr int kMR = 4;
constexpr int kNV = 2;

// A 4-lane vector in GCC/Clang's portable vector extension: SSE2 on x86-64, NEON on
// arm64, plain scalars elsewhere. Multiply and add stay separate (no -ffp-contract).
typedef float F4 __attribute__((vector_size(16)));

struct V {
  using T = F4;
  using Mask = int;  // the number of leading lanes in use
  static constexpr int W = 4;
  static Mask mask(int n) { return n < 0 ? 0 : (n > 4 ? 4 : n); }
  static T zero() { return T{0.f, 0.f, 0.f, 0.f}; }
  static T load(const float* p) {
    T r;
    std::memcpy(&r, p, sizeof r);
    return r;
  }
  static T load_mask(const float* p, Mask m) {
    T r = zero();
    for (int i = 0; i < m; ++i) r[i] = p[i];
    return r;
  }
  static void store(float* p, T v) { std::memcpy(p, &v, sizeof v); }
  static void store_mask(float* p, T v, Mask m) {
    for (int i = 0; i < m; ++i) p[i] = v[i];
  }
  static T set1(float x) { return T{x, x, x, x}; }
  static T fma(T a, T b, T c) { return a * b + c; }
  static T mul(T a, T b) { return a * b; }
  static T add(T a, T b) { return a + b; }
  static T relu(T v) {
    for (int i = 0; i < 4; ++i) v[i] = v[i] > 0.f || v[i] != v[i] ? v[i] : 0.f;
    return v;
  }
  static float hsum(T v) { return (v[0] + v[2]) + (v[1] + v[3]); }
};

void transpose_pack(const float* Bt, int64_t ldb, int64_t K, int ncols, float* dst) {
  constexpr int nr = kNV * V::W;
  for (int64_t k = 0; k < K; ++k, dst += nr) {
    int c = 0;
    for (; c < ncols; ++c) dst[c] = Bt[c * ldb + k];
    for (; c < nr; ++c) dst[c] = 0.f;
  }
}

}  // namespace
}  // namespace generic
}  // namespace cpu
}  // namespace foveal

#define FOVEAL_ISA_NS generic
#include "cpu/gemm/gemm_impl.h"
#undef FOVEAL_ISA_NS

namespace foveal {
namespace cpu {
namespace {

using VariantFn = const GemmVariant& (*)();
const Kernel<VariantFn> kGemm{"gemm", generic::gemm_variant, FOVEAL_IF_X86(avx2::gemm_variant),
                              FOVEAL_IF_X86(avx512::gemm_variant)};
FOVEAL_REGISTER_KERNEL(kGemm);

const GemmVariant& current() { return kGemm.pick()(); }

// The variant a geometry belongs to: packed layouts are only meaningful to it.
const GemmVariant& of(const GemmGeometry& g) {
  VariantFn fn = nullptr;
  switch (g.isa) {
    case Isa::generic: fn = kGemm.generic; break;
    case Isa::avx2: fn = kGemm.avx2; break;
    case Isa::avx512: fn = kGemm.avx512; break;
    default: break;
  }
  FOVEAL_CHECK(fn && isa_supported(g.isa), "gemm: geometry of unavailable ISA ", isa_name(g.isa));
  const GemmVariant& v = fn();
  FOVEAL_CHECK(v.geometry.mr == g.mr && v.geometry.nr == g.nr, "gemm: geometry mr=", g.mr, " nr=", g.nr,
               " does not match the ", isa_name(g.isa), " kernel (mr=", v.geometry.mr, " nr=", v.geometry.nr, ")");
  return v;
}

GemmBatchParams strided(const GemmParams& p, bool serial) {
  GemmBatchParams b;
  b.p = p;
  b.n_outer = 1;
  b.outer[0].size = p.batch;
  b.outer[0].stride_a = p.stride_a;
  b.outer[0].stride_b = p.stride_b;
  b.outer[0].stride_c = p.stride_c;
  b.serial = serial;
  return b;
}

}  // namespace

void gemm(const GemmParams& p) { current().batched(strided(p, false)); }
void gemm_serial(const GemmParams& p) { current().batched(strided(p, true)); }
void gemm_batched(const GemmBatchParams& b) { current().batched(b); }

GemmGeometry gemm_geometry() { return current().geometry; }

size_t packed_a_size(const GemmGeometry& g, int64_t M, int64_t K) {
  return static_cast<size_t>((M + g.mr - 1) / g.mr) * g.mr * K;
}
size_t packed_b_size(const GemmGeometry& g, int64_t K, int64_t N) {
  return static_cast<size_t>((N + g.nr - 1) / g.nr) * g.nr * K;
}

void pack_a(const GemmGeometry& g, Trans ta, const float* A, int64_t lda, int64_t M, int64_t K, float* dst) {
  of(g).pack_a(ta, A, lda, M, K, dst);
}

void pack_b(const GemmGeometry& g, Trans tb, const float* B, int64_t ldb, int64_t K, int64_t N, float* dst) {
  of(g).pack_b(tb, B, ldb, K, N, dst);
}

void gemm_packed(const GemmGeometry& g, const float* Ap, const float* Bp, int64_t M, int64_t N, int64_t K,
                 float* C, int64_t ldc, const Epilogue& ep) {
  of(g).packed(true, Trans::N, Ap, 0, Bp, M, N, K, C, ldc, ep);
}

void gemm_packed_b(const GemmGeometry& g, Trans ta, const float* A, int64_t lda, const float* Bp, int64_t M,
                   int64_t N, int64_t K, float* C, int64_t ldc, const Epilogue& ep) {
  of(g).packed(false, ta, A, lda, Bp, M, N, K, C, ldc, ep);
}

}  // namespace cpu
}  // namespace foveal
