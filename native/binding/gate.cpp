// Binding for the gate family (x as [N, C, HW]; lib/ops/gate.ts has flattened H·W):
//   spatialGate(x, wa, ba, wb, bb, outOut, outGate, N, C, HW) → { out, gate }
//   spatialGateBackward(dOut, x, wa, ba, wb, bb, gate, outDx, outDwa, outDba, outDwb,
//                       outDbb, N, C, HW, accumulate) → { dx, dwa, dba, dwb, dbb }
//     (gate null: recomputed from x)
//   channelPool(x, out, N, C, HW) → y [N, 2, HW]
//   channelPoolBackward(dy, x, out, N, C, HW, accumulate) → dx
#include <string>

#include "binding/common.h"
#include "cpu/gate/gate.h"

namespace foveal {
namespace binding {
namespace {

constexpr int64_t kMaxSafe = (int64_t{1} << 53) - 1;

// N, C, HW at i..i+2 (C at least c_min); returns N·C·HW, every partial product checked.
int64_t nchw(Args& a, size_t i, int64_t c_min, int64_t* N, int64_t* C, int64_t* HW) {
  *N = a.dim(i, "N");
  *C = a.integer(i + 1, "C", c_min, kMaxSafe);
  *HW = a.dim(i + 2, "HW");
  checked_mul(a.op(), *N, *HW);
  return checked_mul(a.op(), checked_mul(a.op(), *N, *C), *HW);
}

class SpatialGateOp {
 public:
  static constexpr const char* kName = "spatialGate";

  explicit SpatialGateOp(Args& a) {
    const F32 x = a.f32(0, "x");
    const F32 wa = a.f32(1, "wa");
    const F32 ba = a.f32(2, "ba");
    const F32 wb = a.f32(3, "wb");
    const F32 bb = a.f32(4, "bb");
    const int64_t n = nchw(a, 7, 0, &p_.N, &p_.C, &p_.HW);
    a.expect_length(x, n);
    a.expect_length(wa, p_.C);
    a.expect_length(ba, 1);
    a.expect_length(wb, p_.C);
    a.expect_length(bb, 1);
    out_.bind(a, 5, "out.out", n, {&x, &wa, &ba, &wb, &bb});
    gate_.bind(a, 6, "out.gate", p_.N * p_.HW, {&x, &wa, &ba, &wb, &bb});
    p_.x = x.data;
    p_.wa = wa.data;
    p_.ba = ba.data;
    p_.wb = wb.data;
    p_.bb = bb.data;
  }
  void run() {
    p_.out = out_.data();
    p_.gate = gate_.data();
    cpu::spatial_gate_forward(p_);
  }
  Napi::Value result(Napi::Env env) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("out", out_.to_js(env));
    r.Set("gate", gate_.to_js(env));
    return r;
  }

 private:
  cpu::SpatialGateParams p_{};
  Output out_, gate_;
};

class SpatialGateBackwardOp {
 public:
  static constexpr const char* kName = "spatialGateBackward";

