// pool: shape checks, threading over planes and the dispatch to the best kernel variant
// (pool_generic/avx2/avx512.cpp).
#include "cpu/pool/pool.h"

#include <algorithm>
#include <cstring>

#include "core/check.h"
#include "core/dispatch.h"
#include "core/memory.h"
#include "core/parallel.h"

namespace foveal {
namespace cpu {
namespace {

const Kernel<const poolk::Kernels*> kPoolKernels{"pool2d", &poolk::generic::kKernels,
                                                 FOVEAL_IF_X86(&poolk::avx2::kKernels),
                                                 FOVEAL_IF_X86(&poolk::avx512::kKernels)};
FOVEAL_REGISTER_KERNEL(kPoolKernels);

// Planes per chunk so that a chunk is worth a thread wake-up (~16K cell visits).
template <class F>
void over_planes(const PoolShape& s, int64_t work_per_plane, F&& fn) {
  const int64_t planes = s.N * s.C;
  parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(work_per_plane, 1)),
               [&](int64_t a, int64_t b) { fn(a, b); });
}

}  // namespace

int64_t pool_out_size(int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t pad_begin, int64_t pad_end,
                      bool ceil_mode) {
  const int64_t room = in + pad_begin + pad_end - (dilation * (k - 1) + 1);
  if (room < 0) return 0;
  int64_t out = (room + (ceil_mode ? stride - 1 : 0)) / stride + 1;
  // PyTorch: with ceil_mode the last window must start inside the input or its begin padding.
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

void resolve_pool_shape(PoolShape* sp, bool ceil_mode, const char* op) {
  PoolShape& s = *sp;
  constexpr int64_t kMax = int64_t{1} << 40;
  const int64_t dims[] = {s.N, s.C, s.H, s.W, s.pt, s.pb, s.pl, s.pr};
  for (int64_t d : dims) FOVEAL_CHECK(d >= 0 && d <= kMax, op, ": sizes and padding must be in [0, 2^40]");
  FOVEAL_CHECK(s.kh >= 1 && s.kw >= 1 && s.kh <= kMax && s.kw <= kMax, op, ": kernel sizes must be positive");
  FOVEAL_CHECK(s.sh >= 1 && s.sw >= 1 && s.sh <= kMax && s.sw <= kMax, op, ": strides must be positive");
  FOVEAL_CHECK(s.dh >= 1 && s.dw >= 1 && s.kh - 1 <= kMax / s.dh && s.kw - 1 <= kMax / s.dw, op,
               ": dilations must be positive, and the dilated window at most 2^40");
  FOVEAL_CHECK(s.dh * (s.kh - 1) + 1 <= s.H + s.pt + s.pb && s.dw * (s.kw - 1) + 1 <= s.W + s.pl + s.pr, op,
               ": the window must fit the padded input");
  s.OH = pool_out_size(s.H, s.kh, s.sh, s.dh, s.pt, s.pb, ceil_mode);
  s.OW = pool_out_size(s.W, s.kw, s.sw, s.dw, s.pl, s.pr, ceil_mode);
}

void max_pool2d_forward(const MaxPoolParams& p) {
  const auto* k = kPoolKernels.pick();
  over_planes(p.s, p.s.OH * p.s.OW * p.s.kh * p.s.kw, [&](int64_t a, int64_t b) { k->max_forward(p, a, b); });
}

void max_pool2d_backward(const MaxPoolBackwardParams& p) {
  const auto* k = kPoolKernels.pick();
  over_planes(p.s, p.s.OH * p.s.OW * p.s.kh * p.s.kw + p.s.H * p.s.W,
              [&](int64_t a, int64_t b) { k->max_backward(p, a, b); });
}

void avg_pool2d_forward(const AvgPoolParams& p) {
  const auto* k = kPoolKernels.pick();
  over_planes(p.s, p.s.OH * p.s.OW * p.s.kh * p.s.kw, [&](int64_t a, int64_t b) { k->avg_forward(p, a, b); });
}

void avg_pool2d_backward(const AvgPoolBackwardParams& p) {
  const auto* k = kPoolKernels.pick();
  over_planes(p.s, p.s.OH * p.s.OW * p.s.kh * p.s.kw + p.s.H * p.s.W,
              [&](int64_t a, int64_t b) { k->avg_backward(p, a, b); });
}

void adaptive_avg_pool2d_forward(const AdaptiveAvgPoolParams& p) {
  const auto* k = kPoolKernels.pick();
  over_planes(p.s, p.s.H * p.s.W + p.s.OH * p.s.OW, [&](int64_t a, int64_t b) { k->adaptive_forward(p, a, b); });
}

void adaptive_avg_pool2d_backward(const AdaptiveAvgPoolBackwardParams& p) {
  const auto* k = kPoolKernels.pick();
  over_planes(p.s, p.s.H * p.s.W + p.s.OH * p.s.OW, [&](int64_t a, int64_t b) { k->adaptive_backward(p, a, b); });
}

}  // namespace cpu
}  // namespace foveal
