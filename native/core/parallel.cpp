#include "core/parallel.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define FOVEAL_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define FOVEAL_PAUSE() __asm__ volatile("yield")
#else
#define FOVEAL_PAUSE() ((void)0)
#endif

namespace foveal {
namespace {

constexpr int kMaxThreads = 1024;
// How long an idle worker spins before it sleeps. Kernels such as the attention backward
// run many short regions back to back; a futex wake costs tens of microseconds, a spin
// costs a core that is idle anyway between regions of the same op.
constexpr auto kSpin = std::chrono::microseconds(100);

thread_local bool t_in_region = false;
thread_local bool t_may_wait = false;

int parse_env_threads() {
  const char* env = std::getenv("FOVEAL_NUM_THREADS");
  if (!env || !*env) return 0;
  char* end = nullptr;
  const long n = std::strtol(env, &end, 10);
  if (*end != 0 || n < 1 || n > kMaxThreads) return 0;  // ignored; fv.info() shows the setting
  return static_cast<int>(n);
}

class ThreadPool {
 public:
  explicit ThreadPool(int n) { start(n); }

  int size() const { return size_.load(std::memory_order_relaxed); }

  void resize(int n) {
    std::lock_guard<std::mutex> region(region_mu_);
    if (n == size()) return;
    stop();
    start(n);
  }

  // A region every thread must attend: fn(tid, n) on n threads, the caller tid 0.
  void run(int n, FunctionRef<void(int, int)> fn) {
    std::unique_lock<std::mutex> region(region_mu_, std::defer_lock);
    if (t_may_wait) {
      region.lock();
    } else if (!region.try_lock()) {
      run_serial(fn);
      return;
    }
    const int workers = static_cast<int>(workers_.size());
    if (n > workers + 1) n = workers + 1;
    if (n <= 1) {
      region.unlock();
      run_serial(fn);
      return;
    }
    error_ = nullptr;
    pending_.store(workers, std::memory_order_relaxed);
    post(Kind::all, &fn, nullptr, n, 0);

    t_in_region = true;
    try {
      fn(0, n);
    } catch (...) {
      record_error(std::current_exception());
    }
    t_in_region = false;

    for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
      if (spins < 4096) FOVEAL_PAUSE();
      else std::this_thread::yield();
    }
    if (error_) std::rethrow_exception(error_);
  }

  // A region workers may join while it is open (parallel_join).
  void join(int n, FunctionRef<void()> fn) {
    std::unique_lock<std::mutex> region(region_mu_, std::defer_lock);
    if (t_may_wait) {
      region.lock();
    } else if (!region.try_lock()) {
      run_serial([&](int, int) { fn(); });
      return;
    }
    const int workers = static_cast<int>(workers_.size());
    if (n > workers + 1) n = workers + 1;
    if (n <= 1) {
      region.unlock();
      run_serial([&](int, int) { fn(); });
      return;
    }
    error_ = nullptr;
    const uint32_t id = ++join_id_;
    entry_.store(static_cast<uint64_t>(id) << 32, std::memory_order_relaxed);
    post(Kind::join, nullptr, &fn, n, id);

    t_in_region = true;
    try {
      fn();
    } catch (...) {
      record_error(std::current_exception());
    }
    t_in_region = false;

    // Close the door, then wait only for the workers that came in.
    entry_.fetch_or(kClosed, std::memory_order_acq_rel);
    for (int spins = 0; (entry_.load(std::memory_order_acquire) & kCountMask) != 0; ++spins) {
      if (spins < 4096) FOVEAL_PAUSE();
      else std::this_thread::yield();
    }
    if (error_) std::rethrow_exception(error_);
  }

  static void run_serial(FunctionRef<void(int, int)> fn) {
    const bool outer = t_in_region;
    t_in_region = true;
    try {
      fn(0, 1);
    } catch (...) {
      t_in_region = outer;
      throw;
    }
    t_in_region = outer;
  }

 private:
  enum class Kind : int { all, join, stop };
  static constexpr uint64_t kClosed = uint64_t{1} << 31;
  static constexpr uint64_t kCountMask = kClosed - 1;

