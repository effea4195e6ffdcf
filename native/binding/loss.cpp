// Binding for the loss family (reduction: 0 none, 1 mean, 2 sum):
//   crossEntropy(logits, labels, out, N, C, reduction, smoothing, ignoreIndex, weight)
//   crossEntropyBackward(dy, logits, labels, out, N, C, reduction, smoothing, ignoreIndex, weight)
//   mse(pred, target, out, reduction) · mseBackward(dy, pred, target, out, reduction)
//   bceWithLogits(logits, target, weight, posWeight, out, shape, weightShape, posWeightShape,
//                 reduction)
//   bceWithLogitsBackward(dy, logits, target, weight, posWeight, out, shape, weightShape,
//                         posWeightShape, reduction)
//     (weight / posWeight and their shapes null when absent; the broadcast is planned
//     natively by cpu::bce_view, so no stride from JS is trusted)
// labels is an Int32Array; its values are checked by the kernel (a RangeError naming the
// first bad index), its length here.
#include <string>

#include "binding/common.h"
#include "cpu/loss/loss.h"

namespace foveal {
namespace binding {
namespace {

using cpu::Reduction;

Reduction reduction_arg(Args& a, size_t i) { return static_cast<Reduction>(a.integer(i, "reduction", 0, 2)); }

int64_t loss_length(Reduction r, int64_t n) { return r == Reduction::none ? n : 1; }

float smoothing_arg(Args& a, size_t i) {
  const double s = a.number(i, "labelSmoothing");
  if (!(s >= 0 && s <= 1))
    throw Napi::RangeError::New(a.env(), std::string(a.op()) + ": labelSmoothing must be in [0, 1]");
  return static_cast<float>(s);
}

// The arguments bceWithLogits and its backward share, from position `first` (logits)
// on: logits, target, weight, posWeight, then (after the out at first+4) shape,
// weightShape, posWeightShape, reduction. Re-checks every length against its shape.
struct BceInputs {
  F32 logits, target, weight, pos_weight;
  cpu::BceView v;
  Reduction reduction;

  BceInputs(Args& a, size_t first) {
    logits = a.f32(first, "logits");
    target = a.f32(first + 1, "target");
    weight = a.optional_f32(first + 2, "weight");
    pos_weight = a.optional_f32(first + 3, "posWeight");
    static_assert(cpu::kBceMaxRank <= kMaxShapeRank, "bce shapes fit a Shape");
    const Shape s = a.shape(first + 5, "shape", cpu::kBceMaxRank);
    const Shape ws = a.optional_shape(first + 6, "weightShape", cpu::kBceMaxRank);
    const Shape ps = a.optional_shape(first + 7, "posWeightShape", cpu::kBceMaxRank);
    reduction = reduction_arg(a, first + 8);
    a.expect_length(logits, s.size);
    a.expect_length(target, s.size);
    if (ws.present != weight.present || ps.present != pos_weight.present)
      throw Napi::TypeError::New(a.env(), std::string(a.op()) + ": a weight and its shape must be given together");
    if (ws.present) a.expect_length(weight, ws.size);
    if (ps.present) a.expect_length(pos_weight, ps.size);
    if (!cpu::bce_view(s.d, s.rank, ws.present ? ws.d : nullptr, ws.rank, ps.present ? ps.d : nullptr, ps.rank, &v))
      throw Napi::RangeError::New(a.env(),
                                  std::string(a.op()) + ": weight and posWeight must broadcast to the shape of logits");
  }
};

class BceOp {
 public:
  static constexpr const char* kName = "bceWithLogits";

  explicit BceOp(Args& a) : in_(a, 0) {
    loss_.bind(a, 4, "out", loss_length(in_.reduction, in_.v.total),
               {&in_.logits, &in_.target, &in_.weight, &in_.pos_weight});
    p_.logits = in_.logits.data;
    p_.target = in_.target.data;
    p_.weight = in_.weight.present ? in_.weight.data : nullptr;
    p_.pos_weight = in_.pos_weight.present ? in_.pos_weight.data : nullptr;
    p_.v = in_.v;
    p_.reduction = in_.reduction;
  }
  void run() {
    p_.loss = loss_.data();
    cpu::bce_forward(p_);
  }
  Napi::Value result(Napi::Env env) { return loss_.to_js(env); }

 private:
  BceInputs in_;
  cpu::BceParams p_{};
  Output loss_;
};

class BceBackwardOp {
 public:
  static constexpr const char* kName = "bceWithLogitsBackward";

  explicit BceBackwardOp(Args& a) : in_(a, 1) {
    const F32 dy = a.f32(0, "dy");
    a.expect_length(dy, loss_length(in_.reduction, in_.v.total));
    dx_.bind(a, 5, "out", in_.v.total, {&dy, &in_.logits, &in_.target, &in_.weight, &in_.pos_weight});
    p_.dloss = dy.data;
    p_.logits = in_.logits.data;
    p_.target = in_.target.data;
    p_.weight = in_.weight.present ? in_.weight.data : nullptr;
    p_.pos_weight = in_.pos_weight.present ? in_.pos_weight.data : nullptr;
    p_.v = in_.v;
    p_.reduction = in_.reduction;
  }
  void run() {
    p_.dlogits = dx_.data();
    cpu::bce_backward(p_);
  }
  Napi::Value result(Napi::Env env) { return dx_.to_js(env); }

 private:
  BceInputs in_;
  cpu::BceBackwardParams p_{};
  Output dx_;
};

class CrossEntropyOp {
 public:
  static constexpr const char* kName = "crossEntropy";

