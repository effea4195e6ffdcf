// convert: the dispatch to the best variant (convert_generic/avx2/avx512.cpp).
#include "cpu/convert/convert.h"

#include "cpu/simd/kernel_table.h"

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
