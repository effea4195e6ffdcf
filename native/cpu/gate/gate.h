// gate: the memory-bound blocks of CNN attention, each done in one sweep over x instead of
// a chain of small ops:
//  - spatialGate: out = x·σ(a ⊙ b), a = conv1x1(x; wa, ba) and b = conv1x1(x; wb, bb), each
//    C → 1 (the sigmoid spatial gate), and its backward;
//  - channelPool: [mean over C, max over C] → [N, 2, H, W] (CBAM's spatial-attention
//    input), and its backward.
//
// Layout: x is [N, C, HW] (NCHW with H·W flattened). Work is split into tasks of one image
// and a span of pixels; a task sweeps its pixels over all C channel rows for the
// per-pixel reductions (vectorised along W), then sweeps them again for the outputs
// while those rows are still in L1/L2, so x comes from memory once. (How many pixels are
// swept together, and where their per-pixel values live, is chosen per kernel from
// measurements: see gate_kernels.inc.)
//
// Determinism: every per-pixel value is computed by one lane in channel order, whatever
// the task split. The weight gradients of spatialGateBackward sum over N·H·W: each task
// sums its pixels, tasks are grouped into at most kGateChunks chunks whose bounds depend
// on the shape only, each chunk adds its tasks in order (in double), and the chunks are
// added in order — the same bits for any thread count (at one ISA level).
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

constexpr int64_t kGateChunks = 64;

struct SpatialGateParams {
  const float* x;   // [N, C, HW]
  const float* wa;  // [C]: conv1x1 weight of a
  const float* ba;  // [1]: its bias
  const float* wb;  // [C]
  const float* bb;  // [1]
  float* out;       // [N, C, HW] = x·gate
  float* gate;      // [N, HW] = σ(a·b)
  int64_t N, C, HW;
};

struct SpatialGateBackwardParams {
  const float* dout;  // [N, C, HW]
  const float* x;     // [N, C, HW]
  const float* wa;
  const float* ba;
  const float* wb;
  const float* bb;
  const float* gate;  // [N, HW] from the forward, or nullptr: recomputed from x
  float* dx;          // [N, C, HW]
  float* dwa;         // [C]
  float* dba;         // [1]
  float* dwb;         // [C]
  float* dbb;         // [1]
  int64_t N, C, HW;
  bool accumulate;  // add into dx, dwa, dba, dwb, dbb instead of overwriting them
};

struct ChannelPoolParams {
  const float* x;  // [N, C, HW], C ≥ 1
  float* y;        // [N, 2, HW]: y[n,0] = mean over c, y[n,1] = max over c (NaN if any is NaN)
  int64_t N, C, HW;
};

struct ChannelPoolBackwardParams {
  const float* dy;  // [N, 2, HW]
  const float* x;   // [N, C, HW], C ≥ 1
  float* dx;        // [N, C, HW]: dy[n,0]/C everywhere, plus dy[n,1] at the first maximal c
  int64_t N, C, HW;
  bool accumulate;
};

void spatial_gate_forward(const SpatialGateParams& p);
void spatial_gate_backward(const SpatialGateBackwardParams& p);
void channel_pool_forward(const ChannelPoolParams& p);
void channel_pool_backward(const ChannelPoolBackwardParams& p);

#define FOVEAL_GATE_DECLARE(ns)                                   \
  namespace ns {                                                  \
  void spatial_gate_forward(const SpatialGateParams& p);          \
  void spatial_gate_backward(const SpatialGateBackwardParams& p); \
  void channel_pool_forward(const ChannelPoolParams& p);          \
  void channel_pool_backward(const ChannelPoolBackwardParams& p); \
  }
FOVEAL_GATE_DECLARE(generic)
FOVEAL_GATE_DECLARE(avx2)
FOVEAL_GATE_DECLARE(avx512)
#undef FOVEAL_GATE_DECLARE

}  // namespace cpu
}  // namespace foveal
