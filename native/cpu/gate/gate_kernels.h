// gate kernel bodies, compiled once per ISA (see core/isa.h and cpu/simd/vec.h).
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including gate_kernels.h"
#endif

#include "cpu/simd/vmath.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

// Two layouts of the per-pixel work (the kernels below say which each uses, and why):
//  - register groups: a few vectors of pixels along W, their per-pixel values in
//    registers, swept over all C channel rows, then swept again while those rows are in
//    L1 — best while a group's rows fit L1;
//  - blocks (further down): up to 1024 pixels with their per-pixel values in L1 scratch,
//    so each channel row is read in long runs.
// Vectors per register group: the backward keeps 3 accumulators per vector through the
// channel sweep and 3 per-pixel factors through the second: 4 vectors fill AVX-512's 32
// registers, 2 AVX2's 16.
#if FOVEAL_VEC_LEVEL == 3
constexpr int kU = 4;
#else
constexpr int kU = 2;
#endif
constexpr int64_t kG = kU * kN;  // pixels per group

// Tasks of the register-group kernels: image n, pixels [p0, p1) of a span of P.
struct Tiling {
  int64_t P = kG;     // pixels per task, a multiple of kG
  int64_t blocks = 0; // tasks per image
  int64_t tasks = 0;  // N·blocks
};

inline Tiling tiling(int64_t N, int64_t C, int64_t HW) {
  // About 32K elements of x per task: enough that a task's fixed costs (the backward's
  // per-channel sums) are noise, few enough tasks to share out among threads.
  Tiling t;
  int64_t P = 32768 / (C > 0 ? C : 1) / kG * kG;
  const int64_t hw = (HW + kG - 1) / kG * kG;
  if (P > hw) P = hw;
  t.P = P < kG ? kG : P;
  t.blocks = (HW + t.P - 1) / t.P;
  t.tasks = N * t.blocks;
  return t;
}

inline int64_t task_grain(int64_t elements_per_task) {
  return elements_per_task >= 32768 ? 1 : 32768 / (elements_per_task > 0 ? elements_per_task : 1);
}

// Calls f(V, i, cnt) for the groups of [p0, p1): V vectors (1..kU) from pixel i, cnt[u]
// live lanes in vector u.
template <class F>
inline void for_each_group(int64_t p0, int64_t p1, F&& f) {
  for (int64_t i = p0; i < p1; i += kG) {
    int64_t cnt[kU];
    int v = 0;
    for (int u = 0; u < kU; ++u) {
      const int64_t left = p1 - i - u * kN;
      cnt[u] = left >= kN ? kN : (left > 0 ? left : 0);
      if (left > 0) v = u + 1;
    }
    f(v, i, cnt);
  }
}

// f(std::integral_constant<int, V>) for the group's vector count, so group bodies keep
// their accumulators in registers.
template <class F>
inline void with_vectors(int v, F&& f) {
  switch (v) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
#if FOVEAL_VEC_LEVEL == 3
    case 3: f(std::integral_constant<int, 3>{}); break;
    case 4: f(std::integral_constant<int, 4>{}); break;
#endif
    default: break;
  }
}

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// Blocks: pixels whose per-pixel values sit in L1 scratch rather than in registers, so
// each channel row is read in runs of up to 4 KiB instead of one register group's 64-256
// bytes. The block's C rows stay within 256 KiB, so its second sweep reads them from L2.
// spatialGate's forward, one thread, [8,64,56,56]: 0.61 ms with blocks against 0.81 with
// register groups (AVX2: 0.66 against 1.18); a copy of x takes 0.42.
struct Blocks {
  int64_t P = kN;     // pixels per block (a multiple of kN)
  int64_t per = 0;    // blocks per image
  int64_t tasks = 0;  // N·per
};

inline Blocks blocks_of(int64_t N, int64_t C, int64_t HW) {
  Blocks b;
  int64_t P = min64(1024, 65536 / (C > 0 ? C : 1)) / kN * kN;
  P = min64(P, (HW + kN - 1) / kN * kN);
  b.P = P < kN ? kN : P;
  b.per = (HW + b.P - 1) / b.P;
  b.tasks = N * b.per;
  return b;
}

}  // namespace

