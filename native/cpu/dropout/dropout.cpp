// dropout: the generic variant and the dispatch to the best one.
#include "cpu/dropout/dropout.h"

#include "cpu/simd/kernel_table.h"

#define FOVEAL_VARIANT_HEADER "cpu/dropout/dropout.h"
#define FOVEAL_VARIANT_KERNELS "cpu/dropout/dropout_kernels.h"
#define FOVEAL_VARIANT_LEVEL 0
#include "cpu/simd/variant.h"

namespace foveal {
namespace cpu {
namespace {

FOVEAL_KERNEL_TABLE(kApply, dropout_apply);

}  // namespace

void dropout_apply(const DropoutParams& p) { kApply.pick()(p); }

}  // namespace cpu
}  // namespace foveal
