// Binding for the linear family:
//   linear(x, w, bias, out, M, K, N)
//   linearBackward(dy, x, w, outDx, outDw, outDb, M, K, N, accumulate)
//   matmul(a, b, out, M, K, N, batch, aBatch, bBatch)
//   matmulBackward(dy, a, b, outDa, outDb, M, K, N, batch, aBatch, bBatch)
//   gemm(a, b, c, out, biasRow, biasCol,
//        { batch, M, K, N, transA, transB, alpha, beta, aBatched, bBatched, cBatched, relu })
//   gemmPacked(a, b, out, biasRow, biasCol, { M, K, N, transA, transB, alpha, relu, packA })  (test hook)
// lib/ops/linear.ts has flattened the shapes into sizes (batch dims as arrays of integers;
// gemm's sizes and flags as one object read by key, lib/native.ts GemmProblem); here they
// are re-checked against the arrays.
#include <string>

#include "binding/common.h"
#include "cpu/linear/linear.h"

namespace foveal {
namespace binding {
namespace {

// Reads and re-checks the batch structure shared by matmul and its backward (arguments
// first, first+1, first+2): every a/b dim is 1 or the result's.
void matmul_batch(Args& a, size_t first, cpu::MatmulParams* p, int64_t* count, int64_t* a_count, int64_t* b_count) {
  static_assert(cpu::kMatmulMaxBatchDims <= kMaxShapeRank, "batch dims fit a Shape");
  const Shape batch = a.shape(first, "batch", cpu::kMatmulMaxBatchDims);
  const Shape a_batch = a.shape(first + 1, "aBatch", cpu::kMatmulMaxBatchDims);
  const Shape b_batch = a.shape(first + 2, "bBatch", cpu::kMatmulMaxBatchDims);
  const int rank = batch.rank;
  if (a_batch.rank != rank || b_batch.rank != rank)
    throw Napi::RangeError::New(a.env(), std::string(a.op()) + ": batch, aBatch and bBatch must have the same length");
  for (int d = 0; d < rank; ++d) {
    p->batch[d] = batch.d[d];
    p->a_batch[d] = a_batch.d[d];
    p->b_batch[d] = b_batch.d[d];
  }
  p->rank = rank;
  *count = *a_count = *b_count = 1;
  for (int d = 0; d < rank; ++d) {
    if ((p->a_batch[d] != 1 && p->a_batch[d] != p->batch[d]) || (p->b_batch[d] != 1 && p->b_batch[d] != p->batch[d]))
      throw Napi::RangeError::New(a.env(),
                                  std::string(a.op()) + ": batch dim " + std::to_string(d) + " does not broadcast");
    *count = checked_mul(a.op(), *count, p->batch[d]);
    *a_count = checked_mul(a.op(), *a_count, p->a_batch[d]);
    *b_count = checked_mul(a.op(), *b_count, p->b_batch[d]);
  }
}

class LinearOp {
 public:
  static constexpr const char* kName = "linear";

  explicit LinearOp(Args& a) {
    const F32 x = a.f32(0, "x");
    const F32 w = a.f32(1, "w");
    const F32 bias = a.optional_f32(2, "bias");
    p_.M = a.dim(4, "M");
    p_.K = a.dim(5, "K");
    p_.N = a.dim(6, "N");
    a.expect_length(x, checked_mul(kName, p_.M, p_.K));
    a.expect_length(w, checked_mul(kName, p_.N, p_.K));
    if (bias.present) a.expect_length(bias, p_.N);
    y_.bind(a, 3, "out", checked_mul(kName, p_.M, p_.N), {&x, &w, &bias});
    p_.x = x.data;
    p_.w = w.data;
    p_.bias = bias.present ? bias.data : nullptr;
    p_.accumulate = false;
  }

  void run() {
    p_.y = y_.data();
    cpu::linear_forward(p_);
  }

  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::LinearParams p_{};
  Output y_;
};

class LinearBackwardOp {
 public:
  static constexpr const char* kName = "linearBackward";

