// conv: 2-D convolution (NCHW, PyTorch's weight layout), its backward and the transposed
// convolution. conv1d is the H = 1 case of the same kernels.
//
// Algorithms, chosen by shape (conv.cpp):
//  - depthwise (groups = C = Cout): a direct SIMD kernel per plane (conv_kernels.inc), four
//    output rows at a time sharing each input row load.
//  - ≤ 4 output channels per group, stride 1, square 1/3/5/7 kernel (an attention gate's
//    C → 1 map, a first layer's dx): a direct kernel, where a GEMM would fill one row of
//    each micro-panel.
//  - 1×1, stride 1, no padding: the image is already the GEMM's B operand; one strided-batch
//    GEMM, no copy.
//  - 3×3, stride 1, ≥ 8 channels on each side, output rows of ~14+ tiles: Winograd
//    F(2×2, 3×3), 16 GEMMs over 2×2 tiles (2.25× fewer multiply-adds; its errors measure no
//    larger than the direct sum's).
//  - everything else: the weights are packed once per call (pack_a); each thread writes the
//    im2col block of a few output pixels straight into the GEMM's packed-B layout in its own
//    scratch (replaying a per-call plan of which input runs each chunk reads) and calls
//    gemm_packed with the bias + ReLU epilogue. No whole-image or whole-batch im2col buffer.
//  - dx at stride 1 is the forward convolution of dy with the flipped, transposed weights
//    (so it takes the paths above, with "negative padding" where the forward padding exceeds
//    the kernel's reach); at stride > 1 it is Wᵀ·dy per tile of pixels, scattered back with
//    col2im.
//  - dw: depthwise and ≤ 27-tap groups correlate (output, input) channel pairs directly;
//    Winograd shapes use its transpose; otherwise dy·im2col(x)ᵀ through the packers and
//    gemm_packed. Each work item owns a block of dw and visits every image and tile in the
//    same order, so the sum never depends on the thread count.
//
// Deterministic: every output element (y, dx, dw, db) is summed by one thread in an order
// fixed by the shapes alone, so results are bit-identical across runs and thread counts
// (not across ISA levels: FMA rounds differently from a multiply and an add).
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

// One convolution's geometry, always in the terms of the forward convolution
// x [N,C,H,W] ⊛ w [Cout, C/groups, kh, kw] → y [N,Cout,OH,OW].
// A transposed convolution is described by the convolution whose dx it is: its input is
// this y-shaped tensor and its output this x-shaped one.
struct ConvShape {
  int64_t N = 0;         // images
  int64_t C = 0;         // input channels
  int64_t H = 0, W = 0;  // input height and width
  int64_t Cout = 0;      // output channels
  int64_t OH = 0, OW = 0;
  int64_t kh = 1, kw = 1;  // kernel height and width
  int64_t sh = 1, sw = 1;  // stride
  int64_t dh = 1, dw = 1;  // dilation
  int64_t pt = 0, pb = 0;  // padding at the top and bottom (rows of zeros)
  int64_t pl = 0, pr = 0;  // padding at the left and right
  int64_t groups = 1;

  int64_t cin_g() const { return C / groups; }      // input channels per group
  int64_t cout_g() const { return Cout / groups; }  // output channels per group
};

// Checks the geometry (positive kernel/stride/dilation, sizes and padding in [0, 2^40],
// groups dividing both channel counts, the dilated kernel fitting the padded input) and
// sets OH/OW by the convolution formula; throws std::invalid_argument naming `op`.
void resolve_conv_shape(ConvShape* s, const char* op);
// The convolution formula: floor((in + pad_begin + pad_end − (dilation·(k−1)+1)) / stride) + 1.
int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t pad_begin, int64_t pad_end);

// y = act(conv(x, w) + bias)
struct Conv2dParams {
  ConvShape s;
  const float* x = nullptr;     // [N, C, H, W]
  const float* w = nullptr;     // [Cout, C/groups, kh, kw]
  const float* bias = nullptr;  // [Cout] or nullptr
  float* y = nullptr;           // [N, Cout, OH, OW]
  bool relu = false;
};
void conv2d_forward(const Conv2dParams& p);

// The gradients of y = conv(x, w) + b (before any activation) given dy.
struct Conv2dBackwardParams {
  ConvShape s;
  const float* dy = nullptr;  // [N, Cout, OH, OW]
  const float* x = nullptr;   // [N, C, H, W]
  const float* w = nullptr;   // [Cout, C/groups, kh, kw]
  float* dx = nullptr;        // [N, C, H, W], or nullptr when not wanted
  float* dw = nullptr;        // like w, or nullptr
  float* db = nullptr;        // [Cout], or nullptr
  // Add into dx / dw / db instead of overwriting them (each on its own: a module adds its
  // weight gradients into what it holds while dx is a fresh result).
  bool accumulate_dx = false, accumulate_dw = false, accumulate_db = false;
};
void conv2d_backward(const Conv2dBackwardParams& p);

// The transposed convolution (PyTorch's conv_transpose2d): y = act(convᵀ(x, w) + bias), the
// dx of the convolution `s` describes. x is [N, Cout, OH, OW], w [Cout, C/groups, kh, kw]
// (PyTorch's [in, out/groups, kh, kw] for a transposed conv), bias [C], y [N, C, H, W].
struct Conv2dTransposeParams {
  ConvShape s;
  const float* x = nullptr;
  const float* w = nullptr;
  const float* bias = nullptr;
  float* y = nullptr;
  bool relu = false;
};
void conv2d_transpose_forward(const Conv2dTransposeParams& p);

// Its gradients: dx [N, Cout, OH, OW] = conv(dy, w), dw like w, db [C] = Σ dy.
// Here dy is [N, C, H, W] and x [N, Cout, OH, OW] (the transposed conv's own dy and x).
void conv2d_transpose_backward(const Conv2dBackwardParams& p);

}  // namespace cpu
}  // namespace foveal