void spatial_gate_forward(const SpatialGateParams& p) {
  const Blocks bl = blocks_of(p.N, p.C, p.HW);
  const int64_t C = p.C, HW = p.HW;
  const float ba = *p.ba, bb = *p.bb;
  parallel_for(bl.tasks, task_grain(bl.P * (C + 1)), [&](int64_t t0, int64_t t1) {
    float* A = mem::scratch_as<float>(1, static_cast<size_t>(2 * bl.P));  // a, then the gate
    float* B = A + bl.P;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / bl.per, p0 = (t % bl.per) * bl.P, len = min64(bl.P, HW - p0);
      const float* xn = p.x + n * C * HW + p0;
      float* on = p.out + n * C * HW + p0;
      float* gn = p.gate + n * HW + p0;
      // Sweep 1: both 1×1 convolutions at once, x read once.
      for (int64_t k = 0; k < len; k += kN) {
        vstore(A + k, vset1(ba));
        vstore(B + k, vset1(bb));
      }
      for (int64_t c = 0; c < C; ++c) {
        const float* xc = xn + c * HW;
        const Vf wa = vset1(p.wa[c]), wb = vset1(p.wb[c]);
        for (int64_t k = 0; k < len; k += kN) {
          const Vf X = vload_part(xc + k, len - k);
          vstore(A + k, vfmadd(wa, X, vload(A + k)));
          vstore(B + k, vfmadd(wb, X, vload(B + k)));
        }
      }
      for (int64_t k = 0; k < len; k += kN) {
        const Vf g = vsigmoid(vmul(vload(A + k), vload(B + k)));
        vstore(A + k, g);
        vstore_part(gn + k, g, len - k);
      }
      // Sweep 2: the gated output, the block's rows still in cache.
      for (int64_t c = 0; c < C; ++c) {
        const float* xc = xn + c * HW;
        float* oc = on + c * HW;
        for (int64_t k = 0; k < len; k += kN) vstore_part(oc + k, vmul(vload_part(xc + k, len - k), vload(A + k)), len - k);
      }
    }
  });
}

// The backward in register groups (narrow C).
static void spatial_gate_backward_groups(const SpatialGateBackwardParams& p) {
  const Tiling tl = tiling(p.N, p.C, p.HW);
  const int64_t C = p.C, HW = p.HW;
  const float ba = *p.ba, bb = *p.bb;
  const int64_t K = min64(tl.tasks, kGateChunks);
  const int64_t stride = 2 * C + 2;  // a chunk's partial sums: dwa[C], dwb[C], dba, dbb
  double* part = mem::scratch_as<double>(0, static_cast<size_t>(K * stride > 0 ? K * stride : 1));
  parallel_for(K, 1, [&](int64_t k0, int64_t k1) {
    // This thread's per-channel vector sums of da·x and db·x over one task.
    float* acc = mem::scratch_as<float>(1, static_cast<size_t>(2 * C * kN > 0 ? 2 * C * kN : 1));
    for (int64_t k = k0; k < k1; ++k) {
      double* pk = part + k * stride;
      for (int64_t j = 0; j < stride; ++j) pk[j] = 0;
      for (int64_t t = tl.tasks * k / K, t_end = tl.tasks * (k + 1) / K; t < t_end; ++t) {
        const int64_t n = t / tl.blocks, p0 = (t % tl.blocks) * tl.P, p1 = min64(p0 + tl.P, HW);
        const float* xn = p.x + n * C * HW;
        const float* dn = p.dout + n * C * HW;
        float* dxn = p.dx + n * C * HW;
        const float* gn = p.gate ? p.gate + n * HW : nullptr;
        for (int64_t j = 0; j < 2 * C * kN; ++j) acc[j] = 0.f;
        Vf sda = vzero(), sdb = vzero();
        for_each_group(p0, p1, [&](int v, int64_t i, const int64_t* cnt) {
          with_vectors(v, [&](auto vc) {
            constexpr int V = decltype(vc)::value;
            // Sweep 1: a, b and dg = Σ_c dOut·x, x and dOut read once.
            Vf a[V], b[V], dg[V];
            for (int u = 0; u < V; ++u) {
              a[u] = vset1(ba);
              b[u] = vset1(bb);
              dg[u] = vzero();
            }
            for (int64_t c = 0; c < C; ++c) {
              const float* xc = xn + c * HW + i;
              const float* dc = dn + c * HW + i;
              const Vf wa = vset1(p.wa[c]), wb = vset1(p.wb[c]);
              for (int u = 0; u < V; ++u) {
                const Vf X = vload_part(xc + u * kN, cnt[u]);
                a[u] = vfmadd(wa, X, a[u]);
                b[u] = vfmadd(wb, X, b[u]);
                dg[u] = vfmadd(vload_part(dc + u * kN, cnt[u]), X, dg[u]);
              }
            }
            Vf G[V], DA[V], DB[V];
            for (int u = 0; u < V; ++u) {
              G[u] = gn ? vload_part(gn + i + u * kN, cnt[u]) : vsigmoid(vmul(a[u], b[u]));
              const Vf ds = vmul(vmul(dg[u], G[u]), vsub(vset1(1.f), G[u]));
              const Vm live = vfirst(cnt[u]);  // dead lanes must add nothing to the sums
              DA[u] = vselect(live, vmul(ds, b[u]), vzero());
              DB[u] = vselect(live, vmul(ds, a[u]), vzero());
              sda = vadd(sda, DA[u]);
              sdb = vadd(sdb, DB[u]);
            }
            // Sweep 2: dx, and the weight gradients' per-channel sums.
            for (int64_t c = 0; c < C; ++c) {
              const float* xc = xn + c * HW + i;
              const float* dc = dn + c * HW + i;
              float* dxc = dxn + c * HW + i;
              float* ac = acc + 2 * c * kN;
              const Vf wa = vset1(p.wa[c]), wb = vset1(p.wb[c]);
              Vf aa = vload(ac), ab = vload(ac + kN);
              for (int u = 0; u < V; ++u) {
                const Vf X = vload_part(xc + u * kN, cnt[u]);
                Vf d = vfmadd(DB[u], wb, vfmadd(DA[u], wa, vmul(vload_part(dc + u * kN, cnt[u]), G[u])));
                if (p.accumulate) d = vadd(vload_part(dxc + u * kN, cnt[u]), d);
                vstore_part(dxc + u * kN, d, cnt[u]);
                aa = vfmadd(DA[u], X, aa);
                ab = vfmadd(DB[u], X, ab);
              }
              vstore(ac, aa);
              vstore(ac + kN, ab);
            }
          });
        });
        for (int64_t c = 0; c < C; ++c) {
          pk[c] += vhsum(vload(acc + 2 * c * kN));
          pk[C + c] += vhsum(vload(acc + 2 * c * kN + kN));
        }
        pk[2 * C] += vhsum(sda);
        pk[2 * C + 1] += vhsum(sdb);
      }
    }
  });
  // The chunks in order: the same sums for any thread count.
  for (int64_t j = 0; j < stride; ++j) {
    double s = 0;
    for (int64_t k = 0; k < K; ++k) s += part[k * stride + j];
    float* dst = j < C ? p.dwa + j : j < 2 * C ? p.dwb + (j - C) : j == 2 * C ? p.dba : p.dbb;
    *dst = p.accumulate ? *dst + static_cast<float>(s) : static_cast<float>(s);
  }
}

