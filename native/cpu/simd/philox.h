// Philox4x32-10 (core/rng.h) on kN counters at once, one per lane of cpu/simd/vec.h's Vi:
// lane l of the result is philox4x32_10(c0[l], c1[l], c2[l], c3[l], seed), word for word,
// on every level. Include where cpu/simd/vec.h may be included.
#pragma once

#include "core/rng.h"
#include "cpu/simd/vec.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

// The counters (x0, x1, x2, x3) in, the four words out.
inline void vphilox(Vi& x0, Vi& x1, Vi& x2, Vi& x3, uint64_t seed) {
  const Vi m0 = viset1(0xD2511F53u), m1 = viset1(0xCD9E8D57u);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    Vi lo0, lo1;
    const Vi hi0 = vimulhilo(x0, m0, &lo0), hi1 = vimulhilo(x2, m1, &lo1);
    x0 = vixor(vixor(hi1, x1), viset1(k0));
    x2 = vixor(vixor(hi0, x3), viset1(k1));
    x1 = lo1;
    x3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

// unit_float (core/rng.h) of each lane: the top 24 bits as a float in [0, 1), exactly.
inline Vf vunit_float(Vi w) { return vmul(vicvt(visrl(w, 8)), vset1(1.0f / 16777216.0f)); }

}  // namespace
}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
