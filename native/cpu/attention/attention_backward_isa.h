// Attention: the backward pass.
//
// Attention's kernels are text compiled once per ISA level: cpu/simd/variant.h includes
// attention_isa.h inside the level's target region, which includes this file.
#pragma once

#ifndef FOVEAL_ISA_NS
#error "include cpu/attention/attention_backward_isa.h through attention_isa.h (cpu/simd/variant.h)"
#endif

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace attn {

// Problems with fewer kv heads than this split each head's query blocks into chunks (see
// attention_backward). A constant, never the thread count: the chunking decides the
// order of the dK/dV sums, so it must not depend on how many threads run.
constexpr int64_t kBackwardMinTasks = 8;

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
}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
