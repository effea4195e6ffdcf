// Binding for the optimizer updates and gradient clipping's reductions (cpu/optim). The
// updates write their tensors in place and return undefined:
//   adamStep(param, grad, expAvg, expAvgSq, maxExpAvgSq | null,
//            { lr, beta1, beta2, eps, weightDecay, step, amsgrad, decoupled, maximize })
//   sgdStep(param, grad, momentumBuffer | null,
//           { lr, momentum, dampening, weightDecay, nesterov, maximize, initBuffer })
// (the hyperparameters as one object read by key: lib/native.ts AdamHyper, SgdHyper)
//   scaleInPlace(x, scale)
// and normReduce(x, ord) returns the norm's reduction before its root, as a number
// (cpu/optim/optim.h says which, per ord).
#include <string>

#include "binding/common.h"
#include "cpu/optim/optim.h"

namespace foveal {
namespace binding {
namespace {

constexpr int64_t kMaxSafe = (int64_t{1} << 53) - 1;

// Every tensor must hold n elements, and none may share memory with another: the kernel
// reads each one while it writes the in-place ones.
void check_tensors(Args& a, std::initializer_list<const F32*> ts, int64_t n) {
  for (const F32* t : ts) {
    if (t->present) a.expect_length(*t, n);
  }
  for (auto i = ts.begin(); i != ts.end(); ++i) {
    for (auto j = i + 1; j != ts.end(); ++j) {
      if (overlap(**i, **j))
        throw Napi::RangeError::New(
            a.env(), std::string(a.op()) + ": " + (*i)->name + " and " + (*j)->name + " must not share memory");
    }
  }
}

class AdamStepOp {
 public:
  static constexpr const char* kName = "adamStep";

  explicit AdamStepOp(Args& a) {
    Fields h = a.fields(5, "hyper");  // before the arrays (see Fields)
    p_.lr = h.number("lr");
    p_.beta1 = h.number("beta1");
    p_.beta2 = h.number("beta2");
    p_.eps = h.number("eps");
    p_.weight_decay = h.number("weightDecay");
    p_.step = h.integer("step", 1, kMaxSafe);
    p_.amsgrad = h.flag("amsgrad");
    p_.decoupled = h.flag("decoupled");
    p_.maximize = h.flag("maximize");
    const F32 param = a.f32(0, "param");
    const F32 grad = a.f32(1, "grad");
    const F32 m = a.f32(2, "expAvg");
    const F32 v = a.f32(3, "expAvgSq");
    const F32 vmax = a.optional_f32(4, "maxExpAvgSq");
    if (p_.amsgrad && !vmax.present)
      throw Napi::RangeError::New(a.env(), std::string(kName) + ": maxExpAvgSq is needed with amsgrad");
    p_.n = static_cast<int64_t>(param.length);
    check_tensors(a, {&param, &grad, &m, &v, &vmax}, p_.n);
    p_.param = param.data;
    p_.grad = grad.data;
    p_.exp_avg = m.data;
    p_.exp_avg_sq = v.data;
    p_.max_exp_avg_sq = p_.amsgrad ? vmax.data : nullptr;
  }
  void run() { cpu::adam_step(p_); }
  Napi::Value result(Napi::Env env) { return env.Undefined(); }

 private:
  cpu::AdamParams p_{};
};

class SgdStepOp {
 public:
  static constexpr const char* kName = "sgdStep";

  explicit SgdStepOp(Args& a) {
    Fields h = a.fields(3, "hyper");  // before the arrays (see Fields)
    p_.lr = h.number("lr");
    p_.momentum = h.number("momentum");
    p_.dampening = h.number("dampening");
    p_.weight_decay = h.number("weightDecay");
    p_.nesterov = h.flag("nesterov");
    p_.maximize = h.flag("maximize");
    p_.init_buffer = h.flag("initBuffer");
    const F32 param = a.f32(0, "param");
    const F32 grad = a.f32(1, "grad");
    const F32 buf = a.optional_f32(2, "momentumBuffer");
    if (p_.momentum != 0 && !buf.present)
      throw Napi::RangeError::New(a.env(), std::string(kName) + ": momentumBuffer is needed with momentum");
    p_.n = static_cast<int64_t>(param.length);
    check_tensors(a, {&param, &grad, &buf}, p_.n);
    p_.param = param.data;
    p_.grad = grad.data;
    p_.momentum_buffer = p_.momentum != 0 ? buf.data : nullptr;
  }
  void run() { cpu::sgd_step(p_); }
  Napi::Value result(Napi::Env env) { return env.Undefined(); }

 private:
  cpu::SgdParams p_{};
};

class NormReduceOp {
 public:
  static constexpr const char* kName = "normReduce";

  explicit NormReduceOp(Args& a) {
    const F32 x = a.f32(0, "x");
    p_.ord = a.number(1, "ord");
    if (p_.ord != p_.ord) throw Napi::RangeError::New(a.env(), std::string(kName) + ": ord must not be NaN");
    p_.x = x.data;
    p_.n = static_cast<int64_t>(x.length);
  }
  void run() { value_ = cpu::norm_reduce(p_); }
  Napi::Value result(Napi::Env env) { return Napi::Number::New(env, value_); }

 private:
  cpu::NormParams p_{};
  double value_ = 0;
};

class ScaleInPlaceOp {
 public:
  static constexpr const char* kName = "scaleInPlace";

  explicit ScaleInPlaceOp(Args& a) {
    const F32 x = a.f32(0, "x");
    p_.scale = a.number(1, "scale");
    p_.x = x.data;
    p_.n = static_cast<int64_t>(x.length);
  }
  void run() { cpu::scale_inplace(p_); }
  Napi::Value result(Napi::Env env) { return env.Undefined(); }

 private:
  cpu::ScaleParams p_{};
};

}  // namespace

void InitOptim(Napi::Env env, Napi::Object exports) {
  Define<AdamStepOp>(env, exports, "adamStep");
  Define<SgdStepOp>(env, exports, "sgdStep");
  Define<NormReduceOp>(env, exports, "normReduce");
  Define<ScaleInPlaceOp>(env, exports, "scaleInPlace");
}

}  // namespace binding
}  // namespace foveal
