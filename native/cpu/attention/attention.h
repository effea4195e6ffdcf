// Fused scaled-dot-product attention, forward and backward, in the FlashAttention-2
// manner: queries and keys are cut into tiles, the softmax runs online (a running max and
// sum per query row) and no Lq×Lk buffer exists unless the weights are asked for. The
// backward recomputes the probabilities from the forward's log-sum-exp tile by tile.
//
//   scores[b,h,i,j] = (q[b,h,i,:]·scale)·k[b,g,j,:] + mask[b,h,i,j]    g = h / (Hq/Hkv)
//   weights = softmax over the visible keys of each row (causal, window, keyLengths,
//             −Infinity mask entries and topK all make keys invisible)
//   out[b,h,i,:] = Σ_j dropout(weights)[i,j] · v[b,g,j,:]
//   lse[b,h,i]   = log Σ_{visible j} exp(scores[b,h,i,j])   (−Infinity for an empty row)
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

// What both directions share: the inputs and every option of the contract.
struct AttentionProblem {
  const float* q;                     // [B,Hq,Lq,D]
  const float* k;                     // [B,Hkv,Lk,D]
  const float* v;                     // [B,Hkv,Lk,Dv]
  int64_t B, Hq, Hkv, Lq, Lk, D, Dv;  // Hq a multiple of Hkv; Hkv ≥ 1; D ≥ 1
  float scale;                        // applied to q·k before the mask is added

  // Query i sees keys j in [i + Lk − Lq − window_left, i + Lk − Lq + window_right]; a
  // negative bound is unbounded. causal caps the right bound at 0 (bottom-right aligned).
  bool causal;
  int64_t window_left, window_right;

  // Additive mask, or nullptr: element (b,h,i,j) at b·s[0] + h·s[1] + i·s[2] + j·s[3] of
  // `mask`, strides of 0 broadcast (never expanded).
  const float* mask;
  int64_t mask_stride[4];
  int64_t mask_length;  // elements of `mask`, for the bounds re-check

  const int32_t* key_lengths;  // [B]: keys j ≥ key_lengths[b] are invisible; or nullptr

  // Dropout on the normalised weights: element (b,h,i,j) is kept when the Philox stream
  // (kStreamAttention, key = seed, counter (b·Hq + h, i, j / 4)) gives a uniform u ≥ p, and
  // kept weights are scaled by 1/(1−p). p = 0: none; p = 1: all (out = 0, zero gradients;
  // attention_forward/backward handle it before any kernel sees it).
  float dropout;
  uint64_t seed;

  // Keep only the top_k largest visible scores of each row (ties to the lower key index);
  // 0: off.
  int64_t top_k;
};

struct AttentionParams {
  AttentionProblem pb;
  float* out;      // [B,Hq,Lq,Dv]
  float* lse;      // [B,Hq,Lq]
  float* weights;  // [B,Hq,Lq,Lk] pre-dropout probabilities, or nullptr for none
};

struct AttentionBackwardParams {
  AttentionProblem pb;
  const float* dout;  // [B,Hq,Lq,Dv] gradient of the loss w.r.t. out
  const float* out;   // [B,Hq,Lq,Dv] the forward's out
  const float* lse;   // [B,Hq,Lq]    the forward's lse
  float* dq;          // [B,Hq,Lq,D]
  float* dk;          // [B,Hkv,Lk,D]
  float* dv;          // [B,Hkv,Lk,Dv]
};

// Re-checks the sizes and options (FOVEAL_CHECK: std::invalid_argument on a lie).
void attention_check(const AttentionProblem& pb);

// Deterministic: each output element is computed by one thread in an order fixed by the
// shapes alone, so results are bit-identical across runs and thread counts (not across
// ISA levels). The backward splits a head's query blocks across tasks only when there
// are fewer than kBackwardMinTasks kv heads in the batch, and sums the partial dK/dV in a
// fixed order.
void attention_forward(const AttentionParams& p);
void attention_backward(const AttentionBackwardParams& p);

namespace generic {
void attention_forward(const AttentionParams& p);
void attention_backward(const AttentionBackwardParams& p);
}  // namespace generic
namespace avx2 {
void attention_forward(const AttentionParams& p);
void attention_backward(const AttentionBackwardParams& p);
}  // namespace avx2
namespace avx512 {
void attention_forward(const AttentionParams& p);
void attention_backward(const AttentionBackwardParams& p);
}  // namespace avx512

}  // namespace cpu
}  // namespace foveal
