// softmax and logSoftmax along one axis, and their backwards.
//
// The tensor is viewed as [outer, len, inner]: the axis has `len` elements, `inner`
// apart. inner == 1 (the last axis) runs row by row; otherwise each lane of a vector is
// one column and a block of columns is reduced down the axis together.
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

struct SoftmaxParams {
  const float* x;  // [outer, len, inner]
  float* y;        // [outer, len, inner]
  int64_t outer, len, inner;
  bool log;  // logSoftmax: y = x − max − log Σ e^{x−max}
};

struct SoftmaxBackwardParams {
  const float* dy;  // [outer, len, inner] gradient w.r.t. y
  const float* y;   // [outer, len, inner] the forward's output
  float* dx;        // [outer, len, inner]
  int64_t outer, len, inner;
  bool log;  // logSoftmax: dx = dy − e^y·Σdy; softmax: dx = y·(dy − Σ dy·y)
};

// Semantics at the edges (the design's contract): a slice that is all −∞ gives zeros from
// softmax and −∞ from logSoftmax, and zero gradients from both backwards; a NaN anywhere
// in a slice makes the whole slice NaN; +∞ gives NaN as in PyTorch. Each slice is reduced
// by one thread in a fixed order: bit-identical across runs and thread counts.
void softmax_forward(const SoftmaxParams& p);
void softmax_backward(const SoftmaxBackwardParams& p);

namespace generic {
void softmax_forward(const SoftmaxParams& p);
void softmax_backward(const SoftmaxBackwardParams& p);
}  // namespace generic
namespace avx2 {
void softmax_forward(const SoftmaxParams& p);
void softmax_backward(const SoftmaxBackwardParams& p);
}  // namespace avx2
namespace avx512 {
void softmax_forward(const SoftmaxParams& p);
void softmax_backward(const SoftmaxBackwardParams& p);
}  // namespace avx512

}  // namespace cpu
}  // namespace foveal
