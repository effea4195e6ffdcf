// elementwise kernel bodies, compiled once per ISA (see core/isa.h and cpu/simd/vec.h).
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including elementwise_kernels.h"
#endif

#include "cpu/simd/map.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

constexpr int kMaxRank = kMaxBroadcastRank;
// Fixed reduction blocks (they depend on the shapes only, never on the thread count):
// a reduced run along the innermost dim is summed in blocks of kLenBlock elements, rows
// reduced onto a kept innermost dim in blocks of kRowBlock rows; block partials are then
// added in order. Blocks also bound the rounding error (pairwise in the large).
constexpr int64_t kLenBlock = 8192;
constexpr int64_t kRowBlock = 32;

template <BinaryOp Op>
inline Vf apply(Vf a, Vf b) {
  if constexpr (Op == BinaryOp::add) return vadd(a, b);
  else return vmul(a, b);
}

// One output row of the innermost dim: both operands contiguous (vv), or one of them a
// single value repeated (vs, sv).
template <BinaryOp Op>
struct ApplyVV {
  Vf operator()(Vf a, Vf b) const { return apply<Op>(a, b); }
};
template <BinaryOp Op>
struct ApplyVS {
  Vf s;
  Vf operator()(Vf a) const { return apply<Op>(a, s); }
};
template <BinaryOp Op>
struct ApplySV {
  Vf s;
  Vf operator()(Vf b) const { return apply<Op>(s, b); }
};

template <BinaryOp Op>
inline void row(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  if (sa && sb) map2(a, b, y, n, ApplyVV<Op>{});
  else if (sa) map1(a, y, n, ApplyVS<Op>{vset1(*b)});
  else map1(b, y, n, ApplySV<Op>{vset1(*a)});
}

// An odometer over the first `rank` dims of n[], keeping the offsets of up to three
// strided operands in step: one division per seek, none per step.
struct Cursor {
  int rank = 0, k = 0;
  const int64_t* n = nullptr;
  const int64_t* s[3] = {nullptr, nullptr, nullptr};
  int64_t idx[kMaxRank] = {0};
  int64_t off[3] = {0, 0, 0};

  void seek(int64_t j) {
    for (int d = rank - 1; d >= 0; --d) idx[d] = j % n[d], j /= n[d];
    for (int q = 0; q < k; ++q) {
      off[q] = 0;
      for (int d = 0; d < rank; ++d) off[q] += idx[d] * s[q][d];
    }
  }
  void next() {
    for (int d = rank - 1; d >= 0; --d) {
      for (int q = 0; q < k; ++q) off[q] += s[q][d];
      if (++idx[d] < n[d]) return;
      for (int q = 0; q < k; ++q) off[q] -= s[q][d] * n[d];
      idx[d] = 0;
    }
  }
};

inline Cursor cursor(int rank, const int64_t* n, const int64_t* s0, const int64_t* s1 = nullptr,
                     const int64_t* s2 = nullptr) {
  Cursor c;
  c.rank = rank;
  c.n = n;
  c.s[0] = s0, c.s[1] = s1, c.s[2] = s2;
  c.k = s2 ? 3 : s1 ? 2 : 1;
  return c;
}

// y = a ∘ b over a collapsed iteration space (n, rank) with operand strides sa, sb; the
// output is contiguous. Chunks of the flat output go to threads; each chunk seeks once.
template <BinaryOp Op>
void binary_rows(const float* a, const int64_t* sa, const float* b, const int64_t* sb, float* y, int rank,
                 const int64_t* n, int64_t total) {
  if (total <= 0) return;
  if (rank == 0) {
    y[0] = Op == BinaryOp::add ? a[0] + b[0] : a[0] * b[0];
    return;
  }
  const int64_t inner = n[rank - 1];
  const int64_t ia = sa[rank - 1], ib = sb[rank - 1];
  parallel_for(total, map_grain(1), [&](int64_t f0, int64_t f1) {
    Cursor c = cursor(rank - 1, n, sa, sb);
    c.seek(f0 / inner);
    int64_t i0 = f0 % inner;
    for (int64_t f = f0; f < f1;) {
      const int64_t run = inner - i0 < f1 - f ? inner - i0 : f1 - f;
      row<Op>(a + c.off[0] + i0 * ia, ia, b + c.off[1] + i0 * ib, ib, y + f, run);
      f += run;
      i0 = 0;
      c.next();
    }
  });
}

