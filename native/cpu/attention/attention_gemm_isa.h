// Attention: the micro-GEMM on tiles (register-blocked products of a query block against a
// key block: scores, P·V, and the backward's dS·K, dSᵀ·Q, Pᵀ·dO).
//
// Attention's kernels are text compiled once per ISA level: cpu/simd/variant.h includes
// attention_isa.h inside the level's target region, which includes this file.
#pragma once

#ifndef FOVEAL_ISA_NS
#error "include cpu/attention/attention_gemm_isa.h through attention_isa.h (cpu/simd/variant.h)"
#endif

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace attn {

// The micro-kernel's shape per level: kMr rows × kNv vectors of C in registers.
#if FOVEAL_VEC_LEVEL == 3
// 6 rows × 4 zmm = 24 accumulators + 4 B vectors + 1 broadcast of the 32 registers.
constexpr int kMr = 6;
constexpr int kNv = 4;
#elif FOVEAL_VEC_LEVEL == 2
// 6 rows × 2 ymm = 12 accumulators + 2 + 1 of the 16 registers.
constexpr int kMr = 6;
constexpr int kNv = 2;
#else
constexpr int kMr = 4;
constexpr int kNv = 2;
#endif


enum Mode { kSet = 0, kAdd = 1, kScaleAdd = 2 };

// C[m, 0:NV·kN] (m < MR, rows ldc apart) {=, +=, = cs[m]·C +} Σ_k A[m·sam + k·sak]·B[k·ldb + :]
template <int MR, int NV, int MODE>
inline void micro(const float* A, int64_t sam, int64_t sak, const float* B, int64_t ldb, int64_t K, float* C,
                  int64_t ldc, const float* cs) {
  Vf acc[MR][NV];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
    Vf scale = vzero();
    if (MODE == kScaleAdd) scale = vset1(cs[m]);
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      if (MODE == kSet) acc[m][v] = vzero();
      else if (MODE == kAdd) acc[m][v] = vload(C + m * ldc + v * kN);
      else acc[m][v] = vmul(vload(C + m * ldc + v * kN), scale);
    }
  }
  for (int64_t k = 0; k < K; ++k) {
    Vf b[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) b[v] = vload(B + k * ldb + v * kN);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const Vf a = vset1(A[m * sam + k * sak]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[m][v] = vfmadd(a, b[v], acc[m][v]);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) vstore(C + m * ldc + v * kN, acc[m][v]);
}

template <int MODE, int MR>
inline void micro_nv(int nv, const float* A, int64_t sam, int64_t sak, const float* B, int64_t ldb, int64_t K,
                     float* C, int64_t ldc, const float* cs) {
  static_assert(kNv >= 2 && kNv <= 4, "micro_nv instantiates 1..kNv vectors");
  switch (nv) {
    case 1: micro<MR, 1, MODE>(A, sam, sak, B, ldb, K, C, ldc, cs); break;
    case 2: micro<MR, 2, MODE>(A, sam, sak, B, ldb, K, C, ldc, cs); break;
    case 3: if constexpr (kNv >= 3) micro<MR, 3, MODE>(A, sam, sak, B, ldb, K, C, ldc, cs); break;
    case 4: if constexpr (kNv >= 4) micro<MR, 4, MODE>(A, sam, sak, B, ldb, K, C, ldc, cs); break;
    default: break;
  }
}

// A half-open range [begin, end).
struct Span {
  int64_t begin, end;
};

// C[M, 0:NVt·kN] (mode as micro) = A[M,K]·B[K, NVt·kN], tiled over micro-kernels. B's
// column panel stays in L1 while the rows of A stream past it. Optionally per group of
// kMr rows (g = m / kMr): only the vectors nspan[g] of C are computed (the others are
// left alone), and only the k in kspan[g] are summed.
template <int MODE>
void tile_gemm(int64_t M, int64_t NVt, int64_t K, const float* A, int64_t sam, int64_t sak, const float* B,
               int64_t ldb, float* C, int64_t ldc, const float* cs = nullptr, const Span* nspan = nullptr,
               const Span* kspan = nullptr) {
  for (int64_t n0 = 0; n0 < NVt; n0 += kNv) {
    const int64_t n1 = std::min<int64_t>(n0 + kNv, NVt);
    for (int64_t m0 = 0; m0 < M; m0 += kMr) {
      const int mr = static_cast<int>(std::min<int64_t>(kMr, M - m0));
      int64_t v0 = n0, v1 = n1, k0 = 0, k1 = K;
      if (nspan) {
        v0 = std::max(v0, nspan[m0 / kMr].begin);
        v1 = std::min(v1, nspan[m0 / kMr].end);
        if (v0 >= v1) continue;
      }
      if (kspan) {
        k0 = kspan[m0 / kMr].begin;
        k1 = std::max(k0, kspan[m0 / kMr].end);
      }
      const int nv = static_cast<int>(v1 - v0);
      const int64_t kk = k1 - k0;
      const float* a = A + m0 * sam + k0 * sak;
      const float* b = B + k0 * ldb + v0 * kN;
      float* c = C + m0 * ldc + v0 * kN;
      const float* s = cs ? cs + m0 : nullptr;
      static_assert(kMr >= 4 && kMr <= 6, "tile_gemm instantiates 1..kMr rows");
      switch (mr) {
        case 1: micro_nv<MODE, 1>(nv, a, sam, sak, b, ldb, kk, c, ldc, s); break;
        case 2: micro_nv<MODE, 2>(nv, a, sam, sak, b, ldb, kk, c, ldc, s); break;
        case 3: micro_nv<MODE, 3>(nv, a, sam, sak, b, ldb, kk, c, ldc, s); break;
        case 4: micro_nv<MODE, 4>(nv, a, sam, sak, b, ldb, kk, c, ldc, s); break;
        case 5: if constexpr (kMr >= 5) micro_nv<MODE, 5>(nv, a, sam, sak, b, ldb, kk, c, ldc, s); break;
        case 6: if constexpr (kMr >= 6) micro_nv<MODE, 6>(nv, a, sam, sak, b, ldb, kk, c, ldc, s); break;
        default: break;
      }
    }
  }
}

}  // namespace attn
}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
