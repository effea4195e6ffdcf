// GEMM: a plain reference implementation of the API in gemm.h (correct, deterministic,
// not fast). The packed-panel micro-kernels replace it behind the same API.
#include "cpu/gemm/gemm.h"

#include <algorithm>

#include "core/parallel.h"

namespace foveal {
namespace cpu {
namespace {

constexpr int kMr = 8;
constexpr int kNr = 16;

inline float at_a(const GemmParams& p, const float* A, int64_t i, int64_t k) {
  return p.ta == Trans::N ? A[i * p.lda + k] : A[k * p.lda + i];
}
inline float at_b(const GemmParams& p, const float* B, int64_t k, int64_t j) {
  return p.tb == Trans::N ? B[k * p.ldb + j] : B[j * p.ldb + k];
}

inline float finish(const Epilogue& ep, float acc, float old, int64_t i, int64_t j) {
  float v = ep.alpha * acc;
  if (ep.beta != 0.f) v += ep.beta * old;
  if (ep.bias_row) v += ep.bias_row[j];
  if (ep.bias_col) v += ep.bias_col[i];
  if (ep.act == Act::relu) v = v > 0.f ? v : 0.f;
  return v;
}

void rows(const GemmParams& p, int64_t b, int64_t i0, int64_t i1) {
  const float* A = p.A + b * p.stride_a;
  const float* B = p.B + b * p.stride_b;
  float* C = p.C + b * p.stride_c;
  for (int64_t i = i0; i < i1; ++i)
    for (int64_t j = 0; j < p.N; ++j) {
      float acc = 0.f;
      for (int64_t k = 0; k < p.K; ++k) acc += at_a(p, A, i, k) * at_b(p, B, k, j);
      C[i * p.ldc + j] = finish(p.ep, acc, p.ep.beta != 0.f ? C[i * p.ldc + j] : 0.f, i, j);
    }
}

}  // namespace

void gemm_serial(const GemmParams& p) {
  for (int64_t b = 0; b < p.batch; ++b) rows(p, b, 0, p.M);
}

void gemm(const GemmParams& p) {
  const int64_t total = p.batch * p.M;
  parallel_for(total, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, p.N * p.K)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1;) {
      const int64_t b = r / p.M, i = r % p.M;
      const int64_t end = std::min(r1 - r, p.M - i);
      rows(p, b, i, i + end);
      r += end;
    }
  });
}

GemmGeometry gemm_geometry() { return {Isa::generic, kMr, kNr}; }

size_t packed_a_size(const GemmGeometry& g, int64_t M, int64_t K) {
  return static_cast<size_t>((M + g.mr - 1) / g.mr) * g.mr * K;
}
size_t packed_b_size(const GemmGeometry& g, int64_t K, int64_t N) {
  return static_cast<size_t>((N + g.nr - 1) / g.nr) * g.nr * K;
}

void pack_a(const GemmGeometry& g, Trans ta, const float* A, int64_t lda, int64_t M, int64_t K, float* dst) {
  for (int64_t p0 = 0; p0 < M; p0 += g.mr)
    for (int64_t k = 0; k < K; ++k)
      for (int r = 0; r < g.mr; ++r) {
        const int64_t i = p0 + r;
        *dst++ = i < M ? (ta == Trans::N ? A[i * lda + k] : A[k * lda + i]) : 0.f;
      }
}

void pack_b(const GemmGeometry& g, Trans tb, const float* B, int64_t ldb, int64_t K, int64_t N, float* dst) {
  for (int64_t p0 = 0; p0 < N; p0 += g.nr)
    for (int64_t k = 0; k < K; ++k)
      for (int c = 0; c < g.nr; ++c) {
        const int64_t j = p0 + c;
        *dst++ = j < N ? (tb == Trans::N ? B[k * ldb + j] : B[j * ldb + k]) : 0.f;
      }
}

void gemm_packed(const GemmGeometry& g, const float* Ap, const float* Bp, int64_t M, int64_t N, int64_t K,
                 float* C, int64_t ldc, const Epilogue& ep) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const float* a = Ap + (i / g.mr) * K * g.mr + i % g.mr;
      const float* b = Bp + (j / g.nr) * K * g.nr + j % g.nr;
      float acc = 0.f;
      for (int64_t k = 0; k < K; ++k) acc += a[k * g.mr] * b[k * g.nr];
      C[i * ldc + j] = finish(ep, acc, ep.beta != 0.f ? C[i * ldc + j] : 0.f, i, j);
    }
}

}  // namespace cpu
}  // namespace foveal
