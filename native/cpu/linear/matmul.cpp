// matmul (torch.matmul's batched broadcasting), its backward, and the BLAS-style gemm op,
// as broadcast batches of GEMMs (gemm_batched). The backward's sums over broadcast batch
// dims are reduce dims of the batch: they extend each element's K chain, so they are as
// deterministic as the products themselves.
#include <algorithm>
#include <cstring>

#include "core/check.h"
#include "core/memory.h"
#include "core/parallel.h"
#include "cpu/gemm/gemm.h"
#include "cpu/linear/linear.h"

namespace foveal {
namespace cpu {
namespace {

// Row-major strides (in elements) of a batch of matrices of `inner` elements each, 0 on
// broadcast (size-1) dims.
void batch_strides(const int64_t* dims, int rank, int64_t inner, int64_t* strides) {
  int64_t s = inner;
  for (int d = rank - 1; d >= 0; --d) {
    strides[d] = dims[d] == 1 ? 0 : s;
    s *= dims[d];
  }
}

void check_batch(const MatmulParams& p) {
  FOVEAL_CHECK(p.rank >= 0 && p.rank <= kMatmulMaxBatchDims, "matmul: too many batch dims");
  for (int d = 0; d < p.rank; ++d) {
    FOVEAL_CHECK(p.a_batch[d] == 1 || p.a_batch[d] == p.batch[d], "matmul: a's batch dim ", d, " does not broadcast");
    FOVEAL_CHECK(p.b_batch[d] == 1 || p.b_batch[d] == p.batch[d], "matmul: b's batch dim ", d, " does not broadcast");
  }
}

}  // namespace

void matmul_forward(const MatmulParams& p) {
  check_batch(p);
  int64_t sa[kMatmulMaxBatchDims], sb[kMatmulMaxBatchDims], sy[kMatmulMaxBatchDims];
  batch_strides(p.a_batch, p.rank, p.M * p.K, sa);
  batch_strides(p.b_batch, p.rank, p.K * p.N, sb);
  batch_strides(p.batch, p.rank, p.M * p.N, sy);
  GemmBatchParams g;
  g.p.M = p.M, g.p.N = p.N, g.p.K = p.K;
  g.p.A = p.a, g.p.lda = p.K;
  g.p.B = p.b, g.p.ldb = p.N;
  g.p.C = p.y, g.p.ldc = p.N;
  g.n_outer = p.rank;
  for (int d = 0; d < p.rank; ++d) g.outer[d] = {p.batch[d], sa[d], sb[d], sy[d]};
  gemm_batched(g);
}

namespace {

// One gradient of matmul as a broadcast batch: C = Σ op(A)·op(B) over the batch dims the
// gradient's operand was broadcast along (`grad_batch` 1, the result's > 1), each C on
// its own for the other dims. Strides: A's, B's and C's per batch dim.
void gradient(GemmParams p, const int64_t* grad_batch, const MatmulParams& f, const int64_t* sa, const int64_t* sb,
              const int64_t* sc) {
  GemmBatchParams g;
  g.p = p;
  for (int d = 0; d < f.rank; ++d) {
    const GemmBatchDim dim{f.batch[d], sa[d], sb[d], sc[d]};
    if (grad_batch[d] == 1 && f.batch[d] != 1) g.reduce[g.n_reduce++] = dim;
    else g.outer[g.n_outer++] = dim;
  }
  gemm_batched(g);
}

}  // namespace

void matmul_backward(const MatmulBackwardParams& q) {
  const MatmulParams& f = q.f;
  check_batch(f);
  int64_t sa[kMatmulMaxBatchDims], sb[kMatmulMaxBatchDims], sy[kMatmulMaxBatchDims];
  batch_strides(f.a_batch, f.rank, f.M * f.K, sa);
  batch_strides(f.b_batch, f.rank, f.K * f.N, sb);
  batch_strides(f.batch, f.rank, f.M * f.N, sy);
  if (q.da) {
    GemmParams p;  // da = dy·bᵀ: [M,N]·[N,K]
    p.tb = Trans::T;
    p.M = f.M, p.N = f.K, p.K = f.N;
    p.A = q.dy, p.lda = f.N;
    p.B = f.b, p.ldb = f.N;
    p.C = q.da, p.ldc = f.K;
    gradient(p, f.a_batch, f, sy, sb, sa);
  }
  if (q.db) {
    GemmParams p;  // db = aᵀ·dy: [K,M]·[M,N]
    p.ta = Trans::T;
    p.M = f.K, p.N = f.N, p.K = f.M;
    p.A = f.a, p.lda = f.K;
    p.B = q.dy, p.ldb = f.N;
    p.C = q.db, p.ldc = f.N;
    gradient(p, f.b_batch, f, sa, sy, sb);
  }
}

void gemm_op(const GemmOpParams& p) {
  // An empty c (M·N or batch 0) arrives as a null pointer: nothing reads it then.
  FOVEAL_CHECK(p.c || p.beta == 0.f || p.M * p.N * p.batch == 0, "gemm: beta needs c");
  const int64_t mn = p.M * p.N;
  if (p.c && p.beta != 0.f && mn > 0) {
    // The result starts as c (GEMM's beta reads C in place); rows split over threads.
    parallel_for(p.batch * p.M, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, p.N)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t i = r / p.M, m = r % p.M;
        std::memcpy(p.y + r * p.N, p.c + (p.c_batched ? i * mn : 0) + m * p.N,
                    static_cast<size_t>(p.N) * sizeof(float));
      }
    });
  }
  GemmParams g;
  g.ta = p.trans_a ? Trans::T : Trans::N;
  g.tb = p.trans_b ? Trans::T : Trans::N;
  g.M = p.M, g.N = p.N, g.K = p.K;
  g.A = p.a, g.lda = p.trans_a ? p.M : p.K;
  g.B = p.b, g.ldb = p.trans_b ? p.K : p.N;
  g.C = p.y, g.ldc = p.N;
  g.ep.alpha = p.alpha;
  g.ep.beta = p.c ? p.beta : 0.f;
  g.ep.bias_row = p.bias_row;
  g.ep.bias_col = p.bias_col;
  g.ep.act = p.relu ? Act::relu : Act::none;
  g.batch = p.batch;
  g.stride_a = p.a_batched ? p.M * p.K : 0;
  g.stride_b = p.b_batched ? p.K * p.N : 0;
  g.stride_c = mn;
  gemm(g);
}

