// norm: the generic variant and the dispatch to the best one.
#include "cpu/norm/norm.h"

#include "cpu/simd/kernel_table.h"

#define FOVEAL_VARIANT_HEADER "cpu/norm/norm.h"
#define FOVEAL_VARIANT_KERNELS "cpu/norm/norm_kernels.h"
#define FOVEAL_VARIANT_LEVEL 0
#include "cpu/simd/variant.h"

namespace foveal {
namespace cpu {
namespace {

FOVEAL_KERNEL_TABLE(kLayerForward, layer_norm_forward);
FOVEAL_KERNEL_TABLE(kLayerBackward, layer_norm_backward);
FOVEAL_KERNEL_TABLE(kBatchForward, batch_norm_forward);
FOVEAL_KERNEL_TABLE(kBatchBackward, batch_norm_backward);
FOVEAL_KERNEL_TABLE(kGroupForward, group_norm_forward);
FOVEAL_KERNEL_TABLE(kGroupBackward, group_norm_backward);

}  // namespace

void layer_norm_forward(const LayerNormParams& p) { kLayerForward.pick()(p); }
void layer_norm_backward(const LayerNormBackwardParams& p) { kLayerBackward.pick()(p); }
void batch_norm_forward(const BatchNormParams& p) { kBatchForward.pick()(p); }
void batch_norm_backward(const BatchNormBackwardParams& p) { kBatchBackward.pick()(p); }
void group_norm_forward(const GroupNormParams& p) { kGroupForward.pick()(p); }
void group_norm_backward(const GroupNormBackwardParams& p) { kGroupBackward.pick()(p); }

}  // namespace cpu
}  // namespace foveal
