// Attention: the native re-check and the dispatch to the best variant
// (attention_generic/avx2/avx512.cpp).
#include "cpu/attention/attention.h"

#include <cmath>
#include <cstdint>

#include "core/check.h"
#include "cpu/simd/kernel_table.h"

namespace foveal {
namespace cpu {

void attention_check(const AttentionProblem& pb) {
  FOVEAL_CHECK(pb.B >= 0 && pb.Lq >= 0 && pb.Lk >= 0 && pb.Dv >= 0, "attention: negative size");
  FOVEAL_CHECK(pb.Hq >= 1 && pb.Hkv >= 1 && pb.Hq % pb.Hkv == 0,
               "attention: Hq must be a positive multiple of Hkv, got Hq=", pb.Hq, " Hkv=", pb.Hkv);
  FOVEAL_CHECK(pb.D >= 1, "attention: D must be at least 1, got ", pb.D);
  FOVEAL_CHECK(std::isfinite(pb.scale), "attention: scale must be finite, got ", pb.scale);
  FOVEAL_CHECK(pb.window_left >= -1 && pb.window_right >= -1, "attention: window values must be -1 or more, got [",
               pb.window_left, ",", pb.window_right, "]");
  FOVEAL_CHECK(pb.dropout >= 0.f && pb.dropout <= 1.f, "attention: dropout must be in [0, 1], got ", pb.dropout);
  FOVEAL_CHECK(pb.top_k >= 0 && pb.top_k <= pb.Lk, "attention: topK must be from 1 to Lk=", pb.Lk, ", got ", pb.top_k);
  if (pb.mask) {
    int64_t last = 0;
    const int64_t size[4] = {pb.B, pb.Hq, pb.Lq, pb.Lk};
    bool empty = false;
    bool fits = true;
    for (int a = 0; a < 4; ++a) {
      const int64_t st = pb.mask_stride[a];
      FOVEAL_CHECK(st >= 0, "attention: mask strides must be non-negative, got ", st);
      if (size[a] == 0) empty = true;
      // (size − 1)·stride + last < mask_length, tested without overflow.
      else if (size[a] > 1 && st > 0 && (size[a] - 1) > (pb.mask_length - 1 - last) / st) fits = false;
      else last += (size[a] - 1) * st;
    }
    FOVEAL_CHECK(empty || (fits && last < pb.mask_length), "attention: mask of ", pb.mask_length,
                 " elements is too short for its strides");
  }
  if (pb.key_lengths)
    for (int64_t b = 0; b < pb.B; ++b)
      FOVEAL_CHECK(pb.key_lengths[b] >= 0 && pb.key_lengths[b] <= pb.Lk, "attention: keyLengths[", b,
                   "] must be from 0 to Lk=", pb.Lk, ", got ", pb.key_lengths[b]);
}

namespace {

FOVEAL_KERNEL_TABLE(kForward, attention_forward);
FOVEAL_KERNEL_TABLE(kBackward, attention_backward);

}  // namespace

// dropout = 1 drops every weight (the contract fv.ops.dropout has too): out = 0 and zero
// gradients, while lse and the weights (taken before dropout) are what dropout = 0 gives.
// Handled here, so the kernels never scale by 1/(1 − p) = ∞.
void attention_forward(const AttentionParams& p) {
  if (!(p.pb.dropout >= 1.f)) return kForward.pick()(p);
  AttentionParams kept = p;
  kept.pb.dropout = 0.f;
  kForward.pick()(kept);
  std::fill(p.out, p.out + p.pb.B * p.pb.Hq * p.pb.Lq * p.pb.Dv, 0.f);
}

void attention_backward(const AttentionBackwardParams& p) {
  if (!(p.pb.dropout >= 1.f)) return kBackward.pick()(p);
  const AttentionProblem& pb = p.pb;
  std::fill(p.dq, p.dq + pb.B * pb.Hq * pb.Lq * pb.D, 0.f);
  std::fill(p.dk, p.dk + pb.B * pb.Hkv * pb.Lk * pb.D, 0.f);
  std::fill(p.dv, p.dv + pb.B * pb.Hkv * pb.Lk * pb.Dv, 0.f);
}

}  // namespace cpu
}  // namespace foveal
