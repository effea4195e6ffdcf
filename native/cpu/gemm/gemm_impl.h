// GEMM bodies, compiled once per ISA: include inside a FOVEAL_TARGET_* region with
// FOVEAL_ISA_NS defined, after the variant file has declared, in that namespace,
//   struct V         the vector type and its operations (see gemm_avx512.cpp for the list)
//   kMR, kNV         the micro-kernel: kMR rows × kNV vectors of C held in registers
//   transpose_pack   op(B) panel packer for B stored transposed (an in-register transpose)
// Headers are included by the variant file before its target region (core/isa.h rules).
//
// Structure (the BLIS/GotoBLAS loop nest, with choices for a 2-core Zen 4 and for callers
// that multiply small tiles):
//  - the micro-kernel keeps a kMR × kNR tile of C in registers and runs one FMA chain per
//    element over a block of K: B's k-row is kNV vector loads, A's is kMR broadcasts;
//  - A is never packed by gemm(): the broadcasts read it in place (rows lda apart, or
//    k-rows lda apart when transposed) and measured as fast as a packed panel here, so a
//    tall-skinny product pays nothing for A;
//  - B is packed once per call into kNR-column panels (k-major), shared by all threads;
//    when M fits one row tile and B is not transposed, it is read in place instead (each
//    element is used once, so packing would only add traffic);
//  - K is cut into blocks of ≤ kKc so a B micro-panel (kc × kNR) stays in L1 while the
//    micro-kernel walks down an mc-row block of A that stays in L2; between blocks the
//    running sums are parked in C (or, for alpha ≠ 1 with beta ≠ 0, in a scratch tile),
//    so blocking never changes a bit;
//  - threads claim work from atomic counters (packing panels, then mc × nt tiles of C),
//    so a thread the OS delays costs only its own share, and any partition gives the same
//    bits: each C element is computed whole by whichever thread claims its tile.
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including gemm_impl.h"
#endif

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#define FOVEAL_GEMM_PAUSE() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define FOVEAL_GEMM_PAUSE() __asm__ volatile("yield")
#else
#define FOVEAL_GEMM_PAUSE() ((void)0)
#endif

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace {

constexpr int kW = V::W;
constexpr int kNR = kNV * kW;

// K block: a B micro-panel of kKc × kNR floats (48 KiB at nr = 32) plus the A stream.
// Measured on Zen 4 (32 KiB L1): 256 > 192 > 128 for the 8×32 kernel. On an Intel Xeon
// with AVX-512 and 48 KiB of L1 (single thread, CPU time): 384 gave 150 GFLOP/s at 1024³
// and 134 at 2048³ against 135 / 126 at 256 and 118 / 120 at 128 (512: 150 / 136), so
// fewer K blocks (fewer C tiles parked and reloaded) outweigh a panel at L1's size. Blocks
// are balanced (K = 500 runs as 250 + 250), which is free since blocking never changes bits.
constexpr int64_t kKc = 384;
// Rows of A per task: an mc × kc block of A (384 KiB) stays in L2 (1 MiB on Zen 4) while the
// task walks its B panels.
constexpr int64_t kMc = 256 / kMR * kMR;
// B panels per task: mc × (8·kNR) of C (256 KiB at nr = 32) also stays in L2 across K blocks.
constexpr int64_t kNtPanels = 8;
// Up to this many M rows a non-transposed B is read in place, not packed: with one row
// tile every element of B is used once, so packing would only add a read and a write.
// Beyond it, reading in place loses: the k-rows of a B micro-panel are ldb apart and a
// power-of-two (or any large) stride maps them onto a few L1 sets, so each reuse misses
// (measured ~40 GFLOP/s at M = 8..32 against 57..99 packed; M = 1: 13.8..52 vs 10..18).
constexpr int64_t kDirectBMaxM = kMR - 1;
// Packed B per group (floats): 16 MiB. Larger B (or batches of B) are packed and consumed
// a group at a time.
constexpr int64_t kPackCap = int64_t{4} << 20;
// Products smaller than this (flops) run on the calling thread: a region costs a few
// microseconds when the workers spin, tens when they sleep.
constexpr double kParallelMinFlops = 3.0e6;

enum AMode : int { kAK = 0, kAR = 1 };  // A(i,k) at a[i + k·s] (k-major) or a[i·s + k] (rows)
enum BMode : int { kBP = 0, kBD = 1 };  // B(k,j) at b[k·kNR + j] (packed) or b[k·s + j] (in place)
enum Init : int { kInitZero = 0, kInitPark = 1, kInitBetaC = 2 };

// The epilogue as the micro-kernel applies it.
struct Store {
  float alpha, beta;
  bool general;           // alpha ≠ 1 and beta ≠ 0: C = alpha·acc + beta·C_old at the end
  const float* bias_row;  // at the tile's first column, or nullptr
  const float* bias_col;  // at the tile's first row, or nullptr
  bool relu;
};

struct Tile {
  int64_t kc;
  const float* a;
  int64_t as;  // A's k stride (kAK) or row stride (kAR)
  const float* b;
  int64_t bs;  // B's k stride when read in place (kBD)
  float* c;    // the destination (and C_old)
  int64_t ldc;
  float* p;  // where running sums are parked between K blocks (== c unless general)
  int64_t ldp;
  int n;     // valid columns, 1..kNR
  int init;  // Init
  bool last; // apply the epilogue into c; else park the raw sums into p
};

template <int MR, int NV, int AM, int BM>
void tile_kernel(const Tile& t, const Store& s) {
  using T = typename V::T;
  T acc[MR][NV];
  const auto mask = V::mask(t.n - (NV - 1) * kW);
  // Every loop over the tile is unrolled so the accumulators never leave their registers
  // (left to itself GCC rolls the epilogue up and spills all of them).
  if (t.init == kInitZero) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = V::zero();
  } else {
    const float* src = t.init == kInitPark ? t.p : t.c;
    const int64_t ld = t.init == kInitPark ? t.ldp : t.ldc;
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        acc[i][v] = v < NV - 1 ? V::load(src + i * ld + v * kW) : V::load_mask(src + i * ld + v * kW, mask);
    if (t.init == kInitBetaC) {
      const T beta = V::set1(s.beta);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = V::mul(acc[i][v], beta);
    }
  }
  const float* a = t.a;
  const float* b = t.b;
  const int64_t as = t.as;
  const int64_t bs = BM == kBP ? kNR : t.bs;
  for (int64_t k = 0; k < t.kc; ++k) {
    T bv[NV];
    for (int v = 0; v < NV; ++v)
      bv[v] = (BM == kBP || v < NV - 1) ? V::load(b + v * kW) : V::load_mask(b + v * kW, mask);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const T av = V::set1(AM == kAK ? a[i] : a[i * as]);
      for (int v = 0; v < NV; ++v) acc[i][v] = V::fma(av, bv[v], acc[i][v]);
    }
    a += AM == kAK ? as : 1;
    b += bs;
  }
  const bool plain = t.last && s.alpha == 1.f && !s.general && !s.bias_row && !s.bias_col && !s.relu;
  if (!t.last || plain) {  // park the raw sums, or store them as they are
    float* dst = t.last ? t.c : t.p;
    const int64_t ld = t.last ? t.ldc : t.ldp;
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        if (v < NV - 1) V::store(dst + i * ld + v * kW, acc[i][v]);
        else V::store_mask(dst + i * ld + v * kW, acc[i][v], mask);
      }
    return;
  }
  const T alpha = V::set1(s.alpha);
  const T beta = V::set1(s.beta);
  T brow[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) brow[v] = V::zero();
  if (s.bias_row)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      brow[v] = v < NV - 1 ? V::load(s.bias_row + v * kW) : V::load_mask(s.bias_row + v * kW, mask);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    float* crow = t.c + i * t.ldc;
    const T bcol = V::set1(s.bias_col ? s.bias_col[i] : 0.f);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      T x = acc[i][v];
      if (s.alpha != 1.f) x = V::mul(x, alpha);
      if (s.general) {
        const T old = v < NV - 1 ? V::load(crow + v * kW) : V::load_mask(crow + v * kW, mask);
        x = V::fma(beta, old, x);
      }
      if (s.bias_row) x = V::add(x, brow[v]);
      if (s.bias_col) x = V::add(x, bcol);
      if (s.relu) x = V::relu(x);
      if (v < NV - 1) V::store(crow + v * kW, x);
      else V::store_mask(crow + v * kW, x, mask);
    }
  }
}