// The backward in blocks (wide C).
static void spatial_gate_backward_blocks(const SpatialGateBackwardParams& p) {
  const Blocks bl = blocks_of(p.N, p.C, p.HW);
  const int64_t C = p.C, HW = p.HW;
  const float ba = *p.ba, bb = *p.bb;
  const int64_t K = min64(bl.tasks, kGateChunks);
  const int64_t stride = 2 * C + 2;  // a chunk's partial sums: dwa[C], dwb[C], dba, dbb
  double* part = mem::scratch_as<double>(0, static_cast<size_t>(K * stride > 0 ? K * stride : 1));
  parallel_for(K, 1, [&](int64_t k0, int64_t k1) {
    // Per pixel: a → da, b → db, dg → g. Per channel: this task's vector sums of da·x, db·x.
    float* A = mem::scratch_as<float>(1, static_cast<size_t>(3 * bl.P));
    float* B = A + bl.P;
    float* G = B + bl.P;
    float* acc = mem::scratch_as<float>(2, static_cast<size_t>(2 * C * kN > 0 ? 2 * C * kN : 1));
    for (int64_t ck = k0; ck < k1; ++ck) {
      double* pk = part + ck * stride;
      for (int64_t j = 0; j < stride; ++j) pk[j] = 0;
      for (int64_t t = bl.tasks * ck / K, t_end = bl.tasks * (ck + 1) / K; t < t_end; ++t) {
        const int64_t n = t / bl.per, p0 = (t % bl.per) * bl.P, len = min64(bl.P, HW - p0);
        const float* xn = p.x + n * C * HW + p0;
        const float* dn = p.dout + n * C * HW + p0;
        float* dxn = p.dx + n * C * HW + p0;
        const float* gn = p.gate ? p.gate + n * HW + p0 : nullptr;
        // Sweep 1: a, b and dg = Σ_c dOut·x, x and dOut read once.
        for (int64_t k = 0; k < len; k += kN) {
          vstore(A + k, vset1(ba));
          vstore(B + k, vset1(bb));
          vstore(G + k, vzero());
        }
        for (int64_t c = 0; c < C; ++c) {
          const float* xc = xn + c * HW;
          const float* dc = dn + c * HW;
          const Vf wa = vset1(p.wa[c]), wb = vset1(p.wb[c]);
          for (int64_t k = 0; k < len; k += kN) {
            const Vf X = vload_part(xc + k, len - k);
            vstore(A + k, vfmadd(wa, X, vload(A + k)));
            vstore(B + k, vfmadd(wb, X, vload(B + k)));
            vstore(G + k, vfmadd(vload_part(dc + k, len - k), X, vload(G + k)));
          }
        }
        Vf sda = vzero(), sdb = vzero();
        for (int64_t k = 0; k < len; k += kN) {
          const Vf a = vload(A + k), b = vload(B + k);
          const Vf g = gn ? vload_part(gn + k, len - k) : vsigmoid(vmul(a, b));
          const Vf ds = vmul(vmul(vload(G + k), g), vsub(vset1(1.f), g));
          const Vm live = vfirst(len - k);  // dead lanes must add nothing to the sums
          const Vf da = vselect(live, vmul(ds, b), vzero()), db = vselect(live, vmul(ds, a), vzero());
          vstore(A + k, da);
          vstore(B + k, db);
          vstore(G + k, g);
          sda = vadd(sda, da);
          sdb = vadd(sdb, db);
        }
        // Sweep 2: dx, and each channel's weight-gradient sums (two accumulators each, so
        // FMA latency does not bound the sweep).
        for (int64_t c = 0; c < C; ++c) {
          const float* xc = xn + c * HW;
          const float* dc = dn + c * HW;
          float* dxc = dxn + c * HW;
          const Vf wa = vset1(p.wa[c]), wb = vset1(p.wb[c]);
          Vf aa[2] = {vzero(), vzero()}, ab[2] = {vzero(), vzero()};
          int j = 0;
          for (int64_t k = 0; k < len; k += kN, j ^= 1) {
            const Vf X = vload_part(xc + k, len - k);
            const Vf da = vload(A + k), db = vload(B + k);
            Vf d = vfmadd(db, wb, vfmadd(da, wa, vmul(vload_part(dc + k, len - k), vload(G + k))));
            if (p.accumulate) d = vadd(vload_part(dxc + k, len - k), d);
            vstore_part(dxc + k, d, len - k);
            aa[j] = vfmadd(da, X, aa[j]);
            ab[j] = vfmadd(db, X, ab[j]);
          }
          float* ac = acc + 2 * c * kN;
          vstore(ac, vadd(aa[0], aa[1]));
          vstore(ac + kN, vadd(ab[0], ab[1]));
        }
        for (int64_t c = 0; c < C; ++c) {
          pk[c] += vhsum(vload(acc + 2 * c * kN));
          pk[C + c] += vhsum(vload(acc + 2 * c * kN + kN));
        }
        pk[2 * C] += vhsum(sda);
        pk[2 * C + 1] += vhsum(sdb);
      }
    }
  });
  // The chunks in order: the same sums for any thread count.
  for (int64_t j = 0; j < stride; ++j) {
    double s = 0;
    for (int64_t k = 0; k < K; ++k) s += part[k * stride + j];
    float* dst = j < C ? p.dwa + j : j < 2 * C ? p.dwb + (j - C) : j == 2 * C ? p.dba : p.dbb;
    *dst = p.accumulate ? *dst + static_cast<float>(s) : static_cast<float>(s);
  }
}