  explicit LinearBackwardOp(Args& a) {
    const F32 dy = a.f32(0, "dy");
    const F32 x = a.f32(1, "x");
    const F32 w = a.f32(2, "w");
    p_.M = a.dim(6, "M");
    p_.K = a.dim(7, "K");
    p_.N = a.dim(8, "N");
    const bool accumulate = a.flag(9, "accumulate");
    a.expect_length(dy, checked_mul(kName, p_.M, p_.N));
    a.expect_length(x, checked_mul(kName, p_.M, p_.K));
    a.expect_length(w, checked_mul(kName, p_.N, p_.K));
    dx_.bind(a, 3, "out.dx", checked_mul(kName, p_.M, p_.K), {&dy, &x, &w});
    dw_.bind(a, 4, "out.dw", checked_mul(kName, p_.N, p_.K), {&dy, &x, &w});
    db_.bind(a, 5, "out.db", p_.N, {&dy, &x, &w});
    // accumulate adds into each gradient given in out; the others are fresh results.
    if (accumulate && !dx_.bound() && !dw_.bound() && !db_.bound())
      throw Napi::RangeError::New(a.env(),
                                  "linearBackward: accumulate needs at least one of out.dx, out.dw and out.db");
    p_.accumulate_dx = accumulate && dx_.bound();
    p_.accumulate_dw = accumulate && dw_.bound();
    p_.accumulate_db = accumulate && db_.bound();
    p_.dy = dy.data;
    p_.x = x.data;
    p_.w = w.data;
  }

  void run() {
    p_.dx = dx_.data();
    p_.dw = dw_.data();
    p_.db = db_.data();
    cpu::linear_backward(p_);
  }

  Napi::Value result(Napi::Env env) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("dx", dx_.to_js(env));
    r.Set("dw", dw_.to_js(env));
    r.Set("db", db_.to_js(env));
    return r;
  }

 private:
  cpu::LinearBackwardParams p_{};
  Output dx_, dw_, db_;
};

class MatmulOp {
 public:
  static constexpr const char* kName = "matmul";

  explicit MatmulOp(Args& a) {
    const F32 x = a.f32(0, "a");
    const F32 y = a.f32(1, "b");
    p_.M = a.dim(3, "M");
    p_.K = a.dim(4, "K");
    p_.N = a.dim(5, "N");
    int64_t count, a_count, b_count;
    matmul_batch(a, 6, &p_, &count, &a_count, &b_count);
    a.expect_length(x, checked_mul(kName, a_count, checked_mul(kName, p_.M, p_.K)));
    a.expect_length(y, checked_mul(kName, b_count, checked_mul(kName, p_.K, p_.N)));
    out_.bind(a, 2, "out", checked_mul(kName, count, checked_mul(kName, p_.M, p_.N)), {&x, &y});
    p_.a = x.data;
    p_.b = y.data;
  }

  void run() {
    p_.y = out_.data();
    cpu::matmul_forward(p_);
  }

  Napi::Value result(Napi::Env env) { return out_.to_js(env); }

 private:
  cpu::MatmulParams p_{};
  Output out_;
};

class MatmulBackwardOp {
 public:
  static constexpr const char* kName = "matmulBackward";

  explicit MatmulBackwardOp(Args& a) {
    const F32 dy = a.f32(0, "dy");
    const F32 x = a.f32(1, "a");
    const F32 y = a.f32(2, "b");
    cpu::MatmulParams& f = p_.f;
    f.M = a.dim(5, "M");
    f.K = a.dim(6, "K");
    f.N = a.dim(7, "N");
    int64_t count, a_count, b_count;
    matmul_batch(a, 8, &f, &count, &a_count, &b_count);
    const int64_t a_len = checked_mul(kName, a_count, checked_mul(kName, f.M, f.K));
    const int64_t b_len = checked_mul(kName, b_count, checked_mul(kName, f.K, f.N));
    a.expect_length(dy, checked_mul(kName, count, checked_mul(kName, f.M, f.N)));
    a.expect_length(x, a_len);
    a.expect_length(y, b_len);
    da_.bind(a, 3, "out.da", a_len, {&dy, &x, &y});
    db_.bind(a, 4, "out.db", b_len, {&dy, &x, &y});
    f.a = x.data;
    f.b = y.data;
    p_.dy = dy.data;
  }

  void run() {
    p_.da = da_.data();
    p_.db = db_.data();
    cpu::matmul_backward(p_);
  }

  Napi::Value result(Napi::Env env) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("da", da_.to_js(env));
    r.Set("db", db_.to_js(env));
    return r;
  }

 private:
  cpu::MatmulBackwardParams p_{};
  Output da_, db_;
};

class GemmOp {
 public:
  static constexpr const char* kName = "gemm";

