// Binding for the elementwise family (PyTorch broadcasting):
//   add(a, aShape, b, bShape, out) · mul(a, aShape, b, bShape, out)
//   addBackward(dy, aShape, bShape, outDa, outDb) → { da, db }
//   mulBackward(dy, a, aShape, b, bShape, outDa, outDb) → { da, db }
// Shapes are JS arrays of integers; each is re-checked against its array's length, and the
// broadcast is planned natively (cpu::broadcast_view), so no stride from JS is trusted.
#include <string>

#include "binding/common.h"
#include "cpu/elementwise/elementwise.h"

namespace foveal {
namespace binding {
namespace {

using cpu::BinaryOp;
using cpu::kMaxBroadcastRank;
static_assert(kMaxBroadcastRank <= kMaxShapeRank, "broadcast shapes fit a Shape");

cpu::BroadcastView plan(Args& a, const Shape& as, const Shape& bs, int64_t* total) {
  cpu::BroadcastView v;
  int64_t out_shape[kMaxBroadcastRank];
  if (!cpu::broadcast_view(as.d, as.rank, bs.d, bs.rank, &v, out_shape))
    throw Napi::RangeError::New(a.env(), std::string(a.op()) + ": the shapes of a and b do not broadcast");
  if (v.total < 0)
    throw Napi::RangeError::New(a.env(),
                                std::string(a.op()) + ": the broadcast result is too large (more than 2^53 elements)");
  *total = v.total;
  return v;
}

struct Add {
  static constexpr const char* kName = "add";
  static constexpr const char* kBackward = "addBackward";
  static constexpr BinaryOp kOp = BinaryOp::add;
};
struct Mul {
  static constexpr const char* kName = "mul";
  static constexpr const char* kBackward = "mulBackward";
  static constexpr BinaryOp kOp = BinaryOp::mul;
};

template <class T>
class ForwardOp {
 public:
  static constexpr const char* kName = T::kName;

  explicit ForwardOp(Args& a) {
    const F32 x = a.f32(0, "a");
    const Shape as = a.shape(1, "aShape", kMaxBroadcastRank);
    const F32 y = a.f32(2, "b");
    const Shape bs = a.shape(3, "bShape", kMaxBroadcastRank);
    a.expect_length(x, as.size);
    a.expect_length(y, bs.size);
    int64_t total;
    p_.v = plan(a, as, bs, &total);
    out_.bind(a, 4, "out", total, {&x, &y});
    p_.a = x.data;
    p_.b = y.data;
    p_.op = T::kOp;
  }

  void run() {
    p_.y = out_.data();
    cpu::binary_forward(p_);
  }

  Napi::Value result(Napi::Env env) { return out_.to_js(env); }

 private:
  cpu::BinaryParams p_{};
  Output out_;
};

template <class T>
class BackwardOp {
 public:
  static constexpr const char* kName = T::kBackward;

  explicit BackwardOp(Args& a) {
    // add: (dy, aShape, bShape, outDa, outDb); mul: (dy, a, aShape, b, bShape, outDa, outDb)
    constexpr bool kMul = T::kOp == BinaryOp::mul;
    const F32 dy = a.f32(0, "dy");
    F32 x, y;
    size_t i = 1;
    if (kMul) x = a.f32(i++, "a");
    const Shape as = a.shape(i++, "aShape", kMaxBroadcastRank);
    if (kMul) y = a.f32(i++, "b");
    const Shape bs = a.shape(i++, "bShape", kMaxBroadcastRank);
    if (kMul) a.expect_length(x, as.size), a.expect_length(y, bs.size);
    int64_t total;
    p_.v = plan(a, as, bs, &total);
    a.expect_length(dy, total);
    da_.bind(a, i, "out.da", as.size, {&dy, &x, &y});
    db_.bind(a, i + 1, "out.db", bs.size, {&dy, &x, &y});
    p_.dy = dy.data;
    p_.a = kMul ? x.data : nullptr;
    p_.b = kMul ? y.data : nullptr;
    p_.size_a = as.size;
    p_.size_b = bs.size;
    p_.op = T::kOp;
  }

  void run() {
    p_.da = da_.data();
    p_.db = db_.data();
    cpu::binary_backward(p_);
  }

  Napi::Value result(Napi::Env env) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("da", da_.to_js(env));
    r.Set("db", db_.to_js(env));
    return r;
  }

 private:
  cpu::BinaryBackwardParams p_{};
  Output da_, db_;
};

}  // namespace

void InitElementwise(Napi::Env env, Napi::Object exports) {
  Define<ForwardOp<Add>>(env, exports, Add::kName);
  Define<ForwardOp<Mul>>(env, exports, Mul::kName);
  Define<BackwardOp<Add>>(env, exports, Add::kBackward);
  Define<BackwardOp<Mul>>(env, exports, Mul::kBackward);
}

}  // namespace binding
}  // namespace foveal
