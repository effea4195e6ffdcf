// Binding for the attention family. lib/ops/attention.ts has validated everything; the
// arrays come positionally and what to compute as one object (lib/native.ts
// AttentionProblem, read by key), re-checked here against the arrays (the kernel
// re-checks the options themselves in attention_check):
//
//   attention(q, k, v, mask, keyLengths, outO, outLse, outW, problem)               0..8
//     problem: { B, Hq, Hkv, Lq, Lk, D, Dv, scale, causal, windowLeft, windowRight,
//                maskStrideB, maskStrideH, maskStrideQ, maskStrideK, dropout, seed, topK,
//                returnWeights }
//     → { out, lse, weights? }
//   attentionBackward(dOut, q, k, v, out, lse, mask, keyLengths, outDq, outDk, outDv,  0..10
//                     problem)                                                        11
//     problem: the forward's, without returnWeights
//     → { dq, dk, dv }
#include <string>
#include <vector>

#include "binding/common.h"
#include "cpu/attention/attention.h"

namespace foveal {
namespace binding {
namespace {

constexpr int64_t kMaxSafe = (int64_t{1} << 53) - 1;

// The sizes and options shared by both directions, read from the problem object. Read
// before any array is unwrapped (a getter on the object runs JS; see Fields).
cpu::AttentionProblem read_problem(Fields& f) {
  cpu::AttentionProblem pb{};
  pb.B = f.dim("B");
  pb.Hq = f.dim("Hq");
  pb.Hkv = f.dim("Hkv");
  pb.Lq = f.dim("Lq");
  pb.Lk = f.dim("Lk");
  pb.D = f.dim("D");
  pb.Dv = f.dim("Dv");
  pb.scale = static_cast<float>(f.number("scale"));
  pb.causal = f.flag("causal");
  pb.window_left = f.integer("windowLeft", -1, kMaxSafe);
  pb.window_right = f.integer("windowRight", -1, kMaxSafe);
  pb.mask_stride[0] = f.dim("maskStrideB");
  pb.mask_stride[1] = f.dim("maskStrideH");
  pb.mask_stride[2] = f.dim("maskStrideQ");
  pb.mask_stride[3] = f.dim("maskStrideK");
  pb.dropout = static_cast<float>(f.number("dropout"));
  pb.seed = static_cast<uint64_t>(f.dim("seed"));
  pb.top_k = f.dim("topK");
  return pb;
}

// The problem checked against q, k, v, mask and keyLengths (position lengths_at). The key
// lengths are copied (B numbers): the kernel reads the values attention_check saw, whatever
// JS does to the array while an Async op runs.
struct Problem {
  cpu::AttentionProblem pb{};
  std::vector<int32_t> lengths;

  Problem(Args& a, const cpu::AttentionProblem& read, const F32& q, const F32& k, const F32& v, const F32& mask,
          size_t lengths_at)
      : pb(read) {
    const char* op = a.op();
    if (pb.Hkv < 1 || pb.Hq < 1 || pb.Hq % pb.Hkv != 0)
      throw Napi::RangeError::New(a.env(), std::string(op) + ": Hq must be a positive multiple of Hkv");
    if (pb.D < 1) throw Napi::RangeError::New(a.env(), std::string(op) + ": D must be at least 1");
    const int64_t bq = checked_mul(op, checked_mul(op, pb.B, pb.Hq), pb.Lq);
    const int64_t bk = checked_mul(op, checked_mul(op, pb.B, pb.Hkv), pb.Lk);
    a.expect_length(q, checked_mul(op, bq, pb.D));
    a.expect_length(k, checked_mul(op, bk, pb.D));
    a.expect_length(v, checked_mul(op, bk, pb.Dv));
    checked_mul(op, bq, pb.Lk);  // every (b, h, i, j) index must fit
    if (!a.at(lengths_at).IsNull() && !a.at(lengths_at).IsUndefined()) {
      const I32 kl = a.i32(lengths_at, "keyLengths");
      if (static_cast<int64_t>(kl.length) != pb.B)
        throw Napi::RangeError::New(a.env(), std::string(op) + ": keyLengths must have B=" + std::to_string(pb.B) +
                                                 " elements, got " + std::to_string(kl.length));
      lengths.assign(kl.data, kl.data + kl.length);
    }
    pb.q = q.data;
    pb.k = k.data;
    pb.v = v.data;
    pb.mask = mask.present ? mask.data : nullptr;
    pb.mask_length = mask.present ? static_cast<int64_t>(mask.length) : 0;
    pb.key_lengths = lengths.empty() ? nullptr : lengths.data();
    cpu::attention_check(pb);  // throws std::invalid_argument → RangeError
  }
};

class AttentionOp {
 public:
  static constexpr const char* kName = "attention";

