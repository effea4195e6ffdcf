// linear and its backward as GEMMs: y = x·wᵀ + b is an NT product with the bias fused into
// the store; dx = dy·w (NN) and dw = dyᵀ·x (TN) read dy, x and w where they lie.
#include "cpu/linear/linear.h"

#include <algorithm>

#include "core/parallel.h"
#include "cpu/gemm/gemm.h"

namespace foveal {
namespace cpu {

void linear_forward(const LinearParams& p) {
  GemmParams g;
  g.ta = Trans::N, g.tb = Trans::T;
  g.M = p.M, g.N = p.N, g.K = p.K;
  g.A = p.x, g.lda = p.K;
  g.B = p.w, g.ldb = p.K;
  g.C = p.y, g.ldc = p.N;
  g.ep.bias_row = p.bias;
  g.ep.beta = p.accumulate ? 1.f : 0.f;
  gemm(g);
}

namespace {

// db[n] (+)= Σ_m dy[m,n], m in order for every n; threads split the columns.
void column_sums(const float* dy, float* db, int64_t M, int64_t N, bool accumulate) {
  constexpr int64_t kBlock = 256;  // columns per chunk: a contiguous run of each row
  const int64_t chunks = (N + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, M * kBlock));
  parallel_for(chunks, grain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t n0 = c * kBlock, n1 = std::min(N, n0 + kBlock);
      float* out = db + n0;
      if (!accumulate)
        for (int64_t n = n0; n < n1; ++n) out[n - n0] = 0.f;
      for (int64_t m = 0; m < M; ++m) {
        const float* row = dy + m * N + n0;
        for (int64_t n = 0; n < n1 - n0; ++n) out[n] += row[n];
      }
    }
  });
}

}  // namespace

void linear_backward(const LinearBackwardParams& p) {
  if (p.dx) {
    GemmParams g;  // dx[M,K] = dy[M,N] · w[N,K]
    g.M = p.M, g.N = p.K, g.K = p.N;
    g.A = p.dy, g.lda = p.N;
    g.B = p.w, g.ldb = p.K;
    g.C = p.dx, g.ldc = p.K;
    g.ep.beta = p.accumulate_dx ? 1.f : 0.f;
    gemm(g);
  }
  if (p.dw) {
    GemmParams g;  // dw[N,K] = dy[M,N]ᵀ · x[M,K]
    g.ta = Trans::T;
    g.M = p.N, g.N = p.K, g.K = p.M;
    g.A = p.dy, g.lda = p.N;
    g.B = p.x, g.ldb = p.K;
    g.C = p.dw, g.ldc = p.K;
    g.ep.beta = p.accumulate_dw ? 1.f : 0.f;
    gemm(g);
  }
  if (p.db) column_sums(p.dy, p.db, p.M, p.N, p.accumulate_db);
}

}  // namespace cpu
}  // namespace foveal
