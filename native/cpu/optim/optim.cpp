// optim: the dispatch to the best variant (optim_generic/avx2/avx512.cpp).
#include "cpu/optim/optim.h"

#include "cpu/simd/kernel_table.h"

namespace foveal {
namespace cpu {
namespace {

// All three levels, AVX-512 included: Adam's two divides and square root per element are
// about as costly as its memory traffic on 256-bit vectors, so the wider vectors keep the
// update memory-bound (the streaming-kernel rule of kernel_table.h does not apply).
FOVEAL_KERNEL_TABLE(kAdam, adam_step);
FOVEAL_KERNEL_TABLE(kSgd, sgd_step);
FOVEAL_KERNEL_TABLE(kNorm, norm_reduce);
FOVEAL_KERNEL_TABLE(kScale, scale_inplace);

}  // namespace

void adam_step(const AdamParams& p) { kAdam.pick()(p); }
void sgd_step(const SgdParams& p) { kSgd.pick()(p); }
double norm_reduce(const NormParams& p) { return kNorm.pick()(p); }
void scale_inplace(const ScaleParams& p) { kScale.pick()(p); }

}  // namespace cpu
}  // namespace foveal
