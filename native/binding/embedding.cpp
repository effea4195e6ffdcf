// Binding for the embedding family:
//   embedding(indices, weight, out, n, num, dim)
//   embeddingBackward(dy, indices, out, n, num, dim, paddingIdx, accumulate)
// indices is an Int32Array; its values are checked by the kernel (a RangeError naming the
// first bad position and value), its length here. paddingIdx is −1 for none.
#include <string>

#include "binding/common.h"
#include "cpu/embedding/embedding.h"

namespace foveal {
namespace binding {
namespace {

void expect_indices(Args& a, const I32& idx, int64_t n) {
  if (static_cast<int64_t>(idx.length) != n)
    throw Napi::RangeError::New(a.env(),
                                std::string(a.op()) + ": indices must have " + std::to_string(n) + " elements");
}

class EmbeddingOp {
 public:
  static constexpr const char* kName = "embedding";

  explicit EmbeddingOp(Args& a) {
    indices_ = a.i32(0, "indices");
    const F32 weight = a.f32(1, "weight");
    p_.n = a.dim(3, "n");
    p_.num = a.dim(4, "num");
    p_.dim = a.dim(5, "dim");
    expect_indices(a, indices_, p_.n);
    a.expect_length(weight, checked_mul(kName, p_.num, p_.dim));
    const F32 indices = span_of(indices_);
    out_.bind(a, 2, "out", checked_mul(kName, p_.n, p_.dim), {&weight, &indices});
    p_.indices = indices_.data;
    p_.weight = weight.data;
  }
  void run() {
    p_.out = out_.data();
    cpu::embedding_forward(kName, p_);
  }
  Napi::Value result(Napi::Env env) { return out_.to_js(env); }

 private:
  cpu::EmbeddingParams p_{};
  I32 indices_;
  Output out_;
};

class EmbeddingBackwardOp {
 public:
  static constexpr const char* kName = "embeddingBackward";

  explicit EmbeddingBackwardOp(Args& a) {
    const F32 dy = a.f32(0, "dy");
    indices_ = a.i32(1, "indices");
    p_.n = a.dim(3, "n");
    p_.num = a.dim(4, "num");
    p_.dim = a.dim(5, "dim");
    p_.padding_idx = a.integer(6, "paddingIdx", -1, p_.num - 1);
    p_.accumulate = a.flag(7, "accumulate");
    expect_indices(a, indices_, p_.n);
    a.expect_length(dy, checked_mul(kName, p_.n, p_.dim));
    const F32 indices = span_of(indices_);
    dw_.bind(a, 2, "out", checked_mul(kName, p_.num, p_.dim), {&dy, &indices});
    if (p_.accumulate && !dw_.bound())
      throw Napi::RangeError::New(a.env(), std::string(kName) + ": accumulate needs out");
    p_.dy = dy.data;
    p_.indices = indices_.data;
  }
  void run() {
    p_.dweight = dw_.data();
    cpu::embedding_backward(kName, p_);
  }
  Napi::Value result(Napi::Env env) { return dw_.to_js(env); }

 private:
  cpu::EmbeddingBackwardParams p_{};
  I32 indices_;
  Output dw_;
};

}  // namespace

void InitEmbedding(Napi::Env env, Napi::Object exports) {
  Define<EmbeddingOp>(env, exports, "embedding");
  Define<EmbeddingBackwardOp>(env, exports, "embeddingBackward");
}

}  // namespace binding
}  // namespace foveal
