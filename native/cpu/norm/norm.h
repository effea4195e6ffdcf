// norm: layerNorm, batchNorm2d and groupNorm, and their backwards.
//
// Statistics are two-pass (mean, then Σ(x − mean)²) with float vector sums over fixed
// chunks added in double, so a large mean never cancels the variance away. Backwards
// recompute the statistics from x (the data is in cache by then) instead of keeping them,
// and can add their gradients into given arrays (a module's parameter gradients) instead
// of overwriting them: the sum is then old + new, new computed exactly as without it.
// Every reduction has a fixed blocking that depends on the shapes only: one channel or
// group per task, parameter gradients summed per fixed row block and then in order, so
// results are bit-identical across runs and thread counts.
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

struct LayerNormParams {
  const float* x;       // [rows, D]: D = the product of normalizedShape
  const float* weight;  // [D] or nullptr
  const float* bias;    // [D] or nullptr
  float* y;             // [rows, D]
  int64_t rows, D;
  float eps;
};

struct LayerNormBackwardParams {
  const float* dy;      // [rows, D]
  const float* x;       // [rows, D]
  const float* weight;  // [D] or nullptr (= ones)
  float* dx;            // [rows, D]
  float* dweight;       // [D] = Σ_rows dy·x̂
  float* dbias;         // [D] = Σ_rows dy
  int64_t rows, D;
  float eps;
  // Add into dx / dweight / dbias instead of overwriting them (each on its own).
  bool accumulate_dx, accumulate_dweight, accumulate_dbias;
};

// x is [N, C, S] (S = the product of the spatial dims).
struct BatchNormParams {
  const float* x;       // [N, C, S]
  float* y;             // [N, C, S]
  float* running_mean;  // [C]: read in eval; updated in place in training (nullptr: no update)
  float* running_var;   // [C]: likewise, with the unbiased batch variance
  const float* weight;  // [C] or nullptr
  const float* bias;    // [C] or nullptr
  int64_t N, C, S;
  bool training;  // batch statistics (and the running update) instead of the running ones
  float momentum, eps;
};

struct BatchNormBackwardParams {
  const float* dy;            // [N, C, S]
  const float* x;             // [N, C, S]
  const float* running_mean;  // [C], eval only
  const float* running_var;   // [C], eval only
  const float* weight;        // [C] or nullptr
  float* dx;                  // [N, C, S]
  float* dweight;             // [C]
  float* dbias;               // [C]
  int64_t N, C, S;
  bool training;
  float eps;
  // Add into dx / dweight / dbias instead of overwriting them (each on its own).
  bool accumulate_dx, accumulate_dweight, accumulate_dbias;
};

struct GroupNormParams {
  const float* x;       // [N, C, S]
  const float* weight;  // [C] or nullptr
  const float* bias;    // [C] or nullptr
  float* y;             // [N, C, S]
  int64_t N, C, S, G;   // G groups of C/G channels each
  float eps;
};

struct GroupNormBackwardParams {
  const float* dy;
  const float* x;
  const float* weight;  // [C] or nullptr
  float* dx;            // [N, C, S]
  float* dweight;       // [C]
  float* dbias;         // [C]
  int64_t N, C, S, G;
  float eps;
  // Add into dx / dweight / dbias instead of overwriting them (each on its own).
  bool accumulate_dx, accumulate_dweight, accumulate_dbias;
};

void layer_norm_forward(const LayerNormParams& p);
void layer_norm_backward(const LayerNormBackwardParams& p);
void batch_norm_forward(const BatchNormParams& p);
void batch_norm_backward(const BatchNormBackwardParams& p);
void group_norm_forward(const GroupNormParams& p);
void group_norm_backward(const GroupNormBackwardParams& p);

#define FOVEAL_NORM_DECLARE(ns)                               \
  namespace ns {                                              \
  void layer_norm_forward(const LayerNormParams& p);          \
  void layer_norm_backward(const LayerNormBackwardParams& p); \
  void batch_norm_forward(const BatchNormParams& p);          \
  void batch_norm_backward(const BatchNormBackwardParams& p); \
  void group_norm_forward(const GroupNormParams& p);          \
  void group_norm_backward(const GroupNormBackwardParams& p); \
  }
FOVEAL_NORM_DECLARE(generic)
FOVEAL_NORM_DECLARE(avx2)
FOVEAL_NORM_DECLARE(avx512)
#undef FOVEAL_NORM_DECLARE

}  // namespace cpu
}  // namespace foveal
