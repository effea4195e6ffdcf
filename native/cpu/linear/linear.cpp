// linear: the generic variant and the dispatch to the best one.
#include "cpu/linear/linear.h"

#include "core/dispatch.h"
#include "core/parallel.h"

#define FOVEAL_ISA_NS generic
#include "cpu/linear/linear_kernels.h"
#undef FOVEAL_ISA_NS

namespace foveal {
namespace cpu {
namespace {

using ForwardFn = void (*)(const LinearParams&);
using BackwardFn = void (*)(const LinearBackwardParams&);

const Kernel<ForwardFn> kForward{"linear_forward", generic::linear_forward,
                                 FOVEAL_IF_X86(avx2::linear_forward),
                                 FOVEAL_IF_X86(avx512::linear_forward)};
FOVEAL_REGISTER_KERNEL(kForward);

const Kernel<BackwardFn> kBackward{"linear_backward", generic::linear_backward,
                                   FOVEAL_IF_X86(avx2::linear_backward),
                                   FOVEAL_IF_X86(avx512::linear_backward)};
FOVEAL_REGISTER_KERNEL(kBackward);

}  // namespace

void linear_forward(const LinearParams& p) { kForward.pick()(p); }
void linear_backward(const LinearBackwardParams& p) { kBackward.pick()(p); }

}  // namespace cpu
}  // namespace foveal
