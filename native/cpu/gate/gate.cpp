// gate: the dispatch to the best variant (gate_generic/avx2/avx512.cpp).
#include "cpu/gate/gate.h"

#include <cmath>

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
void spatial_gate_backward(const SpatialGateBackwardParams& p) {
  // No channels and no saved gate: x is empty whatever N and HW are (either may be huge),
  // every pixel has a = ba, b = bb and dg = Σ_c dOut·x = 0, so each adds the same
  // ds·bb = 0·σ'(ba·bb)·bb to dba (ds·ba to dbb): 0, or NaN from a NaN bias. The kernels
  // would loop over N·HW pixels of nothing.
  if (p.C == 0 && !p.gate) {
    const float g = 1.f / (1.f + std::exp(-(*p.ba * *p.bb)));
    const float ds = 0.f * (g * (1.f - g));
    const bool any = p.N > 0 && p.HW > 0;
    const float da = any ? ds * *p.bb : 0.f, db = any ? ds * *p.ba : 0.f;
    *p.dba = p.accumulate ? *p.dba + da : da;
    *p.dbb = p.accumulate ? *p.dbb + db : db;
    return;
  }
  kSpatialGateBackward.pick()(p);
}
void channel_pool_forward(const ChannelPoolParams& p) { kChannelPoolForward.pick()(p); }
void channel_pool_backward(const ChannelPoolBackwardParams& p) { kChannelPoolBackward.pick()(p); }

}  // namespace cpu
}  // namespace foveal
