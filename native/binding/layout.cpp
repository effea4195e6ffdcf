// Binding for the layout family:
//   permute(x, out, shape, perm)    shape and perm: arrays of the same length (rank ≤ 8)
#include <string>
#include <vector>

#include "binding/common.h"
#include "cpu/layout/layout.h"

namespace foveal {
namespace binding {

// Defined in binding/conv.cpp: a JS array of `count` safe integers at argument i.
std::vector<int64_t> int_list(Args& a, size_t i, const char* name, size_t count);

namespace {

class PermuteOp {
 public:
  static constexpr const char* kName = "permute";

  explicit PermuteOp(Args& a) {
    const F32 x = a.f32(0, "x");
    const Napi::Value sv = a.at(2);
    if (!sv.IsArray()) throw Napi::TypeError::New(a.env(), std::string(kName) + ": shape must be an array");
    const size_t rank = sv.As<Napi::Array>().Length();
    if (rank > static_cast<size_t>(cpu::kMaxPermuteRank))
      throw Napi::RangeError::New(a.env(), std::string(kName) + ": rank must be at most " +
                                               std::to_string(cpu::kMaxPermuteRank));
    const std::vector<int64_t> shape = int_list(a, 2, "shape", rank);
    const std::vector<int64_t> perm = int_list(a, 3, "perm", rank);
    p_.rank = static_cast<int>(rank);
    for (size_t d = 0; d < rank; ++d) {
      p_.shape[d] = shape[d];
      if (perm[d] < 0 || perm[d] >= static_cast<int64_t>(rank))
        throw Napi::RangeError::New(a.env(), std::string(kName) + ": perm must be a permutation of 0 to rank−1");
      p_.perm[d] = static_cast<int>(perm[d]);
    }
    int64_t total = 0;
    try {
      total = cpu::permute_check(p_);
    } catch (const std::invalid_argument& e) {
      throw Napi::RangeError::New(a.env(), e.what());
    }
    a.expect_length(x, total);
    y_.bind(a, 1, "out", total, {&x});
    p_.x = x.data;
  }
  void run() {
    p_.y = y_.data();
    cpu::permute(p_);
  }
  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::PermuteParams p_{};
  Output y_;
};

}  // namespace

void InitLayout(Napi::Env env, Napi::Object exports) { Define<PermuteOp>(env, exports, "permute"); }

}  // namespace binding
}  // namespace foveal
