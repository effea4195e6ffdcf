// The linear family: linear (y = x·wᵀ + b), matmul (batched, broadcasting like PyTorch),
// the BLAS-style gemm op, and their backwards — all products on the GEMM core
// (cpu/gemm/gemm.h), which picks the ISA variant and splits the work over threads.
//
// Deterministic: every output element is summed in a fixed order by one thread (the GEMM
// never splits K, and a reduction over broadcast batch dims joins the same K chain), so
// results are bit-identical across runs and thread counts (not across ISA levels: FMA
// rounds differently from a multiply and an add).
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

struct LinearParams {
  const float* x;     // [M, K] row-major: every leading dim of x flattened into M rows
  const float* w;     // [N, K]: PyTorch's (out_features, in_features) layout
  const float* bias;  // [N], or nullptr for none
  float* y;           // [M, N]
  int64_t M, K, N;
  bool accumulate;  // y += x·wᵀ + b instead of y = x·wᵀ + b
};

struct LinearBackwardParams {
  const float* dy;  // [M, N] gradient of the loss w.r.t. y
  const float* x;   // [M, K] the forward's input
  const float* w;   // [N, K] the forward's weight
  float* dx;        // [M, K] = dy·w, or nullptr when not wanted
  float* dw;        // [N, K] = dyᵀ·x, or nullptr
  float* db;        // [N] = column sums of dy, or nullptr
  int64_t M, K, N;
  // Add into dx / dw / db instead of overwriting them (each on its own: a module adds its
  // weight gradients into what it holds while dx is a fresh result).
  bool accumulate_dx, accumulate_dw, accumulate_db;
};

void linear_forward(const LinearParams& p);
void linear_backward(const LinearBackwardParams& p);

// matmul: y[o] = a[o_a] · b[o_b] over the broadcast batch o (PyTorch's torch.matmul once
// 1-D operands have been given their unit dims).
constexpr int kMatmulMaxBatchDims = 8;
struct MatmulParams {
  const float* a;  // [a_batch..., M, K]
  const float* b;  // [b_batch..., K, N]
  float* y;        // [batch..., M, N]
  int64_t M, K, N;
  int rank;                              // batch dims (0 … kMatmulMaxBatchDims)
  int64_t batch[kMatmulMaxBatchDims];    // the result's batch dims
  int64_t a_batch[kMatmulMaxBatchDims];  // a's, each 1 (broadcast) or batch[d]
  int64_t b_batch[kMatmulMaxBatchDims];  // b's, likewise
};

struct MatmulBackwardParams {
  MatmulParams f;   // the forward's shapes and inputs (f.y unused)
  const float* dy;  // [batch..., M, N]
  float* da;        // [a_batch..., M, K] = Σ over a's broadcast dims of dy·bᵀ, or nullptr
  float* db;        // [b_batch..., K, N] = Σ over b's broadcast dims of aᵀ·dy, or nullptr
};

void matmul_forward(const MatmulParams& p);
void matmul_backward(const MatmulBackwardParams& p);

// The BLAS-style op: y[i] = alpha·op(a[i])·op(b[i]) + beta·c[i] over a strided batch, an
// operand with batched == false serving every batch item.
struct GemmOpParams {
  const float* a;  // [batch?, M, K] or [batch?, K, M] (trans_a)
  const float* b;  // [batch?, K, N] or [batch?, N, K] (trans_b)
  const float* c;  // [batch?, M, N], or nullptr (then beta must be 0)
  float* y;        // [batch, M, N]
  int64_t batch, M, K, N;
  bool trans_a, trans_b;
  bool a_batched, b_batched, c_batched;
  float alpha, beta;
  const float* bias_row;  // [N] added to every row, or nullptr
  const float* bias_col;  // [M] added to every column, or nullptr
  bool relu;
};
void gemm_op(const GemmOpParams& p);

// The packed-operand API of gemm.h (pack_b, then pack_a + gemm_packed or gemm_packed_b),
// as conv and attention call it, on one un-batched product: a test hook, so JS tests can
// check that path against the plain one bit for bit.
struct GemmPackedParams {
  GemmOpParams p;  // batch 1, no c
  bool pack_a;     // pack A too (gemm_packed), else read it in place (gemm_packed_b)
};
void gemm_packed_op(const GemmPackedParams& q);

}  // namespace cpu
}  // namespace foveal
