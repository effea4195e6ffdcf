// The machine's memory bandwidth, the denominator of the memory-bound suites' "% of
// bandwidth" (bench/suites/optim.js): STREAM-like copy (a = b, 8 bytes per element) and
// triad (a = b + s·c, 12), and the access pattern of an Adam step (read p, g, m, v; write p,
// m, v: 28), each over arrays of n floats split across `threads` threads. Counted the
// STREAM way: bytes the loop names, not the write-allocate reads a plain store adds.
// Prints JSON: GB/s, best and median of `reps` runs (the machines are shared: compare
// medians with medians).
//   c++ -O3 -march=native -fno-tree-loop-distribute-patterns -pthread -o bandwidth bandwidth.cpp
//   ./bandwidth [threads] [n] [reps]
// -fno-tree-loop-distribute-patterns keeps the copy a loop of plain loads and stores
// rather than a call to memcpy (whose non-temporal stores would skip the write-allocate).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

int g_threads = 1;
long g_n = 0;

template <class F>
void parallel(F fn) {
  std::vector<std::thread> pool;
  for (int t = 1; t < g_threads; ++t) pool.emplace_back([=] { fn(g_n * t / g_threads, g_n * (t + 1) / g_threads); });
  fn(0, g_n / g_threads);
  for (auto& th : pool) th.join();
}

struct Rate {
  double best, median;
};

template <class F>
Rate measure(double bytes_per_elem, int reps, F fn) {
  std::vector<double> gbps;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    parallel(fn);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    gbps.push_back(bytes_per_elem * static_cast<double>(g_n) / s / 1e9);
  }
  std::sort(gbps.begin(), gbps.end());
  return {gbps.back(), gbps[gbps.size() / 2]};
}

float* array() { return static_cast<float*>(std::aligned_alloc(64, ((g_n * 4 + 63) / 64) * 64)); }

}  // namespace

int main(int argc, char** argv) {
  g_threads = argc > 1 ? std::atoi(argv[1]) : static_cast<int>(std::thread::hardware_concurrency());
  g_n = argc > 2 ? std::atol(argv[2]) : 10000000;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 15;
  if (g_threads < 1 || g_n < 1 || reps < 1) return 1;
  float *a = array(), *b = array(), *c = array(), *d = array();
  // First touch by the thread that will use each part (NUMA), outside the timing.
  parallel([=](long i0, long i1) {
    for (long i = i0; i < i1; ++i) a[i] = 1.f, b[i] = 2.f, c[i] = 0.5f, d[i] = 0.25f;
  });
  const Rate copy = measure(8, reps, [=](long i0, long i1) {
    for (long i = i0; i < i1; ++i) a[i] = b[i];
  });
  const Rate triad = measure(12, reps, [=](long i0, long i1) {
    for (long i = i0; i < i1; ++i) a[i] = b[i] + 0.5f * c[i];
  });
  // a = p, b = g, c = m, d = v: Adam's reads and writes with a token amount of arithmetic.
  const Rate adam = measure(28, reps, [=](long i0, long i1) {
    for (long i = i0; i < i1; ++i) {
      const float g = b[i];
      const float m = c[i] * 0.9f + 0.1f * g;
      const float v = d[i] * 0.999f + 0.001f * g * g;
      c[i] = m;
      d[i] = v;
      a[i] -= 1e-3f * m / (v + 1e-8f);
    }
  });
  std::printf(
      "{\"threads\":%d,\"n\":%ld,\"reps\":%d,\"copy\":{\"best\":%.2f,\"median\":%.2f},"
      "\"triad\":{\"best\":%.2f,\"median\":%.2f},\"adamPattern\":{\"best\":%.2f,\"median\":%.2f}}\n",
      g_threads, g_n, reps, copy.best, copy.median, triad.best, triad.median, adam.best, adam.median);
  std::free(a), std::free(b), std::free(c), std::free(d);
  return 0;
}