// ---------------------------------------------------------------- reductions (backward)

// Σ g[i] (·m[i] when m) over n contiguous elements, two vector accumulators, fixed order.
inline float row_sum(const float* g, const float* m, int64_t n) {
  Vf s0 = vzero(), s1 = vzero();
  int64_t i = 0;
  if (m) {
    for (; i + 2 * kN <= n; i += 2 * kN) {
      s0 = vfmadd(vload(g + i), vload(m + i), s0);
      s1 = vfmadd(vload(g + i + kN), vload(m + i + kN), s1);
    }
    for (; i < n; i += kN) s0 = vfmadd(vload_part(g + i, n - i, 0.f), vload_part(m + i, n - i, 0.f), s0);
  } else {
    for (; i + 2 * kN <= n; i += 2 * kN) {
      s0 = vadd(s0, vload(g + i));
      s1 = vadd(s1, vload(g + i + kN));
    }
    for (; i < n; i += kN) s0 = vadd(s0, vload_part(g + i, n - i, 0.f));
  }
  return vhsum(vadd(s0, s1));
}

// dst[0..n) (=|+=) g·m, where m is a row (sm = 1), one value (sm = 0) or absent.
inline void row_accumulate(float* dst, const float* g, const float* m, int64_t sm, int64_t n, bool first) {
  int64_t i = 0;
  const Vf ms = m && !sm ? vset1(*m) : vset1(1.f);
  for (; i < n; i += kN) {
    const int64_t c = n - i;
    Vf v = vload_part(g + i, c);
    if (m) v = vmul(v, sm ? vload_part(m + i, c) : ms);
    if (!first) v = vadd(v, vload_part(dst + i, c));
    vstore_part(dst + i, v, c);
  }
}

// A reduction problem: out[Σ iₐ·st[d]] = Σ over the dims where st[d] = 0 of g·m, with g
// contiguous over n[0..rank) and m strided by sm (or absent).
struct Reduce {
  int rank;
  int64_t n[kMaxRank], st[kMaxRank], sm[kMaxRank], sg[kMaxRank];
  const float* g;
  const float* m;
};

// Contiguous strides of g, then merges adjacent dims laid out alike for every operand.
inline void normalise(Reduce* r) {
  int64_t s = 1;
  for (int d = r->rank - 1; d >= 0; --d) r->sg[d] = s, s *= r->n[d];
  int out = 0;
  for (int d = 0; d < r->rank; ++d) {
    if (r->n[d] == 1) continue;
    if (out > 0) {
      const int p = out - 1;
      const bool t_ok = r->st[p] == r->st[d] * r->n[d];
      const bool m_ok = !r->m || r->sm[p] == r->sm[d] * r->n[d];
      if (t_ok && m_ok) {  // g always merges: it is contiguous
        r->n[p] *= r->n[d];
        r->st[p] = r->st[d], r->sm[p] = r->sm[d], r->sg[p] = r->sg[d];
        continue;
      }
    }
    r->n[out] = r->n[d], r->st[out] = r->st[d], r->sm[out] = r->sm[d], r->sg[out] = r->sg[d];
    ++out;
  }
  r->rank = out;
}

inline int64_t product(const int64_t* n, int rank) {
  int64_t p = 1;
  for (int d = 0; d < rank; ++d) p *= n[d];
  return p;
}

