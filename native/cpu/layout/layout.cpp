// layout: permute (see layout.h). Pure data movement, so one portable variant: rows are
// memcpy and tiles are small enough for L1, which is all any ISA would add.
#include "cpu/layout/layout.h"

#include <cstring>

#include "core/check.h"
#include "core/parallel.h"

namespace foveal {
namespace cpu {
namespace {

// The collapsed problem: the output is [n[0], …, n[r−1]] row-major, and output index
// (i₀, …) reads x at Σ iₐ·s[a].
struct Collapsed {
  int r = 0;
  int64_t n[kMaxPermuteRank];
  int64_t s[kMaxPermuteRank];
  int64_t total = 1;
};

Collapsed collapse(const PermuteParams& p) {
  int64_t xs[kMaxPermuteRank];  // x's row-major strides
  int64_t acc = 1;
  for (int d = p.rank - 1; d >= 0; --d) {
    xs[d] = acc;
    acc *= p.shape[d];
  }
  Collapsed c;
  for (int d = 0; d < p.rank; ++d) {
    const int a = p.perm[d];
    const int64_t n = p.shape[a];
    c.total *= n;
    if (n == 1) continue;  // never contributes to an offset
    // Merge with the previous output dim when x holds the two as one (its stride is ours × n).
    if (c.r > 0 && c.s[c.r - 1] == xs[a] * n) {
      c.n[c.r - 1] *= n;
      c.s[c.r - 1] = xs[a];
    } else {
      c.n[c.r] = n;
      c.s[c.r] = xs[a];
      ++c.r;
    }
  }
  return c;
}

// Rows of at least this many elements make a task worth waking a thread for (~10 µs).
constexpr int64_t kGrainElements = 32768;
// The tile of a transpose of the innermost dims: 32×32 floats, 4 KiB read and written.
constexpr int64_t kTile = 32;

void copy_rows(const PermuteParams& p, const Collapsed& c) {
  // The last output dim is contiguous in x: rows of n[r−1] floats.
  const int64_t row = c.n[c.r - 1];
  const int64_t rows = c.total / row;
  const size_t bytes = static_cast<size_t>(row) * sizeof(float);
  const int64_t grain = row >= kGrainElements ? 1 : kGrainElements / row;
  parallel_for(rows, grain, [&](int64_t b, int64_t e) {
    // The x offset of row b, then stepped like an odometer over dims 0 … r−2.
    int64_t idx[kMaxPermuteRank] = {0};
    int64_t rem = b, off = 0;
    for (int a = c.r - 2; a >= 0; --a) {
      idx[a] = rem % c.n[a];
      rem /= c.n[a];
      off += idx[a] * c.s[a];
    }
    for (int64_t q = b; q < e; ++q) {
      std::memcpy(p.y + q * row, p.x + off, bytes);
      for (int a = c.r - 2; a >= 0; --a) {
        off += c.s[a];
        if (++idx[a] < c.n[a]) break;
        off -= idx[a] * c.s[a];
        idx[a] = 0;
      }
    }
  });
}

void transpose_tiles(const PermuteParams& p, const Collapsed& c) {
  // x's innermost dim (stride 1) is output dim k < r−1; the output's innermost dim has
  // x stride sl. Tiles of kTile × kTile over (k, r−1), for every index of the other dims.
  int k = -1;
  for (int a = 0; a < c.r; ++a)
    if (c.s[a] == 1) k = a;
  FOVEAL_CHECK(k >= 0 && k < c.r - 1, "permute: internal layout error");
  const int64_t nk = c.n[k], nl = c.n[c.r - 1], sl = c.s[c.r - 1];
  int64_t ys[kMaxPermuteRank];  // output strides
  int64_t acc = 1;
  for (int a = c.r - 1; a >= 0; --a) {
    ys[a] = acc;
    acc *= c.n[a];
  }
  const int64_t tk = (nk + kTile - 1) / kTile, tl = (nl + kTile - 1) / kTile;
  const int64_t outer = c.total / (nk * nl);
  const int64_t tasks = outer * tk * tl;
  const int64_t grain = kGrainElements / (kTile * kTile);
  parallel_for(tasks, grain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      int64_t rem = t;
      const int64_t jl = rem % tl;
      rem /= tl;
      const int64_t jk = rem % tk;
      rem /= tk;
      int64_t xo = 0, yo = 0;  // offsets of the outer index `rem`
      for (int a = c.r - 2; a >= 0; --a) {
        if (a == k) continue;
        const int64_t i = rem % c.n[a];
        rem /= c.n[a];
        xo += i * c.s[a];
        yo += i * ys[a];
      }
      const int64_t k0 = jk * kTile, k1 = k0 + kTile < nk ? k0 + kTile : nk;
      const int64_t l0 = jl * kTile, l1 = l0 + kTile < nl ? l0 + kTile : nl;
      for (int64_t i = k0; i < k1; ++i) {
        float* dst = p.y + yo + i * ys[k];
        const float* src = p.x + xo + i;
        for (int64_t j = l0; j < l1; ++j) dst[j] = src[j * sl];
      }
    }
  });
}

}  // namespace

int64_t permute_check(const PermuteParams& p) {
  FOVEAL_CHECK(p.rank >= 0 && p.rank <= kMaxPermuteRank, "permute: rank must be 0 to ", kMaxPermuteRank, ", got ",
               p.rank);
  bool seen[kMaxPermuteRank] = {false};
  int64_t total = 1;
  for (int d = 0; d < p.rank; ++d) {
    const int a = p.perm[d];
    FOVEAL_CHECK(a >= 0 && a < p.rank && !seen[a], "permute: dims must be a permutation of 0 to ", p.rank - 1);
    seen[a] = true;
    FOVEAL_CHECK(p.shape[d] >= 0 && (p.shape[d] == 0 || total <= ((int64_t{1} << 53) - 1) / p.shape[d]),
                 "permute: the shape has too many elements");
    total *= p.shape[d];
  }
  return total;
}

void permute(const PermuteParams& p) {
  const Collapsed c = collapse(p);
  if (c.total == 0) return;
  if (c.r == 0) {
    p.y[0] = p.x[0];
  } else if (c.s[c.r - 1] == 1) {
    copy_rows(p, c);
  } else {
    transpose_tiles(p, c);
  }
}

}  // namespace cpu
}  // namespace foveal
