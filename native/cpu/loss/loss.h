// loss: crossEntropy (a fused log-softmax + negative log-likelihood, with label smoothing
// and an ignored label), mse and bceWithLogits, and their backwards.
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
  float smoothing;       // label smoothing ε in [0, 1]
  int32_t ignore_index;  // rows with this label contribute nothing (and are not counted by mean)
  const float* weight;   // [C] class weights, or nullptr (PyTorch's weight: mean divides by Σ w[y])
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
  const float* weight;  // [C] or nullptr
};

struct MseParams {
  const float* pred;    // [n]
  const float* target;  // [n]
  float* loss;          // [n] for none, [1] otherwise
  int64_t n;
  Reduction reduction;
};

struct MseBackwardParams {
  const float* dloss;  // [n] for none, [1] otherwise
  const float* pred;
  const float* target;
  float* dpred;  // [n] = 2(pred − target)·dloss (÷ n for mean)
  int64_t n;
  Reduction reduction;
};

// bceWithLogits: logits and target share one shape; weight and pos_weight are each
// broadcast to it (PyTorch broadcasting, aligned at the right). bce_view collapses the
// three layouts into few dims: the inner dim n[rank−1] is contiguous in logits, and each
// weight's stride there is 0 (broadcast) or 1, so kernels run whole rows of vectors.
constexpr int kBceMaxRank = 8;
struct BceView {
  int rank = 1;                   // ≥ 1 (a single element is [1])
  int64_t n[kBceMaxRank] = {1};   // collapsed dims of logits, row-major
  int64_t sw[kBceMaxRank] = {0};  // weight's strides (0 where broadcast, or no weight)
  int64_t sp[kBceMaxRank] = {0};  // pos_weight's strides
  int64_t total = 1;              // elements of logits (0 when any dim is 0)
};

// Fills *v for logits of shape dims[0..rank) and weights of shapes w / pw (ranks ≤ rank;
// a null shape pointer means no such weight). Returns false when a weight does not
// broadcast to the logits' shape (the broadcast may not grow it). rank ≤ kBceMaxRank.
bool bce_view(const int64_t* dims, int rank, const int64_t* w, int wrank, const int64_t* pw, int pwrank, BceView* v);

struct BceParams {
  const float* logits;      // [v.total]
  const float* target;      // [v.total]
  const float* weight;      // nullptr, or read at v.sw
  const float* pos_weight;  // nullptr, or read at v.sp
  float* loss;              // [v.total] for none, [1] otherwise
  BceView v;
  Reduction reduction;
};

struct BceBackwardParams {
  const float* dloss;  // [v.total] for none, [1] otherwise
  const float* logits;
  const float* target;
  const float* weight;
  const float* pos_weight;
  float* dlogits;  // [v.total]
  BceView v;
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
// ℓ = w·[(1 − t)·max(x, 0) + pw·t·max(−x, 0) + (1 + (pw − 1)·t)·log1p(e^{−|x|})]: PyTorch's
// (1 − t)·x + (1 + (pw − 1)·t)·(log1p(e^{−|x|}) + max(−x, 0)) with the x terms regrouped
// so no two large terms cancel (pw = 1 without pos_weight). mean divides by the element
// count (NaN for none), sum over fixed chunks as mse. ∂ℓ/∂x = w·((1 − t)·σ(x) − pw·t·σ(−x)),
// PyTorch's w·((1 + (pw − 1)·t)·σ(x) − pw·t) without its cancellation at large |x|.
void bce_forward(const BceParams& p);
void bce_backward(const BceBackwardParams& p);

#define FOVEAL_LOSS_DECLARE(ns)                                                  \
  namespace ns {                                                                 \
  void cross_entropy_forward(const CrossEntropyParams& p, double* rows);         \
  void cross_entropy_backward(const CrossEntropyBackwardParams& p, float scale); \
  void mse_forward(const MseParams& p);                                          \
  void mse_backward(const MseBackwardParams& p);                                 \
  double bce_range(const BceParams& p, int64_t e0, int64_t e1, float* out);      \
  void bce_backward(const BceBackwardParams& p);                                 \
  }
FOVEAL_LOSS_DECLARE(generic)
FOVEAL_LOSS_DECLARE(avx2)
FOVEAL_LOSS_DECLARE(avx512)
#undef FOVEAL_LOSS_DECLARE

}  // namespace cpu
}  // namespace foveal
