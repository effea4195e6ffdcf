// conv: the driver (algorithm by shape, weight packing, threading, GEMM calls) and the
// dispatch to the best kernel variant (conv_generic/avx2/avx512.cpp). See conv.h for the
// algorithms.
#include "cpu/conv/conv.h"

#include <algorithm>
#include <cstring>

#include "core/check.h"
#include "core/dispatch.h"
#include "core/memory.h"
#include "core/parallel.h"
#include "cpu/conv/conv_internal.h"
#include "cpu/gemm/gemm.h"

namespace foveal {
namespace cpu {
namespace {

using convk::Kernels;

const Kernel<const Kernels*> kConvKernels{"conv2d", &convk::generic::kKernels, FOVEAL_IF_X86(&convk::avx2::kKernels),
                                          FOVEAL_IF_X86(&convk::avx512::kKernels)};
FOVEAL_REGISTER_KERNEL(kConvKernels);

// Scratch slots this family uses (core/memory.h lists every owner). gemm() (1×1 paths)
// takes slots 6 and 7 of the threads it runs on, so data kept across a gemm() call lives
// in 0–5 only; 6 and 7 serve as per-thread buffers inside regions that call only
// gemm_packed and the packers, which use no scratch. Slots 1 and 3 are also
// conv_kernels.inc's (generic depthwise dw accumulators, depthwise/direct tables), never
// while the caller holds them here. The scratch check (core/memory.h) catches a violation.
constexpr mem::Slot kSlotPlan = mem::Slot::conv_plan;    // calling thread: the im2col plan, read by the whole region
constexpr mem::Slot kSlotXform = mem::Slot::conv_xform;  // calling thread: flipped weights, read by the whole region
constexpr mem::Slot kSlotA = mem::Slot::conv_packed_a;   // calling thread: the packed weights, read by the whole region
constexpr mem::Slot kSlotB = mem::Slot::conv_packed_b;   // each thread: its packed-B panels (im2col or dy tile)
constexpr mem::Slot kSlotCol = mem::Slot::conv_col;      // each thread: a col tile (col2im) or plain im2col rows (dw)
constexpr mem::Slot kSlotDy = mem::Slot::conv_dy;        // each thread: the packed dy tile (dw)
constexpr mem::Slot kSlotZ = mem::Slot::conv_winograd_z;  // each thread: Winograd dw's Z tile

// Pixels per tile: the packed-B block (K × tile floats) stays in L2 beside the packed
// weights. A multiple of the panel width, at least one panel.
int64_t tile_pixels(int64_t K, int64_t nr, int64_t P) {
  constexpr int64_t kBudgetFloats = 48 * 1024;  // 192 KiB
  int64_t t = kBudgetFloats / std::max<int64_t>(K, 1);
  t = std::max<int64_t>(nr, t / nr * nr);
  const int64_t whole = (P + nr - 1) / nr * nr;
  return std::min(t, std::max<int64_t>(whole, nr));
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

bool is_depthwise(const ConvShape& s) { return s.groups == s.C && s.Cout == s.C && s.C > 0; }
// A GEMM would use few rows of each micro-panel: the direct kernel instead.
bool is_direct(const ConvShape& s) {
  return s.cout_g() <= 4 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1 && s.kh == s.kw &&
         (s.kh == 1 || s.kh == 3 || s.kh == 5 || s.kh == 7);
}
// dw's GEMM would be at most 27 columns wide (one to three input channels of 3×3): the
// pairwise kernel instead.
bool is_pair_dw(const ConvShape& s) {
  return s.cin_g() * s.kh * s.kw <= 27 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1 && s.kh == s.kw &&
         (s.kh == 3 || s.kh == 5);
}
bool is_pointwise(const ConvShape& s) {
  return s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.pt == 0 && s.pb == 0 && s.pl == 0 && s.pr == 0;
}

// A 1×1 stride-1 unpadded convolution (ta = N: out = W·in) or its dx (ta = T: out = Wᵀ·in)
// per group: the images are already GEMM operands, one strided batch over them.
void pointwise(const ConvShape& s, Trans ta, const float* w, const float* in, int64_t in_ch, float* out, int64_t out_ch,
               const float* bias, const Epilogue& base) {
  const int64_t P = s.OH * s.OW, Cg = s.cin_g(), Mg = s.cout_g();
  const int64_t M = ta == Trans::N ? Mg : Cg, K = ta == Trans::N ? Cg : Mg;
  for (int64_t g = 0; g < s.groups; ++g) {
    GemmParams q;
    q.ta = ta;
    q.M = M, q.N = P, q.K = K;
    q.A = w + g * Mg * Cg, q.lda = Cg;
    q.B = in + g * K * P, q.ldb = P;
    q.C = out + g * M * P, q.ldc = P;
    q.ep = base;
    q.ep.bias_col = bias ? bias + g * M : nullptr;
    q.batch = s.N, q.stride_a = 0, q.stride_b = in_ch * P, q.stride_c = out_ch * P;
    gemm(q);
  }
}

// The im2col geometry of `s` (panels nr wide), with its plan built into the calling
// thread's scratch (held by *plan) when the variant uses one: the plan is shared,
// read-only, by the region.
convk::Im2col im2col_geometry(const ConvShape& s, int64_t Cg, int64_t nr, const Kernels* kern,
                              mem::Scratch<char>* plan) {
  convk::Im2col ic;
  ic.Cg = Cg, ic.H = s.H, ic.W = s.W, ic.OW = s.OW;
  ic.kh = s.kh, ic.kw = s.kw, ic.sh = s.sh, ic.sw = s.sw, ic.dh = s.dh, ic.dw = s.dw;
  ic.pt = s.pt, ic.pl = s.pl, ic.nr = nr;
  ic.P = s.OH * s.OW;
  const size_t bytes = kern->im2col_plan_size(ic, ic.P);
  if (bytes) {
    *plan = mem::Scratch<char>(kSlotPlan, bytes);
    kern->im2col_plan(ic, ic.P, *plan);
    ic.plan = *plan;
  }
  return ic;
}

// Winograd F(2×2, 3×3) for 3×3 stride-1 convolutions with enough channels on both sides
// to amortise the transforms: 16 GEMMs of K = C/groups over 2×2 output tiles do the work
// of one of K = 9·C/groups over pixels, 2.25× fewer multiply-adds (less the padding of the
// last tile group of each row). Its rounding differs from the direct sum by a few ulps of
// the inputs' scale (the transforms only add, subtract and halve).
bool use_winograd(const ConvShape& s, const Kernels& kern, const GemmGeometry& geo) {
  return s.kh == 3 && s.kw == 3 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1 && s.cin_g() >= 8 &&
         s.cout_g() >= 8 && s.OH >= 2 && s.OW >= 2 && geo.nr % kern.winograd_lanes == 0;
}

void winograd_forward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y, bool relu,
                      bool accumulate, const Kernels& kern, const GemmGeometry& geo) {
  const int64_t G = s.groups, Cg = s.cin_g(), Mg = s.cout_g();
  const int64_t L = kern.winograd_lanes;
  const int64_t TH = ceil_div(s.OH, 2), TW = ceil_div(s.OW, 2), gpr = ceil_div(TW, L);
  const int64_t ngroups = TH * gpr;
  // Groups per block: the block's V and M (16·(Cg + Mg) floats per slot) near 512 KiB, in
  // whole GEMM panels; the same for every thread count.
  const int64_t per_panel = geo.nr / L;
  int64_t nb = std::max<int64_t>(1, (128 * 1024) / (16 * (Cg + Mg) * L));
  nb = std::max(per_panel, nb / per_panel * per_panel);
  nb = std::min(nb, ngroups);
  const int64_t blocks = ceil_div(ngroups, nb);
  const int64_t S = nb * L;

  // U[g][ξ] = G·w·Gᵀ, G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]], as [Mg][Cg] rows, packed.
  const size_t a_size = packed_a_size(geo, Mg, Cg);
  mem::Scratch<float> u(kSlotCol, static_cast<size_t>(16 * s.Cout * Cg));
  for (int64_t co = 0; co < s.Cout; ++co)
    for (int64_t ci = 0; ci < Cg; ++ci) {
      const float* g = w + (co * Cg + ci) * 9;
      float t[4][3];
      for (int c = 0; c < 3; ++c) {
        t[0][c] = g[c];
        t[1][c] = 0.5f * (g[c] + g[3 + c] + g[6 + c]);
        t[2][c] = 0.5f * (g[c] - g[3 + c] + g[6 + c]);
        t[3][c] = g[6 + c];
      }
      const int64_t grp = co / Mg, row = co % Mg;
      for (int r = 0; r < 4; ++r) {
        const float v[4] = {t[r][0], 0.5f * (t[r][0] + t[r][1] + t[r][2]), 0.5f * (t[r][0] - t[r][1] + t[r][2]),
                            t[r][2]};
        for (int c = 0; c < 4; ++c) u[((grp * 16 + r * 4 + c) * Mg + row) * Cg + ci] = v[c];
      }
    }
  mem::Scratch<float> Ap(kSlotA, a_size * 16 * G);
  for (int64_t m = 0; m < 16 * G; ++m) pack_a(geo, Trans::N, u + m * Mg * Cg, Cg, Mg, Cg, Ap + m * a_size);

  const int64_t vsz = static_cast<int64_t>(packed_b_size(geo, Cg, S));
  parallel_for(s.N * G * blocks, 1, [&](int64_t i0, int64_t i1) {
    mem::Scratch<float> V(kSlotB, static_cast<size_t>(16 * vsz));
    mem::Scratch<float> M(kSlotDy, static_cast<size_t>(16 * Mg * S));
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t bi = it % blocks, g = (it / blocks) % G, n = it / (blocks * G);
      convk::WinoBlock b;
      b.g0 = bi * nb, b.ngroups = std::min(nb, ngroups - b.g0), b.TW = TW, b.slots = b.ngroups * L;
      convk::WinoIn in;
      in.b = b, in.x = x + (n * s.C + g * Cg) * s.H * s.W, in.Cg = Cg, in.H = s.H, in.W = s.W;
      in.pt = s.pt, in.pl = s.pl, in.nr = geo.nr, in.dst = V, in.stride = vsz;
      kern.winograd_input(in);
      for (int64_t xi = 0; xi < 16; ++xi)
        gemm_packed(geo, Ap + (g * 16 + xi) * a_size, V + xi * vsz, Mg, b.slots, Cg, M + xi * Mg * b.slots, b.slots,
                    Epilogue{});
      convk::WinoOut out;
      out.b = b, out.m = M, out.stride = Mg * b.slots, out.Mg = Mg, out.OH = s.OH, out.OW = s.OW;
      out.y = y + (n * s.Cout + g * Mg) * s.OH * s.OW, out.bias = bias ? bias + g * Mg : nullptr;
      out.relu = relu, out.accumulate = accumulate;
      kern.winograd_output(out);
    }
  });
}

// dw by Winograd F(2×2, 3×3), the transpose of the forward: Z[ξ] = Σ over images and
// tiles of W[ξ]·V[ξ]ᵀ (W = A·dy·Aᵀ, V = Bᵀ·d·B), then dw = Gᵀ·Z·G. Each work item owns a
// block of input channels and visits every image and tile block in order, so each sum
// runs in one order whatever the split.
void winograd_dw(const ConvShape& s, const float* dy, const float* x, float* dw, bool accumulate, const Kernels& kern,
                 const GemmGeometry& geo) {
  const int64_t G = s.groups, Cg = s.cin_g(), Mg = s.cout_g();
  const int64_t L = kern.winograd_lanes;
  const int64_t TH = ceil_div(s.OH, 2), TW = ceil_div(s.OW, 2), gpr = ceil_div(TW, L);
  const int64_t ngroups = TH * gpr;
  const int64_t P = s.OH * s.OW;
  // Work items: (group, block of input channels, block of output channels). Input channels
  // split only into blocks of whole B panels (a narrower block would leave GEMM lanes
  // idle), then output channels in whole micro-panels.
  const int64_t threads = num_threads();
  const int64_t want = std::max<int64_t>(1, ceil_div(threads, G));
  const int64_t cib = std::min(want, std::max<int64_t>(1, Cg / geo.nr));
  const int64_t cb = ceil_div(ceil_div(Cg, cib), geo.nr) * geo.nr, ncb = ceil_div(Cg, cb);
  const int64_t mpanels = ceil_div(Mg, geo.mr);
  const int64_t cob = std::min(mpanels, std::max<int64_t>(1, ceil_div(want, ncb)));
  const int64_t ob = ceil_div(mpanels, cob) * geo.mr, nob = ceil_div(Mg, ob);
  // Tile groups per block from the full channel counts: the same for every split.
  int64_t nb = std::max<int64_t>(1, (128 * 1024) / (16 * (Cg + Mg) * L));
  nb = std::min(nb, ngroups);
  const int64_t S = nb * L;
  const int64_t blocks = ceil_div(ngroups, nb);
  parallel_for(G * ncb * nob, 1, [&](int64_t i0, int64_t i1) {
    mem::Scratch<float> Z(kSlotZ, static_cast<size_t>(16 * ob * cb));
    mem::Scratch<float> V(kSlotCol, static_cast<size_t>(16 * cb * S));
    mem::Scratch<float> W(kSlotDy, static_cast<size_t>(16 * ob * S));
    const size_t a_size = packed_a_size(geo, ob, S), b_size = packed_b_size(geo, S, cb);
    mem::Scratch<float> Ap(kSlotB, a_size + b_size);
    float* Bp = Ap + a_size;
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t oi = it % nob, ci = (it / nob) % ncb, g = it / (nob * ncb);
      const int64_t c0 = ci * cb, c1 = std::min(Cg, c0 + cb), nc = c1 - c0;
      const int64_t o0 = oi * ob, o1 = std::min(Mg, o0 + ob), no = o1 - o0;
      std::memset(Z, 0, static_cast<size_t>(16 * no * nc) * sizeof(float));
      Epilogue ep;
      ep.beta = 1.f;
      for (int64_t n = 0; n < s.N; ++n)
        for (int64_t bi = 0; bi < blocks; ++bi) {
          convk::WinoBlock b;
          b.g0 = bi * nb, b.ngroups = std::min(nb, ngroups - b.g0), b.TW = TW, b.slots = b.ngroups * L;
          convk::WinoIn in;  // V as row-major [nc][slots]: a packed-B panel as wide as the block
          in.b = b, in.x = x + (n * s.C + g * Cg + c0) * s.H * s.W, in.Cg = nc, in.H = s.H, in.W = s.W;
          in.pt = s.pt, in.pl = s.pl, in.nr = b.slots, in.dst = V, in.stride = nc * b.slots;
          kern.winograd_input(in);
          convk::WinoDy wd;
          wd.b = b, wd.dy = dy + (n * s.Cout + g * Mg + o0) * P, wd.Mg = no, wd.OH = s.OH, wd.OW = s.OW;
          wd.dst = W, wd.stride = no * b.slots;
          kern.winograd_dy(wd);
          for (int64_t xi = 0; xi < 16; ++xi) {
            pack_a(geo, Trans::N, W + xi * no * b.slots, b.slots, no, b.slots, Ap);
            pack_b(geo, Trans::T, V + xi * nc * b.slots, b.slots, b.slots, nc, Bp);
            gemm_packed(geo, Ap, Bp, no, nc, b.slots, Z + xi * no * nc, nc, ep);
          }
        }
      // dw = Gᵀ·Z·G, Gᵀ = [[1,½,½,0],[0,½,−½,0],[0,½,½,1]].
      for (int64_t co = o0; co < o1; ++co)
        for (int64_t c = 0; c < nc; ++c) {
          float z[16];
          for (int xi = 0; xi < 16; ++xi) z[xi] = Z[(xi * no + co - o0) * nc + c];
          float t[3][4];
          for (int col = 0; col < 4; ++col) {
            t[0][col] = z[col] + 0.5f * (z[4 + col] + z[8 + col]);
            t[1][col] = 0.5f * (z[4 + col] - z[8 + col]);
            t[2][col] = 0.5f * (z[4 + col] + z[8 + col]) + z[12 + col];
          }
          float* out = dw + ((g * Mg + co) * Cg + c0 + c) * 9;
          for (int r = 0; r < 3; ++r) {
            const float v[3] = {t[r][0] + 0.5f * (t[r][1] + t[r][2]), 0.5f * (t[r][1] - t[r][2]),
                                0.5f * (t[r][1] + t[r][2]) + t[r][3]};
            for (int q = 0; q < 3; ++q) out[r * 3 + q] = accumulate ? out[r * 3 + q] + v[q] : v[q];
          }
        }
    }
  });
}

// y (+)= act(bias + conv(x, w)) for all images. `s` may carry negative padding (a crop)
// when it is the stride-1 dx convolution; pb/pr are not read by the kernels.
void forward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y, bool relu,
             bool accumulate) {
  const int64_t P = s.OH * s.OW;
  if (s.N == 0 || s.Cout == 0 || P == 0) return;
  const Kernels& kern = *kConvKernels.pick();
  const int64_t G = s.groups, Cg = s.cin_g(), Mg = s.cout_g();
  const int64_t K = Cg * s.kh * s.kw;

  if (K == 0) {  // no input channels: y is the bias
    parallel_for(s.N * s.Cout, std::max<int64_t>(1, 16384 / P), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float* yr = y + r * P;
        const float b = bias ? bias[r % s.Cout] : 0.f;
        for (int64_t i = 0; i < P; ++i) {
          float v = accumulate ? yr[i] : b;
          if (!accumulate && relu) v = v > 0.f ? v : 0.f;
          yr[i] = v;
        }
      }
    });
    return;
  }

  if (is_depthwise(s)) {
    const int64_t planes = s.N * s.C;
    const int64_t per_plane = P * s.kh * s.kw;
    parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(per_plane, 1)), [&](int64_t a, int64_t b) {
      convk::Depthwise d;
      d.s = s, d.x = x, d.w = w, d.bias = bias, d.y = y, d.relu = relu, d.accumulate = accumulate;
      d.plane0 = a, d.plane1 = b;
      kern.depthwise(d);
    });
    return;
  }

  if (is_direct(s)) {
    const int64_t per_plane = P * K;
    parallel_for(s.N * G, std::max<int64_t>(1, 16384 / std::max<int64_t>(per_plane * Mg, 1)),
                 [&](int64_t a, int64_t b) {
                   convk::Depthwise d;
                   d.s = s, d.x = x, d.w = w, d.bias = bias, d.y = y, d.relu = relu, d.accumulate = accumulate;
                   d.plane0 = a, d.plane1 = b;
                   kern.direct(d);
                 });
    return;
  }

  Epilogue base;
  base.act = relu ? Act::relu : Act::none;
  base.beta = accumulate ? 1.f : 0.f;

  if (is_pointwise(s)) {
    pointwise(s, Trans::N, w, x, s.C, y, s.Cout, bias, base);
    return;
  }

  const GemmGeometry geo = gemm_geometry();
  if (use_winograd(s, kern, geo)) {
    winograd_forward(s, x, w, bias, y, relu, accumulate, kern, geo);
    return;
  }
  const size_t a_size = packed_a_size(geo, Mg, K);
  mem::Scratch<float> Ap(kSlotA, a_size * G);
  for (int64_t g = 0; g < G; ++g) pack_a(geo, Trans::N, w + g * Mg * K, K, Mg, K, Ap + g * a_size);

  const int64_t T = tile_pixels(K, geo.nr, P);
  const int64_t tiles = ceil_div(P, T);
  // Few (image, group, tile) items (one small image, or a 7×7 map): split the output
  // channels too, in whole micro-panels, so every thread has work. A split block
  // re-runs its tile's im2col; each output is still one GEMM call's dot product.
  const int64_t threads = num_threads();
  const int64_t panels = ceil_div(Mg, geo.mr);
  const int64_t splits = std::min(panels, std::max<int64_t>(1, ceil_div(2 * threads, s.N * G * tiles)));
  const int64_t mb = ceil_div(panels, splits) * geo.mr, mblocks = ceil_div(Mg, mb);
  const int64_t items = s.N * G * tiles * mblocks;
  const size_t b_size = packed_b_size(geo, K, T);
  mem::Scratch<char> plan;
  const convk::Im2col proto = im2col_geometry(s, Cg, geo.nr, &kern, &plan);
  parallel_for(items, 1, [&](int64_t i0, int64_t i1) {
    mem::Scratch<float> Bp(kSlotB, b_size);
    convk::Im2col ic = proto;
    ic.dst = Bp;
    int64_t done = -1;  // the (image, group, tile) whose panels Bp holds
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t mi = it % mblocks;
      const int64_t tile_item = it / mblocks;
      const int64_t t = tile_item % tiles;
      const int64_t g = (tile_item / tiles) % G;
      const int64_t n = tile_item / (tiles * G);
      ic.p0 = t * T;
      ic.np = std::min(T, P - ic.p0);
      if (tile_item != done) {
        ic.x = x + (n * s.C + g * Cg) * s.H * s.W;
        kern.im2col(ic);
        done = tile_item;
      }
      const int64_t m0 = mi * mb, m1 = std::min(Mg, m0 + mb);
      Epilogue ep = base;
      ep.bias_col = bias ? bias + g * Mg + m0 : nullptr;
      gemm_packed(geo, Ap + g * a_size + (m0 / geo.mr) * K * geo.mr, Bp, m1 - m0, ic.np, K,
                  y + (n * s.Cout + g * Mg + m0) * P + ic.p0, P, ep);
    }
  });
}

