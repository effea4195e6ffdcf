// Binding for the conv family. lib/ops/conv.ts has resolved every option (padding modes,
// pairs, conv1d as H = 1, a transposed conv as the conv whose dx it is) into one geometry
// array, in the forward convolution's terms:
//   [N, C, H, W, Cout, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, groups]
// Here it is re-checked (cpu::resolve_conv_shape) and every array's length against it.
//   conv2d(x, w, bias, out, geom, relu)
//   conv2dBackward(dy, x, w, outDx, outDw, outDb, geom, accumulate)
//   conv2dTranspose(x, w, bias, out, geom, relu)          x: [N,Cout,OH,OW] → [N,C,H,W]
//   conv2dTransposeBackward(dy, x, w, outDx, outDw, outDb, geom, accumulate)
#include <string>

#include "binding/common.h"
#include "cpu/conv/conv.h"

namespace foveal {
namespace binding {

namespace {

constexpr size_t kGeomLength = 16;

cpu::ConvShape conv_shape(Args& a, size_t i) {
  int64_t g[kGeomLength];
  a.ints(i, "geometry", kGeomLength, g);
  cpu::ConvShape s;
  s.N = g[0], s.C = g[1], s.H = g[2], s.W = g[3], s.Cout = g[4];
  s.kh = g[5], s.kw = g[6], s.sh = g[7], s.sw = g[8], s.dh = g[9], s.dw = g[10];
  s.pt = g[11], s.pb = g[12], s.pl = g[13], s.pr = g[14], s.groups = g[15];
  cpu::resolve_conv_shape(&s, a.op());
  return s;
}

int64_t len4(const char* op, int64_t a, int64_t b, int64_t c, int64_t d) {
  return checked_mul(op, checked_mul(op, checked_mul(op, a, b), c), d);
}

// conv2d (transpose = false) or conv2dTranspose (true): the same geometry, the roles of
// the [N,C,H,W] and [N,Cout,OH,OW] tensors (and the bias length) exchanged.
template <bool kTranspose>
class ConvForwardOpT {
 public:
  static constexpr const char* kName = kTranspose ? "conv2dTranspose" : "conv2d";

  explicit ConvForwardOpT(Args& a) {
    const F32 x = a.f32(0, "x");
    const F32 w = a.f32(1, "w");
    const F32 bias = a.optional_f32(2, "bias");
    s_ = conv_shape(a, 4);
    relu_ = a.flag(5, "relu");
    const int64_t big = len4(kName, s_.N, s_.C, s_.H, s_.W);         // the conv's x
    const int64_t small = len4(kName, s_.N, s_.Cout, s_.OH, s_.OW);  // the conv's y
    a.expect_length(x, kTranspose ? small : big);
    a.expect_length(w, len4(kName, s_.Cout, s_.cin_g(), s_.kh, s_.kw));
    if (bias.present) a.expect_length(bias, kTranspose ? s_.C : s_.Cout);
    y_.bind(a, 3, "out", kTranspose ? big : small, {&x, &w, &bias});
    x_ = x.data, w_ = w.data, bias_ = bias.present ? bias.data : nullptr;
  }

  void run() {
    if (kTranspose) cpu::conv2d_transpose_forward({s_, x_, w_, bias_, y_.data(), relu_});
    else cpu::conv2d_forward({s_, x_, w_, bias_, y_.data(), relu_});
  }

  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::ConvShape s_;
  const float* x_ = nullptr;
  const float* w_ = nullptr;
  const float* bias_ = nullptr;
  bool relu_ = false;
  Output y_;
};

// The backward of the conv (transpose = false) or of the transposed conv (true): the two
// differ only in which tensor is [N,C,H,W] and which [N,Cout,OH,OW].
template <bool kTranspose>
class Conv2dBackwardOpT {
 public:
  static constexpr const char* kName = kTranspose ? "conv2dTransposeBackward" : "conv2dBackward";

  explicit Conv2dBackwardOpT(Args& a) {
    const F32 dy = a.f32(0, "dy");
    const F32 x = a.f32(1, "x");
    const F32 w = a.f32(2, "w");
    p_.s = conv_shape(a, 6);
    const bool accumulate = a.flag(7, "accumulate");
    const cpu::ConvShape& s = p_.s;
    const int64_t big = len4(kName, s.N, s.C, s.H, s.W);         // the conv's x
    const int64_t small = len4(kName, s.N, s.Cout, s.OH, s.OW);  // the conv's y
    const int64_t dy_len = kTranspose ? big : small, x_len = kTranspose ? small : big;
    a.expect_length(dy, dy_len);
    a.expect_length(x, x_len);
    a.expect_length(w, len4(kName, s.Cout, s.cin_g(), s.kh, s.kw));
    dx_.bind(a, 3, "out.dx", x_len, {&dy, &x, &w});
    dw_.bind(a, 4, "out.dw", static_cast<int64_t>(w.length), {&dy, &x, &w});
    db_.bind(a, 5, "out.db", kTranspose ? s.C : s.Cout, {&dy, &x, &w});
    // accumulate adds into each gradient given in out; the others are fresh results.
    if (accumulate && !dx_.bound() && !dw_.bound() && !db_.bound())
      throw Napi::RangeError::New(a.env(),
                                  std::string(kName) + ": accumulate needs at least one of out.dx, out.dw and out.db");
    p_.accumulate_dx = accumulate && dx_.bound();
    p_.accumulate_dw = accumulate && dw_.bound();
    p_.accumulate_db = accumulate && db_.bound();
    p_.dy = dy.data, p_.x = x.data, p_.w = w.data;
  }

  void run() {
    p_.dx = dx_.data();
    p_.dw = dw_.data();
    p_.db = db_.data();
    if (kTranspose) cpu::conv2d_transpose_backward(p_);
    else cpu::conv2d_backward(p_);
  }

  Napi::Value result(Napi::Env env) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("dx", dx_.to_js(env));
    r.Set("dw", dw_.to_js(env));
    r.Set("db", db_.to_js(env));
    return r;
  }

 private:
  cpu::Conv2dBackwardParams p_{};
  Output dx_, dw_, db_;
};

}  // namespace

void InitConv(Napi::Env env, Napi::Object exports) {
  Define<ConvForwardOpT<false>>(env, exports, "conv2d");
  Define<Conv2dBackwardOpT<false>>(env, exports, "conv2dBackward");
  Define<ConvForwardOpT<true>>(env, exports, "conv2dTranspose");
  Define<Conv2dBackwardOpT<true>>(env, exports, "conv2dTransposeBackward");
}

}  // namespace binding
}  // namespace foveal
