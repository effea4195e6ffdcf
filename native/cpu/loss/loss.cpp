// loss: label checks, bceWithLogits' broadcast plan, the final reductions, and the
// dispatch to the best variant (loss_generic/avx2/avx512.cpp).
#include "cpu/loss/loss.h"

#include <limits>
#include <stdexcept>
#include <string>

#include "core/memory.h"
#include "core/parallel.h"
#include "cpu/simd/kernel_table.h"

namespace foveal {
namespace cpu {
namespace {

FOVEAL_KERNEL_TABLE(kCeForward, cross_entropy_forward);
FOVEAL_KERNEL_TABLE(kCeBackward, cross_entropy_backward);
// mse's backward only streams memory (cpu/simd/kernel_table.h): AVX2 on AVX-512 hosts
// too. Its forward is a reduction, which wider vectors do speed up.
FOVEAL_KERNEL_TABLE(kMseForward, mse_forward);
FOVEAL_STREAMING_KERNEL_TABLE(kMseBackward, mse_backward, "mse_backward");
// bceWithLogits computes an exp, a division and a polynomial per element: wide vectors pay.
FOVEAL_KERNEL_TABLE(kBceRange, bce_range);
FOVEAL_KERNEL_TABLE(kBceBackward, bce_backward);

// The forward's sum runs over fixed chunks of kBceChunk elements (float vectors within a
// chunk, chunks added in double in order), so it is the same for any thread count.
constexpr int64_t kBceChunk = 8192;
constexpr int64_t kBceGrain = 16384;  // elements per thread at least, for the 'none' map

// Throws for the first label outside [0, C) that is not the ignored one; returns what mean
// divides by: the rows counted (not ignored), or with class weights Σ w[y] over them.
double check_labels(const char* op, const int32_t* labels, int64_t N, int64_t C, int32_t ignore, const float* weight) {
  double counted = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int32_t y = labels[i];
    if (y == ignore) continue;
    if (y < 0 || y >= C)
      throw std::invalid_argument(std::string(op) + ": labels[" + std::to_string(i) +
                                  "] must be an integer from 0 to " + std::to_string(C - 1) + " (or ignoreIndex " +
                                  std::to_string(ignore) + "), got " + std::to_string(y));
    counted += weight ? static_cast<double>(weight[y]) : 1.0;
  }
  return counted;
}

}  // namespace

void cross_entropy_forward(const char* op, const CrossEntropyParams& p) {
  const double counted = check_labels(op, p.labels, p.N, p.C, p.ignore_index, p.weight);
  mem::Scratch<double> rows(mem::Slot::loss_rows, static_cast<size_t>(p.N > 0 ? p.N : 1));
  kCeForward.pick()(p, rows);
  if (p.reduction == Reduction::none) {
    for (int64_t i = 0; i < p.N; ++i) p.loss[i] = static_cast<float>(rows[i]);
    return;
  }
  double total = 0;  // in row order: the same bits on any thread count
  for (int64_t i = 0; i < p.N; ++i) total += rows[i];
  if (p.reduction == Reduction::mean) total = counted != 0 ? total / counted : std::numeric_limits<double>::quiet_NaN();
  p.loss[0] = static_cast<float>(total);
}

void cross_entropy_backward(const char* op, const CrossEntropyBackwardParams& p) {
  const double counted = check_labels(op, p.labels, p.N, p.C, p.ignore_index, p.weight);
  // mean: ∂(Σ/count) — with no counted row every row is ignored and gets 0 anyway.
  const float scale = p.reduction == Reduction::mean && counted != 0 ? static_cast<float>(1.0 / counted) : 1.f;
  kCeBackward.pick()(p, scale);
}

bool bce_view(const int64_t* dims, int rank, const int64_t* w, int wrank, const int64_t* pw, int pwrank, BceView* v) {
  if (rank < 0 || rank > kBceMaxRank || (w && (wrank < 0 || wrank > rank)) || (pw && (pwrank < 0 || pwrank > rank)))
    return false;
  // Each weight's stride per logits dim (aligned at the right): 0 where it is broadcast.
  auto strides = [&](const int64_t* s, int srank, int64_t* out) {
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      const int k = d - (rank - srank);
      const int64_t sd = s && k >= 0 ? s[k] : 1;
      if (sd != dims[d] && sd != 1) return false;
      out[d] = sd == 1 ? 0 : stride;
      stride *= sd;  // ≤ the weight's element count, which the caller has bounded
    }
    return true;
  };
  int64_t sw[kBceMaxRank], sp[kBceMaxRank];
  if (!strides(w, wrank, sw) || !strides(pw, pwrank, sp)) return false;
  BceView r;
  r.rank = 0;
  r.total = 1;
  for (int d = 0; d < rank; ++d) r.total *= dims[d];  // the caller has bounded the product
  if (r.total == 0) {
    *v = BceView{};
    v->n[0] = 0;
    v->total = 0;
    return true;
  }
  // Drop size-1 dims; merge a dim into the one before when every operand steps through
  // both as through one (logits always do: they are contiguous).
  for (int d = 0; d < rank; ++d) {
    if (dims[d] == 1) continue;
    const int k = r.rank - 1;
    if (k >= 0 && r.sw[k] == sw[d] * dims[d] && r.sp[k] == sp[d] * dims[d]) {
      r.n[k] *= dims[d];
      r.sw[k] = sw[d];
      r.sp[k] = sp[d];
    } else {
      r.n[r.rank] = dims[d];
      r.sw[r.rank] = sw[d];
      r.sp[r.rank] = sp[d];
      ++r.rank;
    }
  }
  if (r.rank == 0) {
    r.rank = 1;
    r.n[0] = 1;
    r.sw[0] = r.sp[0] = 0;
  }
  *v = r;
  return true;
}

void bce_forward(const BceParams& p) {
  const auto range = kBceRange.pick();
  const int64_t n = p.v.total;
  if (p.reduction == Reduction::none) {
    parallel_for(n, kBceGrain, [&](int64_t b, int64_t e) { range(p, b, e, p.loss); });
    return;
  }
  const int64_t chunks = (n + kBceChunk - 1) / kBceChunk;
  mem::Scratch<double> part(mem::Slot::loss_partials, static_cast<size_t>(chunks > 0 ? chunks : 1));
  parallel_for(chunks, kBceGrain / kBceChunk, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t b = c * kBceChunk, e = b + kBceChunk < n ? b + kBceChunk : n;
      part[c] = range(p, b, e, nullptr);
    }
  });
  double total = 0;
  for (int64_t c = 0; c < chunks; ++c) total += part[c];
  if (p.reduction == Reduction::mean)  // an empty mean is NaN, as PyTorch's
    total = n > 0 ? total / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
  p.loss[0] = static_cast<float>(total);
}

void bce_backward(const BceBackwardParams& p) { kBceBackward.pick()(p); }

void mse_forward(const MseParams& p) { kMseForward.pick()(p); }
void mse_backward(const MseBackwardParams& p) { kMseBackward.pick()(p); }

}  // namespace cpu
}  // namespace foveal
