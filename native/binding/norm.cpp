// Binding for the norm family:
//   layerNorm(x, weight, bias, out, rows, D, eps)
//   layerNormBackward(dy, x, weight, outDx, outDweight, outDbias, rows, D, eps, accumulate)
//   batchNorm2d(x, runningMean, runningVar, weight, bias, out, N, C, S, training, momentum, eps)
//     (updates runningMean / runningVar in place when training)
//   batchNorm2dBackward(dy, x, runningMean, runningVar, weight, outDx, outDweight, outDbias,
//                       N, C, S, training, eps, accumulate)
//   groupNorm(x, weight, bias, out, N, C, S, G, eps)
//   groupNormBackward(dy, x, weight, outDx, outDweight, outDbias, N, C, S, G, eps, accumulate)
// accumulate (the backwards' last argument) adds into each gradient given in out; the
// others are fresh results.
// lib/ops/norm.ts has flattened the shapes; here every size is re-checked.
#include <string>

#include "binding/common.h"
#include "cpu/norm/norm.h"

namespace foveal {
namespace binding {
namespace {

float eps_arg(Args& a, size_t i) {
  const double e = a.number(i, "eps");
  if (!(e >= 0 && e < 1e30))
    throw Napi::RangeError::New(a.env(), std::string(a.op()) + ": eps must be a finite number ≥ 0");
  return static_cast<float>(e);
}

void optional_length(Args& a, const F32& f, int64_t n) {
  if (f.present) a.expect_length(f, n);
}

// The results of every norm backward: dx (like x), dweight and dbias (`params` each),
// bound from the out arguments at first, first+1, first+2; the accumulate flag at `acc`.
struct Grads {
  Output dx, dw, db;
  bool accumulate = false;

  void bind(Args& a, size_t first, size_t acc, int64_t n, int64_t params, std::initializer_list<const F32*> inputs) {
    accumulate = a.flag(acc, "accumulate");
    dx.bind(a, first, "out.dx", n, inputs);
    dw.bind(a, first + 1, "out.dweight", params, inputs);
    db.bind(a, first + 2, "out.dbias", params, inputs);
    if (accumulate && !dx.bound() && !dw.bound() && !db.bound())
      throw Napi::RangeError::New(
          a.env(), std::string(a.op()) + ": accumulate needs at least one of out.dx, out.dweight and out.dbias");
  }
  template <class P>
  void into(P* p) {
    p->dx = dx.data();
    p->dweight = dw.data();
    p->dbias = db.data();
    p->accumulate_dx = accumulate && dx.bound();
    p->accumulate_dweight = accumulate && dw.bound();
    p->accumulate_dbias = accumulate && db.bound();
  }
  Napi::Value to_js(Napi::Env env) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("dx", dx.to_js(env));
    r.Set("dweight", dw.to_js(env));
    r.Set("dbias", db.to_js(env));
    return r;
  }
};

class LayerNormOp {
 public:
  static constexpr const char* kName = "layerNorm";

  explicit LayerNormOp(Args& a) {
    const F32 x = a.f32(0, "x");
    const F32 w = a.optional_f32(1, "weight");
    const F32 b = a.optional_f32(2, "bias");
    p_.rows = a.dim(4, "rows");
    p_.D = a.dim(5, "D");
    p_.eps = eps_arg(a, 6);
    const int64_t n = checked_mul(kName, p_.rows, p_.D);
    a.expect_length(x, n);
    optional_length(a, w, p_.D);
    optional_length(a, b, p_.D);
    y_.bind(a, 3, "out", n, {&x, &w, &b});
    p_.x = x.data;
    p_.weight = w.present ? w.data : nullptr;
    p_.bias = b.present ? b.data : nullptr;
  }
  void run() {
    p_.y = y_.data();
    cpu::layer_norm_forward(p_);
  }
  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::LayerNormParams p_{};
  Output y_;
};

class LayerNormBackwardOp {
 public:
  static constexpr const char* kName = "layerNormBackward";

