// elementwise: the broadcast planner and the dispatch to the best variant
// (elementwise_generic/avx2.cpp).
#include "cpu/elementwise/elementwise.h"

#include "cpu/simd/kernel_table.h"

namespace foveal {
namespace cpu {

bool broadcast_view(const int64_t* ashape, int arank, const int64_t* bshape, int brank, BroadcastView* v,
                    int64_t* out_shape) {
  const int R = arank > brank ? arank : brank;
  if (arank < 0 || brank < 0 || R > kMaxBroadcastRank) return false;
  int64_t pa[kMaxBroadcastRank], pb[kMaxBroadcastRank];
  v->total = 1;
  for (int d = 0; d < R; ++d) {
    pa[d] = d - (R - arank) >= 0 ? ashape[d - (R - arank)] : 1;
    pb[d] = d - (R - brank) >= 0 ? bshape[d - (R - brank)] : 1;
    if (pa[d] < 0 || pb[d] < 0 || (pa[d] != pb[d] && pa[d] != 1 && pb[d] != 1)) return false;
    out_shape[d] = pa[d] == 1 ? pb[d] : pa[d];
  }
  v->rank = 0;
  for (int d = 0; d < R; ++d) v->total = out_shape[d] == 0 ? 0 : v->total;
  if (v->total == 0) return true;
  for (int d = 0; d < R; ++d) {
    if (v->total > kMaxBroadcastElements / out_shape[d]) {
      v->total = -1;  // too large to index (the caller reports it)
      return true;
    }
    v->total *= out_shape[d];
  }
  // Each operand's own row-major strides, 0 on the dims it is broadcast along; size-1
  // output dims are dropped, and adjacent dims merge when both operands continue
  // contiguously (or both stay broadcast) across them.
  int64_t sa = 1, sb = 1, stra[kMaxBroadcastRank], strb[kMaxBroadcastRank];
  for (int d = R - 1; d >= 0; --d) {
    stra[d] = pa[d] == 1 ? 0 : sa;
    strb[d] = pb[d] == 1 ? 0 : sb;
    sa *= pa[d];
    sb *= pb[d];
  }
  for (int d = 0; d < R; ++d) {
    if (out_shape[d] == 1) continue;
    if (v->rank > 0) {
      const int p = v->rank - 1;
      if (v->sa[p] == stra[d] * out_shape[d] && v->sb[p] == strb[d] * out_shape[d]) {
        v->n[p] *= out_shape[d];
        v->sa[p] = stra[d];
        v->sb[p] = strb[d];
        continue;
      }
    }
    v->n[v->rank] = out_shape[d];
    v->sa[v->rank] = stra[d];
    v->sb[v->rank] = strb[d];
    ++v->rank;
  }
  return true;
}

namespace {

// add / mul and their broadcast reductions only stream memory: AVX2 on AVX-512 hosts too
// (cpu/simd/kernel_table.h says why), so this family has no AVX-512 variant.
FOVEAL_STREAMING_KERNEL_TABLE(kForward, binary_forward, "binary_forward");
FOVEAL_STREAMING_KERNEL_TABLE(kBackward, binary_backward, "binary_backward");

}  // namespace

void binary_forward(const BinaryParams& p) { kForward.pick()(p); }
void binary_backward(const BinaryBackwardParams& p) { kBackward.pick()(p); }

}  // namespace cpu
}  // namespace foveal
