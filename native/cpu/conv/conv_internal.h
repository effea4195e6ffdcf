// The conv family's ISA-specific pieces, shared by conv.cpp (the driver: algorithm choice,
// packing, threading, GEMM calls) and the variant files that compile conv_kernels.inc once
// per ISA. Everything here runs on one thread over the range it is given.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu/conv/conv.h"

namespace foveal {
namespace cpu {
namespace convk {

// im2col of a run of output pixels of one image (and one group), written as the GEMM's
// packed-B panels: element (k, j) at (j / nr)·K·nr + k·nr + j % nr, where
// k = (ci·kh + ky)·kw + kx < K = Cg·kh·kw and j < np; lanes past np in the last panel are
// zero. With nr ≥ np it is a plain row-major [K][nr] block (what dw packs from).
struct Im2col {
  const float* x = nullptr;  // [Cg][H][W]: the first input channel of this image and group
  int64_t Cg = 0, H = 0, W = 0;
  int64_t OW = 0;  // output width: pixel p is (p / OW, p % OW)
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0;  // may be negative (a crop): the stride-1 dx convolution
  int64_t p0 = 0, np = 0;  // the pixels [p0, p0 + np)
  int64_t nr = 16;         // panel width
  float* dst = nullptr;
  // Optional: the plan (im2col_plan) of this geometry for all P output pixels, or nullptr.
  // Used only when p0 and nr are multiples of the variant's vector width.
  const void* plan = nullptr;
  int64_t P = 0;  // output pixels per image (OH·OW), for the plan
};

// One run of a plan: lanes [a, b) of a chunk read x[off + (lane − a)·sw].
struct Im2colEntry {
  int64_t off;
  int32_t a, b;
};

// Depthwise (groups = C = Cout) forward over the planes [plane0, plane1) (plane = n·C + c):
// y = act(bias + Σ w·x), or y += Σ w·x when accumulate (then bias/relu are not applied).
struct Depthwise {
  ConvShape s;
  const float* x = nullptr;
  const float* w = nullptr;     // [C][kh][kw]
  const float* bias = nullptr;  // [C] or nullptr
  float* y = nullptr;
  bool relu = false;
  bool accumulate = false;
  int64_t plane0 = 0, plane1 = 0;
};

// Depthwise dx by scattering (any stride), over the planes [plane0, plane1):
// dx (+)= Σ w·dy routed back to the input cells, then act(dx + bias) when bias/relu given.
struct DepthwiseDx {
  ConvShape s;
  const float* dy = nullptr;
  const float* w = nullptr;
  const float* bias = nullptr;
  float* dx = nullptr;
  bool relu = false;
  bool accumulate = false;
  int64_t plane0 = 0, plane1 = 0;
};

// Depthwise dw over the channels [c0, c1): dw[c] (+)= Σ_n Σ_pixels dy·x.
struct DepthwiseDw {
  ConvShape s;
  const float* dy = nullptr;
  const float* x = nullptr;
  float* dw = nullptr;
  bool accumulate = false;
  int64_t c0 = 0, c1 = 0;
};

// out[c] (+)= Σ_n Σ_p v[n][c][p] over the channels [c0, c1) (db).
struct ChannelSum {
  const float* v = nullptr;  // [N][C][P]
  int64_t N = 0, C = 0, P = 0;
  float* out = nullptr;
  bool accumulate = false;
  int64_t c0 = 0, c1 = 0;
};

// col2im: adds col [Kb][ldc] (rows k = (ci·kh + ky)·kw + kx for ci < Cb, columns the pixels
// [p0, p0 + np)) into dx [Cb][H][W] at the input cells those pixels read.
struct Col2im {
  const float* col = nullptr;
  int64_t ldc = 0;
  float* dx = nullptr;
  int64_t Cb = 0, H = 0, W = 0, OW = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0;
  int64_t p0 = 0, np = 0;
};

// Winograd F(2×2, 3×3): output 2×2 tiles in groups of kV (or fewer) consecutive tiles of
// one tile row; a block is `groups` consecutive groups of one image, kV slots each (the
// GEMM's N). Transformed inputs V[ξ] (ξ = 0..15) are packed-B panels [C/groups][slots];
// GEMM results M[ξ] are [Cout/groups][slots] rows.
struct WinoBlock {
  int64_t g0 = 0, ngroups = 0;  // groups [g0, g0 + ngroups) of the image
  int64_t TW = 0;               // tiles per tile row
  int64_t slots = 0;            // ngroups · lanes per group
};
struct WinoIn {
  WinoBlock b;
  const float* x = nullptr;  // [Cg][H][W]
  int64_t Cg = 0, H = 0, W = 0, pt = 0, pl = 0;
  int64_t nr = 16;
  float* dst = nullptr;  // 16 packed-B buffers, `stride` floats apart
  int64_t stride = 0;
};
struct WinoOut {
  WinoBlock b;
  const float* m = nullptr;  // 16 buffers [Mg][slots], `stride` floats apart
  int64_t stride = 0;
  int64_t Mg = 0, OH = 0, OW = 0;
  float* y = nullptr;  // [Mg][OH][OW]
  const float* bias = nullptr;
  bool relu = false, accumulate = false;
};

// The dw side: W = A·dy·Aᵀ of every 2×2 tile of dy (zero past OH × OW), written as 16
// row-major buffers [Mg][slots], `stride` floats apart.
struct WinoDy {
  WinoBlock b;
  const float* dy = nullptr;  // [Mg][OH][OW]
  int64_t Mg = 0, OH = 0, OW = 0;
  float* dst = nullptr;
  int64_t stride = 0;
};

struct Kernels {
  void (*im2col)(const Im2col&);
  // Bytes of the plan of this geometry (nr, OW, kernel, stride...) over P pixels; 0 when
  // the variant would not use one (nr not a multiple of its vector width, or too large).
  size_t (*im2col_plan_size)(const Im2col&, int64_t P);
  void (*im2col_plan)(const Im2col&, int64_t P, void* mem);
  void (*depthwise)(const Depthwise&);
  // Few output channels per group, stride 1, no dilation, a square 1/3/5/7 kernel: the
  // same params, plane0/plane1 counting (image, group) items (see direct_s1 in conv_kernels.inc).
  void (*direct)(const Depthwise&);
  void (*depthwise_dx)(const DepthwiseDx&);
  void (*depthwise_dw)(const DepthwiseDw&);
  // dw by (output, input) channel pairs, c0/c1 counting pairs (Cout · C/groups): stride 1,
  // no dilation, 3×3 or 5×5 (see pair_dw in conv_kernels.inc).
  void (*pair_dw)(const DepthwiseDw&);
  void (*channel_sum)(const ChannelSum&);
  void (*col2im)(const Col2im&);
  int winograd_lanes;  // tiles per group (the variant's vector width)
  void (*winograd_input)(const WinoIn&);
  void (*winograd_output)(const WinoOut&);
  void (*winograd_dy)(const WinoDy&);
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

}  // namespace convk
}  // namespace cpu
}  // namespace foveal