void gemm_packed_op(const GemmPackedParams& q) {
  const GemmOpParams& p = q.p;
  FOVEAL_CHECK(p.batch == 1 && !p.c, "gemmPacked: one product, no c");
  const GemmGeometry g = gemm_geometry();
  const Trans ta = p.trans_a ? Trans::T : Trans::N, tb = p.trans_b ? Trans::T : Trans::N;
  const int64_t lda = p.trans_a ? p.M : p.K, ldb = p.trans_b ? p.K : p.N;
  Epilogue ep;
  ep.alpha = p.alpha;
  ep.bias_row = p.bias_row;
  ep.bias_col = p.bias_col;
  ep.act = p.relu ? Act::relu : Act::none;
  const size_t bsize = packed_b_size(g, p.K, p.N) * sizeof(float);
  const size_t asize = q.pack_a ? packed_a_size(g, p.M, p.K) * sizeof(float) : 0;
  float* Bp = static_cast<float*>(mem::acquire(bsize));
  float* Ap = static_cast<float*>(mem::acquire(asize));
  pack_b(g, tb, p.b, ldb, p.K, p.N, Bp);
  if (q.pack_a) {
    pack_a(g, ta, p.a, lda, p.M, p.K, Ap);
    gemm_packed(g, Ap, Bp, p.M, p.N, p.K, p.y, p.N, ep);
  } else {
    gemm_packed_b(g, ta, p.a, lda, Bp, p.M, p.N, p.K, p.y, p.N, ep);
  }
  mem::release(Ap, asize);
  mem::release(Bp, bsize);
}

}  // namespace cpu
}  // namespace foveal