  explicit CrossEntropyOp(Args& a) {
    const F32 logits = a.f32(0, "logits");
    labels_ = a.i32(1, "labels");
    p_.N = a.dim(3, "N");
    p_.C = a.dim(4, "C");
    p_.reduction = reduction_arg(a, 5);
    p_.smoothing = smoothing_arg(a, 6);
    p_.ignore_index = static_cast<int32_t>(a.integer(7, "ignoreIndex", INT32_MIN, INT32_MAX));
    const F32 weight = a.optional_f32(8, "weight");
    if (weight.present) a.expect_length(weight, p_.C);
    p_.weight = weight.present ? weight.data : nullptr;
    a.expect_length(logits, checked_mul(kName, p_.N, p_.C));
    if (static_cast<int64_t>(labels_.length) != p_.N)
      throw Napi::RangeError::New(a.env(), "crossEntropy: labels must have " + std::to_string(p_.N) + " elements");
    const F32 labels = span_of(labels_);
    loss_.bind(a, 2, "out", loss_length(p_.reduction, p_.N), {&logits, &labels, &weight});
    p_.logits = logits.data;
    p_.labels = labels_.data;
  }
  void run() {
    p_.loss = loss_.data();
    cpu::cross_entropy_forward(kName, p_);
  }
  Napi::Value result(Napi::Env env) { return loss_.to_js(env); }

 private:
  cpu::CrossEntropyParams p_{};
  I32 labels_;
  Output loss_;
};

class CrossEntropyBackwardOp {
 public:
  static constexpr const char* kName = "crossEntropyBackward";

  explicit CrossEntropyBackwardOp(Args& a) {
    const F32 dy = a.f32(0, "dy");
    const F32 logits = a.f32(1, "logits");
    labels_ = a.i32(2, "labels");
    p_.N = a.dim(4, "N");
    p_.C = a.dim(5, "C");
    p_.reduction = reduction_arg(a, 6);
    p_.smoothing = smoothing_arg(a, 7);
    p_.ignore_index = static_cast<int32_t>(a.integer(8, "ignoreIndex", INT32_MIN, INT32_MAX));
    const F32 weight = a.optional_f32(9, "weight");
    if (weight.present) a.expect_length(weight, p_.C);
    p_.weight = weight.present ? weight.data : nullptr;
    const int64_t n = checked_mul(kName, p_.N, p_.C);
    a.expect_length(logits, n);
    a.expect_length(dy, loss_length(p_.reduction, p_.N));
    if (static_cast<int64_t>(labels_.length) != p_.N)
      throw Napi::RangeError::New(a.env(),
                                  "crossEntropyBackward: labels must have " + std::to_string(p_.N) + " elements");
    const F32 labels = span_of(labels_);
    dx_.bind(a, 3, "out", n, {&dy, &logits, &labels, &weight});
    p_.dloss = dy.data;
    p_.logits = logits.data;
    p_.labels = labels_.data;
  }
  void run() {
    p_.dlogits = dx_.data();
    cpu::cross_entropy_backward(kName, p_);
  }
  Napi::Value result(Napi::Env env) { return dx_.to_js(env); }

 private:
  cpu::CrossEntropyBackwardParams p_{};
  I32 labels_;
  Output dx_;
};

class MseOp {
 public:
  static constexpr const char* kName = "mse";

  explicit MseOp(Args& a) {
    const F32 pred = a.f32(0, "pred");
    const F32 target = a.f32(1, "target");
    p_.reduction = reduction_arg(a, 3);
    p_.n = static_cast<int64_t>(pred.length);
    a.expect_length(target, p_.n);
    loss_.bind(a, 2, "out", loss_length(p_.reduction, p_.n), {&pred, &target});
    p_.pred = pred.data;
    p_.target = target.data;
  }
  void run() {
    p_.loss = loss_.data();
    cpu::mse_forward(p_);
  }
  Napi::Value result(Napi::Env env) { return loss_.to_js(env); }

 private:
  cpu::MseParams p_{};
  Output loss_;
};

class MseBackwardOp {
 public:
  static constexpr const char* kName = "mseBackward";

  explicit MseBackwardOp(Args& a) {
    const F32 dy = a.f32(0, "dy");
    const F32 pred = a.f32(1, "pred");
    const F32 target = a.f32(2, "target");
    p_.reduction = reduction_arg(a, 4);
    p_.n = static_cast<int64_t>(pred.length);
    a.expect_length(target, p_.n);
    a.expect_length(dy, loss_length(p_.reduction, p_.n));
    dx_.bind(a, 3, "out", p_.n, {&dy, &pred, &target});
    p_.dloss = dy.data;
    p_.pred = pred.data;
    p_.target = target.data;
  }
  void run() {
    p_.dpred = dx_.data();
    cpu::mse_backward(p_);
  }
  Napi::Value result(Napi::Env env) { return dx_.to_js(env); }

 private:
  cpu::MseBackwardParams p_{};
  Output dx_;
};

}  // namespace

void InitLoss(Napi::Env env, Napi::Object exports) {
  Define<CrossEntropyOp>(env, exports, "crossEntropy");
  Define<CrossEntropyBackwardOp>(env, exports, "crossEntropyBackward");
  Define<MseOp>(env, exports, "mse");
  Define<MseBackwardOp>(env, exports, "mseBackward");
  Define<BceOp>(env, exports, "bceWithLogits");
  Define<BceBackwardOp>(env, exports, "bceWithLogitsBackward");
}

}  // namespace binding
}  // namespace foveal
