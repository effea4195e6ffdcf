// embedding: index checks, the gather, the zero-fill and slicing of the backward, and the
// dispatch to the best variant (embedding_generic/avx2/avx512.cpp).
#include "cpu/embedding/embedding.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "core/parallel.h"
#include "cpu/simd/kernel_table.h"

namespace foveal {
namespace cpu {
namespace {

FOVEAL_KERNEL_TABLE(kScatter, embedding_scatter);

// Threads take slices of dim in whole 64-byte lines, so no two write the same line.
constexpr int64_t kLine = 16;
// Elements a thread should copy, add or clear at least to be worth waking (~10 µs).
constexpr int64_t kGrainElements = 32768;

int64_t grain_for(int64_t per_item) {
  return per_item >= kGrainElements ? 1 : kGrainElements / (per_item > 0 ? per_item : 1);
}

void check_indices(const char* op, const int32_t* indices, int64_t n, int64_t num) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = indices[i];
    if (r < 0 || r >= num)
      throw std::invalid_argument(std::string(op) + ": indices[" + std::to_string(i) + "] must be an index from 0 to " +
                                  std::to_string(num - 1) + ", got " + std::to_string(r));
  }
}

}  // namespace

void embedding_forward(const char* op, const EmbeddingParams& p) {
  check_indices(op, p.indices, p.n, p.num);
  const size_t row_bytes = static_cast<size_t>(p.dim) * sizeof(float);
  parallel_for(p.n, grain_for(p.dim), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t r = p.indices[i];  // read once: JS may write to it meanwhile
      float* dst = p.out + i * p.dim;
      if (r >= 0 && r < p.num) std::memcpy(dst, p.weight + r * p.dim, row_bytes);
      else std::memset(dst, 0, row_bytes);
    }
  });
}

void embedding_backward(const char* op, const EmbeddingBackwardParams& p) {
  check_indices(op, p.indices, p.n, p.num);
  if (!p.accumulate) {
    const size_t row_bytes = static_cast<size_t>(p.dim) * sizeof(float);
    parallel_for(p.num, grain_for(p.dim), [&](int64_t b, int64_t e) {
      std::memset(p.dweight + b * p.dim, 0, row_bytes * static_cast<size_t>(e - b));
    });
  }
  const auto scatter = kScatter.pick();
  const int64_t lines = (p.dim + kLine - 1) / kLine;
  parallel_for(lines, grain_for(p.n * kLine),
               [&](int64_t l0, int64_t l1) { scatter(p, l0 * kLine, l1 * kLine < p.dim ? l1 * kLine : p.dim); });
}

}  // namespace cpu
}  // namespace foveal
