// linear: y = x·wᵀ + b, and its backward.
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
  bool accumulate;    // y += x·wᵀ + b instead of y = x·wᵀ + b
};

struct LinearBackwardParams {
  const float* dy;  // [M, N] gradient of the loss w.r.t. y
  const float* x;   // [M, K] the forward's input
  const float* w;   // [N, K] the forward's weight
  float* dx;        // [M, K] = dy·w, or nullptr when not wanted
  float* dw;        // [N, K] = dyᵀ·x, or nullptr
  float* db;        // [N] = column sums of dy, or nullptr
  int64_t M, K, N;
  bool accumulate;  // add into dx/dw/db instead of overwriting them
};

// Deterministic: every output element is summed in a fixed order by one thread, so the
// result is bit-identical across runs and thread counts (not across ISA levels: FMA
// rounds differently from a multiply and an add).
void linear_forward(const LinearParams& p);
void linear_backward(const LinearBackwardParams& p);

// The ISA variants behind the two entry points above.
namespace generic {
void linear_forward(const LinearParams& p);
void linear_backward(const LinearBackwardParams& p);
}  // namespace generic
namespace avx2 {
void linear_forward(const LinearParams& p);
void linear_backward(const LinearBackwardParams& p);
}  // namespace avx2
namespace avx512 {
void linear_forward(const LinearParams& p);
void linear_backward(const LinearBackwardParams& p);
}  // namespace avx512

}  // namespace cpu
}  // namespace foveal