using TileFn = void (*)(const Tile&, const Store&);

template <int AM, int BM, int I>
constexpr TileFn tile_entry() {
  return &tile_kernel<I / kNV + 1, I % kNV + 1, AM, BM>;
}
template <int AM, int BM, int... I>
constexpr std::array<TileFn, kMR * kNV> tile_row(std::integer_sequence<int, I...>) {
  return {{tile_entry<AM, BM, I>()...}};
}
// kTiles[am][bm][(rows-1)·kNV + (vectors-1)]
const std::array<TileFn, kMR * kNV> kTiles[2][2] = {
    {tile_row<kAK, kBP>(std::make_integer_sequence<int, kMR * kNV>{}),
     tile_row<kAK, kBD>(std::make_integer_sequence<int, kMR * kNV>{})},
    {tile_row<kAR, kBP>(std::make_integer_sequence<int, kMR * kNV>{}),
     tile_row<kAR, kBD>(std::make_integer_sequence<int, kMR * kNV>{})}};

inline TileFn pick_tile(int am, int bm, int rows, int cols) {
  return kTiles[am][bm][(rows - 1) * kNV + (cols + kW - 1) / kW - 1];
}

// ---- packing ----

// Columns j0 .. j0+ncols-1 (ncols ≤ kNR) of op(B), all K rows, into one k-major panel of
// kNR columns, zero-padded.
void pack_b_panel(Trans tb, const float* B, int64_t ldb, int64_t K, int64_t j0, int ncols, float* dst) {
  if (tb == Trans::N) {
    const float* src = B + j0;
    for (int64_t k = 0; k < K; ++k, src += ldb, dst += kNR) {
      for (int v = 0; v < kNV; ++v) {
        const int n = ncols - v * kW;
        if (n >= kW) V::store(dst + v * kW, V::load(src + v * kW));
        else if (n > 0) V::store(dst + v * kW, V::load_mask(src + v * kW, V::mask(n)));
        else V::store(dst + v * kW, V::zero());
      }
    }
    return;
  }
  transpose_pack(B + j0 * ldb, ldb, K, ncols, dst);
}

