// activation: the generic variant and the dispatch to the best one.
#include "cpu/activation/activation.h"

#include "core/dispatch.h"
#include "core/parallel.h"

#define FOVEAL_ISA_NS generic
#define FOVEAL_VEC_LEVEL 0
#include "cpu/activation/activation_kernels.h"
#undef FOVEAL_VEC_LEVEL
#undef FOVEAL_ISA_NS

namespace foveal {
namespace cpu {
namespace {

using ForwardFn = void (*)(const ActivationParams&);
using BackwardFn = void (*)(const ActivationBackwardParams&);

const Kernel<ForwardFn> kForward{"activation_forward", generic::activation_forward,
                                 FOVEAL_IF_X86(avx2::activation_forward),
                                 FOVEAL_IF_X86(avx512::activation_forward)};
FOVEAL_REGISTER_KERNEL(kForward);

const Kernel<BackwardFn> kBackward{"activation_backward", generic::activation_backward,
                                   FOVEAL_IF_X86(avx2::activation_backward),
                                   FOVEAL_IF_X86(avx512::activation_backward)};
FOVEAL_REGISTER_KERNEL(kBackward);

}  // namespace

void activation_forward(const ActivationParams& p) { kForward.pick()(p); }
void activation_backward(const ActivationBackwardParams& p) { kBackward.pick()(p); }

}  // namespace cpu
}  // namespace foveal
