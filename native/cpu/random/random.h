// random: fills a float array in place with uniform or normal numbers from Philox4x32-10
// (core/rng.h), for fv.ops.uniform_ / normal_ and the nn.init schemes.
//
// The stream. Elements go in blocks of 64: element i = 64·b + 16·j + l (j, l < 4, 16) takes
// word j of philox4x32_10(lo32(q), hi32(q), 0, stream, seed) with q = 16·b + l. Sixteen
// counters per block, one per vector lane, so each Philox word is a run of 16 consecutive
// elements and the vector variants need no transpose. An element depends on (seed, i)
// only: the same values on any thread count, and on every ISA level for uniform (normal
// goes through libm's log, sin and cos, the same scalar functions at every level).
//
//  uniform: lo + (hi − lo)·u with u = (word >> 8)·2⁻²⁴ ∈ [0, 1) (PyTorch's 24-bit float
//           uniform), computed in double and rounded once; a value that rounds up to hi
//           becomes the largest float below it, so every value lies in [lo, hi).
//  normal:  Box–Muller on the word pairs (0, 1) and (2, 3) of each counter, in double:
//           u1 = (w₀ + 1)·2⁻³² ∈ (0, 1], u2 = w₁·2⁻³², r = √(−2 ln u1); word 0's element
//           gets mean + std·r·cos 2πu2 and word 1's mean + std·r·sin 2πu2 (likewise 2, 3).
//           |z| ≤ √(64 ln 2) ≈ 6.66: the tail beyond is cut (probability 3e−11).
// The values are not PyTorch's stream: the distributions and bounds are.
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

enum class RandomKind : int { kUniform = 0, kNormal = 1 };

struct RandomParams {
  float* y;  // [n] written in place
  int64_t n;
  RandomKind kind;
  double a;       // uniform: lo; normal: mean
  double b;       // uniform: hi (≥ lo); normal: std (≥ 0)
  uint64_t seed;  // the 64-bit Philox key
};

void random_fill(const RandomParams& p);

namespace generic {
void random_fill(const RandomParams& p);
}
namespace avx2 {
void random_fill(const RandomParams& p);
}
namespace avx512 {
void random_fill(const RandomParams& p);
}

}  // namespace cpu
}  // namespace foveal