void pack_b_all(Trans tb, const float* B, int64_t ldb, int64_t K, int64_t N, float* dst) {
  for (int64_t j0 = 0; j0 < N; j0 += kNR, dst += K * kNR)
    pack_b_panel(tb, B, ldb, K, j0, static_cast<int>(N - j0 < kNR ? N - j0 : kNR), dst);
}

void pack_a_all(Trans ta, const float* A, int64_t lda, int64_t M, int64_t K, float* dst) {
  for (int64_t i0 = 0; i0 < M; i0 += kMR) {
    const int m = static_cast<int>(M - i0 < kMR ? M - i0 : kMR);
    if (ta == Trans::T) {
      const float* src = A + i0;
      for (int64_t k = 0; k < K; ++k, src += lda, dst += kMR) {
        int r = 0;
        for (; r < m; ++r) dst[r] = src[r];
        for (; r < kMR; ++r) dst[r] = 0.f;
      }
    } else {
      for (int64_t k = 0; k < K; ++k, dst += kMR) {
        int r = 0;
        for (; r < m; ++r) dst[r] = A[(i0 + r) * lda + k];
        for (; r < kMR; ++r) dst[r] = 0.f;
      }
    }
  }
}

// ---- shared helpers ----

inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return cdiv(a, b) * b; }

void spin_until(const std::atomic<int64_t>& c, int64_t target) {
  for (int i = 0; c.load(std::memory_order_acquire) < target; ++i) {
    if (i < 4096) FOVEAL_GEMM_PAUSE();
    else std::this_thread::yield();
  }
}

// The K blocking of one segment of length K: nkb balanced blocks.
struct KBlocks {
  int64_t n = 1, len = 0, K = 0;
  KBlocks(int64_t K_, bool whole) : K(K_) {
    n = whole || K_ <= kKc ? 1 : cdiv(K_, kKc);
    len = cdiv(K_, n);
  }
  int64_t begin(int64_t i) const { return i * len; }
  int64_t size(int64_t i) const {
    const int64_t b = i * len;
    return K - b < len ? K - b : len;
  }
};

// Index decomposition for the outer and reduce batch dims (last dim fastest).
struct Dims {
  int n = 0;
  int64_t size[kGemmMaxBatchDims];
  int64_t sa[kGemmMaxBatchDims], sb[kGemmMaxBatchDims], sc[kGemmMaxBatchDims];
  int64_t count = 1;
  void set(int nd, const GemmBatchDim* d) {
    n = 0;
    count = 1;
    for (int i = 0; i < nd; ++i) {
      if (d[i].size == 1) continue;  // contributes nothing to any offset
      size[n] = d[i].size, sa[n] = d[i].stride_a, sb[n] = d[i].stride_b, sc[n] = d[i].stride_c;
      count *= d[i].size;
      ++n;
    }
  }
  void offsets(int64_t idx, int64_t* oa, int64_t* ob, int64_t* oc) const {
    int64_t a = 0, b = 0, c = 0;
    for (int i = n - 1; i >= 0; --i) {
      const int64_t q = idx % size[i];
      idx /= size[i];
      a += q * sa[i], b += q * sb[i], c += q * sc[i];
    }
    *oa = a, *ob = b;
    if (oc) *oc = c;
  }
  bool b_invariant() const {
    for (int i = 0; i < n; ++i)
      if (sb[i] != 0) return false;
    return true;
  }
};