  explicit SpatialGateBackwardOp(Args& a) {
    const F32 dout = a.f32(0, "dOut");
    const F32 x = a.f32(1, "x");
    const F32 wa = a.f32(2, "wa");
    const F32 ba = a.f32(3, "ba");
    const F32 wb = a.f32(4, "wb");
    const F32 bb = a.f32(5, "bb");
    const F32 gate = a.optional_f32(6, "gate");
    const int64_t n = nchw(a, 12, 0, &p_.N, &p_.C, &p_.HW);
    p_.accumulate = a.flag(15, "accumulate");
    a.expect_length(dout, n);
    a.expect_length(x, n);
    a.expect_length(wa, p_.C);
    a.expect_length(ba, 1);
    a.expect_length(wb, p_.C);
    a.expect_length(bb, 1);
    if (gate.present) a.expect_length(gate, p_.N * p_.HW);
    const std::initializer_list<const F32*> inputs = {&dout, &x, &wa, &ba, &wb, &bb, &gate};
    dx_.bind(a, 7, "out.dx", n, inputs);
    dwa_.bind(a, 8, "out.dwa", p_.C, inputs);
    dba_.bind(a, 9, "out.dba", 1, inputs);
    dwb_.bind(a, 10, "out.dwb", p_.C, inputs);
    dbb_.bind(a, 11, "out.dbb", 1, inputs);
    if (p_.accumulate && !(dx_.bound() && dwa_.bound() && dba_.bound() && dwb_.bound() && dbb_.bound()))
      throw Napi::RangeError::New(a.env(), std::string(kName) + ": accumulate needs every out");
    p_.dout = dout.data;
    p_.x = x.data;
    p_.wa = wa.data;
    p_.ba = ba.data;
    p_.wb = wb.data;
    p_.bb = bb.data;
    p_.gate = gate.present ? gate.data : nullptr;
  }
  void run() {
    p_.dx = dx_.data();
    p_.dwa = dwa_.data();
    p_.dba = dba_.data();
    p_.dwb = dwb_.data();
    p_.dbb = dbb_.data();
    cpu::spatial_gate_backward(p_);
  }
  Napi::Value result(Napi::Env env) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("dx", dx_.to_js(env));
    r.Set("dwa", dwa_.to_js(env));
    r.Set("dba", dba_.to_js(env));
    r.Set("dwb", dwb_.to_js(env));
    r.Set("dbb", dbb_.to_js(env));
    return r;
  }

 private:
  cpu::SpatialGateBackwardParams p_{};
  Output dx_, dwa_, dba_, dwb_, dbb_;
};

class ChannelPoolOp {
 public:
  static constexpr const char* kName = "channelPool";

  explicit ChannelPoolOp(Args& a) {
    const F32 x = a.f32(0, "x");
    const int64_t n = nchw(a, 2, 1, &p_.N, &p_.C, &p_.HW);
    a.expect_length(x, n);
    y_.bind(a, 1, "out", checked_mul(kName, 2 * p_.N, p_.HW), {&x});
    p_.x = x.data;
  }
  void run() {
    p_.y = y_.data();
    cpu::channel_pool_forward(p_);
  }
  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::ChannelPoolParams p_{};
  Output y_;
};

class ChannelPoolBackwardOp {
 public:
  static constexpr const char* kName = "channelPoolBackward";

  explicit ChannelPoolBackwardOp(Args& a) {
    const F32 dy = a.f32(0, "dy");
    const F32 x = a.f32(1, "x");
    const int64_t n = nchw(a, 3, 1, &p_.N, &p_.C, &p_.HW);
    p_.accumulate = a.flag(6, "accumulate");
    a.expect_length(dy, checked_mul(kName, 2 * p_.N, p_.HW));
    a.expect_length(x, n);
    dx_.bind(a, 2, "out", n, {&dy, &x});
    if (p_.accumulate && !dx_.bound())
      throw Napi::RangeError::New(a.env(), std::string(kName) + ": accumulate needs out");
    p_.dy = dy.data;
    p_.x = x.data;
  }
  void run() {
    p_.dx = dx_.data();
    cpu::channel_pool_backward(p_);
  }
  Napi::Value result(Napi::Env env) { return dx_.to_js(env); }

 private:
  cpu::ChannelPoolBackwardParams p_{};
  Output dx_;
};

}  // namespace

void InitGate(Napi::Env env, Napi::Object exports) {
  Define<SpatialGateOp>(env, exports, "spatialGate");
  Define<SpatialGateBackwardOp>(env, exports, "spatialGateBackward");
  Define<ChannelPoolOp>(env, exports, "channelPool");
  Define<ChannelPoolBackwardOp>(env, exports, "channelPoolBackward");
}

}  // namespace binding
}  // namespace foveal
