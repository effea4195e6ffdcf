// The machine's fp32 FMA peak: the denominator of every "% of peak" foveal reports.
//
// Independent FMA chains (more than latency × throughput, so the FMA units never wait)
// in the widest vector ISA the CPU has, on 1 thread and on all threads. Prints JSON.
//   c++ -O2 -pthread -o peak peak.cpp && ./peak [threads]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr int kChains = 12;  // ≥ 4-cycle latency × 2 pipes, < 32 registers
volatile float g_sink;

__attribute__((target("avx512f"))) double fma512(long iters) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  g_sink = _mm512_reduce_add_ps(s);
  return 2.0 * 16 * kChains * iters;
}

__attribute__((target("avx2,fma"))) double fma256(long iters) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  g_sink = out[0];
  return 2.0 * 8 * kChains * iters;
}

// GFLOP/s of `threads` threads each running kernel(iters), the best of `reps`. The best,
// not the median: on a shared machine another process can only slow an FMA loop down,
// never speed it up, and a median of contended runs understates the denominator of every
// "% of peak" (2 threads measured 116 GFLOP/s, the 1-thread figure, while a compiler ran).
double measure(double (*kernel)(long), int threads, long iters, int reps) {
  std::vector<double> rates;
  for (int r = 0; r < reps; ++r) {
    std::vector<std::thread> pool;
    std::vector<double> flops(threads);
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { flops[t] = kernel(iters); });
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double total = 0;
    for (double f : flops) total += f;
    rates.push_back(total / s / 1e9);
  }
  return *std::max_element(rates.begin(), rates.end());
}

}  // namespace

int main(int argc, char** argv) {
  const int all = argc > 1 ? std::atoi(argv[1]) : static_cast<int>(std::thread::hardware_concurrency());
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (!avx512 && !avx2) {
    std::printf("{\"isa\":\"none\",\"error\":\"no AVX2/AVX-512 FMA on this CPU\"}\n");
    return 0;
  }
  double (*kernel)(long) = avx512 ? fma512 : fma256;
  // ~35 ms per run: short enough that some of 15 runs find the cores free.
  const long iters = 10'000'000;
  const double one = measure(kernel, 1, iters, 15);
  const double many = measure(kernel, all, iters, 15);
  std::printf("{\"isa\":\"%s\",\"threads\":%d,\"gflops1\":%.1f,\"gflopsAll\":%.1f}\n", avx512 ? "avx512" : "avx2", all,
              one, many);
  return 0;
}
