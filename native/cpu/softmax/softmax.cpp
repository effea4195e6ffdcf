// softmax: the dispatch to the best variant (softmax_generic/avx2/avx512.cpp).
#include "cpu/softmax/softmax.h"

#include "cpu/simd/kernel_table.h"

namespace foveal {
namespace cpu {
namespace {

FOVEAL_KERNEL_TABLE(kForward, softmax_forward);
FOVEAL_KERNEL_TABLE(kBackward, softmax_backward);

}  // namespace

void softmax_forward(const SoftmaxParams& p) { kForward.pick()(p); }
void softmax_backward(const SoftmaxBackwardParams& p) { kBackward.pick()(p); }

}  // namespace cpu
}  // namespace foveal