// ---- the dot-product path (M == 1 with B transposed, N == 1 with A not transposed) ----

// out[i·os] = epilogue(Σ_(r,k) X[i](r)[k] · v(r)[k]) for `rows` rows of X, rows ldx apart.
struct DotJob {
  const float* X;  // row 0 at reduce index 0
  int64_t ldx;
  const float* v;
  int64_t K;
  const Dims* red;
  bool x_is_a;  // X's reduce offsets are A's (else B's)
  float* out;
  int64_t os;
  float alpha, beta;
  const float* bias_i;  // per row, or nullptr
  float bias_all;       // added to every element
  bool relu;
};

void dot_rows(const DotJob& j, int64_t r0, int64_t r1) {
  using T = typename V::T;
  constexpr int kRows = 4;
  const int64_t kfull = j.K / kW * kW;
  const auto tail = V::mask(static_cast<int>(j.K - kfull));
  for (int64_t r = r0; r < r1; r += kRows) {
    const int nr = static_cast<int>(r1 - r < kRows ? r1 - r : kRows);
    T acc[kRows][2];
    for (int q = 0; q < kRows; ++q) acc[q][0] = acc[q][1] = V::zero();
    for (int64_t s = 0; s < j.red->count; ++s) {
      int64_t oa, ob;
      j.red->offsets(s, &oa, &ob, nullptr);
      const float* x = j.X + (j.x_is_a ? oa : ob) + r * j.ldx;
      const float* v = j.v + (j.x_is_a ? ob : oa);
      int64_t k = 0;
      for (; k + 2 * kW <= kfull; k += 2 * kW) {
        const T v0 = V::load(v + k), v1 = V::load(v + k + kW);
        for (int q = 0; q < kRows; ++q) {
          if (q >= nr) break;
          acc[q][0] = V::fma(V::load(x + q * j.ldx + k), v0, acc[q][0]);
          acc[q][1] = V::fma(V::load(x + q * j.ldx + k + kW), v1, acc[q][1]);
        }
      }
      if (k < kfull) {
        const T v0 = V::load(v + k);
        for (int q = 0; q < nr; ++q) acc[q][0] = V::fma(V::load(x + q * j.ldx + k), v0, acc[q][0]);
        k += kW;
      }
      if (k < j.K) {
        const T v1 = V::load_mask(v + k, tail);
        for (int q = 0; q < nr; ++q) acc[q][1] = V::fma(V::load_mask(x + q * j.ldx + k, tail), v1, acc[q][1]);
      }
    }
    for (int q = 0; q < nr; ++q) {
      float x = V::hsum(V::add(acc[q][0], acc[q][1]));
      float* o = j.out + (r + q) * j.os;
      x = j.alpha * x;
      if (j.beta != 0.f) x += j.beta * *o;
      if (j.bias_i) x += j.bias_i[r + q];
      x += j.bias_all;
      if (j.relu) x = x > 0.f || x != x ? x : 0.f;
      *o = x;
    }
  }
}

// ---- the blocked path ----

struct Gemm {
  // The product, normalised.
  Trans ta, tb;
  int64_t M, N, K;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float* C;
  int64_t ldc;
  Epilogue ep;
  Dims outer, red;
  bool product;   // false: alpha == 0, K == 0 or an empty reduce: C = beta·C + bias only
  bool general;   // alpha ≠ 1 and beta ≠ 0
  bool chain_beta;  // alpha == 1 and beta ≠ 0: chains start from beta·C
  bool direct_b;
  bool b_shared;  // B does not depend on the outer index
  bool park_scratch;  // partial sums go to a scratch tile (general with > 1 K block)
  bool jit_b;         // each task packs its B micro-panels as it goes (no shared copy)
  int am;
  KBlocks kb{0, true};
  int64_t nblocks;  // K blocks per C element: red.count · kb.n (0 without a product)

  // Grouping of B packing and tasks.
  int64_t npan;          // panels of N
  int64_t opg, ppg;      // outer indices and panels per group
  int64_t ng_o, ng_c, G;
  int64_t mc, mb, ntp;   // rows per task, M blocks, panels per task
  float* packed;

