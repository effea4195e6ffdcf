// The matrix-multiply core every fast op stands on: linear and matmul directly, convolution
// through packed weight and im2col panels, fused attention through small packed tiles.
//
//   C[M,N] = act(alpha · op(A)[M,K] · op(B)[K,N] + beta · C + bias)
//
// Row-major throughout; op(X) is X or Xᵀ. Deterministic: the K reduction of every C
// element runs in one fixed order on one thread (threads split M and N, never K), so
// results are bit-identical across runs and thread counts at one ISA level.
//
// How an element is summed (the same in gemm, gemm_serial, gemm_batched, gemm_packed and
// gemm_packed_b, so they agree bit for bit at one ISA level): one fused multiply-add chain
// acc = fma(a[i,k], b[k,j], acc) over k = 0, 1, …, K-1 in order (over the reduce batch
// first, then k, for gemm_batched), started from 0 — or from beta·C when alpha == 1 and
// beta != 0 — then C = alpha·acc (+ beta·C when alpha != 1) + bias_row[j] + bias_col[i],
// then act. The cache blocking of K only parks the running sum in C between blocks, so it
// never changes a bit. (The generic variant fuses as cpu/simd/vec.h's vfmadd does: only
// where the baseline target has FMA, so on x86-64 it multiplies, then adds.) Two
// shapes take a dot-product path instead (M == 1 with B transposed, N == 1 with A not
// transposed): there each element is a fixed-order lane-parallel sum.
//
// alpha == 0 follows BLAS: A and B are not read (a NaN in them does not reach C). beta == 0:
// C is overwritten and never read. relu keeps NaN (max(0, NaN) is NaN).
//
// Scratch: gemm, gemm_serial and gemm_batched use mem::scratch slots 6 and 7 of the threads
// that run them (packed B on the calling thread; partial sums on each worker, only when
// alpha ≠ 1 with beta ≠ 0 and K needs blocks) and up to 32 KiB of stack; callers must not
// keep their own data in those two slots across a call. gemm_packed, gemm_packed_b and the
// packers use no scratch.
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
  float* C = nullptr;  // [M,N], rows ldc apart
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

// ---- Broadcast batches with reduction (matmul and its backward) ----
//
// C[o] = act(alpha · Σ_r op(A[o,r])·op(B[o,r]) + beta·C[o] + bias) for every index o of the
// `outer` dims, r running over the `reduce` dims in row-major order. Element offsets:
// A[o,r] = A + Σ_d o_d·outer[d].stride_a + Σ_d r_d·reduce[d].stride_a (B likewise), and
// C[o] = C + Σ_d o_d·outer[d].stride_c (a reduce dim's stride_c is ignored). A stride of 0
// broadcasts. The reduce sum joins the K chain (see above), so it is as deterministic.
constexpr int kGemmMaxBatchDims = 8;
struct GemmBatchDim {
  int64_t size = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
};
struct GemmBatchParams {
  GemmParams p;  // the product's shape, operands and epilogue; p.batch and p.stride_* are ignored
  int n_outer = 0;
  GemmBatchDim outer[kGemmMaxBatchDims];
  int n_reduce = 0;
  GemmBatchDim reduce[kGemmMaxBatchDims];
  bool serial = false;  // true: on the calling thread only (as gemm_serial)
};
void gemm_batched(const GemmBatchParams& b);

// ---- Packed operands, for callers that reuse an operand across many products ----
//
// A packed operand is op(X) cut into panels of `mr` rows (A) or `nr` columns (B), each
// panel stored k-major and zero-padded to full width:
//   A: element (i,k) at  (i / mr)·K·mr + k·mr + i % mr     (packed_a_size floats)
//   B: element (k,j) at  (j / nr)·K·nr + k·nr + j % nr     (packed_b_size floats)
// so a caller may also write panels itself (im2col straight into B's layout). The
// geometry belongs to one ISA variant: take it once with gemm_geometry() and pass the same
// value to the packers and to gemm_packed. Packed buffers should be 64-byte aligned
// (mem::acquire / mem::scratch memory is); they are read with aligned loads when they are.
//
// Geometry per ISA (what the micro-kernel holds in registers): avx512 mr=8, nr=32;
// avx2 mr=6, nr=16; generic mr=4, nr=8.
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
void gemm_packed(const GemmGeometry& g, const float* Ap, const float* Bp, int64_t M, int64_t N, int64_t K, float* C,
                 int64_t ldc, const Epilogue& ep);

// C[M,N] = epilogue(op(A) · Bp) with A unpacked (op(A) as in GemmParams, rows lda apart)
// and B packed, on the calling thread. The micro-kernel reads A in place as fast as a
// packed panel, so a caller whose A changes every call (attention's P tile, a Q block)
// skips pack_a altogether. Same bits as gemm_packed on pack_a(A).
void gemm_packed_b(const GemmGeometry& g, Trans ta, const float* A, int64_t lda, const float* Bp, int64_t M, int64_t N,
                   int64_t K, float* C, int64_t ldc, const Epilogue& ep);

}  // namespace cpu
}  // namespace foveal
