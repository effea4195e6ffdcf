// linear kernel bodies, compiled once per ISA: include this inside a FOVEAL_TARGET_*
// region with FOVEAL_ISA_NS defined (see core/isa.h). Plain loops written so the compiler
// vectorises them for the target without reassociating any sum.
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including linear_kernels.h"
#endif

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

constexpr int kLanes = 16;

// Σ a[i]·b[i] in 16 independent lanes, then a fixed pairwise tree: the order is part of
// the definition, so every thread count gives the same bits.
inline float dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  float acc[kLanes] = {0};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += a[i + j] * b[i + j];
  for (int j = 0; i + j < n; ++j) acc[j] += a[i + j] * b[i + j];
  for (int width = kLanes / 2; width >= 1; width /= 2)
    for (int j = 0; j < width; ++j) acc[j] += acc[j + width];
  return acc[0];
}

// y[i] += s·x[i]
inline void axpy(float s, const float* __restrict x, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += s * x[i];
}

// Rows per chunk so that a chunk is worth a thread wake-up (~16K multiply-adds).
inline int64_t grain_rows(int64_t work_per_row) {
  const int64_t g = 16384 / (work_per_row > 0 ? work_per_row : 1);
  return g < 1 ? 1 : g;
}

}  // namespace

void linear_forward(const LinearParams& p) {
  parallel_for(p.M, grain_rows(p.N * p.K), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const float* x = p.x + m * p.K;
      float* y = p.y + m * p.N;
      for (int64_t n = 0; n < p.N; ++n) {
        float v = dot(x, p.w + n * p.K, p.K);
        if (p.bias) v += p.bias[n];
        y[n] = p.accumulate ? y[n] + v : v;
      }
    }
  });
}

void linear_backward(const LinearBackwardParams& p) {
  if (p.dx) {
    // dx[m,:] = Σ_n dy[m,n]·w[n,:], rows of dx independent.
    parallel_for(p.M, grain_rows(p.N * p.K), [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m) {
        float* dx = p.dx + m * p.K;
        if (!p.accumulate)
          for (int64_t k = 0; k < p.K; ++k) dx[k] = 0.f;
        const float* dy = p.dy + m * p.N;
        for (int64_t n = 0; n < p.N; ++n) axpy(dy[n], p.w + n * p.K, dx, p.K);
      }
    });
  }
  if (p.dw || p.db) {
    // dw[n,:] = Σ_m dy[m,n]·x[m,:] and db[n] = Σ_m dy[m,n], rows n independent, m in order.
    parallel_for(p.N, grain_rows(p.M * p.K), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        if (p.dw) {
          float* dw = p.dw + n * p.K;
          if (!p.accumulate)
            for (int64_t k = 0; k < p.K; ++k) dw[k] = 0.f;
          for (int64_t m = 0; m < p.M; ++m) axpy(p.dy[m * p.N + n], p.x + m * p.K, dw, p.K);
        }
        if (p.db) {
          float s = 0.f;
          for (int64_t m = 0; m < p.M; ++m) s += p.dy[m * p.N + n];
          p.db[n] = p.accumulate ? p.db[n] + s : s;
        }
      }
    });
  }
}

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