  void plan(int threads) {
    npan = cdiv(N, kNR);
    // All of M in one row block, and B not shared by several outer indices: every B
    // micro-panel is used by one task only, so the task packs it just before use into a
    // buffer that stays in L1, instead of a shared copy that goes out to memory and back
    // (for M = 64, K·N = 3136·576 the copy cost a fifth of the product).
    // Also when a single packed panel (all of K) would exceed the packing budget: then
    // the repacking across row blocks is the price of bounded memory.
    jit_b = product && !direct_b &&
            ((M <= kMc && (!b_shared || outer.count == 1)) || red.count * K * kNR > kPackCap);
    const int64_t unit = red.count * K * npan * kNR;  // floats of one packed op(B) for one outer index
    if (!product || direct_b || jit_b) {
      opg = outer.count, ppg = npan;
    } else if (b_shared) {
      opg = outer.count;
      ppg = unit <= kPackCap ? npan : std::max<int64_t>(1, kPackCap / (red.count * K * kNR));
    } else if (unit <= kPackCap) {
      opg = std::max<int64_t>(1, std::min<int64_t>(outer.count, kPackCap / std::max<int64_t>(1, unit)));
      ppg = npan;
    } else {
      opg = 1;
      ppg = std::max<int64_t>(1, kPackCap / (red.count * K * kNR));
    }
    ng_o = cdiv(outer.count, opg);
    ng_c = cdiv(npan, ppg);
    G = ng_o * ng_c;

    // Tasks: mb blocks of mc rows × ceil(ppg / ntp) panel blocks, per outer index. Split
    // finer until there are a few tasks per thread, so claiming balances the threads.
    mb = cdiv(M, kMc);
    ntp = std::min<int64_t>(ppg, kNtPanels);
    const int64_t want = threads > 1 ? 4 * threads : 1;
    for (;;) {
      const int64_t tasks = opg * mb * cdiv(ppg, ntp);
      if (tasks >= want) break;
      const int64_t rows = cdiv(M, mb);
      // Splitting M makes tasks share B panels: with jit_b each would pack them again.
      const bool split_m = jit_b ? ntp == 1 : (rows >= ntp * kNR / 2 || ntp == 1);
      if (rows >= 4 * kMR && split_m) ++mb;
      else if (ntp > 1) ntp = cdiv(ntp, 2);
      else break;
    }
    mc = round_up(cdiv(M, mb), kMR);
    mb = cdiv(M, mc);
  }

  int64_t group_pack_jobs(int64_t g) const {
    if (!product || direct_b || jit_b) return 0;
    const int64_t go = g / ng_c, gc = g % ng_c;
    const int64_t units = b_shared ? 1 : std::min(opg, outer.count - go * opg);
    const int64_t pans = std::min(ppg, npan - gc * ppg);
    return units * red.count * pans;
  }
  int64_t group_tasks(int64_t g) const {
    const int64_t go = g / ng_c, gc = g % ng_c;
    const int64_t os = std::min(opg, outer.count - go * opg);
    const int64_t pans = std::min(ppg, npan - gc * ppg);
    return os * mb * cdiv(pans, ntp);
  }

  // Offset of unit u, reduce index r, panel q of a group in the packed buffer.
  float* packed_panel(int64_t u, int64_t r, int64_t q) const {
    return packed + ((u * red.count + r) * ppg + q) * K * kNR;
  }

  void pack_job(int64_t g, int64_t j) const {
    const int64_t go = g / ng_c, gc = g % ng_c;
    const int64_t pans = std::min(ppg, npan - gc * ppg);
    const int64_t q = j % pans;
    const int64_t r = (j / pans) % red.count;
    const int64_t u = j / pans / red.count;
    int64_t oa, ob, ra, rb;
    outer.offsets(b_shared ? 0 : go * opg + u, &oa, &ob, nullptr);
    red.offsets(r, &ra, &rb, nullptr);
    const int64_t j0 = (gc * ppg + q) * kNR;
    pack_b_panel(tb, B + ob + rb, ldb, K, j0, static_cast<int>(std::min<int64_t>(kNR, N - j0)),
                 packed_panel(u, r, q));
  }

