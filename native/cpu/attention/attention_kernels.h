// Attention kernel bodies, compiled once per ISA by cpu/simd/variant.h (rules in
// core/isa.h), on cpu/simd/vec.h's vectors: kN float lanes per Vf.
//
// Layout of the work (FlashAttention-2 on a CPU):
//  - a query block of kBr rows against key blocks of kBc keys;
//  - S = (q·scale)·kᵀ on register-blocked micro-kernels (kMr rows × up to kNv vectors),
//    K packed once per kv head and thread as kᵀ panels [D][kBc];
//  - the online softmax keeps a running max m and sum l per row; O is rescaled by
//    exp(m_old − m_new) inside the next P·V product's load of O;
//  - fully masked tiles (causal, window, keyLengths) are never computed, and inside a
//    partly masked tile each group of micro-kernel rows (or keys) covers only the span
//    its rows (keys) can see.
// Every element of every product is summed in one fixed order (k = 0, 1, … from zero or
// from C), whatever the tiling and whichever thread computes it: scores recomputed in the
// backward are bit-identical to the forward's, which topK relies on.
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including attention_kernels.h"
#endif

#include "cpu/simd/philox.h"
#include "cpu/simd/transpose.h"
#include "cpu/simd/vec.h"
#include "cpu/simd/vmath.h"

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

// Query rows per block and keys per block. kBc is a multiple of every kN (16, 8, 4) and
// of 4 (one Philox call per 4 keys); kBr a multiple of kMr.
// Measured on the 2-core Zen 4 (one thread, L = 2048, D = 64): 48×64, 96×64, 48×128 and
// 96×128 tiles all ran within noise of each other (95–99 GFLOP/s forward, 101–105
// backward); the smaller tiles waste the least on causal diagonals and short sequences.
// (kBc = 128 gained 1–3% on full attention and lost 5–8% on causal L = 512.)
constexpr int64_t kBr = 48;
static_assert(kBr % kN == 0, "the alpha pass runs over whole vectors of rows");
static_assert(kBr % kMr == 0, "row groups of the micro-kernel tile a query block");
constexpr int64_t kBc = 64;
constexpr int64_t kBcV = kBc / kN;  // vectors per key block
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Problems with fewer kv heads than this split each head's query blocks into chunks (see
// attention_backward). A constant, never the thread count: the chunking decides the
// order of the dK/dV sums, so it must not depend on how many threads run.
constexpr int64_t kBackwardMinTasks = 8;

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

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Bump allocator over one scratch block: carve() hands out kAlign-aligned float arrays.
class Arena {
 public:
  Arena() = default;
  Arena(void* base, size_t bytes) : base_(static_cast<char*>(base)), bytes_(bytes) {}
  static size_t bytes_for(size_t floats) { return (floats * sizeof(float) + mem::kAlign - 1) / mem::kAlign * mem::kAlign; }
  float* carve(size_t floats) {
    const size_t b = bytes_for(floats);
    FOVEAL_CHECK(off_ + b <= bytes_, "attention: internal scratch overflow");
    float* p = reinterpret_cast<float*>(base_ + off_);
    off_ += b;
    return p;
  }

 private:
  char* base_ = nullptr;
  size_t bytes_ = 0;
  size_t off_ = 0;
};

// Runs body(scratch, item) for items [0, total) on the kernel pool, in guided ranges or
// one item at a time. Each thread carves its scratch from its own `bytes` of
// mem::scratch and calls pack(scratch, kv) only when kv_of(item) changes.
template <class Scratch, class Carve, class KvOf, class Pack, class Body>
void for_each_item(int64_t total, size_t bytes, bool guided, Carve carve, KvOf kv_of, Pack pack, Body body);

// Hands out ranges of [0, total). Guided (threads > 0): large ones first, so a thread
// keeps whole heads and packs each kv head once, then smaller ones, so the threads finish
// together (guided self-scheduling); otherwise one item at a time. Which thread takes
// which range never changes a result.
class WorkQueue {
 public:
  WorkQueue(int64_t total, int threads) : total_(total), threads_(threads) {}
  bool grab(int64_t* begin, int64_t* end) {
    int64_t cur = next_.load(std::memory_order_relaxed);
    for (;;) {
      if (cur >= total_) return false;
      const int64_t n = threads_ > 0 ? std::max<int64_t>(1, (total_ - cur) / (2 * threads_)) : 1;
      if (next_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed)) {
        *begin = cur;
        *end = std::min(total_, cur + n);
        return true;
      }
    }
  }

 private:
  std::atomic<int64_t> next_{0};
  int64_t total_;
  int threads_;
};

template <class Scratch, class Carve, class KvOf, class Pack, class Body>
void for_each_item(int64_t total, size_t bytes, bool guided, Carve carve, KvOf kv_of, Pack pack, Body body) {
  const int threads = static_cast<int>(std::min<int64_t>(num_threads(), total));
  WorkQueue queue(total, guided ? threads : 0);
  // parallel_join: items are claimed from the queue, so a worker that is slow to arrive
  // (asleep, or its core busy with another process) never holds the others up.
  parallel_join(threads, [&] {
    Arena arena(mem::scratch(0, bytes), bytes);
    Scratch s = carve(arena);
    int64_t packed = -1;
    for (int64_t i0, i1; queue.grab(&i0, &i1);) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t kv = kv_of(i);
        if (kv != packed) {
          pack(s, kv);
          packed = kv;
        }
        body(s, i);
      }
    }
  });
}

// The sizes every pass derives from the problem.
struct Dims {
  int64_t B, Hq, Hkv, G, Lq, Lk, D, Dv;
  int64_t Dp, Dvp;   // D, Dv rounded up to whole vectors
  int64_t nqb, nkb;  // query / key blocks
  float inv_keep;    // 1/(1 − dropout)
  explicit Dims(const AttentionProblem& pb)
      : B(pb.B), Hq(pb.Hq), Hkv(pb.Hkv), G(pb.Hq / pb.Hkv), Lq(pb.Lq), Lk(pb.Lk), D(pb.D), Dv(pb.Dv),
        Dp(round_up(pb.D, kN)), Dvp(round_up(pb.Dv, kN)), nqb((pb.Lq + kBr - 1) / kBr), nkb((pb.Lk + kBc - 1) / kBc),
        inv_keep(pb.dropout > 0.f ? 1.f / (1.f - pb.dropout) : 1.f) {}
};

