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
    job_ = &fn;
    job_threads_ = n;
    error_ = nullptr;
    pending_.store(workers, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(sleep_mu_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();

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
    job_ = nullptr;
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
  void start(int n) {
    stopping_ = false;
    // Each worker starts from the generation current now, not the one it sees when it
    // first runs: the first region may be posted before a new thread is scheduled.
    const uint64_t start_generation = generation_.load(std::memory_order_acquire);
    for (int i = 1; i < n; ++i)
      workers_.emplace_back([this, i, start_generation] { worker(i, start_generation); });
    size_.store(n, std::memory_order_relaxed);
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(sleep_mu_);
      stopping_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  void record_error(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(error_mu_);
    if (!error_) error_ = e;
  }

  void worker(int tid, uint64_t seen) {
    for (;;) {
      uint64_t g = generation_.load(std::memory_order_acquire);
      if (g == seen) {
        const auto deadline = std::chrono::steady_clock::now() + kSpin;
        for (int i = 0; (g = generation_.load(std::memory_order_acquire)) == seen; ++i) {
          FOVEAL_PAUSE();
          if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) {
            std::unique_lock<std::mutex> lock(sleep_mu_);
            wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
          }
        }
      }
      seen = g;
      if (stopping_) return;
      if (tid < job_threads_) {
        t_in_region = true;
        try {
          (*job_)(tid, job_threads_);
        } catch (...) {
          record_error(std::current_exception());
        }
        t_in_region = false;
      }
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  std::mutex region_mu_;  // one region at a time, process-wide
  std::vector<std::thread> workers_;
  std::atomic<int> size_{1};

  std::mutex sleep_mu_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stopping_ = false;  // written under sleep_mu_ before a generation bump

  const FunctionRef<void(int, int)>* job_ = nullptr;
  int job_threads_ = 0;
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
    throw std::invalid_argument("setNumThreads: n must be an integer from 1 to " +
                                std::to_string(kMaxThreads) + ", got " + std::to_string(n));
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

}  // namespace foveal
