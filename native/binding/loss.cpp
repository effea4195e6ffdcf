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

// An Int32Array argument, kept alive (for the Async twin) by the op that holds it.
struct I32 {
  const int32_t* data = nullptr;
  size_t length = 0;
  Napi::ObjectReference ref;
};

void i32_arg(Args& a, size_t i, const char* name, I32* out) {
  const Napi::Value v = a.at(i);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(a.env(), std::string(a.op()) + ": " + name + " must be an Int32Array");
  const Napi::Int32Array arr = v.As<Napi::Int32Array>();
  out->data = arr.Data();
  out->length = arr.ElementLength();
  out->ref = Napi::Persistent(arr.As<Napi::Object>());
}

Reduction reduction_arg(Args& a, size_t i) { return static_cast<Reduction>(a.integer(i, "reduction", 0, 2)); }

int64_t loss_length(Reduction r, int64_t n) { return r == Reduction::none ? n : 1; }

float smoothing_arg(Args& a, size_t i) {
  const double s = a.number(i, "labelSmoothing");
  if (!(s >= 0 && s <= 1)) throw Napi::RangeError::New(a.env(), std::string(a.op()) + ": labelSmoothing must be in [0, 1]");
  return static_cast<float>(s);
}

// A shape argument (a JS array of at most kBceMaxRank non-negative integers); *size gets
// its element count. null/undefined when `optional`: returns false.
bool shape_arg(Args& a, size_t i, const char* name, bool optional, int64_t* dims, int* rank, int64_t* size) {
  const Napi::Value v = a.at(i);
  const std::string what = std::string(a.op()) + ": " + name;
  if (optional && (v.IsNull() || v.IsUndefined())) return false;
  if (!v.IsArray()) throw Napi::TypeError::New(a.env(), what + " must be an array of integers");
  const Napi::Array arr = v.As<Napi::Array>();
  if (arr.Length() > static_cast<uint32_t>(cpu::kBceMaxRank))
    throw Napi::RangeError::New(a.env(), what + " must have at most " + std::to_string(cpu::kBceMaxRank) +
                                             " dimensions, got " + std::to_string(arr.Length()));
  *rank = static_cast<int>(arr.Length());
  *size = 1;
  for (int k = 0; k < *rank; ++k) {
    const Napi::Value e = arr.Get(static_cast<uint32_t>(k));
    const double x = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!(x >= 0 && x <= 9007199254740991.0) || static_cast<double>(static_cast<int64_t>(x)) != x)
      throw Napi::RangeError::New(a.env(), what + " must hold non-negative integers");
    dims[k] = static_cast<int64_t>(x);
    *size = checked_mul(a.op(), *size, dims[k]);
  }
  return true;
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
    int64_t dims[cpu::kBceMaxRank], wd[cpu::kBceMaxRank], pd[cpu::kBceMaxRank];
    int rank = 0, wr = 0, pr = 0;
    int64_t n = 0, wn = 0, pn = 0;
    shape_arg(a, first + 5, "shape", false, dims, &rank, &n);
    const bool has_w = shape_arg(a, first + 6, "weightShape", true, wd, &wr, &wn);
    const bool has_p = shape_arg(a, first + 7, "posWeightShape", true, pd, &pr, &pn);
    reduction = reduction_arg(a, first + 8);
    a.expect_length(logits, n);
    a.expect_length(target, n);
    if (has_w != weight.present || has_p != pos_weight.present)
      throw Napi::TypeError::New(a.env(), std::string(a.op()) + ": a weight and its shape must be given together");
    if (has_w) a.expect_length(weight, wn);
    if (has_p) a.expect_length(pos_weight, pn);
    if (!cpu::bce_view(dims, rank, has_w ? wd : nullptr, wr, has_p ? pd : nullptr, pr, &v))
      throw Napi::RangeError::New(a.env(), std::string(a.op()) + ": weight and posWeight must broadcast to the shape of logits");
  }
};

class BceOp {
 public:
  static constexpr const char* kName = "bceWithLogits";

  explicit BceOp(Args& a) : in_(a, 0) {
    loss_.bind(a, 4, "out", loss_length(in_.reduction, in_.v.total), {&in_.logits, &in_.target, &in_.weight, &in_.pos_weight});
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
    i32_arg(a, 1, "labels", &labels_);
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
    loss_.bind(a, 2, "out", loss_length(p_.reduction, p_.N), {&logits});
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
    i32_arg(a, 2, "labels", &labels_);
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
      throw Napi::RangeError::New(a.env(), "crossEntropyBackward: labels must have " + std::to_string(p_.N) + " elements");
    dx_.bind(a, 3, "out", n, {&dy, &logits});
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
