// layout: permute, the one data movement the modules need that no compute op does on its
// way (x.permute(dims).contiguous() in PyTorch): splitting [L, B, H·D] into the heads
// [B, H, L, D] that the attention kernel reads and merging them back, [N, C, H·W] ↔
// [N, H·W, C] for attention over pixels.
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

constexpr int kMaxPermuteRank = 8;

struct PermuteParams {
  const float* x;                  // laid out by `shape`, row-major
  float* y;                        // [shape[perm[0]], …, shape[perm[rank−1]]], row-major
  int rank;                        // 0 … kMaxPermuteRank
  int64_t shape[kMaxPermuteRank];  // x's dims
  int perm[kMaxPermuteRank];       // y's dim d is x's dim perm[d]; a permutation of 0 … rank−1
};

// Re-checks the permutation and the sizes (FOVEAL_CHECK). Returns x's element count.
int64_t permute_check(const PermuteParams& p);

// Dims of size 1 are dropped and runs of dims that stay adjacent are merged first, so
// [L,B,H,D] → [B,H,L,D] copies contiguous rows of D floats, and a true transpose of the
// innermost dim runs in cache-sized tiles. Each output element is written by one thread
// from one input element: the result is exact and independent of the thread count.
void permute(const PermuteParams& p);

}  // namespace cpu
}  // namespace foveal