  void task(int64_t g, int64_t t) const {
    const int64_t go = g / ng_c, gc = g % ng_c;
    const int64_t pans = std::min(ppg, npan - gc * ppg);
    const int64_t nbj = cdiv(pans, ntp);
    const int64_t jb = t % nbj;
    const int64_t ib = (t / nbj) % mb;
    const int64_t u = t / nbj / mb;
    const int64_t o = go * opg + u;
    const int64_t i0 = ib * mc, i1 = std::min(M, i0 + mc);
    const int64_t q0 = jb * ntp, q1 = std::min(pans, q0 + ntp);  // panels within the group
    const int64_t pan0 = gc * ppg;                               // the group's first panel
    int64_t oa, ob, oc;
    outer.offsets(o, &oa, &ob, &oc);
    float* Co = C + oc;

    float* park = nullptr;
    int64_t ldp = 0;
    if (park_scratch) {
      ldp = (q1 - q0) * kNR;
      park = static_cast<float*>(mem::scratch(7, static_cast<size_t>((i1 - i0) * ldp) * sizeof(float)));
    }
    // jit_b: the B micro-panel in use (kb.len ≤ kKc rows), on the stack: 48 KiB at most,
    // L1-hot, and no pool block for a small product to fetch the first time.
    alignas(64) float panel[kKc * kNR];
    Store s{};
    s.alpha = ep.alpha, s.beta = ep.beta, s.general = general, s.relu = ep.act == Act::relu;

    auto run_tiles = [&](int64_t kc, int64_t k0, const float* Ar, const float* Br, int64_t r, int init, bool last) {
      for (int64_t q = q0; q < q1; ++q) {
        const int64_t j = (pan0 + q) * kNR;
        const int n = static_cast<int>(std::min<int64_t>(kNR, N - j));
        Tile tl{};
        tl.kc = kc;
        if (kc > 0) {
          if (direct_b) {
            tl.b = Br + k0 * ldb + j, tl.bs = ldb;
          } else if (jit_b) {
            pack_b_panel(tb, tb == Trans::N ? Br + k0 * ldb : Br + k0, ldb, kc, j, n, panel);
            tl.b = panel;
          } else {
            tl.b = packed_panel(b_shared ? 0 : u, r, q) + k0 * kNR;
          }
        }
        tl.as = lda;
        tl.n = n;
        tl.init = init;
        tl.last = last;
        tl.ldc = ldc;
        s.bias_row = ep.bias_row ? ep.bias_row + j : nullptr;
        const TileFn full = pick_tile(am, direct_b ? kBD : kBP, kMR, n);
        for (int64_t i = i0; i < i1; i += kMR) {
          const int m = static_cast<int>(std::min<int64_t>(kMR, i1 - i));
          if (kc > 0) tl.a = am == kAR ? Ar + i * lda + k0 : Ar + k0 * lda + i;
          tl.c = Co + i * ldc + j;
          if (park) tl.p = park + (i - i0) * ldp + (q - q0) * kNR, tl.ldp = ldp;
          else tl.p = tl.c, tl.ldp = ldc;
          s.bias_col = ep.bias_col ? ep.bias_col + i : nullptr;
          (m == kMR ? full : pick_tile(am, direct_b ? kBD : kBP, m, n))(tl, s);
        }
      }
    };

    if (!product) {
      run_tiles(0, 0, nullptr, nullptr, 0, ep.beta != 0.f && !general ? kInitBetaC : kInitZero, true);
      return;
    }
    int64_t blk = 0;
    for (int64_t r = 0; r < red.count; ++r) {
      int64_t ra, rb;
      red.offsets(r, &ra, &rb, nullptr);
      const float* Ar = A + oa + ra;
      const float* Br = B + ob + rb;
      for (int64_t b = 0; b < kb.n; ++b, ++blk) {
        const int init = blk > 0 ? kInitPark : (chain_beta ? kInitBetaC : kInitZero);
        run_tiles(kb.size(b), kb.begin(b), Ar, Br, r, init, blk == nblocks - 1);
      }
    }
  }

  // One thread's share: pack and compute group by group, claiming work as it goes.
  void work(std::atomic<int64_t>* ctr) const {
    std::atomic<int64_t>& pclaim = ctr[0];
    std::atomic<int64_t>& pdone = ctr[1];
    std::atomic<int64_t>& tclaim = ctr[2];
    std::atomic<int64_t>& tdone = ctr[3];
    int64_t held_p = -1, held_t = -1;
    int64_t pbase = 0, tbase = 0;
    for (int64_t g = 0; g < G; ++g) {
      const int64_t pend = pbase + group_pack_jobs(g);
      const int64_t tend = tbase + group_tasks(g);
      if (pend > pbase) {
        for (;;) {
          const int64_t id = held_p >= 0 ? held_p : pclaim.fetch_add(1, std::memory_order_relaxed);
          held_p = -1;
          if (id >= pend) {
            held_p = id;  // belongs to a later group: keep the claim
            break;
          }
          pack_job(g, id - pbase);
          pdone.fetch_add(1, std::memory_order_release);
        }
        spin_until(pdone, pend);
      }
      for (;;) {
        const int64_t id = held_t >= 0 ? held_t : tclaim.fetch_add(1, std::memory_order_relaxed);
        held_t = -1;
        if (id >= tend) {
          held_t = id;
          break;
        }
        task(g, id - tbase);
        tdone.fetch_add(1, std::memory_order_release);
      }
      // The next group repacks the shared buffer: every task of this one must be done.
      if (g + 1 < G && group_pack_jobs(g + 1) > 0) spin_until(tdone, tend);
      pbase = pend, tbase = tend;
    }
  }
};

