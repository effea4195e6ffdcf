// Binding for the linear family: linear(x, w, bias, out, M, K, N) and
// linearBackward(dy, x, w, outDx, outDw, outDb, M, K, N, accumulate). lib/ops/linear.ts
// has flattened the shapes into M, K, N; here they are re-checked against the arrays.
#include "binding/common.h"
#include "cpu/linear/linear.h"

namespace foveal {
namespace binding {
namespace {

class LinearOp {
 public:
  static constexpr const char* kName = "linear";

  explicit LinearOp(Args& a) {
    const F32 x = a.f32(0, "x");
    const F32 w = a.f32(1, "w");
    const F32 bias = a.optional_f32(2, "bias");
    p_.M = a.dim(4, "M");
    p_.K = a.dim(5, "K");
    p_.N = a.dim(6, "N");
    a.expect_length(x, checked_mul(kName, p_.M, p_.K));
    a.expect_length(w, checked_mul(kName, p_.N, p_.K));
    if (bias.present) a.expect_length(bias, p_.N);
    y_.bind(a, 3, "out", checked_mul(kName, p_.M, p_.N), {&x, &w, &bias});
    p_.x = x.data;
    p_.w = w.data;
    p_.bias = bias.present ? bias.data : nullptr;
    p_.accumulate = false;
  }

  void run() {
    p_.y = y_.data();
    cpu::linear_forward(p_);
  }

  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::LinearParams p_{};
  Output y_;
};

class LinearBackwardOp {
 public:
  static constexpr const char* kName = "linearBackward";

  explicit LinearBackwardOp(Args& a) {
    const F32 dy = a.f32(0, "dy");
    const F32 x = a.f32(1, "x");
    const F32 w = a.f32(2, "w");
    p_.M = a.dim(6, "M");
    p_.K = a.dim(7, "K");
    p_.N = a.dim(8, "N");
    p_.accumulate = a.flag(9, "accumulate");
    a.expect_length(dy, checked_mul(kName, p_.M, p_.N));
    a.expect_length(x, checked_mul(kName, p_.M, p_.K));
    a.expect_length(w, checked_mul(kName, p_.N, p_.K));
    dx_.bind(a, 3, "out.dx", checked_mul(kName, p_.M, p_.K), {&dy, &x, &w});
    dw_.bind(a, 4, "out.dw", checked_mul(kName, p_.N, p_.K), {&dy, &x, &w});
    db_.bind(a, 5, "out.db", p_.N, {&dy, &x, &w});
    if (p_.accumulate && (!dx_.bound() || !dw_.bound() || !db_.bound()))
      throw Napi::RangeError::New(a.env(), "linearBackward: accumulate needs out.dx, out.dw and out.db");
    p_.dy = dy.data;
    p_.x = x.data;
    p_.w = w.data;
  }

  void run() {
    p_.dx = dx_.data();
    p_.dw = dw_.data();
    p_.db = db_.data();
    cpu::linear_backward(p_);
  }

  Napi::Value result(Napi::Env env) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("dx", dx_.to_js(env));
    r.Set("dw", dw_.to_js(env));
    r.Set("db", db_.to_js(env));
    return r;
  }

 private:
  cpu::LinearBackwardParams p_{};
  Output dx_, dw_, db_;
};

}  // namespace

void InitLinear(Napi::Env env, Napi::Object exports) {
  Define<LinearOp>(env, exports, "linear");
  Define<LinearBackwardOp>(env, exports, "linearBackward");
}

}  // namespace binding
}  // namespace foveal
