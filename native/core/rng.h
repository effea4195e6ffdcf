// Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers:
// as easy as 1, 2, 3", SC'11), the generator cuRAND and PyTorch use for dropout.
//
// A counter-based generator is a pure function of (counter, key): the random bits for
// element i depend only on the seed and i, never on which thread computed what before.
// So the same seed gives the same dropout mask on 1 thread, 16 threads or the GPU, and a
// backward pass regenerates the forward's mask instead of storing it.
//
// Convention for foveal's users of it: key = the 64-bit seed; counter = (c0, c1, c2, c3)
// from the element's coordinates, with c3 naming the op (kStream*) so two ops seeded alike
// draw independent streams. One call yields four 32-bit words: use them for four
// consecutive elements.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define FOVEAL_HD __host__ __device__ __forceinline__
#else
#define FOVEAL_HD inline
#endif

namespace foveal {

struct Philox4 {
  uint32_t w[4];
};

// Stream tags (counter word 3) per op family.
constexpr uint32_t kStreamDropout = 0x64726f70u;    // "drop"
constexpr uint32_t kStreamAttention = 0x6174746eu;  // "attn"
constexpr uint32_t kStreamUniform = 0x756e6966u;    // "unif"
constexpr uint32_t kStreamNormal = 0x6e6f726du;     // "norm"

FOVEAL_HD uint32_t philox_mulhi(uint32_t a, uint32_t b, uint32_t* lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  *lo = static_cast<uint32_t>(p);
  return static_cast<uint32_t>(p >> 32);
}

FOVEAL_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint64_t seed) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t lo0, lo1;
    const uint32_t hi0 = philox_mulhi(kM0, c0, &lo0);
    const uint32_t hi1 = philox_mulhi(kM1, c2, &lo1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += kW0, k1 += kW1;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// A uniform float in [0, 1) from the top 24 bits (every value exactly representable).
FOVEAL_HD float unit_float(uint32_t bits) { return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f); }

}  // namespace foveal
