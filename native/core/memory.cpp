#include "core/memory.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace foveal {
namespace mem {
namespace {

constexpr size_t kHuge = size_t{2} << 20;  // 2 MiB: a transparent huge page
constexpr size_t kMapThreshold = size_t{1} << 20;

// Size classes: four per doubling (x, 1.25x, 1.5x, 1.75x), so a reused block wastes at
// most 25% and a loop whose shapes drift a little still hits the cache. Every class is a
// multiple of kAlign, as aligned_alloc requires of its size (C11; ASan enforces it).
size_t size_class(size_t bytes) {
  if (bytes <= kAlign) return kAlign;
  size_t pow = kAlign;
  while (pow * 2 < bytes) pow *= 2;  // pow < bytes ≤ 2·pow
  const size_t step = std::max(pow / 4, kAlign);
  size_t cls = pow + ((bytes - pow + step - 1) / step) * step;
  if (cls >= kHuge) cls = (cls + kHuge - 1) / kHuge * kHuge;
  return cls;
}

void* os_alloc(size_t cls) {
#if defined(__linux__)
  if (cls >= kMapThreshold) {
    // Over-map by one huge page so the block can start on a 2 MiB boundary, then return
    // the slack; aligned blocks are what THP can back with huge pages.
    const size_t extra = cls >= kHuge ? kHuge : 0;
    void* p = mmap(nullptr, cls + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    auto base = reinterpret_cast<uintptr_t>(p);
    const uintptr_t aligned = extra ? (base + kHuge - 1) & ~(uintptr_t)(kHuge - 1) : base;
    if (aligned > base) munmap(p, aligned - base);
    const uintptr_t tail = base + cls + extra - (aligned + cls);
    if (tail) munmap(reinterpret_cast<void*>(aligned + cls), tail);
#ifdef MADV_HUGEPAGE
    if (extra) madvise(reinterpret_cast<void*>(aligned), cls, MADV_HUGEPAGE);
#endif
    return reinterpret_cast<void*>(aligned);
  }
#endif
  void* p = std::aligned_alloc(kAlign, cls);
  if (!p) throw std::bad_alloc();
  return p;
}

void os_free(void* p, size_t cls) noexcept {
#if defined(__linux__)
  if (cls >= kMapThreshold) {
    munmap(p, cls);
    return;
  }
#endif
  std::free(p);
}

size_t default_limit() {
  if (const char* env = std::getenv("FOVEAL_POOL_LIMIT")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(env, &end, 10);
    if (end != env) {
      unsigned long long mul = 1;
      if (*end == 'k' || *end == 'K') mul = 1ull << 10;
      if (*end == 'm' || *end == 'M') mul = 1ull << 20;
      if (*end == 'g' || *end == 'G') mul = 1ull << 30;
      return static_cast<size_t>(v * mul);
    }
  }
  size_t limit = size_t{1} << 30;  // 1 GiB, or an eighth of RAM where that is less
#if defined(__linux__)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) {
    const size_t ram = static_cast<size_t>(pages) * static_cast<size_t>(page);
    if (ram / 8 < limit) limit = ram / 8;
  }
#endif
  return limit;
}

struct Pool {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free;  // size class → cached blocks
  Stats st{0, 0, default_limit(), 0, 0};

  void shrink_to(size_t limit) {  // under mu
    for (auto& [cls, blocks] : free) {
      while (st.cached_bytes > limit && !blocks.empty()) {
        os_free(blocks.back(), cls);
        blocks.pop_back();
        st.cached_bytes -= cls;
      }
    }
  }
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: finalisers may run during exit
  return *p;
}

}  // namespace

void* acquire(size_t bytes) {
  const size_t cls = size_class(bytes);
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    auto it = p.free.find(cls);
    if (it != p.free.end() && !it->second.empty()) {
      void* block = it->second.back();
      it->second.pop_back();
      p.st.cached_bytes -= cls;
      p.st.live_bytes += cls;
      ++p.st.hits;
      return block;
    }
    ++p.st.misses;
    p.st.live_bytes += cls;
  }
  try {
    return os_alloc(cls);
  } catch (...) {
    std::lock_guard<std::mutex> lock(p.mu);
    p.st.live_bytes -= cls;
    throw;
  }
}

void release(void* block, size_t bytes) noexcept {
  if (!block) return;
  const size_t cls = size_class(bytes);
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  p.st.live_bytes -= cls;
  if (p.st.cached_bytes + cls <= p.st.cache_limit) {
    try {
      p.free[cls].push_back(block);
      p.st.cached_bytes += cls;
      return;
    } catch (...) {
      // no room to remember it: give it back below
    }
  }
  os_free(block, cls);
}

Stats stats() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return p.st;
}

void set_cache_limit(size_t bytes) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  p.st.cache_limit = bytes;
  p.shrink_to(bytes);
}

void trim() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  p.shrink_to(0);
}

namespace {
struct ScratchSlot {
  void* block = nullptr;
  size_t bytes = 0;
};
struct ThreadScratch {
  ScratchSlot slots[kScratchSlots];
  ~ThreadScratch() {
    for (auto& s : slots) release(s.block, s.bytes);
  }
};
thread_local ThreadScratch t_scratch;
}  // namespace

void* scratch(int slot, size_t bytes) {
  if (slot < 0 || slot >= kScratchSlots) throw std::out_of_range("foveal: scratch slot out of range");
  ScratchSlot& s = t_scratch.slots[slot];
  if (s.block && s.bytes >= bytes) return s.block;
  // Grow by at least half again, so a slowly growing request does not reallocate each call.
  const size_t want = bytes > s.bytes + s.bytes / 2 ? bytes : s.bytes + s.bytes / 2;
  void* fresh = acquire(want);
  release(s.block, s.bytes);
  s.block = fresh;
  s.bytes = want;
  return fresh;
}

}  // namespace mem
}  // namespace foveal
