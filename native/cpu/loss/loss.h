// loss: crossEntropy (a fused log-softmax + negative log-likelihood, with label smoothing
// and an ignored label) and mse, and their backwards.
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

enum class Reduction : int { none = 0, mean = 1, sum = 2 };

struct CrossEntropyParams {
  const float* logits;    // [N, C]
  const int32_t* labels;  // [N], each in [0, C) or ignore_index
  float* loss;            // [N] for none, [1] for mean and sum
  int64_t N, C;
  Reduction reduction;
  float smoothing;        // label smoothing ε in [0, 1]
  int32_t ignore_index;   // rows with this label contribute nothing (and are not counted by mean)
};

struct CrossEntropyBackwardParams {
  const float* dloss;     // [N] for none, [1] for mean and sum
  const float* logits;    // [N, C]
  const int32_t* labels;  // [N]
  float* dlogits;         // [N, C]
  int64_t N, C;
  Reduction reduction;
  float smoothing;
  int32_t ignore_index;
};

struct MseParams {
  const float* pred;    // [n]
  const float* target;  // [n]
  float* loss;          // [n] for none, [1] otherwise
  int64_t n;
  Reduction reduction;
};

struct MseBackwardParams {
  const float* dloss;   // [n] for none, [1] otherwise
  const float* pred;
  const float* target;
  float* dpred;         // [n] = 2(pred − target)·dloss (÷ n for mean)
  int64_t n;
  Reduction reduction;
};

// Labels are checked first: one outside [0, C) that is not ignore_index throws
// std::invalid_argument naming its index (a RangeError in JS). Rows are independent and
// the reductions run in a fixed order (row losses summed in double, mse over fixed
// chunks), so results are bit-identical across runs and thread counts. A mean over zero
// counted rows is NaN, as in PyTorch.
void cross_entropy_forward(const char* op, const CrossEntropyParams& p);
void cross_entropy_backward(const char* op, const CrossEntropyBackwardParams& p);
void mse_forward(const MseParams& p);
void mse_backward(const MseBackwardParams& p);

#define FOVEAL_LOSS_DECLARE(ns)                                        \
  namespace ns {                                                       \
  void cross_entropy_forward(const CrossEntropyParams& p, double* rows); \
  void cross_entropy_backward(const CrossEntropyBackwardParams& p, float scale); \
  void mse_forward(const MseParams& p);                                \
  void mse_backward(const MseBackwardParams& p);                       \
  }
FOVEAL_LOSS_DECLARE(generic)
FOVEAL_LOSS_DECLARE(avx2)
FOVEAL_LOSS_DECLARE(avx512)
#undef FOVEAL_LOSS_DECLARE

}  // namespace cpu
}  // namespace foveal
