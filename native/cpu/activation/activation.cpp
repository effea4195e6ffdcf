// activation: the dispatch to the best variant (activation_generic/avx2/avx512.cpp).
#include "cpu/activation/activation.h"

#include "cpu/simd/kernel_table.h"

namespace foveal {
namespace cpu {
namespace {

FOVEAL_KERNEL_TABLE(kForward, activation_forward);
FOVEAL_KERNEL_TABLE(kBackward, activation_backward);
// relu, and the backwards of relu, sigmoid and tanh, only stream memory (see
// cpu/simd/kernel_table.h); gelu and the exp-based forwards are compute-bound and keep
// AVX-512.
FOVEAL_STREAMING_KERNEL_TABLE(kForwardStreaming, activation_forward, "activation_forward_streaming");
FOVEAL_STREAMING_KERNEL_TABLE(kBackwardStreaming, activation_backward, "activation_backward_streaming");

bool streams(Activation k, bool backward) {
  return k == Activation::relu || (backward && (k == Activation::sigmoid || k == Activation::tanh));
}

}  // namespace

void activation_forward(const ActivationParams& p) {
  (streams(p.kind, false) ? kForwardStreaming : kForward).pick()(p);
}
void activation_backward(const ActivationBackwardParams& p) {
  (streams(p.kind, true) ? kBackwardStreaming : kBackward).pick()(p);
}

}  // namespace cpu
}  // namespace foveal
