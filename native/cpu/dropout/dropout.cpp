// dropout: the dispatch to the best variant (dropout_generic/avx2/avx512.cpp).
#include "cpu/dropout/dropout.h"

#include "cpu/simd/kernel_table.h"

namespace foveal {
namespace cpu {
namespace {

FOVEAL_KERNEL_TABLE(kApply, dropout_apply);

}  // namespace

void dropout_apply(const DropoutParams& p) { kApply.pick()(p); }

}  // namespace cpu
}  // namespace foveal
