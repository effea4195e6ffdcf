// The matrix-multiply core every fast op stands on: linear and matmul directly, convolution
// through packed weight and im2col panels, fused attention through small packed tiles.
//
//   C[M,N] = act(alpha · op(A)[M,K] · op(B)[K,N] + beta · C + bias)
//
// Row-major throughout; op(X) is X or Xᵀ. Deterministic: the K reduction of every C
// element runs in one fixed order on one thread (threads split M and N, never K), so
// results are bit-identical across runs and thread counts at one ISA level.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dispatch.h"

namespace foveal {
namespace cpu {

enum class Trans : uint8_t { N, T };
enum class Act : uint8_t { none, relu };

// What happens as C is written: C = act(alpha·(A·B) + beta·C + bias_row[j] + bias_col[i]).
struct Epilogue {
  float alpha = 1.f;
  float beta = 0.f;                 // 0: C is overwritten and its old contents (NaN too) never read
  const float* bias_row = nullptr;  // [N], added to every row (linear's bias), or nullptr
  const float* bias_col = nullptr;  // [M], added to every column (conv's per-channel bias), or nullptr
  Act act = Act::none;
};

struct GemmParams {
  Trans ta = Trans::N;  // A is [M,K] (N) or [K,M] (T), rows lda apart
  Trans tb = Trans::N;  // B is [K,N] (N) or [N,K] (T), rows ldb apart
  int64_t M = 0, N = 0, K = 0;
  const float* A = nullptr;
  int64_t lda = 0;
  const float* B = nullptr;
  int64_t ldb = 0;
  float* C = nullptr;   // [M,N], rows ldc apart
  int64_t ldc = 0;
  Epilogue ep;
  // Strided batch: problem i uses A + i·stride_a, B + i·stride_b, C + i·stride_c
  // (a stride of 0 broadcasts that operand across the batch).
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
};

// Multi-threaded over the kernel pool.
void gemm(const GemmParams& p);
// On the calling thread only: for callers that parallelise themselves (conv over images
// and tiles, attention over heads and query blocks).
void gemm_serial(const GemmParams& p);

// ---- Packed operands, for callers that reuse an operand across many products ----
//
// A packed operand is op(X) cut into panels of `mr` rows (A) or `nr` columns (B), each
// panel stored k-major and zero-padded to full width:
//   A: element (i,k) at  (i / mr)·K·mr + k·mr + i % mr     (packed_a_size floats)
//   B: element (k,j) at  (j / nr)·K·nr + k·nr + j % nr     (packed_b_size floats)
// so a caller may also write panels itself (im2col straight into B's layout). The
// geometry belongs to one ISA variant: take it once with gemm_geometry() and pass the same
// value to the packers and to gemm_packed.
struct GemmGeometry {
  Isa isa;
  int mr;  // rows of A per panel (the micro-kernel's height)
  int nr;  // columns of B per panel (the micro-kernel's width)
};
GemmGeometry gemm_geometry();  // of the variant a call would pick now

size_t packed_a_size(const GemmGeometry& g, int64_t M, int64_t K);
size_t packed_b_size(const GemmGeometry& g, int64_t K, int64_t N);
void pack_a(const GemmGeometry& g, Trans ta, const float* A, int64_t lda, int64_t M, int64_t K, float* dst);
void pack_b(const GemmGeometry& g, Trans tb, const float* B, int64_t ldb, int64_t K, int64_t N, float* dst);

// C[M,N] (rows ldc apart) = epilogue(Ap · Bp), on the calling thread.
void gemm_packed(const GemmGeometry& g, const float* Ap, const float* Bp, int64_t M, int64_t N, int64_t K,
                 float* C, int64_t ldc, const Epilogue& ep);

}  // namespace cpu
}  // namespace foveal
