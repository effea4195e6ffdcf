// What gemm.cpp shares with the ISA variants of the GEMM kernels (gemm_generic.cpp,
// gemm_avx2.cpp, gemm_avx512.cpp: gemm_kernels.inc assembled by cpu/simd/variant.h, which
// includes this header before the target region). Each variant exposes one table of entry
// points; gemm.cpp picks a table per call (core/dispatch.h) or by a geometry's isa.
#pragma once

#include <array>
#include <atomic>
#include <thread>
#include <utility>

#include "cpu/gemm/gemm.h"

namespace foveal {
namespace cpu {

struct GemmVariant {
  GemmGeometry geometry;
  void (*batched)(const GemmBatchParams& b);
  void (*pack_a)(Trans ta, const float* A, int64_t lda, int64_t M, int64_t K, float* dst);
  void (*pack_b)(Trans tb, const float* B, int64_t ldb, int64_t K, int64_t N, float* dst);
  // A packed (a_packed) or read in place (op(A) by ta, rows lda apart); B packed.
  void (*packed)(bool a_packed, Trans ta, const float* A, int64_t lda, const float* Bp, int64_t M, int64_t N, int64_t K,
                 float* C, int64_t ldc, const Epilogue& ep);
};

namespace generic {
const GemmVariant& gemm_variant();
}
namespace avx2 {
const GemmVariant& gemm_variant();
}
namespace avx512 {
const GemmVariant& gemm_variant();
}

}  // namespace cpu
}  // namespace foveal
