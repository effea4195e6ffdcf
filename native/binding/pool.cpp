// Binding for the pool family. lib/ops/pool.ts has resolved the options into a geometry
// array [N, C, H, W, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr] (adaptive pooling:
// [N, C, H, W, OH, OW]); here it is re-checked and every array's length against it.
//   maxPool2d(x, out, geom, ceilMode)
//   maxPool2dBackward(dy, x, out, geom, ceilMode, accumulate)
//   avgPool2d(x, out, geom, ceilMode, countIncludePad)
//   avgPool2dBackward(dy, out, geom, ceilMode, countIncludePad, accumulate)
//   adaptiveAvgPool2d(x, out, sizes)
//   adaptiveAvgPool2dBackward(dy, out, sizes, accumulate)
#include <string>

#include "binding/common.h"
#include "cpu/pool/pool.h"

namespace foveal {
namespace binding {

namespace {

cpu::PoolShape pool_shape(Args& a, size_t i, bool ceil_mode, bool dilation_allowed) {
  int64_t g[14];
  a.ints(i, "geometry", 14, g);
  cpu::PoolShape s;
  s.N = g[0], s.C = g[1], s.H = g[2], s.W = g[3];
  s.kh = g[4], s.kw = g[5], s.sh = g[6], s.sw = g[7], s.dh = g[8], s.dw = g[9];
  s.pt = g[10], s.pb = g[11], s.pl = g[12], s.pr = g[13];
  if (!dilation_allowed && (s.dh != 1 || s.dw != 1))
    throw Napi::RangeError::New(a.env(), std::string(a.op()) + ": dilation must be 1");
  cpu::resolve_pool_shape(&s, ceil_mode, a.op());
  return s;
}

cpu::PoolShape adaptive_shape(Args& a, size_t i) {
  int64_t g[6];
  a.ints(i, "sizes", 6, g);
  for (int64_t d : g)
    if (d < 0 || d > (int64_t{1} << 40))
      throw Napi::RangeError::New(a.env(), std::string(a.op()) + ": sizes must be in [0, 2^40]");
  cpu::PoolShape s;
  s.N = g[0], s.C = g[1], s.H = g[2], s.W = g[3], s.OH = g[4], s.OW = g[5];
  // Every output window must hold at least one cell.
  if (s.H < 1 || s.W < 1 || s.OH < 1 || s.OW < 1)
    throw Napi::RangeError::New(a.env(), std::string(a.op()) + ": input and output sizes must be positive");
  return s;
}

// A backward's dx: the caller's `out` (argument `index`) or a pool block; accumulating
// needs the caller's.
void bind_dx(Args& a, Output& dx, size_t index, int64_t length, std::initializer_list<const F32*> inputs,
             bool accumulate) {
  dx.bind(a, index, "out", length, inputs);
  if (accumulate && !dx.bound()) throw Napi::RangeError::New(a.env(), std::string(a.op()) + ": accumulate needs out");
}

int64_t planes_len(const char* op, const cpu::PoolShape& s, int64_t h, int64_t w) {
  return checked_mul(op, checked_mul(op, checked_mul(op, s.N, s.C), h), w);
}

class MaxPoolOp {
 public:
  static constexpr const char* kName = "maxPool2d";
  explicit MaxPoolOp(Args& a) {
    const F32 x = a.f32(0, "x");
    p_.s = pool_shape(a, 2, a.flag(3, "ceilMode"), true);
    a.expect_length(x, planes_len(kName, p_.s, p_.s.H, p_.s.W));
    y_.bind(a, 1, "out", planes_len(kName, p_.s, p_.s.OH, p_.s.OW), {&x});
    p_.x = x.data;
  }
  void run() {
    p_.y = y_.data();
    cpu::max_pool2d_forward(p_);
  }
  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::MaxPoolParams p_{};
  Output y_;
};

class MaxPoolBackwardOp {
 public:
  static constexpr const char* kName = "maxPool2dBackward";
  explicit MaxPoolBackwardOp(Args& a) {
    const F32 dy = a.f32(0, "dy");
    const F32 x = a.f32(1, "x");
    p_.s = pool_shape(a, 3, a.flag(4, "ceilMode"), true);
    p_.accumulate = a.flag(5, "accumulate");
    a.expect_length(dy, planes_len(kName, p_.s, p_.s.OH, p_.s.OW));
    a.expect_length(x, planes_len(kName, p_.s, p_.s.H, p_.s.W));
    bind_dx(a, dx_, 2, planes_len(kName, p_.s, p_.s.H, p_.s.W), {&dy, &x}, p_.accumulate);
    p_.dy = dy.data, p_.x = x.data;
  }
  void run() {
    p_.dx = dx_.data();
    cpu::max_pool2d_backward(p_);
  }
  Napi::Value result(Napi::Env env) { return dx_.to_js(env); }