// Sums away an innermost reduced dim: dst[j] = Σ_l g[j, l]·m, for every row j of the
// other dims, in fixed blocks of kLenBlock (partials in scratch `slot`).
void reduce_inner(const Reduce& r, float* dst, int slot) {
  const int outer = r.rank - 1;
  const int64_t L = r.n[outer], rows = product(r.n, outer);
  const int64_t nlb = (L + kLenBlock - 1) / kLenBlock;
  const int64_t msm = r.m ? r.sm[outer] : 0;
  float* part = nlb > 1 ? mem::scratch_as<float>(slot, static_cast<size_t>(rows * nlb)) : dst;
  const int64_t work = L < kLenBlock ? L : kLenBlock;
  parallel_for(rows * nlb, work >= 16384 ? 1 : 16384 / work, [&](int64_t t0, int64_t t1) {
    Cursor c = cursor(outer, r.n, r.sm);
    int64_t j_prev = -1;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t j = t / nlb, lb = t % nlb;
      if (j != j_prev) c.seek(j), j_prev = j;
      const int64_t l0 = lb * kLenBlock, len = L - l0 < kLenBlock ? L - l0 : kLenBlock;
      const float* g = r.g + j * L + l0;
      float s;
      if (r.m && msm) s = row_sum(g, r.m + c.off[0] + l0, len);
      else if (r.m) s = row_sum(g, nullptr, len) * r.m[c.off[0]];
      else s = row_sum(g, nullptr, len);
      part[t] = s;
    }
  });
  if (nlb > 1) {
    parallel_for(rows, 4096, [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; ++j) {
        float s = part[j * nlb];
        for (int64_t b = 1; b < nlb; ++b) s += part[j * nlb + b];
        dst[j] = s;
      }
    });
  }
}

// Sums rows onto a kept innermost dim: out[t, :] = Σ over the reduced outer dims of
// g[…, :]·m, in fixed blocks of kRowBlock rows (partials in scratch `slot`).
void reduce_rows(const Reduce& r, float* out, int slot) {
  const int outer = r.rank - 1;
  const int64_t K = r.n[outer];
  // Split the outer dims into kept (target rows) and reduced ones.
  int64_t kn[kMaxRank], kg[kMaxRank], km[kMaxRank], rn[kMaxRank], rg[kMaxRank], rm[kMaxRank];
  int nk = 0, nr = 0;
  for (int d = 0; d < outer; ++d) {
    if (r.st[d]) kn[nk] = r.n[d], kg[nk] = r.sg[d], km[nk] = r.sm[d], ++nk;
    else rn[nr] = r.n[d], rg[nr] = r.sg[d], rm[nr] = r.sm[d], ++nr;
  }
  const int64_t T = product(kn, nk), R = product(rn, nr);
  const int64_t nrb = (R + kRowBlock - 1) / kRowBlock;
  const int64_t msm = r.m ? r.sm[outer] : 0;
  float* part = nrb > 1 ? mem::scratch_as<float>(slot, static_cast<size_t>(T * nrb * K)) : out;
  const int64_t work = K * (R < kRowBlock ? R : kRowBlock);
  parallel_for(T * nrb, work >= 16384 ? 1 : 16384 / work, [&](int64_t t0, int64_t t1) {
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t t = task / nrb, rb = task % nrb;
      Cursor kc = cursor(nk, kn, kg, km);
      kc.seek(t);
      Cursor rc = cursor(nr, rn, rg, rm);
      const int64_t r0 = rb * kRowBlock, r1 = R - r0 < kRowBlock ? R : r0 + kRowBlock;
      rc.seek(r0);
      float* dst = part + task * K;
      for (int64_t i = r0; i < r1; ++i, rc.next()) {
        const float* g = r.g + kc.off[0] + rc.off[0];
        const float* m = r.m ? r.m + kc.off[1] + rc.off[1] : nullptr;
        row_accumulate(dst, g, m, msm, K, i == r0);
      }
    }
  });
  if (nrb > 1) {
    parallel_for(T, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        float* dst = out + t * K;
        const float* p = part + t * nrb * K;
        row_accumulate(dst, p, nullptr, 0, K, true);
        for (int64_t b = 1; b < nrb; ++b) row_accumulate(dst, p + b * K, nullptr, 0, K, false);
      }
    });
  }
}