// The keys query i of batch b may see, before the additive mask and topK: [lo, hi]
// (empty when lo > hi).
struct Interval {
  int64_t lo, hi;
};
inline Interval visible_keys(const AttentionProblem& pb, int64_t b, int64_t i) {
  int64_t klen = pb.Lk;
  if (pb.key_lengths) klen = std::min<int64_t>(klen, pb.key_lengths[b]);
  const int64_t diag = i + pb.Lk - pb.Lq;
  int64_t lo = 0, hi = klen - 1;
  if (pb.window_left >= 0) lo = std::max(lo, diag - pb.window_left);
  int64_t right = pb.window_right;
  if (pb.causal && (right < 0 || right > 0)) right = 0;
  if (right >= 0) hi = std::min(hi, diag + right);
  return {lo, hi};
}

// The key blocks [kb_lo, kb_hi) that rows [i0, i1) may see at all; empty when none.
inline void key_block_range(const AttentionProblem& pb, int64_t b, int64_t i0, int64_t i1, int64_t* kb_lo,
                            int64_t* kb_hi) {
  int64_t lo = INT64_MAX, hi = -1;
  // lo and hi are monotone in i, so the first and last rows bound the block — but an
  // empty row (lo > hi) contributes nothing, so take each row's own non-empty interval.
  for (int64_t i = i0; i < i1; ++i) {
    const Interval r = visible_keys(pb, b, i);
    if (r.lo > r.hi) continue;
    lo = std::min(lo, r.lo);
    hi = std::max(hi, r.hi);
  }
  if (hi < lo) {
    *kb_lo = *kb_hi = 0;
    return;
  }
  *kb_lo = lo / kBc;
  *kb_hi = hi / kBc + 1;
}

// dst[c·ldd + r] = src[r·lds + c] for r, c < kN, in registers (cpu/simd/transpose.h).
inline void transpose_square(const float* src, int64_t lds, float* dst, int64_t ldd) {
  Vf r[kN];
  for (int i = 0; i < kN; ++i) r[i] = vload(src + i * lds);
  vtranspose(r);
  for (int i = 0; i < kN; ++i) vstore(dst + i * ldd, r[i]);
}

// Packs k[j0 : j0+kBc, :] (rows ld apart, n ≤ kBc valid) as a kᵀ panel [D][kBc], zero-padded:
// whole kN×kN squares transposed in registers, the ragged edges element by element.
inline void pack_transposed(const float* src, int64_t ld, int64_t n, int64_t D, float* dst) {
  const int64_t nf = n / kN * kN, Df = D / kN * kN;
  for (int64_t j = 0; j < nf; j += kN)
    for (int64_t d = 0; d < Df; d += kN) transpose_square(src + j * ld + d, ld, dst + d * kBc + j, kBc);
  for (int64_t d = 0; d < D; ++d) {
    float* row = dst + d * kBc;
    int64_t j = d < Df ? nf : 0;
    for (; j < n; ++j) row[j] = src[j * ld + d];
    for (; j < kBc; ++j) row[j] = 0.f;
  }
}

// Copies n rows of width w (ld apart) into rows of width wp (zero-padded), times s.
inline void pack_rows(const float* src, int64_t ld, int64_t n, int64_t w, int64_t wp, float s, float* dst) {
  for (int64_t r = 0; r < n; ++r) {
    const float* in = src + r * ld;
    float* out = dst + r * wp;
    int64_t c = 0;
    if (s == 1.f) {
      for (; c < w; ++c) out[c] = in[c];
    } else {
      for (; c < w; ++c) out[c] = in[c] * s;
    }
    for (; c < wp; ++c) out[c] = 0.f;
  }
}

// Dropout bits of 64 keys of one row: bit c set when key j0 + c of row i of head bh is
// kept (j0 a multiple of 64). The Philox4x32-10 stream of core/rng.h, one call per 4 keys:
// the 16 calls run kN at a time in vector lanes (cpu/simd/philox.h).
static_assert(kBc % 64 == 0, "64-bit words of dropout bits per row of a key block");
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

// Per-row topK thresholds: key j of a row is kept iff s > t or (s == t and j ≤ c).
struct Threshold {
  float t;
  int64_t c;
};

inline Threshold topk_cut(const float* s, int64_t n, int64_t k, float t);

// Selection written out rather than std::nth_element / std::*_heap: a standard algorithm
// instantiated here is compiled for the baseline ISA (its template lives outside this
// file's target region) and cannot inline our comparator, which made it 3x slower.

// Min-heap of k floats: sift h[i] down.
inline void heap_sift_down(float* h, int64_t k, int64_t i) {
  const float v = h[i];
  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= k) break;
    if (c + 1 < k && h[c + 1] < h[c]) ++c;
    if (!(h[c] < v)) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = v;
}

// The k-th largest (k ≥ 1) of a[0, n) (no NaN), reordering a: quickselect with a
// median-of-three pivot, and std::nth_element if it ever degenerates.
inline float kth_largest(float* a, int64_t n, int64_t k) {
  int64_t lo = 0, hi = n - 1;
  const int64_t target = k - 1;  // position in descending order
  for (int round = 0; lo < hi; ++round) {
    if (round > 64) {
      std::nth_element(a + lo, a + target, a + hi + 1, [](float x, float y) { return x > y; });
      return a[target];
    }
    const float x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi];
    const float pivot = std::max(std::min(x, y), std::min(std::max(x, y), z));
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] > pivot) ++i;
      while (a[j] < pivot) --j;
      if (i <= j) {
        const float t = a[i];
        a[i++] = a[j];
        a[j--] = t;
      }
    }
    // Now a[lo..j] ≥ pivot ≥ a[i..hi], and anything between equals the pivot.
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