// dx (+)= convᵀ(dy, w), then act(dx + bias) when bias/relu are given (the transposed
// convolution's forward; never with accumulate).
void backward_dx(const ConvShape& s, const float* dy, const float* w, float* dx, bool accumulate, const float* bias,
                 bool relu) {
  const int64_t HW = s.H * s.W, P = s.OH * s.OW;
  if (s.N == 0 || s.C == 0 || HW == 0) return;
  const Kernels& kern = *kConvKernels.pick();
  const int64_t G = s.groups, Cg = s.cin_g(), Mg = s.cout_g();
  const int64_t khw = s.kh * s.kw;

  if (Mg == 0 || P == 0) {  // nothing flows back: dx is the bias (or unchanged)
    if (accumulate && !bias && !relu) return;
    parallel_for(s.N * s.C, std::max<int64_t>(1, 16384 / HW), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float* d = dx + r * HW;
        const float b = bias ? bias[r % s.C] : 0.f;
        for (int64_t i = 0; i < HW; ++i) {
          float v = (accumulate ? d[i] : 0.f) + b;
          if (relu) v = v > 0.f ? v : 0.f;
          d[i] = v;
        }
      }
    });
    return;
  }

  const bool stride1 = s.sh == 1 && s.sw == 1;
  if (stride1 && !is_pointwise(s)) {
    // dx = conv(dy, flip(w)ᵀ) at stride 1 with padding (dilation·(k−1) − pad), which is
    // negative (a crop) where the forward padding exceeds the kernel's reach.
    ConvShape t;
    t.N = s.N, t.C = s.Cout, t.H = s.OH, t.W = s.OW, t.Cout = s.C, t.OH = s.H, t.OW = s.W;
    t.kh = s.kh, t.kw = s.kw, t.sh = 1, t.sw = 1, t.dh = s.dh, t.dw = s.dw;
    t.pt = s.dh * (s.kh - 1) - s.pt, t.pl = s.dw * (s.kw - 1) - s.pl;
    t.pb = s.dh * (s.kh - 1) - s.pb, t.pr = s.dw * (s.kw - 1) - s.pr;
    t.groups = G;
    // w'[g·Cg + ci][co][ky][kx] = w[g·Mg + co][ci][kh−1−ky][kw−1−kx]
    mem::Scratch<float> wt(kSlotXform, static_cast<size_t>(s.Cout * Cg * khw));
    for (int64_t g = 0; g < G; ++g)
      for (int64_t co = 0; co < Mg; ++co)
        for (int64_t ci = 0; ci < Cg; ++ci) {
          const float* src = w + ((g * Mg + co) * Cg + ci) * khw;
          float* dst = wt + ((g * Cg + ci) * Mg + co) * khw;
          for (int64_t k = 0; k < khw; ++k) dst[k] = src[khw - 1 - k];
        }
    forward(t, dy, wt, bias, dx, relu, accumulate);
    return;
  }

  Epilogue base;
  if (is_pointwise(s)) {
    // dx[n] = Wᵀ·dy[n]: one strided batch per group.
    base.act = relu ? Act::relu : Act::none;
    base.beta = accumulate ? 1.f : 0.f;
    pointwise(s, Trans::T, w, dy, s.Cout, dx, s.C, bias, base);
    return;
  }

  if (is_depthwise(s)) {
    parallel_for(s.N * s.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(P * khw, 1)), [&](int64_t a, int64_t b) {
      convk::DepthwiseDx d;
      d.s = s, d.dy = dy, d.w = w, d.bias = bias, d.dx = dx, d.relu = relu, d.accumulate = accumulate;
      d.plane0 = a, d.plane1 = b;
      kern.depthwise_dx(d);
    });
    return;
  }

  // Stride > 1: col = Wᵀ·dy per tile of output pixels, scattered into dx (col2im). Work is
  // split over (image, group, block of input channels); each dx element receives its
  // contributions in tile order whatever the split.
  const GemmGeometry geo = gemm_geometry();
  const int64_t threads = num_threads();
  const int64_t cblocks = std::min(Cg, std::max<int64_t>(1, ceil_div(threads, s.N * G)));
  const int64_t cb = ceil_div(Cg, cblocks);
  const int64_t nblk = ceil_div(Cg, cb);
  const size_t blk_size = packed_a_size(geo, cb * khw, Mg);
  mem::Scratch<float> Ap(kSlotA, blk_size * nblk * G);
  for (int64_t g = 0; g < G; ++g)
    for (int64_t bi = 0; bi < nblk; ++bi) {
      const int64_t c0 = bi * cb, c1 = std::min(Cg, c0 + cb);
      pack_a(geo, Trans::T, w + g * Mg * Cg * khw + c0 * khw, Cg * khw, (c1 - c0) * khw, Mg,
             Ap + (g * nblk + bi) * blk_size);
    }
  // The tile, like every choice that orders a sum, depends on the shape alone (never on
  // the thread count or the channel split).
  const int64_t T = tile_pixels(std::max(Mg, Cg * khw), geo.nr, P);
  const int64_t tiles = ceil_div(P, T);
  parallel_for(s.N * G * nblk, 1, [&](int64_t i0, int64_t i1) {
    mem::Scratch<float> Bp(kSlotB, packed_b_size(geo, Mg, T));
    mem::Scratch<float> col(kSlotCol, static_cast<size_t>(cb * khw * T));
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t bi = it % nblk, g = (it / nblk) % G, n = it / (nblk * G);
      const int64_t c0 = bi * cb, c1 = std::min(Cg, c0 + cb);
      float* dxb = dx + (n * s.C + g * Cg + c0) * HW;
      if (!accumulate) std::memset(dxb, 0, static_cast<size_t>((c1 - c0) * HW) * sizeof(float));
      const float* dyg = dy + (n * s.Cout + g * Mg) * P;
      convk::Col2im c2;
      c2.col = col, c2.ldc = T, c2.dx = dxb, c2.Cb = c1 - c0, c2.H = s.H, c2.W = s.W, c2.OW = s.OW;
      c2.kh = s.kh, c2.kw = s.kw, c2.sh = s.sh, c2.sw = s.sw, c2.dh = s.dh, c2.dw = s.dw, c2.pt = s.pt, c2.pl = s.pl;
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t p0 = t * T, np = std::min(T, P - p0);
        pack_b(geo, Trans::N, dyg + p0, P, Mg, np, Bp);
        gemm_packed(geo, Ap + (g * nblk + bi) * blk_size, Bp, (c1 - c0) * khw, np, Mg, col, T, Epilogue{});
        c2.p0 = p0, c2.np = np;
        kern.col2im(c2);
      }
      if (bias || relu) {
        for (int64_t ci = c0; ci < c1; ++ci) {
          float* d = dxb + (ci - c0) * HW;
          const float b = bias ? bias[g * Cg + ci] : 0.f;
          for (int64_t i = 0; i < HW; ++i) {
            const float v = d[i] + b;
            d[i] = relu ? (v > 0.f ? v : 0.f) : v;
          }
        }
      }
    }
  });
}