 private:
  cpu::MaxPoolBackwardParams p_{};
  Output dx_;
};

class AvgPoolOp {
 public:
  static constexpr const char* kName = "avgPool2d";
  explicit AvgPoolOp(Args& a) {
    const F32 x = a.f32(0, "x");
    p_.s = pool_shape(a, 2, a.flag(3, "ceilMode"), false);
    p_.count_include_pad = a.flag(4, "countIncludePad");
    a.expect_length(x, planes_len(kName, p_.s, p_.s.H, p_.s.W));
    y_.bind(a, 1, "out", planes_len(kName, p_.s, p_.s.OH, p_.s.OW), {&x});
    p_.x = x.data;
  }
  void run() {
    p_.y = y_.data();
    cpu::avg_pool2d_forward(p_);
  }
  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::AvgPoolParams p_{};
  Output y_;
};

class AvgPoolBackwardOp {
 public:
  static constexpr const char* kName = "avgPool2dBackward";
  explicit AvgPoolBackwardOp(Args& a) {
    const F32 dy = a.f32(0, "dy");
    p_.s = pool_shape(a, 2, a.flag(3, "ceilMode"), false);
    p_.count_include_pad = a.flag(4, "countIncludePad");
    p_.accumulate = a.flag(5, "accumulate");
    a.expect_length(dy, planes_len(kName, p_.s, p_.s.OH, p_.s.OW));
    bind_dx(a, dx_, 1, planes_len(kName, p_.s, p_.s.H, p_.s.W), {&dy}, p_.accumulate);
    p_.dy = dy.data;
  }
  void run() {
    p_.dx = dx_.data();
    cpu::avg_pool2d_backward(p_);
  }
  Napi::Value result(Napi::Env env) { return dx_.to_js(env); }

 private:
  cpu::AvgPoolBackwardParams p_{};
  Output dx_;
};

class AdaptiveAvgPoolOp {
 public:
  static constexpr const char* kName = "adaptiveAvgPool2d";
  explicit AdaptiveAvgPoolOp(Args& a) {
    const F32 x = a.f32(0, "x");
    p_.s = adaptive_shape(a, 2);
    a.expect_length(x, planes_len(kName, p_.s, p_.s.H, p_.s.W));
    y_.bind(a, 1, "out", planes_len(kName, p_.s, p_.s.OH, p_.s.OW), {&x});
    p_.x = x.data;
  }
  void run() {
    p_.y = y_.data();
    cpu::adaptive_avg_pool2d_forward(p_);
  }
  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::AdaptiveAvgPoolParams p_{};
  Output y_;
};

class AdaptiveAvgPoolBackwardOp {
 public:
  static constexpr const char* kName = "adaptiveAvgPool2dBackward";
  explicit AdaptiveAvgPoolBackwardOp(Args& a) {
    const F32 dy = a.f32(0, "dy");
    p_.s = adaptive_shape(a, 2);
    p_.accumulate = a.flag(3, "accumulate");
    a.expect_length(dy, planes_len(kName, p_.s, p_.s.OH, p_.s.OW));
    bind_dx(a, dx_, 1, planes_len(kName, p_.s, p_.s.H, p_.s.W), {&dy}, p_.accumulate);
    p_.dy = dy.data;
  }
  void run() {
    p_.dx = dx_.data();
    cpu::adaptive_avg_pool2d_backward(p_);
  }
  Napi::Value result(Napi::Env env) { return dx_.to_js(env); }

 private:
  cpu::AdaptiveAvgPoolBackwardParams p_{};
  Output dx_;
};

}  // namespace

void InitPool(Napi::Env env, Napi::Object exports) {
  Define<MaxPoolOp>(env, exports, "maxPool2d");
  Define<MaxPoolBackwardOp>(env, exports, "maxPool2dBackward");
  Define<AvgPoolOp>(env, exports, "avgPool2d");
  Define<AvgPoolBackwardOp>(env, exports, "avgPool2dBackward");
  Define<AdaptiveAvgPoolOp>(env, exports, "adaptiveAvgPool2d");
  Define<AdaptiveAvgPoolBackwardOp>(env, exports, "adaptiveAvgPool2dBackward");
}

}  // namespace binding
}  // namespace foveal
