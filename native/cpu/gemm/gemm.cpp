// GEMM: the dispatch between the ISA variants (gemm_generic/avx2/avx512.cpp) and the public
// entry points of gemm.h.
#include "cpu/gemm/gemm.h"

#include <cstddef>
#include <cstdint>

#include "core/check.h"
#include "cpu/gemm/gemm_internal.h"

namespace foveal {
namespace cpu {
namespace {

// The family's dispatch table. Its entries are tables themselves (GemmVariant: the entry
// points and the geometry of one level), so a packed operand can find the variant that
// packed it; fv.info() lists it as "gemm".
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

void gemm_packed(const GemmGeometry& g, const float* Ap, const float* Bp, int64_t M, int64_t N, int64_t K, float* C,
                 int64_t ldc, const Epilogue& ep) {
  of(g).packed(true, Trans::N, Ap, 0, Bp, M, N, K, C, ldc, ep);
}

void gemm_packed_b(const GemmGeometry& g, Trans ta, const float* A, int64_t lda, const float* Bp, int64_t M, int64_t N,
                   int64_t K, float* C, int64_t ldc, const Epilogue& ep) {
  of(g).packed(false, ta, A, lda, Bp, M, N, K, C, ldc, ep);
}

}  // namespace cpu
}  // namespace foveal
