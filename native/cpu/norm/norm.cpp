// norm: the dispatch to the best variant (norm_generic/avx2/avx512.cpp).
#include "cpu/norm/norm.h"

#include "cpu/simd/kernel_table.h"

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
