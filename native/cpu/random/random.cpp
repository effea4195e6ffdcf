// random: the dispatch to the best variant (random_generic/avx2/avx512.cpp).
#include "cpu/random/random.h"

#include "cpu/simd/kernel_table.h"

namespace foveal {
namespace cpu {
namespace {

FOVEAL_KERNEL_TABLE(kFill, random_fill);

}  // namespace

void random_fill(const RandomParams& p) { kFill.pick()(p); }

}  // namespace cpu
}  // namespace foveal
