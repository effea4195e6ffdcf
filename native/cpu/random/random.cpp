// random: the generic variant and the dispatch to the best one.
#include "cpu/random/random.h"

#include "cpu/simd/kernel_table.h"

#define FOVEAL_VARIANT_HEADER "cpu/random/random.h"
#define FOVEAL_VARIANT_KERNELS "cpu/random/random_kernels.h"
#define FOVEAL_VARIANT_LEVEL 0
#include "cpu/simd/variant.h"

namespace foveal {
namespace cpu {
namespace {

FOVEAL_KERNEL_TABLE(kFill, random_fill);

}  // namespace

void random_fill(const RandomParams& p) { kFill.pick()(p); }

}  // namespace cpu
}  // namespace foveal