// Finds the threshold of one row of n scores (−Infinity: invisible; NaN: never kept). The
// row must be readable, −Infinity-padded, up to n rounded up to whole vectors; `tmp`
// holds n floats.
inline Threshold topk_threshold(const float* s, int64_t n, int64_t k, float* tmp) {
  int64_t m = 0;
  if (k * 8 > n) {
    // A large k keeps the bar low and a heap busy: select among all visible scores.
    for (int64_t j = 0; j < n; ++j)
      if (s[j] > kNegInf) tmp[m++] = s[j];
    if (m <= k) return {kNegInf, n};
    return topk_cut(s, n, k, kth_largest(tmp, m, k));
  }
  // The k largest visible scores so far in a min-heap (tmp[0] the smallest of them). Once
  // it is full, a vector of scores none of which beats tmp[0] costs one compare: most of
  // a row, since the bar rises quickly.
  for (int64_t j = 0; j < n; j += kN) {
    if (m == k && !many(vgt(vload(s + j), vset1(tmp[0])))) continue;
    for (int64_t e = j; e < j + kN; ++e) {
      const float v = s[e];
      if (!(v > kNegInf)) continue;  // hidden, padding, or NaN
      if (m < k) {
        tmp[m++] = v;
        if (m == k)
          for (int64_t i = k / 2 - 1; i >= 0; --i) heap_sift_down(tmp, k, i);
      } else if (v > tmp[0]) {
        tmp[0] = v;
        heap_sift_down(tmp, k, 0);
      }
    }
  }
  if (m < k) return {kNegInf, n};  // fewer than k visible: all of them are kept
  return topk_cut(s, n, k, tmp[0]);
}

// The threshold for the k-th largest visible score t: ties at t go to the lower indices.
inline Threshold topk_cut(const float* s, int64_t n, int64_t k, float t) {
  int64_t above = 0;
  for (int64_t j = 0; j < n; ++j) above += s[j] > t;
  int64_t need = k - above;  // ≥ 1: t itself is among the k largest
  int64_t c = n;
  for (int64_t j = 0; j < n; ++j)
    if (s[j] == t && --need == 0) {
      c = j;
      break;
    }
  return {t, c};
}

// Everything about one query block that every pass needs.
struct QueryBlock {
  int64_t b, h, bh, g;  // batch, query head, b·Hq + h, kv head
  int64_t i0, rows;     // first query row and how many
  Interval vis[kBr];    // visible keys of each row
  int64_t hi_max;       // the last key any row sees (−1: none)
  // Of the current key block (set by score_tile), per group of kMr rows: the keys any of
  // its rows may see (kspan, relative to the block) and the vectors holding them (vspan).
  Span kspan[kBr / kMr];
  Span vspan[kBr / kMr];
};

inline void init_block(const AttentionProblem& pb, const Dims& d, int64_t b, int64_t h, int64_t qb, QueryBlock* B) {
  B->b = b;
  B->h = h;
  B->bh = b * d.Hq + h;
  B->g = h / d.G;
  B->i0 = qb * kBr;
  B->rows = std::min(kBr, d.Lq - B->i0);
  B->hi_max = -1;
  for (int64_t r = 0; r < B->rows; ++r) {
    B->vis[r] = visible_keys(pb, b, B->i0 + r);
    if (B->vis[r].lo <= B->vis[r].hi) B->hi_max = std::max(B->hi_max, B->vis[r].hi);
  }
}

// S[r][0:kBc] (rows ldS apart) = scores of the block's rows against keys j0.. of panel
// Kt (kᵀ [D][kBc]), with the additive mask, the visible interval (which also hides keys
// past Lk) and, when thr is given, topK applied: hidden scores are −Infinity. Returns how
// many of the tile's keys any row may see: past them (on a causal diagonal, say) nothing
// is computed, and the products that follow stop there too.
inline int64_t score_tile(const AttentionProblem& pb, const Dims& d, QueryBlock& qb, const float* Qs,
                          int64_t ldq, const float* Kt, int64_t j0, float* S, int64_t ldS,
                          const Threshold* thr) {
  const int64_t kn = std::min(kBc, d.Lk - j0);
  const int64_t keys = std::max<int64_t>(0, std::min(kn, qb.hi_max - j0 + 1));
  // Each group of kMr rows computes only the vectors its rows can see: on a causal
  // diagonal or along a window's band most of a tile is hidden from most rows.
  for (int64_t g = 0; g * kMr < qb.rows; ++g) {
    int64_t lo = kBc, hi = -1;
    for (int64_t r = g * kMr; r < std::min(qb.rows, (g + 1) * kMr); ++r) {
      if (qb.vis[r].lo > qb.vis[r].hi) continue;
      lo = std::min(lo, qb.vis[r].lo - j0);
      hi = std::max(hi, qb.vis[r].hi - j0);
    }
    lo = std::max<int64_t>(lo, 0);
    hi = std::min(hi, keys - 1);
    if (hi < lo) lo = 0, hi = -1;
    qb.kspan[g] = {lo, hi + 1};
    qb.vspan[g] = {lo / kN, (hi + kN) / kN};
  }
  tile_gemm<kSet>(qb.rows, (keys + kN - 1) / kN, d.D, Qs, ldq, 1, Kt, kBc, S, ldS, nullptr, qb.vspan);
  for (int64_t r = 0; r < qb.rows; ++r) {
    float* s = S + r * ldS;
    const int64_t a = std::max<int64_t>(qb.vis[r].lo - j0, 0);
    const int64_t z = std::min<int64_t>(qb.vis[r].hi - j0, kn - 1);  // visible columns [a, z]
    if (pb.mask && a <= z) {
      const int64_t i = qb.i0 + r;
      const float* mrow = pb.mask + qb.b * pb.mask_stride[0] + qb.h * pb.mask_stride[1] + i * pb.mask_stride[2];
      const int64_t sk = pb.mask_stride[3];
      if (sk == 1) {
        const float* m = mrow + j0;
        for (int64_t c = a; c <= z; ++c) s[c] += m[c];
      } else {
        for (int64_t c = a; c <= z; ++c) s[c] += mrow[(j0 + c) * sk];
      }
    }
    if (a > z) {
      for (int64_t c = 0; c < kBc; ++c) s[c] = kNegInf;
      continue;
    }
    for (int64_t c = 0; c < a; ++c) s[c] = kNegInf;
    for (int64_t c = z + 1; c < kBc; ++c) s[c] = kNegInf;
    if (thr) {
      const float t = thr[r].t;
      const int64_t cut = thr[r].c - j0;
      for (int64_t c = a; c <= z; ++c)
        if (!(s[c] > t || (s[c] == t && c <= cut))) s[c] = kNegInf;
    }
  }
  return keys;
}

