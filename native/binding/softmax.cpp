// Binding for the softmax family:
//   softmax(x, out, outer, len, inner) · logSoftmax(x, out, outer, len, inner)
//   softmaxBackward(dy, y, out, outer, len, inner) · logSoftmaxBackward(...)
// lib/ops/softmax.ts has turned the axis into the [outer, len, inner] view; here the
// sizes are re-checked against the arrays.
#include "binding/common.h"
#include "cpu/softmax/softmax.h"

namespace foveal {
namespace binding {
namespace {

struct Plain {
  static constexpr const char* kName = "softmax";
  static constexpr const char* kBackward = "softmaxBackward";
  static constexpr bool kLog = false;
};
struct Log {
  static constexpr const char* kName = "logSoftmax";
  static constexpr const char* kBackward = "logSoftmaxBackward";
  static constexpr bool kLog = true;
};

// [outer, len, inner] at args first..first+2, and their product.
int64_t view_args(Args& a, size_t first, const char* op, int64_t* outer, int64_t* len, int64_t* inner) {
  *outer = a.dim(first, "outer");
  *len = a.dim(first + 1, "len");
  *inner = a.dim(first + 2, "inner");
  return checked_mul(op, checked_mul(op, *outer, *len), *inner);
}

template <class T>
class ForwardOp {
 public:
  static constexpr const char* kName = T::kName;

  explicit ForwardOp(Args& a) {
    const F32 x = a.f32(0, "x");
    const int64_t n = view_args(a, 2, kName, &p_.outer, &p_.len, &p_.inner);
    a.expect_length(x, n);
    y_.bind(a, 1, "out", n, {&x});
    p_.x = x.data;
    p_.log = T::kLog;
  }

  void run() {
    p_.y = y_.data();
    cpu::softmax_forward(p_);
  }

  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::SoftmaxParams p_{};
  Output y_;
};

template <class T>
class BackwardOp {
 public:
  static constexpr const char* kName = T::kBackward;

  explicit BackwardOp(Args& a) {
    const F32 dy = a.f32(0, "dy");
    const F32 y = a.f32(1, "y");
    const int64_t n = view_args(a, 3, kName, &p_.outer, &p_.len, &p_.inner);
    a.expect_length(dy, n);
    a.expect_length(y, n);
    dx_.bind(a, 2, "out", n, {&dy, &y});
    p_.dy = dy.data;
    p_.y = y.data;
    p_.log = T::kLog;
  }

  void run() {
    p_.dx = dx_.data();
    cpu::softmax_backward(p_);
  }

  Napi::Value result(Napi::Env env) { return dx_.to_js(env); }

 private:
  cpu::SoftmaxBackwardParams p_{};
  Output dx_;
};

}  // namespace

void InitSoftmax(Napi::Env env, Napi::Object exports) {
  Define<ForwardOp<Plain>>(env, exports, Plain::kName);
  Define<BackwardOp<Plain>>(env, exports, Plain::kBackward);
  Define<ForwardOp<Log>>(env, exports, Log::kName);
  Define<BackwardOp<Log>>(env, exports, Log::kBackward);
}

}  // namespace binding
}  // namespace foveal
