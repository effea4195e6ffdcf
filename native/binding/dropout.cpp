// Binding for dropout: dropout(x, out, p, seed) and dropoutBackward(dy, out, p, seed).
// seed is a non-negative safe integer: the 64-bit Philox key is its value.
#include <string>

#include "binding/common.h"
#include "cpu/dropout/dropout.h"

namespace foveal {
namespace binding {
namespace {

template <bool kBackward>
class DropoutOp {
 public:
  static constexpr const char* kName = kBackward ? "dropoutBackward" : "dropout";

  explicit DropoutOp(Args& a) {
    const F32 x = a.f32(0, kBackward ? "dy" : "x");
    p_.p = a.number(2, "p");
    if (!(p_.p >= 0 && p_.p <= 1)) throw Napi::RangeError::New(a.env(), std::string(kName) + ": p must be in [0, 1]");
    p_.seed = static_cast<uint64_t>(a.integer(3, "seed", 0, (int64_t{1} << 53) - 1));
    p_.n = static_cast<int64_t>(x.length);
    y_.bind(a, 1, "out", p_.n, {&x});
    p_.x = x.data;
  }
  void run() {
    p_.y = y_.data();
    cpu::dropout_apply(p_);
  }
  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::DropoutParams p_{};
  Output y_;
};

}  // namespace

void InitDropout(Napi::Env env, Napi::Object exports) {
  Define<DropoutOp<false>>(env, exports, "dropout");
  Define<DropoutOp<true>>(env, exports, "dropoutBackward");
}

}  // namespace binding
}  // namespace foveal