// The topK thresholds of the block's rows: every visible score of each row, then a
// selection. Sfull holds rows × (nkb·kBc) floats, tmp Lk floats.
inline void block_thresholds(const AttentionProblem& pb, const Dims& d, QueryBlock& qb, const float* Qs,
                             int64_t ldq, const float* Kt_head, float* Sfull, float* tmp, Threshold* thr) {
  const int64_t ldS = d.nkb * kBc;
  int64_t kb_lo, kb_hi;
  key_block_range(pb, qb.b, qb.i0, qb.i0 + qb.rows, &kb_lo, &kb_hi);
  for (int64_t r = 0; r < qb.rows; ++r)
    for (int64_t c = 0; c < ldS; ++c) Sfull[r * ldS + c] = kNegInf;
  for (int64_t kb = kb_lo; kb < kb_hi; ++kb)
    score_tile(pb, d, qb, Qs, ldq, Kt_head + kb * d.D * kBc, kb * kBc, Sfull + kb * kBc, ldS, nullptr);
  for (int64_t r = 0; r < qb.rows; ++r) thr[r] = topk_threshold(Sfull + r * ldS, d.Lk, pb.top_k, tmp);
}

// exp(x[c] − shift) in place for c < n (vector body, padded tail through a stack vector
// so every element goes through the same vexp).
inline void exp_shifted(float* x, int64_t n, float shift) {
  const Vf sh = vset1(shift);
  int64_t c = 0;
  for (; c + kN <= n; c += kN) vstore(x + c, vexp(vsub(vload(x + c), sh)));
  if (c < n) {
    float tmp[kN];
    for (int e = 0; e < kN; ++e) tmp[e] = c + e < n ? x[c + e] : kNegInf;
    vstore(tmp, vexp(vsub(vload(tmp), sh)));
    for (int64_t e = 0; c + e < n; ++e) x[c + e] = tmp[e];
  }
}

// ---------------------------------------------------------------------------------------
// Forward

struct ForwardScratch {
  const float* Kt;  // [nkb][D][kBc] kᵀ panels of the current kv head (shared, packed once)
  const float* V;   // v rows of the current kv head, Dvp apart: v itself, or padded (shared)
  float* Qs;    // [kBr][D]        q·scale of the block
  float* S;     // [kBr][kBc]     scores, then probabilities
  float* O;     // [kBr][Dvp]     unnormalised output
  float* m;     // [kBr] running max
  float* l;     // [kBr][kN] running sum, per lane
  float* shift; // [kBr] the max the tile's exponentials subtract
  float* alpha; // [kBr] rescale of O
  float* Sfull; // topK only: [kBr][nkb·kBc]
  float* tmp;   // topK only: [Lk]
  Threshold* thr;  // topK only: [kBr]
};

inline size_t forward_scratch_bytes(const AttentionProblem& pb, const Dims& d) {
  size_t n = Arena::bytes_for(kBr * d.D) + Arena::bytes_for(kBr * kBc) + Arena::bytes_for(kBr * d.Dvp) +
             3 * Arena::bytes_for(kBr) + Arena::bytes_for(kBr * kN);
  if (pb.top_k > 0)
    n += Arena::bytes_for(kBr * d.nkb * kBc) + Arena::bytes_for(d.Lk) +
         Arena::bytes_for(kBr * sizeof(Threshold) / sizeof(float));
  return n;
}

inline ForwardScratch carve_forward(const AttentionProblem& pb, const Dims& d, Arena& a) {
  ForwardScratch s{};
  s.Qs = a.carve(kBr * d.D);
  s.S = a.carve(kBr * kBc);
  s.O = a.carve(kBr * d.Dvp);
  s.m = a.carve(kBr);
  s.l = a.carve(kBr * kN);
  s.shift = a.carve(kBr);
  s.alpha = a.carve(kBr);
  if (pb.top_k > 0) {
    s.Sfull = a.carve(kBr * d.nkb * kBc);
    s.tmp = a.carve(d.Lk);
    s.thr = reinterpret_cast<Threshold*>(a.carve(kBr * sizeof(Threshold) / sizeof(float)));
  }
  return s;
}

// K (and V when its rows are not whole vectors) of every kv head, packed once per call
// into one block the threads share, so work can be handed out query block by query block
// without a thread ever repacking a head: [B·Hkv][nkb][D][kBc] kᵀ panels, then
// [B·Hkv][nkb·kBc][Dvp] padded v rows. The size of K (and V): O(L).
class PackedKV {
 public:
  PackedKV(const AttentionProblem& pb, const Dims& d)
      : kt_stride_(d.nkb * d.D * kBc), v_stride_(d.Dv == d.Dvp ? 0 : d.nkb * kBc * d.Dvp), v_(pb.v), lk_dv_(d.Lk * d.Dv) {
    const int64_t heads = d.B * d.Hkv;
    bytes_ = static_cast<size_t>(heads * (kt_stride_ + v_stride_)) * sizeof(float);
    block_ = static_cast<float*>(mem::acquire(bytes_));
    float* vp = block_ + heads * kt_stride_;
    // One piece per (kv head, key block): enough pieces for every thread even at B·Hkv = 1.
    parallel_for(heads * d.nkb, 8, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t kv = t / d.nkb, kb = t % d.nkb, n = std::min(kBc, d.Lk - kb * kBc);
        pack_transposed(pb.k + (kv * d.Lk + kb * kBc) * d.D, d.D, n, d.D, block_ + kv * kt_stride_ + kb * d.D * kBc);
        if (v_stride_)
          pack_rows(pb.v + (kv * d.Lk + kb * kBc) * d.Dv, d.Dv, n, d.Dv, d.Dvp, 1.f,
                    vp + kv * v_stride_ + kb * kBc * d.Dvp);
      }
    });
    if (v_stride_) v_ = vp;
  }
  ~PackedKV() { mem::release(block_, bytes_); }
  PackedKV(const PackedKV&) = delete;
  PackedKV& operator=(const PackedKV&) = delete;

  const float* kt(int64_t kv) const { return block_ + kv * kt_stride_; }
  // Rows that are whole vectors already are read in place from v.
  const float* v(int64_t kv) const { return v_ + kv * (v_stride_ ? v_stride_ : lk_dv_); }

 private:
  int64_t kt_stride_, v_stride_;
  const float* v_;  // the padded rows, or v itself
  int64_t lk_dv_;
  size_t bytes_ = 0;
  float* block_ = nullptr;
};