  explicit GemmOp(Args& a) {
    Fields pr = a.fields(6, "problem");  // before the arrays (see Fields)
    p_.batch = pr.dim("batch");
    p_.M = pr.dim("M");
    p_.K = pr.dim("K");
    p_.N = pr.dim("N");
    p_.trans_a = pr.flag("transA");
    p_.trans_b = pr.flag("transB");
    p_.alpha = static_cast<float>(pr.number("alpha"));
    p_.beta = static_cast<float>(pr.number("beta"));
    p_.a_batched = pr.flag("aBatched");
    p_.b_batched = pr.flag("bBatched");
    p_.c_batched = pr.flag("cBatched");
    p_.relu = pr.flag("relu");
    const F32 x = a.f32(0, "a");
    const F32 y = a.f32(1, "b");
    const F32 c = a.optional_f32(2, "c");
    const F32 bias_row = a.optional_f32(4, "biasRow");
    const F32 bias_col = a.optional_f32(5, "biasCol");
    if (bias_row.present) a.expect_length(bias_row, p_.N);
    if (bias_col.present) a.expect_length(bias_col, p_.M);
    p_.bias_row = bias_row.present ? bias_row.data : nullptr;
    p_.bias_col = bias_col.present ? bias_col.data : nullptr;
    const int64_t mn = checked_mul(kName, p_.M, p_.N);
    a.expect_length(x, checked_mul(kName, p_.a_batched ? p_.batch : 1, checked_mul(kName, p_.M, p_.K)));
    a.expect_length(y, checked_mul(kName, p_.b_batched ? p_.batch : 1, checked_mul(kName, p_.K, p_.N)));
    if (c.present) a.expect_length(c, checked_mul(kName, p_.c_batched ? p_.batch : 1, mn));
    else if (p_.beta != 0.f) throw Napi::RangeError::New(a.env(), "gemm: beta must be 0 when c is not given");
    y_.bind(a, 3, "out", checked_mul(kName, p_.batch, mn), {&x, &y, &c, &bias_row, &bias_col});
    p_.a = x.data;
    p_.b = y.data;
    p_.c = c.present ? c.data : nullptr;
  }

  void run() {
    p_.y = y_.data();
    cpu::gemm_op(p_);
  }

  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::GemmOpParams p_{};
  Output y_;
};

class GemmPackedOp {
 public:
  static constexpr const char* kName = "gemmPacked";

  explicit GemmPackedOp(Args& a) {
    cpu::GemmOpParams& p = q_.p;
    Fields pr = a.fields(5, "problem");  // before the arrays (see Fields)
    p.batch = 1;
    p.M = pr.dim("M");
    p.K = pr.dim("K");
    p.N = pr.dim("N");
    p.trans_a = pr.flag("transA");
    p.trans_b = pr.flag("transB");
    p.alpha = static_cast<float>(pr.number("alpha"));
    p.relu = pr.flag("relu");
    q_.pack_a = pr.flag("packA");
    const F32 x = a.f32(0, "a");
    const F32 y = a.f32(1, "b");
    const F32 bias_row = a.optional_f32(3, "biasRow");
    const F32 bias_col = a.optional_f32(4, "biasCol");
    a.expect_length(x, checked_mul(kName, p.M, p.K));
    a.expect_length(y, checked_mul(kName, p.K, p.N));
    if (bias_row.present) a.expect_length(bias_row, p.N);
    if (bias_col.present) a.expect_length(bias_col, p.M);
    y_.bind(a, 2, "out", checked_mul(kName, p.M, p.N), {&x, &y, &bias_row, &bias_col});
    p.a = x.data;
    p.b = y.data;
    p.bias_row = bias_row.present ? bias_row.data : nullptr;
    p.bias_col = bias_col.present ? bias_col.data : nullptr;
  }

  void run() {
    q_.p.y = y_.data();
    cpu::gemm_packed_op(q_);
  }

  Napi::Value result(Napi::Env env) { return y_.to_js(env); }

 private:
  cpu::GemmPackedParams q_{};
  Output y_;
};

}  // namespace

void InitLinear(Napi::Env env, Napi::Object exports) {
  Define<LinearOp>(env, exports, "linear");
  Define<LinearBackwardOp>(env, exports, "linearBackward");
  Define<MatmulOp>(env, exports, "matmul");
  Define<MatmulBackwardOp>(env, exports, "matmulBackward");
  Define<GemmOp>(env, exports, "gemm");
  Define<GemmPackedOp>(env, exports, "gemmPacked");
}

}  // namespace binding
}  // namespace foveal
