// random kernel bodies, compiled once per ISA (see core/isa.h and cpu/simd/variant.h).
//
// Philox runs on 16 counters at once as plain loops over lanes: the compiler turns them
// into 32×32→64-bit vector multiplies at the AVX2 and AVX-512 levels (the same integer
// results at every level). The transforms to floats are scalar double arithmetic.
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including random_kernels.h"
#endif

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

constexpr int kLanes = 16;
constexpr int64_t kBlock = 4 * kLanes;  // elements per block of 16 counters

// The 4 words of the 16 counters q0 .. q0+15 (q0 a multiple of 16, so they share hi32).
inline void philox16(uint64_t q0, uint32_t stream, uint64_t seed, uint32_t (&w)[4][kLanes]) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    c0[l] = static_cast<uint32_t>(q0) + static_cast<uint32_t>(l);
    c1[l] = static_cast<uint32_t>(q0 >> 32);
    c2[l] = 0;
    c3[l] = stream;
  }
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    for (int l = 0; l < kLanes; ++l) {
      const uint64_t p0 = static_cast<uint64_t>(kM0) * c0[l];
      const uint64_t p1 = static_cast<uint64_t>(kM1) * c2[l];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[l] ^ k0;
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[l] ^ k1;
      c1[l] = static_cast<uint32_t>(p1);
      c3[l] = static_cast<uint32_t>(p0);
      c0[l] = n0;
      c2[l] = n2;
    }
    k0 += kW0, k1 += kW1;
  }
  for (int l = 0; l < kLanes; ++l) w[0][l] = c0[l], w[1][l] = c1[l], w[2][l] = c2[l], w[3][l] = c3[l];
}

struct Uniform {
  double lo, span;
  float hi, below_hi;  // hi, and the largest float below it
  float operator()(uint32_t word) const {
    const float v = static_cast<float>(lo + span * (static_cast<double>(word >> 8) * (1.0 / 16777216.0)));
    return v < hi ? v : below_hi;
  }
};

// The first m elements of the block that starts at element e0 (= 64·b).
inline void fill_block(const RandomParams& p, int64_t e0, int64_t m, const Uniform& u) {
  uint32_t w[4][kLanes];
  if (p.kind == RandomKind::kUniform) {
    philox16(static_cast<uint64_t>(e0) / 4, kStreamUniform, p.seed, w);
    float* y = p.y + e0;
    if (m == kBlock) {
      for (int j = 0; j < 4; ++j)
        for (int l = 0; l < kLanes; ++l) y[j * kLanes + l] = u(w[j][l]);
    } else {
      for (int64_t k = 0; k < m; ++k) y[k] = u(w[k / kLanes][k % kLanes]);
    }
    return;
  }
  philox16(static_cast<uint64_t>(e0) / 4, kStreamNormal, p.seed, w);
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  constexpr double k2m32 = 1.0 / 4294967296.0;
  float* y = p.y + e0;
  for (int pair = 0; pair < 2; ++pair) {
    for (int l = 0; l < kLanes; ++l) {
      const int64_t k0 = (2 * pair) * kLanes + l, k1 = k0 + kLanes;
      if (k0 >= m) break;
      const double u1 = (static_cast<double>(w[2 * pair][l]) + 1.0) * k2m32;
      const double u2 = static_cast<double>(w[2 * pair + 1][l]) * k2m32;
      const double r = std::sqrt(-2.0 * std::log(u1));
      const double t = kTwoPi * u2;
      y[k0] = static_cast<float>(p.a + p.b * (r * std::cos(t)));
      if (k1 < m) y[k1] = static_cast<float>(p.a + p.b * (r * std::sin(t)));
    }
  }
}

}  // namespace

void random_fill(const RandomParams& p) {
  Uniform u{};
  if (p.kind == RandomKind::kUniform) {
    const float hi = static_cast<float>(p.b);
    u = {p.a, p.b - p.a, hi, std::nextafter(hi, -std::numeric_limits<float>::infinity())};
    if (!(p.b > p.a)) u.below_hi = static_cast<float>(p.a);  // an empty [lo, lo): every value is lo
  }
  const int64_t blocks = (p.n + kBlock - 1) / kBlock;
  // ~1 µs of work per block for uniform, a few for normal.
  const int64_t grain = p.kind == RandomKind::kUniform ? 256 : 64;
  parallel_for(blocks, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t e0 = b * kBlock;
      fill_block(p, e0, p.n - e0 < kBlock ? p.n - e0 : kBlock, u);
    }
  });
}

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