// One query block of one head: the online-softmax pass over its visible key blocks.
inline void forward_block(const AttentionParams& p, const Dims& d, int64_t b, int64_t h, int64_t qbi,
                          ForwardScratch& s) {
  const AttentionProblem& pb = p.pb;
  QueryBlock qb;
  init_block(pb, d, b, h, qbi, &qb);
  const int64_t rows = qb.rows;
  pack_rows(pb.q + (qb.bh * d.Lq + qb.i0) * d.D, d.D, rows, d.D, d.D, pb.scale, s.Qs);
  int64_t kb_lo, kb_hi;
  key_block_range(pb, b, qb.i0, qb.i0 + rows, &kb_lo, &kb_hi);
  float* W = p.weights ? p.weights + (qb.bh * d.Lq + qb.i0) * d.Lk : nullptr;
  const bool topk = pb.top_k > 0;
  const Threshold* thr = nullptr;
  if (topk && kb_lo < kb_hi) {
    block_thresholds(pb, d, qb, s.Qs, d.D, s.Kt, s.Sfull, s.tmp, s.thr);
    thr = s.thr;
  }

  for (int64_t r = 0; r < rows; ++r) {
    s.m[r] = kNegInf;
    vstore(s.l + r * kN, vzero());
  }
  for (int64_t kb = kb_lo; kb < kb_hi; ++kb) {
    const int64_t j0 = kb * kBc;
    const int64_t kn = std::min(kBc, d.Lk - j0);
    const int64_t keys = score_tile(pb, d, qb, s.Qs, d.D, s.Kt + kb * d.D * kBc, j0, s.S, kBc, thr);
    // Each row's new max, and the shift its exponentials use (an all-hidden row keeps
    // m = −Infinity and shifts by 0, so it stays 0, never NaN).
    for (int64_t r = 0; r < rows; ++r) {
      const float* srow = s.S + r * kBc;
      if (W) std::copy(srow, srow + kn, W + r * d.Lk + j0);  // masked scores; exp'd at the end
      Vf mv = vload(srow);
      for (int64_t c = kN; c < kBc; c += kN) mv = vmax(mv, vload(srow + c));
      const float m_old = s.m[r];
      const float m_new = std::max(m_old, vhmax(mv));
      s.shift[r] = m_new == kNegInf ? 0.f : m_new;
      s.alpha[r] = m_old - s.shift[r];
      s.m[r] = m_new;
    }
    // The rescale factors exp(m_old − m_new) of kN rows at once (kBr is whole vectors).
    for (int64_t r = 0; r < rows; r += kN) vstore(s.alpha + r, vexp(vload(s.alpha + r)));
    // p = exp(s − shift) in place; the row sums stay kN-lane vectors until the end, so no
    // horizontal add per tile.
    for (int64_t r = 0; r < rows; ++r) {
      float* srow = s.S + r * kBc;
      const Vf sh = vset1(s.shift[r]);
      Vf sum = vzero();
      for (int64_t c = 0; c < kBc; c += kN) {
        const Vf e = vexp(vsub(vload(srow + c), sh));
        vstore(srow + c, e);
        sum = vadd(sum, e);
      }
      vstore(s.l + r * kN, vfmadd(vload(s.l + r * kN), vset1(s.alpha[r]), sum));
      if (pb.dropout > 0.f) {
        for (int64_t c0 = 0; c0 < kBc; c0 += 64) {
          const uint64_t bits = dropout_bits(pb, qb.bh, qb.i0 + r, j0 + c0);
          for (int64_t c = c0; c < c0 + 64; c += kN)
            vstore(srow + c, vkeep(vbits(static_cast<uint32_t>(bits >> (c - c0))), vload(srow + c)));
        }
      }
    }
    const float* V = s.V + j0 * d.Dvp;
    // Keys past `keys` have p = 0 in every row: the product stops there.
    if (kb == kb_lo) tile_gemm<kSet>(rows, d.Dvp / kN, keys, s.S, kBc, 1, V, d.Dvp, s.O, d.Dvp, nullptr, nullptr, qb.kspan);
    else tile_gemm<kScaleAdd>(rows, d.Dvp / kN, keys, s.S, kBc, 1, V, d.Dvp, s.O, d.Dvp, s.alpha, nullptr, qb.kspan);
  }

  float* out = p.out + (qb.bh * d.Lq + qb.i0) * d.Dv;
  float* lse = p.lse + qb.bh * d.Lq + qb.i0;
  const bool any = kb_lo < kb_hi;
  for (int64_t r = 0; r < rows; ++r) {
    const float l = any ? vhsum(vload(s.l + r * kN)) : 0.f;
    const float f = l > 0.f ? d.inv_keep / l : 0.f;
    float* o = out + r * d.Dv;
    const float* acc = s.O + r * d.Dvp;
    if (f == 0.f) {
      for (int64_t c = 0; c < d.Dv; ++c) o[c] = 0.f;
    } else {
      for (int64_t c = 0; c < d.Dv; ++c) o[c] = acc[c] * f;
    }
    lse[r] = l > 0.f ? s.m[r] + std::log(l) : kNegInf;
    if (W) {
      float* w = W + r * d.Lk;
      const int64_t c0 = any ? kb_lo * kBc : 0, c1 = any ? std::min(kb_hi * kBc, d.Lk) : 0;
      for (int64_t c = 0; c < c0; ++c) w[c] = 0.f;
      for (int64_t c = c1; c < d.Lk; ++c) w[c] = 0.f;
      if (lse[r] == kNegInf) {
        for (int64_t c = c0; c < c1; ++c) w[c] = 0.f;
      } else {
        exp_shifted(w + c0, c1 - c0, lse[r]);
      }
    }
  }
}

