// activation: the generic variant and the dispatch to the best one.
#include "cpu/activation/activation.h"

#include "cpu/simd/kernel_table.h"

#define FOVEAL_VARIANT_HEADER "cpu/activation/activation.h"
#define FOVEAL_VARIANT_KERNELS "cpu/activation/activation_kernels.h"
#define FOVEAL_VARIANT_LEVEL 0
#include "cpu/simd/variant.h"

namespace foveal {
namespace cpu {
namespace {

FOVEAL_KERNEL_TABLE(kForward, activation_forward);
FOVEAL_KERNEL_TABLE(kBackward, activation_backward);

}  // namespace

void activation_forward(const ActivationParams& p) { kForward.pick()(p); }
void activation_backward(const ActivationBackwardParams& p) { kBackward.pick()(p); }

}  // namespace cpu
}  // namespace foveal
