// Binding for the activation family:
//   relu(x, out) · sigmoid(x, out) · tanh(x, out) · gelu(x, out, approximateTanh)
//   reluBackward(dy, x, out) · geluBackward(dy, x, out, approximateTanh)
//   sigmoidBackward(dy, y, out) · tanhBackward(dy, y, out)
// Element-wise: the sizes are the arrays' lengths, which must agree.
#include "binding/common.h"
#include "cpu/activation/activation.h"

namespace foveal {
namespace binding {
namespace {

using cpu::Activation;

struct Relu {
  static constexpr const char* kName = "relu";
  static constexpr const char* kBackward = "reluBackward";
  static constexpr const char* kSaved = "x";  // what the backward takes besides dy
  static constexpr Activation kKind = Activation::relu;
  static constexpr bool kGelu = false;
};
struct Gelu {
  static constexpr const char* kName = "gelu";
  static constexpr const char* kBackward = "geluBackward";
  static constexpr const char* kSaved = "x";
  static constexpr Activation kKind = Activation::gelu;
  static constexpr bool kGelu = true;
};
struct Sigmoid {
  static constexpr const char* kName = "sigmoid";
  static constexpr const char* kBackward = "sigmoidBackward";
  static constexpr const char* kSaved = "y";
  static constexpr Activation kKind = Activation::sigmoid;
  static constexpr bool kGelu = false;
};
struct Tanh {
  static constexpr const char* kName = "tanh";
  static constexpr const char* kBackward = "tanhBackward";
  static constexpr const char* kSaved = "y";
  static constexpr Activation kKind = Activation::tanh;
  static constexpr bool kGelu = false;
};

template <class T>
Activation kind_arg(Args& a, size_t index) {
  if constexpr (T::kGelu) return a.flag(index, "approximateTanh") ? Activation::gelu_tanh : Activation::gelu;
  return T::kKind;
}

template <class T>
class ForwardOp {
 public:
  static constexpr const char* kName = T::kName;

  explicit ForwardOp(Args& a) {
    const F32 x = a.f32(0, "x");
    p_.kind = kind_arg<T>(a, 2);
    y_.bind(a, 1, "out", static_cast<int64_t>(x.length), {&x});
    p_.x = x.data;
    p_.n = static_cast<int64_t>(x.length);
  }

  void run() {
    p_.y = y_.data();
    cpu::activation_forward(p_);
  }

  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::ActivationParams p_{};
  Output y_;
};

template <class T>
class BackwardOp {
 public:
  static constexpr const char* kName = T::kBackward;

  explicit BackwardOp(Args& a) {
    const F32 dy = a.f32(0, "dy");
    const F32 t = a.f32(1, T::kSaved);
    p_.kind = kind_arg<T>(a, 3);
    a.expect_length(t, static_cast<int64_t>(dy.length));
    dx_.bind(a, 2, "out", static_cast<int64_t>(dy.length), {&dy, &t});
    p_.dy = dy.data;
    p_.t = t.data;
    p_.n = static_cast<int64_t>(dy.length);
  }

  void run() {
    p_.dx = dx_.data();
    cpu::activation_backward(p_);
  }

  Napi::Value result(Napi::Env env) { return dx_.to_js(env); }

 private:
  cpu::ActivationBackwardParams p_{};
  Output dx_;
};

template <class T>
void define_pair(Napi::Env env, Napi::Object exports) {
  Define<ForwardOp<T>>(env, exports, T::kName);
  Define<BackwardOp<T>>(env, exports, T::kBackward);
}

}  // namespace

void InitActivation(Napi::Env env, Napi::Object exports) {
  define_pair<Relu>(env, exports);
  define_pair<Gelu>(env, exports);
  define_pair<Sigmoid>(env, exports);
  define_pair<Tanh>(env, exports);
}

}  // namespace binding
}  // namespace foveal
