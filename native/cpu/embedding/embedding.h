// embedding: a row gather (PyTorch's F.embedding) and its backward, a deterministic
// scatter-add of the upstream gradient into the rows it came from.
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

struct EmbeddingParams {
  const int32_t* indices;  // [n], each in [0, num)
  const float* weight;     // [num, dim]
  float* out;              // [n, dim]: out[i] = weight[indices[i]]
  int64_t n, num, dim;
};

struct EmbeddingBackwardParams {
  const float* dy;         // [n, dim]
  const int32_t* indices;  // [n], each in [0, num)
  float* dweight;          // [num, dim]: Σ over i with indices[i] = r of dy[i] (+ its old value when accumulate)
  int64_t n, num, dim;
  int64_t padding_idx;  // a row that gets no gradient (left as it was), or −1 for none
  bool accumulate;      // add into dweight instead of overwriting it
};

// Indices are checked first: the first one outside [0, num) throws std::invalid_argument
// naming its position and value (a RangeError in JS).
// The kernels read each index again and skip one that has changed meanwhile (an async
// caller writing to its array): they never read or write out of bounds.
//
// Determinism: the backward splits dim into slices of whole cache lines, one thread per
// slice, and each thread adds the rows of dy in index order. Every element of dweight is
// therefore the same sum in the same order (position order) for any thread count, and no
// two threads ever write the same cache line.
void embedding_forward(const char* op, const EmbeddingParams& p);
void embedding_backward(const char* op, const EmbeddingBackwardParams& p);

#define FOVEAL_EMBEDDING_DECLARE(ns)                                                \
  namespace ns {                                                                    \
  void embedding_scatter(const EmbeddingBackwardParams& p, int64_t d0, int64_t d1); \
  }
FOVEAL_EMBEDDING_DECLARE(generic)
FOVEAL_EMBEDDING_DECLARE(avx2)
FOVEAL_EMBEDDING_DECLARE(avx512)
#undef FOVEAL_EMBEDDING_DECLARE

}  // namespace cpu
}  // namespace foveal