  void start(int n) {
    // Each worker starts from the sequence number current now, not the one it sees when
    // it first runs: the first region may be posted before a new thread is scheduled.
    const uint64_t start_seq = seq_.load(std::memory_order_acquire);
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, start_seq] { worker(i, start_seq); });
    size_.store(n, std::memory_order_relaxed);
  }

  void stop() {
    post(Kind::stop, nullptr, nullptr, 0, 0);
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  // Publishes a job (one writer: region_mu_ is held). The job fields are a seqlock: the
  // sequence number is odd while they are written, so a worker that wakes late for an
  // elastic region can never mistake the next region's fields for the one it saw.
  void post(Kind kind, const FunctionRef<void(int, int)>* job, const FunctionRef<void()>* join_fn, int threads,
            uint32_t id) {
    const uint64_t s = seq_.load(std::memory_order_relaxed);
    seq_.store(s + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    kind_.store(kind, std::memory_order_relaxed);
    job_.store(job, std::memory_order_relaxed);
    join_fn_.store(join_fn, std::memory_order_relaxed);
    threads_.store(threads, std::memory_order_relaxed);
    job_id_.store(id, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(sleep_mu_);
      seq_.store(s + 2, std::memory_order_release);
    }
    wake_.notify_all();
  }

  void record_error(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(error_mu_);
    if (!error_) error_ = e;
  }

  bool try_enter(uint32_t id) {
    uint64_t e = entry_.load(std::memory_order_acquire);
    for (;;) {
      if ((e >> 32) != id || (e & kClosed)) return false;
      if (entry_.compare_exchange_weak(e, e + 1, std::memory_order_acq_rel, std::memory_order_acquire)) return true;
    }
  }

  // The next published sequence number after `seen`: spin a while, then sleep.
  uint64_t next_seq(uint64_t seen) {
    auto fresh = [&](uint64_t x) { return x != seen && (x & 1) == 0; };
    uint64_t g = seq_.load(std::memory_order_acquire);
    if (fresh(g)) return g;
    const auto deadline = std::chrono::steady_clock::now() + kSpin;
    for (int i = 0; !fresh(g = seq_.load(std::memory_order_acquire)); ++i) {
      FOVEAL_PAUSE();
      if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) {
        std::unique_lock<std::mutex> lock(sleep_mu_);
        wake_.wait(lock, [&] { return fresh(seq_.load(std::memory_order_acquire)); });
      }
    }
    return g;
  }

  void worker(int tid, uint64_t seen) {
    for (;;) {
      const uint64_t g = next_seq(seen);
      const Kind kind = kind_.load(std::memory_order_relaxed);
      const FunctionRef<void(int, int)>* job = job_.load(std::memory_order_relaxed);
      const FunctionRef<void()>* join_fn = join_fn_.load(std::memory_order_relaxed);
      const int threads = threads_.load(std::memory_order_relaxed);
      const uint32_t id = job_id_.load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      // Rewritten while read: only an elastic region that closed without us can be
      // overtaken this way, and then the newer one is ours.
      if (seq_.load(std::memory_order_relaxed) != g) continue;
      seen = g;
      if (kind == Kind::stop) return;
      if (kind == Kind::all) {
        if (tid < threads) {
          t_in_region = true;
          try {
            (*job)(tid, threads);
          } catch (...) {
            record_error(std::current_exception());
          }
          t_in_region = false;
        }
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      } else if (tid < threads && try_enter(id)) {
        t_in_region = true;
        try {
          (*join_fn)();
        } catch (...) {
          record_error(std::current_exception());
        }
        t_in_region = false;
        entry_.fetch_sub(1, std::memory_order_release);
      }
    }
  }

  std::mutex region_mu_;  // one region at a time, process-wide
  std::vector<std::thread> workers_;
  std::atomic<int> size_{1};

  std::mutex sleep_mu_;
  std::condition_variable wake_;
  std::atomic<uint64_t> seq_{0};  // even: a job is published; odd: one is being written
  std::atomic<Kind> kind_{Kind::all};
  std::atomic<const FunctionRef<void(int, int)>*> job_{nullptr};
  std::atomic<const FunctionRef<void()>*> join_fn_{nullptr};
  std::atomic<int> threads_{0};
  std::atomic<uint32_t> job_id_{0};

  std::atomic<int> pending_{0};     // Kind::all: workers yet to check in
  std::atomic<uint64_t> entry_{0};  // Kind::join: job id << 32 | closed bit | workers inside
  uint32_t join_id_ = 0;            // under region_mu_

  std::mutex error_mu_;
  std::exception_ptr error_;
};

ThreadPool& pool() {
  // Created on first use, never destroyed: at process exit the workers sleep on a
  // condition variable and are simply ended, instead of racing static destructors.
  static ThreadPool* p = new ThreadPool(num_threads());
  return *p;
}

std::atomic<int>& setting() {
  static std::atomic<int> n{[] {
    const int env = parse_env_threads();
    return env ? env : default_num_threads();
  }()};
  return n;
}

}  // namespace

int default_num_threads() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n < kMaxThreads ? n : kMaxThreads;
  }
#endif
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : (n < kMaxThreads ? static_cast<int>(n) : kMaxThreads);
}

int num_threads() { return setting().load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  if (n < 1 || n > kMaxThreads)
    throw std::invalid_argument("setNumThreads: n must be an integer from 1 to " + std::to_string(kMaxThreads) +
                                ", got " + std::to_string(n));
  setting().store(n, std::memory_order_relaxed);
  pool().resize(n);
}

bool in_parallel_region() { return t_in_region; }

void allow_waiting_for_pool() { t_may_wait = true; }

void parallel_run(int n, FunctionRef<void(int, int)> fn) {
  if (n <= 1 || t_in_region) {
    ThreadPool::run_serial(fn);
    return;
  }
  pool().run(n, fn);
}

void parallel_join(int n, FunctionRef<void()> fn) {
  if (n <= 1 || t_in_region) {
    ThreadPool::run_serial([&](int, int) { fn(); });
    return;
  }
  pool().join(n, fn);
}

}  // namespace foveal
