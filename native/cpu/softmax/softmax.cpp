// softmax: the generic variant and the dispatch to the best one.
#include "cpu/softmax/softmax.h"

#include "cpu/simd/kernel_table.h"

#define FOVEAL_VARIANT_HEADER "cpu/softmax/softmax.h"
#define FOVEAL_VARIANT_KERNELS "cpu/softmax/softmax_kernels.h"
#define FOVEAL_VARIANT_LEVEL 0
#include "cpu/simd/variant.h"

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
