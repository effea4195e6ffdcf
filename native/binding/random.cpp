// Binding for the random fills, in place: uniform_(t, lo, hi, seed) and
// normal_(t, mean, std, seed) write into t (a Float32Array) and return it. seed is a
// non-negative safe integer: the 64-bit Philox key is its value.
#include <cmath>
#include <string>

#include "binding/common.h"
#include "cpu/random/random.h"

namespace foveal {
namespace binding {
namespace {

template <cpu::RandomKind kKind>
class RandomOp {
 public:
  static constexpr bool kUniform = kKind == cpu::RandomKind::kUniform;
  static constexpr const char* kName = kUniform ? "uniform_" : "normal_";

  explicit RandomOp(Args& a) {
    const F32 t = a.f32(0, "t");
    p_.kind = kKind;
    p_.a = a.number(1, kUniform ? "lo" : "mean");
    p_.b = a.number(2, kUniform ? "hi" : "std");
    const bool ok = kUniform ? std::isfinite(p_.a) && std::isfinite(p_.b) && p_.a <= p_.b
                             : std::isfinite(p_.a) && std::isfinite(p_.b) && p_.b >= 0;
    if (!ok)
      throw Napi::RangeError::New(a.env(),
                                  std::string(kName) + (kUniform ? ": lo and hi must be finite with lo ≤ hi"
                                                                 : ": mean and std must be finite with std ≥ 0"));
    p_.seed = static_cast<uint64_t>(a.integer(3, "seed", 0, (int64_t{1} << 53) - 1));
    p_.n = static_cast<int64_t>(t.length);
    y_.bind(a, 0, "t", p_.n, {});
  }
  void run() {
    p_.y = y_.data();
    cpu::random_fill(p_);
  }
  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::RandomParams p_{};
  Output y_;
};

}  // namespace

void InitRandom(Napi::Env env, Napi::Object exports) {
  Define<RandomOp<cpu::RandomKind::kUniform>>(env, exports, "uniform_");
  Define<RandomOp<cpu::RandomKind::kNormal>>(env, exports, "normal_");
}

}  // namespace binding
}  // namespace foveal
