// loss: label checks, the final reductions, the generic variant and the dispatch.
#include "cpu/loss/loss.h"

#include <limits>
#include <stdexcept>
#include <string>

#include "core/memory.h"
#include "cpu/simd/kernel_table.h"

#define FOVEAL_VARIANT_HEADER "cpu/loss/loss.h"
#define FOVEAL_VARIANT_KERNELS "cpu/loss/loss_kernels.h"
#define FOVEAL_VARIANT_LEVEL 0
#include "cpu/simd/variant.h"

namespace foveal {
namespace cpu {
namespace {

FOVEAL_KERNEL_TABLE(kCeForward, cross_entropy_forward);
FOVEAL_KERNEL_TABLE(kCeBackward, cross_entropy_backward);
// mse's backward only streams memory (cpu/simd/kernel_table.h): AVX2 on AVX-512 hosts
// too. Its forward is a reduction, which wider vectors do speed up.
FOVEAL_KERNEL_TABLE(kMseForward, mse_forward);
FOVEAL_STREAMING_KERNEL_TABLE(kMseBackward, mse_backward, "mse_backward");

// Throws for the first label outside [0, C) that is not the ignored one; returns how many
// rows are counted (not ignored).
int64_t check_labels(const char* op, const int32_t* labels, int64_t N, int64_t C, int32_t ignore) {
  int64_t counted = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int32_t y = labels[i];
    if (y == ignore) continue;
    if (y < 0 || y >= C)
      throw std::invalid_argument(std::string(op) + ": labels[" + std::to_string(i) + "] must be an integer from 0 to " +
                                  std::to_string(C - 1) + " (or ignoreIndex " + std::to_string(ignore) + "), got " +
                                  std::to_string(y));
    ++counted;
  }
  return counted;
}

}  // namespace

void cross_entropy_forward(const char* op, const CrossEntropyParams& p) {
  const int64_t counted = check_labels(op, p.labels, p.N, p.C, p.ignore_index);
  double* rows = mem::scratch_as<double>(1, static_cast<size_t>(p.N > 0 ? p.N : 1));
  kCeForward.pick()(p, rows);
  if (p.reduction == Reduction::none) {
    for (int64_t i = 0; i < p.N; ++i) p.loss[i] = static_cast<float>(rows[i]);
    return;
  }
  double total = 0;  // in row order: the same bits on any thread count
  for (int64_t i = 0; i < p.N; ++i) total += rows[i];
  if (p.reduction == Reduction::mean)
    total = counted > 0 ? total / static_cast<double>(counted) : std::numeric_limits<double>::quiet_NaN();
  p.loss[0] = static_cast<float>(total);
}

void cross_entropy_backward(const char* op, const CrossEntropyBackwardParams& p) {
  const int64_t counted = check_labels(op, p.labels, p.N, p.C, p.ignore_index);
  // mean: ∂(Σ/count) — with no counted row every row is ignored and gets 0 anyway.
  const float scale = p.reduction == Reduction::mean && counted > 0 ? static_cast<float>(1.0 / counted) : 1.f;
  kCeBackward.pick()(p, scale);
}

void mse_forward(const MseParams& p) { kMseForward.pick()(p); }
void mse_backward(const MseBackwardParams& p) { kMseBackward.pick()(p); }

}  // namespace cpu
}  // namespace foveal
