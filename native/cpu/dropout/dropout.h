// dropout: y = x·m/(1−p), m ∈ {0, 1} drawn from Philox4x32-10 (core/rng.h), and its
// backward, which regenerates the same m from the seed.
//
// The mask: element i uses word i % 4 of philox4x32_10(lo32(i/4), hi32(i/4), 0,
// kStreamDropout, seed), and is kept iff that word's top 24 bits, as an integer, are
// ≥ ⌈p·2²⁴⌉ (that is, unit_float(word) ≥ p: kept with probability 1 − p). The 64-bit key is
// the seed itself (key word 0 = its low 32 bits, word 1 = its high bits). The mask
// depends on (seed, i) only, so it is the same on any thread count and any ISA level.
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

struct DropoutParams {
  const float* x;  // [n] the input (forward) or dy (backward)
  float* y;        // [n] x·m·scale
  int64_t n;
  double p;  // drop probability in [0, 1]
  uint64_t seed;
};

// The forward and the backward are the same map (dx = dy·m/(1−p)). A NaN stays NaN even
// where dropped (x·0), as in PyTorch; p = 1 multiplies everything by 0.
void dropout_apply(const DropoutParams& p);

namespace generic {
void dropout_apply(const DropoutParams& p);
}
namespace avx2 {
void dropout_apply(const DropoutParams& p);
}
namespace avx512 {
void dropout_apply(const DropoutParams& p);
}

}  // namespace cpu
}  // namespace foveal