  explicit AttentionOp(Args& a) : AttentionOp(a, a.fields(8, "problem")) {}

  AttentionOp(Args& a, Fields problem)
      : weights_(problem.flag("returnWeights")),
        read_(read_problem(problem)),
        q_(a.f32(0, "q")),
        k_(a.f32(1, "k")),
        v_(a.f32(2, "v")),
        mask_(a.optional_f32(3, "mask")),
        prob_(a, read_, q_, k_, v_, mask_, 4) {
    const cpu::AttentionProblem& pb = prob_.pb;
    const int64_t bq = pb.B * pb.Hq * pb.Lq;
    out_.bind(a, 5, "out.out", checked_mul(kName, bq, pb.Dv), {&q_, &k_, &v_, &mask_});
    lse_.bind(a, 6, "out.lse", bq, {&q_, &k_, &v_, &mask_});
    if (weights_) w_.bind(a, 7, "out.weights", checked_mul(kName, bq, pb.Lk), {&q_, &k_, &v_, &mask_});
  }

  void run() {
    cpu::AttentionParams p{};
    p.pb = prob_.pb;
    p.out = out_.data();
    p.lse = lse_.data();
    p.weights = weights_ ? w_.data() : nullptr;
    cpu::attention_forward(p);
  }

  Napi::Value result(Napi::Env env) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("out", out_.to_js(env));
    r.Set("lse", lse_.to_js(env));
    if (weights_) r.Set("weights", w_.to_js(env));
    return r;
  }

 private:
  bool weights_;
  cpu::AttentionProblem read_;
  F32 q_, k_, v_, mask_;
  Problem prob_;
  Output out_, lse_, w_;
};

class AttentionBackwardOp {
 public:
  static constexpr const char* kName = "attentionBackward";

  explicit AttentionBackwardOp(Args& a) : AttentionBackwardOp(a, a.fields(11, "problem")) {}

  AttentionBackwardOp(Args& a, Fields problem)
      : read_(read_problem(problem)),
        dout_(a.f32(0, "dOut")),
        q_(a.f32(1, "q")),
        k_(a.f32(2, "k")),
        v_(a.f32(3, "v")),
        o_(a.f32(4, "out")),
        lse_(a.f32(5, "lse")),
        mask_(a.optional_f32(6, "mask")),
        prob_(a, read_, q_, k_, v_, mask_, 7) {
    const cpu::AttentionProblem& pb = prob_.pb;
    const int64_t bq = pb.B * pb.Hq * pb.Lq, bk = pb.B * pb.Hkv * pb.Lk;
    a.expect_length(dout_, checked_mul(kName, bq, pb.Dv));
    a.expect_length(o_, checked_mul(kName, bq, pb.Dv));
    a.expect_length(lse_, bq);
    const std::initializer_list<const F32*> ins = {&dout_, &q_, &k_, &v_, &o_, &lse_, &mask_};
    dq_.bind(a, 8, "out.dq", checked_mul(kName, bq, pb.D), ins);
    dk_.bind(a, 9, "out.dk", checked_mul(kName, bk, pb.D), ins);
    dv_.bind(a, 10, "out.dv", checked_mul(kName, bk, pb.Dv), ins);
  }

  void run() {
    cpu::AttentionBackwardParams p{};
    p.pb = prob_.pb;
    p.dout = dout_.data;
    p.out = o_.data;
    p.lse = lse_.data;
    p.dq = dq_.data();
    p.dk = dk_.data();
    p.dv = dv_.data();
    cpu::attention_backward(p);
  }

  Napi::Value result(Napi::Env env) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("dq", dq_.to_js(env));
    r.Set("dk", dk_.to_js(env));
    r.Set("dv", dv_.to_js(env));
    return r;
  }

 private:
  cpu::AttentionProblem read_;
  F32 dout_, q_, k_, v_, o_, lse_, mask_;
  Problem prob_;
  Output dq_, dk_, dv_;
};

}  // namespace

void InitAttention(Napi::Env env, Napi::Object exports) {
  Define<AttentionOp>(env, exports, "attention");
  Define<AttentionBackwardOp>(env, exports, "attentionBackward");
}

}  // namespace binding
}  // namespace foveal
