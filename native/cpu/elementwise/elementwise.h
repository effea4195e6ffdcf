// elementwise: add and mul with PyTorch broadcasting, and their backwards.
//
// Shapes are collapsed first (broadcast_view): dimensions of size 1 dropped, adjacent
// dimensions merged wherever both operands are laid out alike, so x[N,C,H,W]·g[N,C,1,1]
// becomes [N·C, H·W] with g one scalar per row, and x·g[N,1,H,W] becomes [N, C, H·W] with
// contiguous rows. Kernels then run whole rows (vector·vector, vector·scalar), never
// index arithmetic per element.
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

constexpr int kMaxBroadcastRank = 8;
constexpr int64_t kMaxBroadcastElements = (int64_t{1} << 53) - 1;  // JS's safe integers

// The collapsed iteration space of a broadcast: the output is [n[0], …, n[rank−1]]
// (row-major, contiguous), and operand k's element (i₀…) is at Σ iₐ·stride[k][d]
// (stride 0 where it is broadcast).
struct BroadcastView {
  int rank = 0;                   // 0: a single element
  int64_t n[kMaxBroadcastRank];   // collapsed output dims, each > 1
  int64_t sa[kMaxBroadcastRank];  // strides of a
  int64_t sb[kMaxBroadcastRank];  // strides of b
  int64_t total = 1;              // elements of the output (0 when any dim is 0)
};

// Fills *v from the operands' shapes (aligned at the right, ranks ≤ kMaxBroadcastRank).
// Returns false when they do not broadcast; *out_shape (rank max(arank, brank)) receives
// the output's uncollapsed shape. An output of more than kMaxBroadcastElements elements
// sets v->total to −1.
bool broadcast_view(const int64_t* ashape, int arank, const int64_t* bshape, int brank, BroadcastView* v,
                    int64_t* out_shape);

enum class BinaryOp : int { add = 0, mul = 1 };

struct BinaryParams {
  const float* a;  // laid out by its own shape
  const float* b;
  float* y;  // [v.total]
  BroadcastView v;
  BinaryOp op;
};

struct BinaryBackwardParams {
  const float* dy;         // [v.total], the output's layout
  const float* a;          // mul only (nullptr for add)
  const float* b;          // mul only
  float* da;               // a's shape: Σ over a's broadcast dims of dy (·b for mul)
  float* db;               // b's shape
  int64_t size_a, size_b;  // elements of a and b (the gradients are zero when v.total is 0)
  BroadcastView v;
  BinaryOp op;
};

// Deterministic: every reduction (the backward over broadcast dims) runs in fixed blocks
// whose size depends on the shapes only, and partial sums are combined in a fixed order,
// so results are bit-identical across runs and thread counts.
void binary_forward(const BinaryParams& p);
void binary_backward(const BinaryBackwardParams& p);

namespace generic {
void binary_forward(const BinaryParams& p);
void binary_backward(const BinaryBackwardParams& p);
}  // namespace generic
namespace avx2 {
void binary_forward(const BinaryParams& p);
void binary_backward(const BinaryBackwardParams& p);
}  // namespace avx2

}  // namespace cpu
}  // namespace foveal
