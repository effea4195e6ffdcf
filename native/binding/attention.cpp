// Binding for the attention family. lib/ops/attention.ts has validated everything and
// flattened the options into positional arguments; here they are re-checked against the
// arrays (the kernel re-checks the options themselves in attention_check).
//
//   attention(q, k, v, mask, keyLengths, outO, outLse, outW,                  0..7
//             B, Hq, Hkv, Lq, Lk, D, Dv,                                        8..14
//             scale, causal, windowLeft, windowRight,                           15..18
//             maskStrideB, maskStrideH, maskStrideQ, maskStrideK,               19..22
//             dropout, seed, topK, returnWeights)                               23..26
//     → { out, lse, weights? }
//   attentionBackward(dOut, q, k, v, out, lse, mask, keyLengths, outDq, outDk, outDv,  0..10
//             B, Hq, Hkv, Lq, Lk, D, Dv, scale, causal, windowLeft, windowRight,  11..21
//             maskStrideB, maskStrideH, maskStrideQ, maskStrideK, dropout, seed, topK)  22..28
//     → { dq, dk, dv }
#include <string>
#include <vector>

#include "binding/common.h"
#include "cpu/attention/attention.h"

namespace foveal {
namespace binding {
namespace {

constexpr int64_t kMaxSafe = (int64_t{1} << 53) - 1;

// keyLengths: null/undefined, or an Int32Array of B entries. Copied (B numbers), so the
// async twin needs no reference to it.
std::vector<int32_t> key_lengths(Args& a, size_t i, int64_t B) {
  Napi::Value v = a.at(i);
  if (v.IsNull() || v.IsUndefined()) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(a.env(), std::string(a.op()) + ": keyLengths must be an Int32Array");
  auto arr = v.As<Napi::Int32Array>();
  if (static_cast<int64_t>(arr.ElementLength()) != B)
    throw Napi::RangeError::New(a.env(), std::string(a.op()) + ": keyLengths must have B=" + std::to_string(B) +
                                             " elements, got " + std::to_string(arr.ElementLength()));
  return std::vector<int32_t>(arr.Data(), arr.Data() + arr.ElementLength());
}

// The sizes and options shared by both directions, from argument `at` on (B … Dv, scale,
// causal, window, mask strides, dropout, seed, topK), checked against q, k, v and mask.
struct Problem {
  cpu::AttentionProblem pb{};
  std::vector<int32_t> lengths;

  Problem(Args& a, size_t at, const F32& q, const F32& k, const F32& v, const F32& mask, size_t lengths_at) {
    const char* op = a.op();
    pb.B = a.dim(at + 0, "B");
    pb.Hq = a.dim(at + 1, "Hq");
    pb.Hkv = a.dim(at + 2, "Hkv");
    pb.Lq = a.dim(at + 3, "Lq");
    pb.Lk = a.dim(at + 4, "Lk");
    pb.D = a.dim(at + 5, "D");
    pb.Dv = a.dim(at + 6, "Dv");
    pb.scale = static_cast<float>(a.number(at + 7, "scale"));
    pb.causal = a.flag(at + 8, "causal");
    pb.window_left = a.integer(at + 9, "windowLeft", -1, kMaxSafe);
    pb.window_right = a.integer(at + 10, "windowRight", -1, kMaxSafe);
    for (int s = 0; s < 4; ++s) pb.mask_stride[s] = a.dim(at + 11 + s, "maskStride");
    pb.dropout = static_cast<float>(a.number(at + 15, "dropout"));
    pb.seed = static_cast<uint64_t>(a.dim(at + 16, "seed"));
    pb.top_k = a.dim(at + 17, "topK");
    if (pb.Hkv < 1 || pb.Hq < 1 || pb.Hq % pb.Hkv != 0)
      throw Napi::RangeError::New(a.env(), std::string(op) + ": Hq must be a positive multiple of Hkv");
    if (pb.D < 1) throw Napi::RangeError::New(a.env(), std::string(op) + ": D must be at least 1");
    const int64_t bq = checked_mul(op, checked_mul(op, pb.B, pb.Hq), pb.Lq);
    const int64_t bk = checked_mul(op, checked_mul(op, pb.B, pb.Hkv), pb.Lk);
    a.expect_length(q, checked_mul(op, bq, pb.D));
    a.expect_length(k, checked_mul(op, bk, pb.D));
    a.expect_length(v, checked_mul(op, bk, pb.Dv));
    checked_mul(op, bq, pb.Lk);  // every (b, h, i, j) index must fit
    lengths = key_lengths(a, lengths_at, pb.B);
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

  explicit AttentionOp(Args& a)
      : q_(a.f32(0, "q")),
        k_(a.f32(1, "k")),
        v_(a.f32(2, "v")),
        mask_(a.optional_f32(3, "mask")),
        prob_(a, 8, q_, k_, v_, mask_, 4) {
    const cpu::AttentionProblem& pb = prob_.pb;
    const bool weights = a.flag(26, "returnWeights");
    const int64_t bq = pb.B * pb.Hq * pb.Lq;
    out_.bind(a, 5, "out.out", checked_mul(kName, bq, pb.Dv), {&q_, &k_, &v_, &mask_});
    lse_.bind(a, 6, "out.lse", bq, {&q_, &k_, &v_, &mask_});
    if (weights) w_.bind(a, 7, "out.weights", checked_mul(kName, bq, pb.Lk), {&q_, &k_, &v_, &mask_});
    weights_ = weights;
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
  F32 q_, k_, v_, mask_;
  Problem prob_;
  bool weights_ = false;
  Output out_, lse_, w_;
};

class AttentionBackwardOp {
 public:
  static constexpr const char* kName = "attentionBackward";

  explicit AttentionBackwardOp(Args& a)
      : dout_(a.f32(0, "dOut")),
        q_(a.f32(1, "q")),
        k_(a.f32(2, "k")),
        v_(a.f32(3, "v")),
        o_(a.f32(4, "out")),
        lse_(a.f32(5, "lse")),
        mask_(a.optional_f32(6, "mask")),
        prob_(a, 11, q_, k_, v_, mask_, 7) {
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
