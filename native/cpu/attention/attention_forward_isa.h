// Attention: the forward pass.
//
// Attention's kernels are text compiled once per ISA level: cpu/simd/variant.h includes
// attention_isa.h inside the level's target region, which includes this file.
#pragma once

#ifndef FOVEAL_ISA_NS
#error "include cpu/attention/attention_forward_isa.h through attention_isa.h (cpu/simd/variant.h)"
#endif

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace attn {

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

}  // namespace attn
}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