void check_params(const GemmParams& p, bool product) {
  FOVEAL_CHECK(p.C && p.ldc >= p.N, "gemm: ldc ", p.ldc, " < N ", p.N);
  if (!product) return;
  FOVEAL_CHECK(p.A && p.B, "gemm: missing operand");
  FOVEAL_CHECK(p.lda >= (p.ta == Trans::N ? p.K : p.M), "gemm: lda ", p.lda, " too small");
  FOVEAL_CHECK(p.ldb >= (p.tb == Trans::N ? p.N : p.K), "gemm: ldb ", p.ldb, " too small");
}

void run_batched(const GemmBatchParams& bp) {
  GemmParams p = bp.p;
  FOVEAL_CHECK(bp.n_outer >= 0 && bp.n_outer <= kGemmMaxBatchDims && bp.n_reduce >= 0 &&
                   bp.n_reduce <= kGemmMaxBatchDims,
               "gemm: too many batch dims");
  Dims outer, red;
  outer.set(bp.n_outer, bp.outer);
  red.set(bp.n_reduce, bp.reduce);
  FOVEAL_CHECK(p.M >= 0 && p.N >= 0 && p.K >= 0 && outer.count >= 0 && red.count >= 0, "gemm: negative size");
  if (p.M == 0 || p.N == 0 || outer.count == 0) return;
  const bool product = p.K > 0 && p.ep.alpha != 0.f && red.count > 0;
  check_params(p, product);
  if (!product) red.set(0, nullptr);

  // N == 1 with A transposed and C a contiguous column: C as one row, Cᵀ = op(B)ᵀ·op(A)ᵀ,
  // whose B (= A as stored) is read in place, rows of M contiguous floats.
  if (product && p.N == 1 && p.ta == Trans::T && p.ldc == 1) {
    GemmParams q = p;
    q.M = 1, q.N = p.M;
    q.A = p.B, q.lda = p.ldb, q.ta = p.tb == Trans::N ? Trans::T : Trans::N;
    q.B = p.A, q.ldb = p.lda, q.tb = Trans::N;
    q.ep.bias_row = p.ep.bias_col, q.ep.bias_col = p.ep.bias_row;
    p = q;
    for (int i = 0; i < outer.n; ++i) std::swap(outer.sa[i], outer.sb[i]);
    for (int i = 0; i < red.n; ++i) std::swap(red.sa[i], red.sb[i]);
  }

  const double flops = 2.0 * p.M * p.N * p.K * red.count * outer.count;
  const int threads = bp.serial || in_parallel_region() || flops < kParallelMinFlops ? 1 : num_threads();

  // Dot-product path: one output row of dots of contiguous vectors.
  const bool dot_m1 = product && p.M == 1 && p.tb == Trans::T && (p.ta == Trans::N || p.lda == 1);
  const bool dot_n1 = product && !dot_m1 && p.N == 1 && p.ta == Trans::N && (p.tb == Trans::T || p.ldb == 1);
  if (dot_m1 || dot_n1) {
    DotJob j{};
    j.K = p.K;
    j.red = &red;
    j.alpha = p.ep.alpha, j.beta = p.ep.beta, j.relu = p.ep.act == Act::relu;
    int64_t rows;
    if (dot_m1) {  // c[j] = Σ a[k]·B[j,k]
      j.X = p.B, j.ldx = p.ldb, j.v = p.A, j.x_is_a = false;
      j.os = 1, j.bias_i = p.ep.bias_row, j.bias_all = p.ep.bias_col ? p.ep.bias_col[0] : 0.f;
      rows = p.N;
    } else {  // c[i] = Σ A[i,k]·b[k]
      j.X = p.A, j.ldx = p.lda, j.v = p.B, j.x_is_a = true;
      j.os = p.ldc, j.bias_i = p.ep.bias_col, j.bias_all = p.ep.bias_row ? p.ep.bias_row[0] : 0.f;
      rows = p.M;
    }
    const int64_t total = outer.count * rows;
    auto body = [&](int64_t t0, int64_t t1) {
      while (t0 < t1) {
        const int64_t o = t0 / rows, r0 = t0 % rows;
        const int64_t r1 = std::min(rows, r0 + (t1 - t0));
        int64_t oa, ob, oc;
        outer.offsets(o, &oa, &ob, &oc);
        DotJob jo = j;
        jo.X += j.x_is_a ? oa : ob;
        jo.v += j.x_is_a ? ob : oa;
        jo.out = p.C + oc;
        dot_rows(jo, r0, r1);
        t0 += r1 - r0;
      }
    };
    if (threads <= 1) body(0, total);
    else parallel_for(total, std::max<int64_t>(4, static_cast<int64_t>(65536 / std::max<int64_t>(1, p.K * red.count))), body);
    return;
  }

  Gemm g{};
  g.ta = p.ta, g.tb = p.tb, g.M = p.M, g.N = p.N, g.K = p.K;
  g.A = p.A, g.lda = p.lda, g.B = p.B, g.ldb = p.ldb, g.C = p.C, g.ldc = p.ldc, g.ep = p.ep;
  g.outer = outer, g.red = red;
  g.product = product;
  g.general = p.ep.alpha != 1.f && p.ep.beta != 0.f;
  g.chain_beta = p.ep.alpha == 1.f && p.ep.beta != 0.f;
  g.direct_b = product && p.tb == Trans::N && p.M <= kDirectBMaxM;
  g.b_shared = outer.b_invariant();
  g.am = p.ta == Trans::N ? kAR : kAK;
  g.kb = KBlocks(p.K, false);
  g.nblocks = product ? red.count * g.kb.n : 0;
  g.park_scratch = g.general && g.nblocks > 1;
  g.plan(threads);
  if (product && !g.direct_b && !g.jit_b) {
    const int64_t units = g.b_shared ? 1 : g.opg;
    const size_t floats = static_cast<size_t>(units * red.count * g.ppg * p.K * kNR);
    g.packed = static_cast<float*>(mem::scratch(6, floats * sizeof(float)));
  }
  std::atomic<int64_t> ctr[4];
  for (auto& c : ctr) c.store(0, std::memory_order_relaxed);
  if (threads <= 1) {
    g.work(ctr);
  } else {
    parallel_join(threads, [&] { g.work(ctr); });
  }
}

