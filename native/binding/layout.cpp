// Binding for the layout family:
//   permute(x, out, shape, perm)    shape and perm: arrays of the same length (rank ≤ 8)
#include <string>

#include "binding/common.h"
#include "cpu/layout/layout.h"

namespace foveal {
namespace binding {

namespace {

class PermuteOp {
 public:
  static constexpr const char* kName = "permute";

  explicit PermuteOp(Args& a) {
    const F32 x = a.f32(0, "x");
    static_assert(cpu::kMaxPermuteRank <= kMaxShapeRank, "permute shapes fit a Shape");
    const Shape shape = a.shape(2, "shape", cpu::kMaxPermuteRank);
    const size_t rank = static_cast<size_t>(shape.rank);
    int64_t perm[kMaxShapeRank];
    a.ints(3, "perm", rank, perm);
    p_.rank = shape.rank;
    for (size_t d = 0; d < rank; ++d) {
      p_.shape[d] = shape.d[d];
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