// With s = a·b and g = σ(s): dg = Σ_c dOut·x, ds = dg·g·(1 − g), da = ds·b, db = ds·a;
// dx = dOut·g + da·wa[c] + db·wb[c]; dwa[c] = Σ da·x[c], dba = Σ da (and b's alike).
// Register groups while a group's rows of x and dOut fit in L1 (C ≤ 64): the second
// sweep then reads L1, which beats blocks' longer runs ([8,64,56,56], one thread, AVX-512:
// 0.93 ms against 0.98; AVX2 1.05 against 1.10); blocks beyond ([32,256,14,14]: 0.96
// against 1.10, AVX2 0.99 against 1.20). Each path's sums are fixed by the shape, so the
// choice keeps results bit-identical across thread counts.
void spatial_gate_backward(const SpatialGateBackwardParams& p) {
  if (p.C <= 64) spatial_gate_backward_groups(p);
  else spatial_gate_backward_blocks(p);
}

// channelPool's forward is one sweep (register groups, it runs at the speed x streams in);
// its backward two, in register groups: blocks measured slower on AVX-512 ([8,64,56,56],
// one thread: 0.77 ms against 0.56) though faster on AVX2 (0.74 against 1.19), and
// AVX-512 is the machines this is built for.
void channel_pool_forward(const ChannelPoolParams& p) {
  const Tiling tl = tiling(p.N, p.C, p.HW);
  const int64_t C = p.C, HW = p.HW;
  parallel_for(tl.tasks, task_grain(tl.P * (C + 2)), [&](int64_t t0, int64_t t1) {
    const Vf cv = vset1(static_cast<float>(C));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / tl.blocks, p0 = (t % tl.blocks) * tl.P, p1 = min64(p0 + tl.P, HW);
      const float* xn = p.x + n * C * HW;
      float* yn = p.y + n * 2 * HW;
      for_each_group(p0, p1, [&](int v, int64_t i, const int64_t* cnt) {
        with_vectors(v, [&](auto vc) {
          constexpr int V = decltype(vc)::value;
          Vf s[V], m[V];
          for (int u = 0; u < V; ++u) {
            s[u] = vzero();
            m[u] = vset1(-std::numeric_limits<float>::infinity());
          }
          for (int64_t c = 0; c < C; ++c) {
            const float* xc = xn + c * HW + i;
            for (int u = 0; u < V; ++u) {
              const Vf X = vload_part(xc + u * kN, cnt[u]);
              s[u] = vadd(s[u], X);
              m[u] = vmax_nan(m[u], X);
            }
          }
          for (int u = 0; u < V; ++u) {
            vstore_part(yn + i + u * kN, vdiv(s[u], cv), cnt[u]);
            vstore_part(yn + HW + i + u * kN, m[u], cnt[u]);
          }
        });
      });
    }
  });
}