// dw (+)= Σ_n dy[n] · im2col(x[n])ᵀ. Each work item owns a block of dw (group × input
// channels × output channels) and visits every image and tile in order, so each dw
// element's sum runs in one order whatever the split.
void backward_dw(const ConvShape& s, const float* dy, const float* x, float* dw, bool accumulate) {
  const int64_t G = s.groups, Cg = s.cin_g(), Mg = s.cout_g();
  const int64_t khw = s.kh * s.kw, Kc = Cg * khw;
  const int64_t wsize = s.Cout * Kc;
  if (wsize == 0) return;
  const int64_t P = s.OH * s.OW;
  if (s.N == 0 || P == 0) {
    if (!accumulate) std::memset(dw, 0, static_cast<size_t>(wsize) * sizeof(float));
    return;
  }
  const Kernels& kern = *kConvKernels.pick();

  if (is_depthwise(s)) {
    const int64_t work = s.N * P * khw;
    parallel_for(s.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(work, 1)), [&](int64_t a, int64_t b) {
      convk::DepthwiseDw d;
      d.s = s, d.dy = dy, d.x = x, d.dw = dw, d.accumulate = accumulate, d.c0 = a, d.c1 = b;
      kern.depthwise_dw(d);
    });
    return;
  }

  if (is_pair_dw(s)) {
    const int64_t work = s.N * P * khw;
    parallel_for(s.Cout * Cg, std::max<int64_t>(1, 16384 / std::max<int64_t>(work, 1)), [&](int64_t a, int64_t b) {
      convk::DepthwiseDw d;
      d.s = s, d.dy = dy, d.x = x, d.dw = dw, d.accumulate = accumulate, d.c0 = a, d.c1 = b;
      kern.pair_dw(d);
    });
    return;
  }

  if (is_pointwise(s)) {
    // dw[g] = Σ_n dy[n, g]·x[n, g]ᵀ: one GEMM per group whose K chain runs over the images
    // (gemm_batched's reduce dim), the images being GEMM operands as they are.
    GemmBatchParams b;
    GemmParams& q = b.p;
    q.ta = Trans::N, q.tb = Trans::T;
    q.M = Mg, q.N = Cg, q.K = P;
    q.A = dy, q.lda = P;
    q.B = x, q.ldb = P;
    q.C = dw, q.ldc = Cg;
    q.ep.beta = accumulate ? 1.f : 0.f;
    b.n_outer = 1;
    b.outer[0] = {G, Mg * P, Cg * P, Mg * Cg};
    b.n_reduce = 1;
    b.reduce[0] = {s.N, s.Cout * P, s.C * P, 0};
    gemm_batched(b);
    return;
  }

  const GemmGeometry geo = gemm_geometry();
  if (use_winograd(s, kern, geo)) {
    winograd_dw(s, dy, x, dw, accumulate, kern, geo);
    return;
  }
  const int64_t threads = num_threads();
  // Split the input channels first (each item im2cols only its own channels), then the
  // output channels in whole micro-panels.
  const int64_t cib = std::min(Cg, std::max<int64_t>(1, ceil_div(threads, G)));
  const int64_t cb = ceil_div(Cg, cib), ncb = ceil_div(Cg, cb);
  const int64_t mpanels = ceil_div(Mg, geo.mr);
  const int64_t cob = std::min(mpanels, std::max<int64_t>(1, ceil_div(threads, G * ncb)));
  const int64_t ob = ceil_div(mpanels, cob) * geo.mr, nob = ceil_div(Mg, ob);
  const int64_t Kb = cb * khw;  // dw columns of a full block
  // Pixels per GEMM: the reduction length of each partial product, so from the shape alone.
  const int64_t T = std::max<int64_t>(16, tile_pixels(Kc, 16, P));
  const bool pointwise = is_pointwise(s);
  mem::Scratch<char> plan;
  const convk::Im2col proto = pointwise ? convk::Im2col{} : im2col_geometry(s, Cg, T, &kern, &plan);

  parallel_for(G * ncb * nob, 1, [&](int64_t i0, int64_t i1) {
    mem::Scratch<float> col;
    if (!pointwise) col = mem::Scratch<float>(kSlotCol, static_cast<size_t>(Kb * T));
    mem::Scratch<float> Bp(kSlotB, packed_b_size(geo, T, Kb));
    mem::Scratch<float> Ap(kSlotDy, packed_a_size(geo, ob, T));
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t oi = it % nob, ci = (it / nob) % ncb, g = it / (nob * ncb);
      const int64_t c0 = ci * cb, c1 = std::min(Cg, c0 + cb);
      const int64_t o0 = oi * ob, o1 = std::min(Mg, o0 + ob);
      const int64_t kb = (c1 - c0) * khw;
      float* dwb = dw + (g * Mg + o0) * Kc + c0 * khw;
      if (!accumulate)
        for (int64_t o = o0; o < o1; ++o) std::memset(dwb + (o - o0) * Kc, 0, static_cast<size_t>(kb) * sizeof(float));
      Epilogue ep;
      ep.beta = 1.f;
      convk::Im2col ic = proto;
      ic.Cg = c1 - c0, ic.dst = col;
      for (int64_t n = 0; n < s.N; ++n) {
        const float* xb = x + (n * s.C + g * Cg + c0) * s.H * s.W;
        const float* dyb = dy + (n * s.Cout + g * Mg + o0) * P;
        for (int64_t p0 = 0; p0 < P; p0 += T) {
          const int64_t np = std::min(T, P - p0);
          // B = im2col(x)ᵀ [np, kb]: from the plain [kb][T] rows, or the image itself at 1×1.
          if (pointwise) {
            pack_b(geo, Trans::T, xb + p0, P, np, kb, Bp);
          } else {
            ic.x = xb, ic.p0 = p0, ic.np = np;
            kern.im2col(ic);
            pack_b(geo, Trans::T, col, T, np, kb, Bp);
          }
          pack_a(geo, Trans::N, dyb + p0, P, o1 - o0, np, Ap);
          gemm_packed(geo, Ap, Bp, o1 - o0, kb, np, dwb, Kc, ep);
        }
      }
    }
  });
}

