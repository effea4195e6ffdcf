// gate: the dispatch to the best variant (gate_generic/avx2/avx512.cpp).
#include "cpu/gate/gate.h"

#include "cpu/simd/kernel_table.h"

namespace foveal {
namespace cpu {
namespace {

FOVEAL_KERNEL_TABLE(kSpatialGateForward, spatial_gate_forward);
FOVEAL_KERNEL_TABLE(kSpatialGateBackward, spatial_gate_backward);
FOVEAL_KERNEL_TABLE(kChannelPoolForward, channel_pool_forward);
FOVEAL_KERNEL_TABLE(kChannelPoolBackward, channel_pool_backward);

}  // namespace

void spatial_gate_forward(const SpatialGateParams& p) { kSpatialGateForward.pick()(p); }
void spatial_gate_backward(const SpatialGateBackwardParams& p) { kSpatialGateBackward.pick()(p); }
void channel_pool_forward(const ChannelPoolParams& p) { kChannelPoolForward.pick()(p); }
void channel_pool_backward(const ChannelPoolBackwardParams& p) { kChannelPoolBackward.pick()(p); }

}  // namespace cpu
}  // namespace foveal
