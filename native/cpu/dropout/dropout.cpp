// dropout: the generic variant and the dispatch to the best one.
#include "cpu/dropout/dropout.h"

#include "core/dispatch.h"
#include "core/parallel.h"
#include "core/rng.h"

#define FOVEAL_ISA_NS generic
#define FOVEAL_VEC_LEVEL 0
#include "cpu/dropout/dropout_kernels.h"
#undef FOVEAL_VEC_LEVEL
#undef FOVEAL_ISA_NS

namespace foveal {
namespace cpu {
namespace {

const Kernel<void (*)(const DropoutParams&)> kApply{"dropout_apply", generic::dropout_apply,
                                                    FOVEAL_IF_X86(avx2::dropout_apply),
                                                    FOVEAL_IF_X86(avx512::dropout_apply)};
FOVEAL_REGISTER_KERNEL(kApply);

}  // namespace

void dropout_apply(const DropoutParams& p) { kApply.pick()(p); }

}  // namespace cpu
}  // namespace foveal