// out[c] (+)= Σ_n Σ_p v[n][c][p]
void channel_sums(const float* v, int64_t N, int64_t C, int64_t P, float* out, bool accumulate) {
  if (C == 0) return;
  const Kernels& kern = *kConvKernels.pick();
  parallel_for(C, std::max<int64_t>(1, 16384 / std::max<int64_t>(N * P, 1)), [&](int64_t a, int64_t b) {
    convk::ChannelSum cs;
    cs.v = v, cs.N = N, cs.C = C, cs.P = P, cs.out = out, cs.accumulate = accumulate, cs.c0 = a, cs.c1 = b;
    kern.channel_sum(cs);
  });
}

}  // namespace

int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t pad_begin, int64_t pad_end) {
  const int64_t span = dilation * (k - 1) + 1;
  const int64_t room = in + pad_begin + pad_end - span;
  return room < 0 ? 0 : room / stride + 1;
}

void resolve_conv_shape(ConvShape* sp, const char* op) {
  ConvShape& s = *sp;
  constexpr int64_t kMax = int64_t{1} << 40;  // far beyond any real size; keeps every product in int64
  const int64_t dims[] = {s.N, s.C, s.H, s.W, s.Cout, s.pt, s.pb, s.pl, s.pr};
  for (int64_t d : dims) FOVEAL_CHECK(d >= 0 && d <= kMax, op, ": sizes and padding must be in [0, 2^40]");
  FOVEAL_CHECK(s.kh >= 1 && s.kw >= 1 && s.kh <= kMax && s.kw <= kMax, op, ": kernel sizes must be positive");
  FOVEAL_CHECK(s.sh >= 1 && s.sw >= 1 && s.sh <= kMax && s.sw <= kMax, op, ": strides must be positive");
  FOVEAL_CHECK(s.dh >= 1 && s.dw >= 1 && s.kh - 1 <= kMax / s.dh && s.kw - 1 <= kMax / s.dw, op,
               ": dilations must be positive, and the dilated kernel at most 2^40");
  FOVEAL_CHECK(s.groups >= 1 && s.C % s.groups == 0 && s.Cout % s.groups == 0, op,
               ": groups must divide the input and output channels");
  FOVEAL_CHECK(s.dh * (s.kh - 1) + 1 <= s.H + s.pt + s.pb && s.dw * (s.kw - 1) + 1 <= s.W + s.pl + s.pr, op,
               ": the dilated kernel must fit the padded input");
  s.OH = conv_out_size(s.H, s.kh, s.sh, s.dh, s.pt, s.pb);
  s.OW = conv_out_size(s.W, s.kw, s.sw, s.dw, s.pl, s.pr);
}

