// activation: relu, gelu (erf and tanh forms), sigmoid, tanh, and their backwards.
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

enum class Activation : int {
  relu = 0,       // max(x, 0); NaN stays NaN
  gelu = 1,       // x·Φ(x), Φ the standard normal CDF (PyTorch approximate='none')
  gelu_tanh = 2,  // x/2·(1 + tanh(√(2/π)·(x + 0.044715x³))) (approximate='tanh')
  sigmoid = 3,    // 1/(1 + e^{−x})
  tanh = 4,
};

struct ActivationParams {
  const float* x;  // [n]
  float* y;        // [n]
  int64_t n;
  Activation kind;
};

// dx = dy · f'(·). What the derivative is computed from depends on the op: relu and gelu
// take the forward's input x, sigmoid and tanh its output y (f' is cheapest from y).
struct ActivationBackwardParams {
  const float* dy;  // [n] gradient w.r.t. the forward's output
  const float* t;   // [n] x for relu/gelu/gelu_tanh, y for sigmoid/tanh
  float* dx;        // [n]
  int64_t n;
  Activation kind;
};

// Element-wise: every element's result depends on its inputs only, so it is bit-identical
// across runs and thread counts (not across ISA levels: FMA rounds differently).
void activation_forward(const ActivationParams& p);
void activation_backward(const ActivationBackwardParams& p);

namespace generic {
void activation_forward(const ActivationParams& p);
void activation_backward(const ActivationBackwardParams& p);
}  // namespace generic
namespace avx2 {
void activation_forward(const ActivationParams& p);
void activation_backward(const ActivationBackwardParams& p);
}  // namespace avx2
namespace avx512 {
void activation_forward(const ActivationParams& p);
void activation_backward(const ActivationBackwardParams& p);
}  // namespace avx512

}  // namespace cpu
}  // namespace foveal