  explicit LayerNormBackwardOp(Args& a) {
    const F32 dy = a.f32(0, "dy");
    const F32 x = a.f32(1, "x");
    const F32 w = a.optional_f32(2, "weight");
    p_.rows = a.dim(6, "rows");
    p_.D = a.dim(7, "D");
    p_.eps = eps_arg(a, 8);
    const int64_t n = checked_mul(kName, p_.rows, p_.D);
    a.expect_length(dy, n);
    a.expect_length(x, n);
    optional_length(a, w, p_.D);
    g_.bind(a, 3, 9, n, p_.D, {&dy, &x, &w});
    p_.dy = dy.data;
    p_.x = x.data;
    p_.weight = w.present ? w.data : nullptr;
  }
  void run() {
    g_.into(&p_);
    cpu::layer_norm_backward(p_);
  }
  Napi::Value result(Napi::Env env) { return g_.to_js(env); }

 private:
  cpu::LayerNormBackwardParams p_{};
  Grads g_;
};

// N, C, S at i..i+2; returns N·C·S. The kernels also form N·S and C·S, so those must
// stay in range too (N·C·S alone does not bound them when one factor is 0).
int64_t ncs(Args& a, size_t i, int64_t* N, int64_t* C, int64_t* S) {
  *N = a.dim(i, "N");
  *C = a.dim(i + 1, "C");
  *S = a.dim(i + 2, "S");
  checked_mul(a.op(), *N, *S);
  checked_mul(a.op(), *C, *S);
  return checked_mul(a.op(), checked_mul(a.op(), *N, *C), *S);
}

class BatchNormOp {
 public:
  static constexpr const char* kName = "batchNorm2d";

  explicit BatchNormOp(Args& a) {
    const F32 x = a.f32(0, "x");
    const F32 rm = a.optional_f32(1, "runningMean");
    const F32 rv = a.optional_f32(2, "runningVar");
    const F32 w = a.optional_f32(3, "weight");
    const F32 b = a.optional_f32(4, "bias");
    const int64_t n = ncs(a, 6, &p_.N, &p_.C, &p_.S);
    p_.training = a.flag(9, "training");
    const double momentum = a.number(10, "momentum");
    if (!(momentum >= 0 && momentum <= 1))
      throw Napi::RangeError::New(a.env(), "batchNorm2d: momentum must be in [0, 1]");
    p_.momentum = static_cast<float>(momentum);
    p_.eps = eps_arg(a, 11);
    a.expect_length(x, n);
    if (rm.present != rv.present)
      throw Napi::RangeError::New(a.env(), "batchNorm2d: runningMean and runningVar must be given together");
    if (!p_.training && !rm.present)
      throw Napi::RangeError::New(a.env(), "batchNorm2d: runningMean and runningVar are needed in eval mode");
    if (p_.training && rm.present && p_.N * p_.S == 1)
      throw Napi::RangeError::New(a.env(), "batchNorm2d: training needs more than one value per channel");
    optional_length(a, rm, p_.C);
    optional_length(a, rv, p_.C);
    optional_length(a, w, p_.C);
    optional_length(a, b, p_.C);
    y_.bind(a, 5, "out", n, {&x, &rm, &rv, &w, &b});
    p_.x = x.data;
    p_.running_mean = rm.present ? rm.data : nullptr;
    p_.running_var = rv.present ? rv.data : nullptr;
    p_.weight = w.present ? w.data : nullptr;
    p_.bias = b.present ? b.data : nullptr;
  }
  void run() {
    p_.y = y_.data();
    cpu::batch_norm_forward(p_);
  }
  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::BatchNormParams p_{};
  Output y_;
};

class BatchNormBackwardOp {
 public:
  static constexpr const char* kName = "batchNorm2dBackward";

