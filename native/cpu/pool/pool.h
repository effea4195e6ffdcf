// pool: max, average, adaptive-average and global-average pooling over NCHW planes, and
// their backwards. Semantics follow PyTorch: padded cells never win a max (and a window
// with no input cell gives −Infinity and routes no gradient); ties and NaN pick the cell
// PyTorch picks (the first maximum in row-major window order; the last NaN); averages
// divide the window's sum by its size (countIncludePad: the window clipped to the padded
// input) or by its count of input cells, and a window with no input cell gives 0.
//
// Deterministic: planes are independent and each is computed by one thread in a fixed
// order, so results are bit-identical across runs and thread counts.
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

struct PoolShape {
  int64_t N = 0, C = 0;                    // images, channels (planes = N·C)
  int64_t H = 0, W = 0;                    // input height and width
  int64_t OH = 0, OW = 0;                  // output height and width
  int64_t kh = 1, kw = 1;                  // window
  int64_t sh = 1, sw = 1;                  // stride
  int64_t dh = 1, dw = 1;                  // dilation (max pooling only; 1 for averages)
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;  // padding
};

// PyTorch's pooling output size: floor (or ceil with ceil_mode) of
// (in + pads − dilation·(k−1) − 1) / stride, plus one; with ceil_mode a last window that
// would start inside the end padding is dropped. 0 when the window does not fit.
int64_t pool_out_size(int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t pad_begin, int64_t pad_end,
                      bool ceil_mode);
// Checks the geometry (as resolve_conv_shape) and sets OH/OW; throws std::invalid_argument
// naming `op`.
void resolve_pool_shape(PoolShape* s, bool ceil_mode, const char* op);

struct MaxPoolParams {
  PoolShape s;
  const float* x = nullptr;  // [N, C, H, W]
  float* y = nullptr;        // [N, C, OH, OW]
};
void max_pool2d_forward(const MaxPoolParams& p);

struct MaxPoolBackwardParams {
  PoolShape s;
  const float* dy = nullptr;  // [N, C, OH, OW]
  const float* x = nullptr;   // the forward's input: the argmax is recomputed from it
  float* dx = nullptr;        // [N, C, H, W]
  bool accumulate = false;
};
void max_pool2d_backward(const MaxPoolBackwardParams& p);

struct AvgPoolParams {
  PoolShape s;
  bool count_include_pad = true;
  const float* x = nullptr;
  float* y = nullptr;
};
void avg_pool2d_forward(const AvgPoolParams& p);

struct AvgPoolBackwardParams {
  PoolShape s;
  bool count_include_pad = true;
  const float* dy = nullptr;
  float* dx = nullptr;
  bool accumulate = false;
};
void avg_pool2d_backward(const AvgPoolBackwardParams& p);

// Adaptive average pooling: output cell (i, j) averages rows [⌊i·H/OH⌋, ⌈(i+1)·H/OH⌉) and
// columns [⌊j·W/OW⌋, ⌈(j+1)·W/OW⌉). Global average pooling is OH = OW = 1.
// Only N, C, H, W, OH, OW of the shape are read.
struct AdaptiveAvgPoolParams {
  PoolShape s;
  const float* x = nullptr;
  float* y = nullptr;
};
void adaptive_avg_pool2d_forward(const AdaptiveAvgPoolParams& p);

struct AdaptiveAvgPoolBackwardParams {
  PoolShape s;
  const float* dy = nullptr;
  float* dx = nullptr;
  bool accumulate = false;
};
void adaptive_avg_pool2d_backward(const AdaptiveAvgPoolBackwardParams& p);

// The ISA variants behind the entry points: each runs the planes [plane0, plane1).
namespace poolk {
struct Kernels {
  void (*max_forward)(const MaxPoolParams&, int64_t plane0, int64_t plane1);
  void (*max_backward)(const MaxPoolBackwardParams&, int64_t plane0, int64_t plane1);
  void (*avg_forward)(const AvgPoolParams&, int64_t plane0, int64_t plane1);
  void (*avg_backward)(const AvgPoolBackwardParams&, int64_t plane0, int64_t plane1);
  void (*adaptive_forward)(const AdaptiveAvgPoolParams&, int64_t plane0, int64_t plane1);
  void (*adaptive_backward)(const AdaptiveAvgPoolBackwardParams&, int64_t plane0, int64_t plane1);
};
namespace generic {
extern const Kernels kKernels;
}
namespace avx2 {
extern const Kernels kKernels;
}
namespace avx512 {
extern const Kernels kKernels;
}
}  // namespace poolk

}  // namespace cpu
}  // namespace foveal