// out = Σ over the target's broadcast dims of g·m (see Reduce).
void reduce_to(Reduce r, float* out) {
  normalise(&r);
  int slot = 0;
  // Innermost dims that are reduced: sum them away row by row (twice at most: once with
  // m folded in, then once more if a differently-strided reduced dim is next).
  while (r.rank > 0 && r.st[r.rank - 1] == 0) {
    bool all_kept = true;
    for (int d = 0; d < r.rank - 1; ++d) all_kept = all_kept && r.st[d] != 0;
    float* dst = all_kept ? out : mem::scratch_as<float>(slot + 1, static_cast<size_t>(product(r.n, r.rank - 1)));
    reduce_inner(r, dst, slot);
    if (all_kept) return;
    r.g = dst, r.m = nullptr, r.rank -= 1;
    normalise(&r);
    slot += 2;
  }
  if (r.rank == 0) {  // a scalar target
    out[0] = r.m ? r.g[0] * r.m[0] : r.g[0];
    return;
  }
  reduce_rows(r, out, slot);
}

template <BinaryOp Op>
void backward_one(const BinaryBackwardParams& p, float* target, const int64_t* st, const float* other,
                  const int64_t* so) {
  const BroadcastView& v = p.v;
  bool full = true;
  for (int d = 0; d < v.rank; ++d) full = full && st[d] != 0;
  if (full) {  // the target has the output's shape: dy, or dy·other broadcast
    if (Op == BinaryOp::add) {
      parallel_for(v.total, map_grain(1), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; i += kN) vstore_part(target + i, vload_part(p.dy + i, e - i, 0.f), e - i);
      });
    } else {
      binary_rows<BinaryOp::mul>(p.dy, st, other, so, target, v.rank, v.n, v.total);
    }
    return;
  }
  Reduce r;
  r.rank = v.rank;
  for (int d = 0; d < v.rank; ++d) r.n[d] = v.n[d], r.st[d] = st[d], r.sm[d] = so[d];
  r.g = p.dy;
  r.m = Op == BinaryOp::mul ? other : nullptr;
  reduce_to(r, target);
}

}  // namespace

void binary_forward(const BinaryParams& p) {
  if (p.op == BinaryOp::add) binary_rows<BinaryOp::add>(p.a, p.v.sa, p.b, p.v.sb, p.y, p.v.rank, p.v.n, p.v.total);
  else binary_rows<BinaryOp::mul>(p.a, p.v.sa, p.b, p.v.sb, p.y, p.v.rank, p.v.n, p.v.total);
}

void binary_backward(const BinaryBackwardParams& p) {
  const BroadcastView& v = p.v;
  const int64_t size_a = p.size_a, size_b = p.size_b;
  if (v.total == 0) {  // nothing was summed: zero gradients (a may still have elements)
    if (p.da) std::memset(p.da, 0, static_cast<size_t>(size_a) * sizeof(float));
    if (p.db) std::memset(p.db, 0, static_cast<size_t>(size_b) * sizeof(float));
    return;
  }
  if (p.op == BinaryOp::add) {
    if (p.da) backward_one<BinaryOp::add>(p, p.da, v.sa, nullptr, v.sb);
    if (p.db) backward_one<BinaryOp::add>(p, p.db, v.sb, nullptr, v.sa);
  } else {
    if (p.da) backward_one<BinaryOp::mul>(p, p.da, v.sa, p.b, v.sb);
    if (p.db) backward_one<BinaryOp::mul>(p, p.db, v.sb, p.a, v.sa);
  }
}

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