void attention_forward(const AttentionParams& p) {
  const AttentionProblem& pb = p.pb;
  attention_check(pb);
  const Dims d(pb);
  const int64_t items = d.B * d.Hq * d.nqb;
  if (items == 0) return;
  const size_t bytes = forward_scratch_bytes(pb, d);
  const PackedKV packed(pb, d);
  // Items (b, h, query block) in order, handed out one at a time (a thread that loses its
  // core to another process holds up little): every row is computed by one thread
  // whichever it is, so the schedule never changes a bit of the result.
  for_each_item<ForwardScratch>(
      items, bytes, /*guided=*/false, [&](Arena& a) { return carve_forward(pb, d, a); },
      [&](int64_t it) { return (it / d.nqb / d.Hq) * d.Hkv + (it / d.nqb % d.Hq) / d.G; },
      [&](ForwardScratch& s, int64_t kv) {
        s.Kt = packed.kt(kv);
        s.V = packed.v(kv);
      },
      [&](ForwardScratch& s, int64_t it) {
        const int64_t bh = it / d.nqb;
        forward_block(p, d, bh / d.Hq, bh % d.Hq, it % d.nqb, s);
      });
}

// ---------------------------------------------------------------------------------------
// Backward (FlashAttention-2's): per kv head and chunk of its query blocks, key blocks
// outer and query blocks inner, recomputing P = exp(S − lse) tile by tile:
//   dV_j += Pdᵀ·dO      dP = dO·Vᵀ      dS = P∘(dP∘Z/(1−p) − rowsum(dO∘O))
//   dK_j += dSᵀ·(q·scale)               dQ_i += dS·K   (times scale at the end)
// dK/dV of a key block accumulate over the chunk's (head, query block) pairs in order;
// dQ rows over key blocks in order; nothing is shared between threads.

struct BackwardScratch {
  float* Kt;     // [nkb][D][kBc]  kᵀ panels
  float* Vt;     // [nkb][Dv][kBc] vᵀ panels
  float* Kp;     // [nkb·kBc][Dp]  k rows, padded (only when D is not whole vectors)
  const float* K;  // k rows of the current kv head, Dp apart: Kp, or k itself
  float* dK;     // [nkb·kBc][Dp]  accumulators of the task
  float* dV;     // [nkb·kBc][Dvp]
  float* Qs;     // [Lq][Dp]  q·scale rows of the current head, padded
  float* dO;     // [Lq][Dvp] dout rows, padded
  float* dQ;     // [Lq][Dp]  accumulators
  float* lse;    // [Lq] lse with −Infinity replaced by +Infinity (P = 0 for empty rows)
  float* Di;     // [Lq] rowsum(dO∘O)
  float* S;      // [kBr][kBc] scores → Pd
  float* dP;     // [kBr][kBc] dP → dS
  float* Sfull;  // topK: [kBr][nkb·kBc]
  float* tmp;    // topK: [Lk]
  Threshold* thr;  // topK: [Lq]
};

inline size_t backward_scratch_bytes(const AttentionProblem& pb, const Dims& d) {
  const int64_t Lkp = d.nkb * kBc;
  size_t n = Arena::bytes_for(Lkp * d.D) + Arena::bytes_for(Lkp * d.Dv) + Arena::bytes_for(d.D == d.Dp ? 0 : Lkp * d.Dp) +
             Arena::bytes_for(Lkp * d.Dp) + Arena::bytes_for(Lkp * d.Dvp) + 2 * Arena::bytes_for(d.Lq * d.Dp) +
             Arena::bytes_for(d.Lq * d.Dvp) + 2 * Arena::bytes_for(d.Lq) + 2 * Arena::bytes_for(kBr * kBc);
  if (pb.top_k > 0)
    n += Arena::bytes_for(kBr * Lkp) + Arena::bytes_for(d.Lk) +
         Arena::bytes_for(d.Lq * sizeof(Threshold) / sizeof(float));
  return n;
}

inline BackwardScratch carve_backward(const AttentionProblem& pb, const Dims& d, Arena& a) {
  const int64_t Lkp = d.nkb * kBc;
  BackwardScratch s{};
  s.Kt = a.carve(Lkp * d.D);
  s.Vt = a.carve(Lkp * d.Dv);
  s.Kp = a.carve(d.D == d.Dp ? 0 : Lkp * d.Dp);
  s.dK = a.carve(Lkp * d.Dp);
  s.dV = a.carve(Lkp * d.Dvp);
  s.Qs = a.carve(d.Lq * d.Dp);
  s.dQ = a.carve(d.Lq * d.Dp);
  s.dO = a.carve(d.Lq * d.Dvp);
  s.lse = a.carve(d.Lq);
  s.Di = a.carve(d.Lq);
  s.S = a.carve(kBr * kBc);
  s.dP = a.carve(kBr * kBc);
  if (pb.top_k > 0) {
    s.Sfull = a.carve(kBr * Lkp);
    s.tmp = a.carve(d.Lk);
    s.thr = reinterpret_cast<Threshold*>(a.carve(d.Lq * sizeof(Threshold) / sizeof(float)));
  }
  return s;
}

inline void pack_kv_backward(const AttentionProblem& pb, const Dims& d, int64_t b, int64_t g, BackwardScratch& s) {
  const float* k = pb.k + (b * d.Hkv + g) * d.Lk * d.D;
  const float* v = pb.v + (b * d.Hkv + g) * d.Lk * d.Dv;
  for (int64_t kb = 0; kb < d.nkb; ++kb) {
    const int64_t n = std::min(kBc, d.Lk - kb * kBc);
    pack_transposed(k + kb * kBc * d.D, d.D, n, d.D, s.Kt + kb * d.D * kBc);
    pack_transposed(v + kb * kBc * d.Dv, d.Dv, n, d.Dv, s.Vt + kb * d.Dv * kBc);
  }
  if (d.D == d.Dp) {
    s.K = k;
  } else {
    pack_rows(k, d.D, d.Lk, d.D, d.Dp, 1.f, s.Kp);
    s.K = s.Kp;
  }
}

