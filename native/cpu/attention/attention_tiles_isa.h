// Attention: query and key blocks: their sizes, the keys each row sees, K/V/Q packing,
// and the masked score tile both passes compute.
//
// Attention's kernels are text compiled once per ISA level: cpu/simd/variant.h includes
// attention_isa.h inside the level's target region, which includes this file.
#pragma once

#ifndef FOVEAL_ISA_NS
#error "include cpu/attention/attention_tiles_isa.h through attention_isa.h (cpu/simd/variant.h)"
#endif

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace attn {

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
static_assert(kBc % 64 == 0, "64-bit words of dropout bits per row of a key block");

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

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

}  // namespace attn
}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
