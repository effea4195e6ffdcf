// gate kernel bodies, compiled once per ISA (see core/isa.h and cpu/simd/vec.h).
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including gate_kernels.h"
#endif

#include "cpu/simd/vmath.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

// Vectors of pixels in a register group. The backward keeps 3 accumulators per vector
// through the channel sweep and 3 per-pixel factors through the second: 4 vectors fill
// AVX-512's 32 registers, 2 AVX2's 16.
#if FOVEAL_VEC_LEVEL == 3
constexpr int kU = 4;
#else
constexpr int kU = 2;
#endif
constexpr int64_t kG = kU * kN;  // pixels per group

// Tasks: image n, pixels [p0, p1) of a block of P.
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

}  // namespace

void spatial_gate_forward(const SpatialGateParams& p) {
  const Tiling tl = tiling(p.N, p.C, p.HW);
  const int64_t C = p.C, HW = p.HW;
  const float ba = *p.ba, bb = *p.bb;
  parallel_for(tl.tasks, task_grain(tl.P * (C + 1)), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / tl.blocks, p0 = (t % tl.blocks) * tl.P, p1 = min64(p0 + tl.P, HW);
      const float* xn = p.x + n * C * HW;
      float* on = p.out + n * C * HW;
      float* gn = p.gate + n * HW;
      for_each_group(p0, p1, [&](int v, int64_t i, const int64_t* cnt) {
        with_vectors(v, [&](auto vc) {
          constexpr int V = decltype(vc)::value;
          // Sweep 1: both 1×1 convolutions at once, x read once.
          Vf a[V], b[V];
          for (int u = 0; u < V; ++u) {
            a[u] = vset1(ba);
            b[u] = vset1(bb);
          }
          for (int64_t c = 0; c < C; ++c) {
            const float* xc = xn + c * HW + i;
            const Vf wa = vset1(p.wa[c]), wb = vset1(p.wb[c]);
            for (int u = 0; u < V; ++u) {
              const Vf X = vload_part(xc + u * kN, cnt[u]);
              a[u] = vfmadd(wa, X, a[u]);
              b[u] = vfmadd(wb, X, b[u]);
            }
          }
          Vf g[V];
          for (int u = 0; u < V; ++u) {
            g[u] = vsigmoid(vmul(a[u], b[u]));
            vstore_part(gn + i + u * kN, g[u], cnt[u]);
          }
          // Sweep 2: the gated output, the group's rows still in cache.
          for (int64_t c = 0; c < C; ++c) {
            const float* xc = xn + c * HW + i;
            float* oc = on + c * HW + i;
            for (int u = 0; u < V; ++u) vstore_part(oc + u * kN, vmul(vload_part(xc + u * kN, cnt[u]), g[u]), cnt[u]);
          }
        });
      });
    }
  });
}

// With s = a·b and g = σ(s): dg = Σ_c dOut·x, ds = dg·g·(1 − g), da = ds·b, db = ds·a;
// dx = dOut·g + da·wa[c] + db·wb[c]; dwa[c] = Σ da·x[c], dba = Σ da (and b's alike).
void spatial_gate_backward(const SpatialGateBackwardParams& p) {
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