// Rows [i0, i1) of query head (b, h): packed q·scale and dO, safe lse, D = rowsum(dO∘O),
// zeroed dQ, and the topK thresholds.
inline void prepare_rows(const AttentionBackwardParams& p, const Dims& d, int64_t b, int64_t h, int64_t i0,
                         int64_t i1, BackwardScratch& s) {
  const AttentionProblem& pb = p.pb;
  const int64_t bh = b * d.Hq + h, n = i1 - i0;
  pack_rows(pb.q + (bh * d.Lq + i0) * d.D, d.D, n, d.D, d.Dp, pb.scale, s.Qs + i0 * d.Dp);
  pack_rows(p.dout + (bh * d.Lq + i0) * d.Dv, d.Dv, n, d.Dv, d.Dvp, 1.f, s.dO + i0 * d.Dvp);
  for (int64_t i = i0; i < i1; ++i) {
    const float l = p.lse[bh * d.Lq + i];
    s.lse[i] = l == kNegInf ? std::numeric_limits<float>::infinity() : l;
    const float* o = p.out + (bh * d.Lq + i) * d.Dv;
    const float* g = p.dout + (bh * d.Lq + i) * d.Dv;
    float acc = 0.f;
    for (int64_t c = 0; c < d.Dv; ++c) acc += o[c] * g[c];
    s.Di[i] = acc;
    float* dq = s.dQ + i * d.Dp;
    for (int64_t c = 0; c < d.Dp; ++c) dq[c] = 0.f;
  }
  if (pb.top_k > 0) {
    for (int64_t q0 = i0; q0 < i1; q0 += kBr) {
      QueryBlock qb;
      init_block(pb, d, b, h, q0 / kBr, &qb);
      int64_t lo, hi;
      key_block_range(pb, b, qb.i0, qb.i0 + qb.rows, &lo, &hi);
      if (lo < hi) block_thresholds(pb, d, qb, s.Qs + q0 * d.Dp, d.Dp, s.Kt, s.Sfull, s.tmp, s.thr + q0);
    }
  }
}

// One (query block, key block) tile of the backward.
inline void backward_tile(const AttentionBackwardParams& p, const Dims& d, QueryBlock& qb, int64_t kb,
                          BackwardScratch& s) {
  const AttentionProblem& pb = p.pb;
  const int64_t j0 = kb * kBc, rows = qb.rows, i0 = qb.i0;
  const float* Qs = s.Qs + i0 * d.Dp;
  const float* dO = s.dO + i0 * d.Dvp;
  // Only the first `keys` keys of the tile are visible to any row: every product below
  // stops there (the columns past them are never read).
  const int64_t keys = score_tile(pb, d, qb, Qs, d.Dp, s.Kt + kb * d.D * kBc, j0, s.S, kBc, pb.top_k > 0 ? s.thr + i0 : nullptr);
  const int64_t cols = (keys + kN - 1) / kN * kN;
  tile_gemm<kSet>(rows, cols / kN, d.Dv, dO, d.Dvp, 1, s.Vt + kb * d.Dv * kBc, kBc, s.dP, kBc, nullptr, qb.vspan);
  const bool drop = pb.dropout > 0.f;
  const Vf inv_keep = vset1(d.inv_keep);
  for (int64_t r = 0; r < rows; ++r) {
    float* srow = s.S + r * kBc;
    float* dprow = s.dP + r * kBc;
    const Vf lse = vset1(s.lse[i0 + r]);
    const Vf di = vset1(s.Di[i0 + r]);
    uint64_t bits = 0;
    int64_t bits_of = -1;  // the 64-key word `bits` holds
    const Span vs = qb.vspan[r / kMr];  // dP was computed for these vectors only
    for (int64_t c = 0; c < cols; c += kN) {
      if (c / kN < vs.begin || c / kN >= vs.end) {
        vstore(srow + c, vzero());
        vstore(dprow + c, vzero());
        continue;
      }
      if (drop && c / 64 != bits_of) {
        bits_of = c / 64;
        bits = dropout_bits(pb, qb.bh, i0 + r, j0 + bits_of * 64);
      }
      const Vf P = vexp(vsub(vload(srow + c), lse));
      Vf dp = vload(dprow + c);
      Vf pd = P;
      if (drop) {
        const Vm keep = vbits(static_cast<uint32_t>(bits >> (c % 64)));
        pd = vkeep(keep, vmul(P, inv_keep));
        dp = vkeep(keep, vmul(dp, inv_keep));
      }
      vstore(srow + c, pd);
      vstore(dprow + c, vmul(P, vsub(dp, di)));
    }
  }
  // dV_j += Pdᵀ·dO, dK_j += dSᵀ·Qs: A read transposed (m = key, k = query row). Each group
  // of kMr keys sums only over the rows that see one of them: visible intervals move
  // monotonically with the row, so those rows are contiguous.
  Span rows_of[(kBc + kMr - 1) / kMr];
  for (int64_t g = 0; g * kMr < keys; ++g) {
    const int64_t ja = j0 + g * kMr, jb = j0 + std::min(keys, (g + 1) * kMr) - 1;
    int64_t r0 = 0, r1 = rows;
    while (r0 < rows && qb.vis[r0].hi < ja) ++r0;
    while (r1 > r0 && qb.vis[r1 - 1].lo > jb) --r1;
    rows_of[g] = {r0, r1};
  }
  tile_gemm<kAdd>(keys, d.Dvp / kN, rows, s.S, 1, kBc, dO, d.Dvp, s.dV + j0 * d.Dvp, d.Dvp, nullptr, nullptr, rows_of);
  tile_gemm<kAdd>(keys, d.Dp / kN, rows, s.dP, 1, kBc, Qs, d.Dp, s.dK + j0 * d.Dp, d.Dp, nullptr, nullptr, rows_of);
  // dQ_i += dS·K
  tile_gemm<kAdd>(rows, d.Dp / kN, keys, s.dP, kBc, 1, s.K + j0 * d.Dp, d.Dp, s.dQ + i0 * d.Dp, d.Dp, nullptr,
                  nullptr, qb.kspan);
}

