// The kernel thread pool: persistent threads, one parallel region at a time.
//
// Sizing: the CPUs this process may run on (sched_getaffinity, so taskset and cpusets are
// honoured), overridden by FOVEAL_NUM_THREADS or fv.setNumThreads(n). A region runs on the
// calling thread (tid 0) plus n-1 pool workers, so an async op's libuv thread does its
// share of the work rather than idling: the libuv pool and the kernel pool together never
// run more compute threads than the setting. Regions from different callers (several
// async ops) take turns on a process-wide mutex — except a JS thread's: a sync op never
// waits behind another op's region, it runs its region serially on its own thread instead,
// so an event loop is never blocked by work it did not ask for. A region started from
// inside a region runs serially on its thread.
//
// Determinism: the pool only decides which thread computes which independent piece of
// output. Kernels that promise bit-identical results across thread counts must make every
// output element's arithmetic independent of the partition (no cross-thread reductions
// whose order depends on the thread count).
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace foveal {

// A non-owning reference to a callable, cheaper than std::function (no allocation).
template <class Sig>
class FunctionRef;
template <class R, class... A>
class FunctionRef<R(A...)> {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f) noexcept  // NOLINT: implicit by design
      : obj_(const_cast<void*>(static_cast<const void*>(&f))), call_([](void* o, A... a) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<A>(a)...);
        }) {}
  R operator()(A... a) const { return call_(obj_, std::forward<A>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, A...);
};

int default_num_threads();  // what the machine offers this process
int num_threads();          // the current setting
// 1 ≤ n ≤ 1024; takes effect for the next region. Throws std::invalid_argument otherwise.
void set_num_threads(int n);
bool in_parallel_region();  // true on any thread while it runs a region's work

// Marks the current thread, for its lifetime, as one that may wait for the pool when
// another caller holds it (the binding's async workers). Other threads — JS threads
// running sync ops — run their region serially when the pool is busy.
void allow_waiting_for_pool();

// Runs fn(tid, nthreads) once on each of min(n, num_threads()) threads; the caller is
// tid 0. Returns when all are done; rethrows the first exception a thread threw.
// Every thread must show up before the region ends, so a worker the OS is slow to run
// (asleep after its spin, or sharing its core with another process) delays the caller;
// prefer parallel_join for work that can be claimed.
void parallel_run(int n, FunctionRef<void(int, int)> fn);

// Runs fn() on the calling thread and on each of up to min(n, num_threads()) - 1 pool
// workers that joins while the region is open. Returns once the caller's fn has returned
// and every worker that joined has finished; a worker that arrives after that never runs
// fn. So fn must share out the work itself, claiming pieces from shared atomic counters,
// and must never wait for another participant to arrive (waiting for a piece another
// participant has already claimed is fine). Rethrows the first exception thrown.
//
// Why: a sleeping worker takes tens of microseconds to wake, and a worker whose core is
// busy with another process may not run for milliseconds; with claimed work the caller
// simply does more of it instead of waiting.
void parallel_join(int n, FunctionRef<void()> fn);

// Splits [0, total) into at most num_threads() contiguous chunks of at least `grain`
// items (the same chunks for the same total, grain and thread count) and runs
// fn(begin, end) on each, the chunks claimed by whichever threads join (parallel_join).
template <class F>
void parallel_for(int64_t total, int64_t grain, F&& fn) {
  if (total <= 0) return;
  if (grain < 1) grain = 1;
  int64_t chunks = (total + grain - 1) / grain;
  const int64_t threads = in_parallel_region() ? 1 : num_threads();
  if (chunks > threads) chunks = threads;
  if (chunks <= 1) {
    fn(int64_t{0}, total);
    return;
  }
  std::atomic<int64_t> next{0};
  parallel_join(static_cast<int>(chunks), [&] {
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;) {
      const int64_t begin = total * c / chunks;
      const int64_t end = total * (c + 1) / chunks;
      if (begin < end) fn(begin, end);
    }
  });
}

}  // namespace foveal
