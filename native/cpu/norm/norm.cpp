// norm: the generic variant and the dispatch to the best one.
#include "cpu/norm/norm.h"

#include "core/dispatch.h"
#include "core/memory.h"
#include "core/parallel.h"

#define FOVEAL_ISA_NS generic
#define FOVEAL_VEC_LEVEL 0
#include "cpu/norm/norm_kernels.h"
#undef FOVEAL_VEC_LEVEL
#undef FOVEAL_ISA_NS

namespace foveal {
namespace cpu {
namespace {

#define FOVEAL_NORM_KERNEL(table, fn, Params)                                                         \
  const Kernel<void (*)(const Params&)> table{#fn, generic::fn, FOVEAL_IF_X86(avx2::fn), FOVEAL_IF_X86(avx512::fn)}; \
  FOVEAL_REGISTER_KERNEL(table)

FOVEAL_NORM_KERNEL(kLayerForward, layer_norm_forward, LayerNormParams);
FOVEAL_NORM_KERNEL(kLayerBackward, layer_norm_backward, LayerNormBackwardParams);
FOVEAL_NORM_KERNEL(kBatchForward, batch_norm_forward, BatchNormParams);
FOVEAL_NORM_KERNEL(kBatchBackward, batch_norm_backward, BatchNormBackwardParams);
FOVEAL_NORM_KERNEL(kGroupForward, group_norm_forward, GroupNormParams);
FOVEAL_NORM_KERNEL(kGroupBackward, group_norm_backward, GroupNormBackwardParams);
#undef FOVEAL_NORM_KERNEL

}  // namespace

void layer_norm_forward(const LayerNormParams& p) { kLayerForward.pick()(p); }
void layer_norm_backward(const LayerNormBackwardParams& p) { kLayerBackward.pick()(p); }
void batch_norm_forward(const BatchNormParams& p) { kBatchForward.pick()(p); }
void batch_norm_backward(const BatchNormBackwardParams& p) { kBatchBackward.pick()(p); }
void group_norm_forward(const GroupNormParams& p) { kGroupForward.pick()(p); }
void group_norm_backward(const GroupNormBackwardParams& p) { kGroupBackward.pick()(p); }

}  // namespace cpu
}  // namespace foveal
