// In-register transposes of a square of float vectors (the unpack / shuffle network, no
// gather): the packing step of the GEMM core (Bᵀ panels) and of attention (kᵀ panels).
//
//   vtranspose(r)  r[0..kN-1] rows in, columns out: afterwards r[i] holds column i of the
//                  input, rows in order (kN × kN, on every level of cpu/simd/vec.h)
//
// Include where cpu/simd/vec.h may be included (a target region with FOVEAL_ISA_NS and
// FOVEAL_VEC_LEVEL defined).
#pragma once

#include "cpu/simd/vec.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

#if FOVEAL_VEC_LEVEL == 3
// GCC 12 reports the _mm512_undefined_ps() placeholder behind the unpack and shuffle
// intrinsics as uninitialised where this network inlines into a kernel (a false
// positive: the placeholder is the unused merge source of an unmasked operation).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
// Rows r[0..15] in, columns out: afterwards r[i] holds column i of the input, rows in order.
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  // r[4i+q] now holds, in each 128-bit lane L, column 4L+q of rows 4i..4i+3.
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);      // lanes 0,2 of r[i], r[4+i]
    t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xDD);  // lanes 1,3
    t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
    t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xDD);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);            // column i
    r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xDD);        // column 8+i
    r[4 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88);   // column 4+i
    r[12 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xDD);  // column 12+i
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#elif FOVEAL_VEC_LEVEL == 2
// Rows r[0..7] in, columns out: afterwards r[i] holds column i of the input, rows in order.
inline void transpose8(__m256 r[8]) {
  __m256 t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    r[4 * i + 0] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  // r[4i+q], 128-bit lane L: column 4L+q of rows 4i..4i+3.
  for (int q = 0; q < 4; ++q) {
    t[q] = _mm256_permute2f128_ps(r[q], r[4 + q], 0x20);
    t[4 + q] = _mm256_permute2f128_ps(r[q], r[4 + q], 0x31);
  }
  for (int i = 0; i < 8; ++i) r[i] = t[i];
}
#endif

inline void vtranspose(Vf r[kN]) {
#if FOVEAL_VEC_LEVEL == 3
  transpose16(r);
#elif FOVEAL_VEC_LEVEL == 2
  transpose8(r);
#else
  for (int i = 0; i < kN; ++i)
    for (int j = i + 1; j < kN; ++j) {
      const float t = r[i].v[j];
      r[i].v[j] = r[j].v[i];
      r[j].v[i] = t;
    }
#endif
}

}  // namespace
}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
