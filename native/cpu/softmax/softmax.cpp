// softmax: the generic variant and the dispatch to the best one.
#include "cpu/softmax/softmax.h"

#include "core/dispatch.h"
#include "core/parallel.h"

#define FOVEAL_ISA_NS generic
#define FOVEAL_VEC_LEVEL 0
#include "cpu/softmax/softmax_kernels.h"
#undef FOVEAL_VEC_LEVEL
#undef FOVEAL_ISA_NS

namespace foveal {
namespace cpu {
namespace {

using ForwardFn = void (*)(const SoftmaxParams&);
using BackwardFn = void (*)(const SoftmaxBackwardParams&);

const Kernel<ForwardFn> kForward{"softmax_forward", generic::softmax_forward,
                                 FOVEAL_IF_X86(avx2::softmax_forward),
                                 FOVEAL_IF_X86(avx512::softmax_forward)};
FOVEAL_REGISTER_KERNEL(kForward);

const Kernel<BackwardFn> kBackward{"softmax_backward", generic::softmax_backward,
                                   FOVEAL_IF_X86(avx2::softmax_backward),
                                   FOVEAL_IF_X86(avx512::softmax_backward)};
FOVEAL_REGISTER_KERNEL(kBackward);

}  // namespace

void softmax_forward(const SoftmaxParams& p) { kForward.pick()(p); }
void softmax_backward(const SoftmaxBackwardParams& p) { kBackward.pick()(p); }

}  // namespace cpu
}  // namespace foveal