void conv2d_forward(const Conv2dParams& p) { forward(p.s, p.x, p.w, p.bias, p.y, p.relu, false); }

void conv2d_backward(const Conv2dBackwardParams& p) {
  if (p.dx) backward_dx(p.s, p.dy, p.w, p.dx, p.accumulate_dx, nullptr, false);
  if (p.dw) backward_dw(p.s, p.dy, p.x, p.dw, p.accumulate_dw);
  if (p.db) channel_sums(p.dy, p.s.N, p.s.Cout, p.s.OH * p.s.OW, p.db, p.accumulate_db);
}

void conv2d_transpose_forward(const Conv2dTransposeParams& p) {
  backward_dx(p.s, p.x, p.w, p.y, false, p.bias, p.relu);
}

void conv2d_transpose_backward(const Conv2dBackwardParams& p) {
  // The transposed conv maps the conv's y-shaped tensor to its x-shaped one; its input
  // gradient is the convolution of dy, and its weight gradient is the conv's dw with the
  // roles of the two tensors exchanged.
  if (p.dx) forward(p.s, p.dy, p.w, nullptr, p.dx, false, p.accumulate_dx);
  if (p.dw) backward_dw(p.s, p.x, p.dy, p.dw, p.accumulate_dw);
  if (p.db) channel_sums(p.dy, p.s.N, p.s.C, p.s.H * p.s.W, p.db, p.accumulate_db);
}

}  // namespace cpu
}  // namespace foveal