  explicit BatchNormBackwardOp(Args& a) {
    const F32 dy = a.f32(0, "dy");
    const F32 x = a.f32(1, "x");
    const F32 rm = a.optional_f32(2, "runningMean");
    const F32 rv = a.optional_f32(3, "runningVar");
    const F32 w = a.optional_f32(4, "weight");
    const int64_t n = ncs(a, 8, &p_.N, &p_.C, &p_.S);
    p_.training = a.flag(11, "training");
    p_.eps = eps_arg(a, 12);
    a.expect_length(dy, n);
    a.expect_length(x, n);
    if (!p_.training && !(rm.present && rv.present))
      throw Napi::RangeError::New(a.env(), "batchNorm2dBackward: runningMean and runningVar are needed in eval mode");
    optional_length(a, rm, p_.C);
    optional_length(a, rv, p_.C);
    optional_length(a, w, p_.C);
    g_.bind(a, 5, 13, n, p_.C, {&dy, &x, &rm, &rv, &w});
    p_.dy = dy.data;
    p_.x = x.data;
    p_.running_mean = rm.present ? rm.data : nullptr;
    p_.running_var = rv.present ? rv.data : nullptr;
    p_.weight = w.present ? w.data : nullptr;
  }
  void run() {
    g_.into(&p_);
    cpu::batch_norm_backward(p_);
  }
  Napi::Value result(Napi::Env env) { return g_.to_js(env); }

 private:
  cpu::BatchNormBackwardParams p_{};
  Grads g_;
};

int64_t groups_arg(Args& a, size_t i, int64_t C) {
  const int64_t G = a.integer(i, "numGroups", 1, int64_t{1} << 40);
  if (C % G != 0) throw Napi::RangeError::New(a.env(), std::string(a.op()) + ": numGroups must divide C");
  return G;
}

class GroupNormOp {
 public:
  static constexpr const char* kName = "groupNorm";

  explicit GroupNormOp(Args& a) {
    const F32 x = a.f32(0, "x");
    const F32 w = a.optional_f32(1, "weight");
    const F32 b = a.optional_f32(2, "bias");
    const int64_t n = ncs(a, 4, &p_.N, &p_.C, &p_.S);
    p_.G = groups_arg(a, 7, p_.C);
    p_.eps = eps_arg(a, 8);
    a.expect_length(x, n);
    optional_length(a, w, p_.C);
    optional_length(a, b, p_.C);
    y_.bind(a, 3, "out", n, {&x, &w, &b});
    p_.x = x.data;
    p_.weight = w.present ? w.data : nullptr;
    p_.bias = b.present ? b.data : nullptr;
  }
  void run() {
    p_.y = y_.data();
    cpu::group_norm_forward(p_);
  }
  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::GroupNormParams p_{};
  Output y_;
};

class GroupNormBackwardOp {
 public:
  static constexpr const char* kName = "groupNormBackward";

  explicit GroupNormBackwardOp(Args& a) {
    const F32 dy = a.f32(0, "dy");
    const F32 x = a.f32(1, "x");
    const F32 w = a.optional_f32(2, "weight");
    const int64_t n = ncs(a, 6, &p_.N, &p_.C, &p_.S);
    p_.G = groups_arg(a, 9, p_.C);
    p_.eps = eps_arg(a, 10);
    a.expect_length(dy, n);
    a.expect_length(x, n);
    optional_length(a, w, p_.C);
    g_.bind(a, 3, 11, n, p_.C, {&dy, &x, &w});
    p_.dy = dy.data;
    p_.x = x.data;
    p_.weight = w.present ? w.data : nullptr;
  }
  void run() {
    g_.into(&p_);
    cpu::group_norm_backward(p_);
  }
  Napi::Value result(Napi::Env env) { return g_.to_js(env); }

 private:
  cpu::GroupNormBackwardParams p_{};
  Grads g_;
};

}  // namespace

void InitNorm(Napi::Env env, Napi::Object exports) {
  Define<LayerNormOp>(env, exports, "layerNorm");
  Define<LayerNormBackwardOp>(env, exports, "layerNormBackward");
  Define<BatchNormOp>(env, exports, "batchNorm2d");
  Define<BatchNormBackwardOp>(env, exports, "batchNorm2dBackward");
  Define<GroupNormOp>(env, exports, "groupNorm");
  Define<GroupNormBackwardOp>(env, exports, "groupNormBackward");
}

}  // namespace binding
}  // namespace foveal