// gemm_packed / gemm_packed_b: one thread, panels given.
void run_packed(bool a_packed, Trans ta, const float* A, int64_t lda, const float* Bp, int64_t M, int64_t N,
                int64_t K, float* C, int64_t ldc, const Epilogue& ep) {
  FOVEAL_CHECK(M >= 0 && N >= 0 && K >= 0, "gemm_packed: negative size");
  if (M == 0 || N == 0) return;
  FOVEAL_CHECK(C && ldc >= N, "gemm_packed: ldc ", ldc, " < N ", N);
  const bool product = K > 0 && ep.alpha != 0.f;
  if (product) FOVEAL_CHECK(A && Bp, "gemm_packed: missing operand");
  if (product && !a_packed) FOVEAL_CHECK(lda >= (ta == Trans::N ? K : M), "gemm_packed_b: lda too small");
  const bool general = ep.alpha != 1.f && ep.beta != 0.f;
  const bool chain_beta = ep.alpha == 1.f && ep.beta != 0.f;
  // alpha ≠ 1 with beta ≠ 0 has nowhere to park sums without scratch: one K block.
  const KBlocks kb(product ? K : 0, general);
  const int am = a_packed || ta == Trans::T ? kAK : kAR;
  const int64_t as = a_packed ? kMR : lda;
  const int64_t npan = cdiv(N, kNR);
  Store s{};
  s.alpha = ep.alpha, s.beta = ep.beta, s.general = general, s.relu = ep.act == Act::relu;
  for (int64_t i0 = 0; i0 < M; i0 += kMc) {
    const int64_t i1 = std::min(M, i0 + kMc);
    for (int64_t b = 0; b < kb.n; ++b) {
      const int64_t k0 = kb.begin(b), kc = product ? kb.size(b) : 0;
      const int init = b > 0 ? kInitPark : (chain_beta ? kInitBetaC : kInitZero);
      const bool last = b == kb.n - 1;
      for (int64_t q = 0; q < npan; ++q) {
        const int64_t j = q * kNR;
        const int n = static_cast<int>(std::min<int64_t>(kNR, N - j));
        Tile t{};
        t.kc = kc;
        t.b = product ? Bp + q * K * kNR + k0 * kNR : nullptr;
        t.as = as;
        t.n = n, t.init = init, t.last = last, t.ldc = ldc, t.ldp = ldc;
        s.bias_row = ep.bias_row ? ep.bias_row + j : nullptr;
        for (int64_t i = i0; i < i1; i += kMR) {
          const int m = static_cast<int>(std::min<int64_t>(kMR, i1 - i));
          if (product) {
            if (a_packed) t.a = A + (i / kMR) * K * kMR + k0 * kMR;
            else t.a = am == kAR ? A + i * lda + k0 : A + k0 * lda + i;
          }
          t.c = t.p = C + i * ldc + j;
          s.bias_col = ep.bias_col ? ep.bias_col + i : nullptr;
          pick_tile(am, kBP, m, n)(t, s);
        }
      }
    }
  }
}

}  // namespace

const GemmVariant& gemm_variant() {
  static const GemmVariant v{
      {kIsa, kMR, kNR},
      &run_batched,
      &pack_a_all,
      &pack_b_all,
      &run_packed,
  };
  return v;
}

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
