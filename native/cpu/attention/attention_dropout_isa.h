// Attention: dropout, the keep bits of 64 keys of a row from the Philox stream.
//
// Attention's kernels are text compiled once per ISA level: cpu/simd/variant.h includes
// attention_isa.h inside the level's target region, which includes this file.
#pragma once

#ifndef FOVEAL_ISA_NS
#error "include cpu/attention/attention_dropout_isa.h through attention_isa.h (cpu/simd/variant.h)"
#endif

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace attn {

// Dropout bits of 64 keys of one row: bit c set when key j0 + c of row i of head bh is
// kept (j0 a multiple of 64). The Philox4x32-10 stream of core/rng.h, one call per 4 keys:
// the 16 calls run kN at a time in vector lanes (cpu/simd/philox.h).
static_assert(16 % kN == 0, "the 16 Philox calls of a word run in whole vectors");

// Spreads bit g of m (g < 16) to bit 4g: pdep where BMI2 is part of the level's target
// (AVX2 and AVX-512), the same by shifts and masks elsewhere.
inline uint64_t spread4(uint32_t m) {
#if FOVEAL_VEC_LEVEL >= 2
  return _pdep_u64(m, 0x1111111111111111ull);
#else
  uint64_t x = m & 0xFFFFu;
  x = (x | (x << 24)) & 0x000000FF000000FFull;
  x = (x | (x << 12)) & 0x000F000F000F000Full;
  x = (x | (x << 6)) & 0x0303030303030303ull;
  x = (x | (x << 3)) & 0x1111111111111111ull;
  return x;
#endif
}

inline uint64_t dropout_bits(const AttentionProblem& pb, int64_t bh, int64_t i, int64_t j0) {
  // masks[e] bit g: word e of call g keeps its key (key 4g + e).
  uint32_t masks[4] = {0, 0, 0, 0};
  const Vf p = vset1(pb.dropout);
  for (int g0 = 0; g0 < 16; g0 += kN) {
    Vi x0 = viset1(static_cast<uint32_t>(bh)), x1 = viset1(static_cast<uint32_t>(i));
    Vi x2 = viota(static_cast<uint32_t>(j0 / 4 + g0)), x3 = viset1(kStreamAttention);
    vphilox(x0, x1, x2, x3, pb.seed);
    masks[0] |= mbits(vge(vunit_float(x0), p)) << g0;  // unit_float(w) ≥ p, exactly
    masks[1] |= mbits(vge(vunit_float(x1), p)) << g0;
    masks[2] |= mbits(vge(vunit_float(x2), p)) << g0;
    masks[3] |= mbits(vge(vunit_float(x3), p)) << g0;
  }
  return spread4(masks[0]) | spread4(masks[1]) << 1 | spread4(masks[2]) << 2 | spread4(masks[3]) << 3;
}

}  // namespace attn
}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
