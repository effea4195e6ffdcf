// convert: the generic variant and the dispatch to the best one.
#include "cpu/convert/convert.h"

#include "cpu/simd/kernel_table.h"

#define FOVEAL_VARIANT_HEADER "cpu/convert/convert.h"
#define FOVEAL_VARIANT_KERNELS "cpu/convert/convert_kernels.h"
#define FOVEAL_VARIANT_LEVEL 0
#include "cpu/simd/variant.h"

namespace foveal {
namespace cpu {
namespace {

FOVEAL_KERNEL_TABLE(kWiden, convert_widen);
FOVEAL_KERNEL_TABLE(kNarrow, convert_narrow);

}  // namespace

void convert_widen(const WidenParams& p) { kWiden.pick()(p); }
void convert_narrow(const NarrowParams& p) { kNarrow.pick()(p); }

}  // namespace cpu
}  // namespace foveal