void channel_pool_backward(const ChannelPoolBackwardParams& p) {
  const Tiling tl = tiling(p.N, p.C, p.HW);
  const int64_t C = p.C, HW = p.HW;
  parallel_for(tl.tasks, task_grain(tl.P * (2 * C + 2)), [&](int64_t t0, int64_t t1) {
    const Vf cv = vset1(static_cast<float>(C));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / tl.blocks, p0 = (t % tl.blocks) * tl.P, p1 = min64(p0 + tl.P, HW);
      const float* xn = p.x + n * C * HW;
      const float* dyn = p.dy + n * 2 * HW;
      float* dxn = p.dx + n * C * HW;
      for_each_group(p0, p1, [&](int v, int64_t i, const int64_t* cnt) {
        with_vectors(v, [&](auto vc) {
          constexpr int V = decltype(vc)::value;
          // Sweep 1: the max of each pixel (NaN if any is NaN), as the forward found it.
          Vf m[V];
          for (int u = 0; u < V; ++u) m[u] = vset1(-std::numeric_limits<float>::infinity());
          for (int64_t c = 0; c < C; ++c) {
            const float* xc = xn + c * HW + i;
            for (int u = 0; u < V; ++u) m[u] = vmax_nan(m[u], vload_part(xc + u * kN, cnt[u]));
          }
          Vf dm[V], d1[V];
          Vm found[V], mnan[V];
          for (int u = 0; u < V; ++u) {
            dm[u] = vdiv(vload_part(dyn + i + u * kN, cnt[u]), cv);
            d1[u] = vload_part(dyn + HW + i + u * kN, cnt[u]);
            found[u] = vfirst(0);
            mnan[u] = visnan(m[u]);
          }
          // Sweep 2: the mean's share everywhere, the max's to the first c that equals it
          // (the first NaN when the max is NaN), as PyTorch's max breaks ties.
          for (int64_t c = 0; c < C; ++c) {
            const float* xc = xn + c * HW + i;
            float* dxc = dxn + c * HW + i;
            for (int u = 0; u < V; ++u) {
              const Vf X = vload_part(xc + u * kN, cnt[u]);
              const Vm hit = mor(veq(X, m[u]), mand(visnan(X), mnan[u]));
              const Vm take = mand(hit, mnot(found[u]));
              found[u] = mor(found[u], hit);
              Vf d = vadd(dm[u], vselect(take, d1[u], vzero()));
              if (p.accumulate) d = vadd(vload_part(dxc + u * kN, cnt[u]), d);
              vstore_part(dxc + u * kN, d, cnt[u]);
            }
          }
        });
      });
    }
  });
}

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