// One task: kv head `kv` (its panels already packed in s) against the (query head, query
// block) pairs [p0, p1) of its group; writes those pairs' dQ rows, and the task's dK/dV
// sums into dk [Lk][D] and dv [Lk][Dv].
inline void backward_task(const AttentionBackwardParams& p, const Dims& d, int64_t kv, int64_t p0, int64_t p1,
                          float* dk, float* dv, BackwardScratch& s) {
  const AttentionProblem& pb = p.pb;
  const int64_t b = kv / d.Hkv, g = kv % d.Hkv;
  const int64_t Lkp = d.nkb * kBc;
  std::fill(s.dK, s.dK + Lkp * d.Dp, 0.f);
  std::fill(s.dV, s.dV + Lkp * d.Dvp, 0.f);
  for (int64_t hh = p0 / std::max<int64_t>(d.nqb, 1); hh * d.nqb < p1; ++hh) {
    const int64_t h = g * d.G + hh;
    const int64_t qa = std::max(p0 - hh * d.nqb, int64_t{0}), qz = std::min(p1 - hh * d.nqb, d.nqb);
    if (qa >= qz) continue;
    const int64_t i0 = qa * kBr, i1 = std::min(qz * kBr, d.Lq);
    prepare_rows(p, d, b, h, i0, i1, s);
    int64_t kb_lo, kb_hi;
    key_block_range(pb, b, i0, i1, &kb_lo, &kb_hi);
    // Key blocks outer: one block's dK/dV accumulators stay in cache across the query
    // blocks; each query block's own key range skips its masked tiles.
    QueryBlock qb;  // re-initialised per tile: cheap next to a tile's products
    for (int64_t kb = kb_lo; kb < kb_hi; ++kb) {
      for (int64_t qbi = qa; qbi < qz; ++qbi) {
        init_block(pb, d, b, h, qbi, &qb);
        int64_t lo, hi;
        key_block_range(pb, b, qb.i0, qb.i0 + qb.rows, &lo, &hi);
        if (kb < lo || kb >= hi) continue;
        backward_tile(p, d, qb, kb, s);
      }
    }
    float* dq = p.dq + ((b * d.Hq + h) * d.Lq) * d.D;
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t e = 0; e < d.D; ++e) dq[i * d.D + e] = s.dQ[i * d.Dp + e] * pb.scale;
  }
  for (int64_t j = 0; j < d.Lk; ++j) {
    std::copy(s.dK + j * d.Dp, s.dK + j * d.Dp + d.D, dk + j * d.D);
    std::copy(s.dV + j * d.Dvp, s.dV + j * d.Dvp + d.Dv, dv + j * d.Dv);
  }
}

void attention_backward(const AttentionBackwardParams& p) {
  const AttentionProblem& pb = p.pb;
  attention_check(pb);
  const Dims d(pb);
  const int64_t heads = d.B * d.Hkv;
  if (heads == 0) return;
  // A task is (b, kv head, chunk): chunk c of the kv head's G·nqb (query head, query block)
  // pairs. Chunks > 1 only when there are too few kv heads to keep threads busy; then each
  // task's dK/dV go to a partial buffer, summed below in chunk order.
  const int64_t pairs = d.G * d.nqb;
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(pairs, (kBackwardMinTasks + heads - 1) / heads));
  const int64_t tasks = heads * chunks;
  const int64_t kv_floats = d.Lk * (d.D + d.Dv);
  float* partial = nullptr;
  size_t partial_bytes = 0;
  if (chunks > 1) {
    partial_bytes = static_cast<size_t>(tasks * kv_floats) * sizeof(float);
    partial = static_cast<float*>(mem::acquire(partial_bytes));
  }
  struct Release {
    float* p;
    size_t n;
    ~Release() {
      if (p) mem::release(p, n);
    }
  } release{partial, partial_bytes};

  // Tasks in order, handed out dynamically: each writes its own dQ rows and its own dK/dV
  // (or partial) rows, so the schedule never changes a bit of the result.
  for_each_item<BackwardScratch>(
      tasks, backward_scratch_bytes(pb, d), /*guided=*/true, [&](Arena& a) { return carve_backward(pb, d, a); },
      [&](int64_t t) { return t / chunks; },
      [&](BackwardScratch& s, int64_t kv) { pack_kv_backward(pb, d, kv / d.Hkv, kv % d.Hkv, s); },
      [&](BackwardScratch& s, int64_t t) {
        const int64_t kv = t / chunks, c = t % chunks;
        float* dk = chunks > 1 ? partial + t * kv_floats : p.dk + kv * d.Lk * d.D;
        float* dv = chunks > 1 ? partial + t * kv_floats + d.Lk * d.D : p.dv + kv * d.Lk * d.Dv;
        backward_task(p, d, kv, pairs * c / chunks, pairs * (c + 1) / chunks, dk, dv, s);
      });

  if (chunks > 1) {
    // dK/dV of each kv head = Σ over its chunks, in chunk order.
    parallel_for(heads * d.Lk, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, chunks * (d.D + d.Dv))),
                 [&](int64_t r0, int64_t r1) {
                   for (int64_t r = r0; r < r1; ++r) {
                     const int64_t kv = r / d.Lk, j = r % d.Lk;
                     float* dk = p.dk + (kv * d.Lk + j) * d.D;
                     float* dv = p.dv + (kv * d.Lk + j) * d.Dv;
                     for (int64_t e = 0; e < d.D; ++e) {
                       float acc = 0.f;
                       for (int64_t c = 0; c < chunks; ++c) acc += partial[(kv * chunks + c) * kv_floats + j * d.D + e];
                       dk[e] = acc;
                     }
                     for (int64_t e = 0; e < d.Dv; ++e) {
                       float acc = 0.f;
                       for (int64_t c = 0; c < chunks; ++c)
                         acc += partial[(kv * chunks + c) * kv_floats + d.Lk * d.D + j * d.Dv + e];
                       dv[e] = acc;
                     }
                   }
                 });
  }
}

}  // namespace attn

void attention_forward(const AttentionParams& p) { attn::attention_forward(p); }
void attention_backward(const AttentionBackwardParams& p) { attn::attention_backward(p); }

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
