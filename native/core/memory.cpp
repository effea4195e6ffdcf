#include "core/memory.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
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
// Classes from here up come from huge-page mappings. Below it, malloc's heap serves them
// well (its chunks are reused warm) and a 2 MiB arena would be mostly idle.
constexpr size_t kArenaMin = size_t{64} << 10;

#if defined(__linux__)
constexpr bool kMaps = true;
#else
constexpr bool kMaps = false;
#endif

// Size classes: four per doubling (x, 1.25x, 1.5x, 1.75x), so a reused block wastes at
// most 25% and a loop whose shapes drift a little still hits the cache. Every class is a
// multiple of kAlign, as aligned_alloc requires of its size (C11; ASan enforces it);
// classes of 2 MiB and more are whole huge pages.
size_t size_class(size_t bytes) {
  if (bytes <= kAlign) return kAlign;
  size_t pow = kAlign;
  while (pow * 2 < bytes) pow *= 2;  // pow < bytes ≤ 2·pow
  const size_t step = std::max(pow / 4, kAlign);
  size_t cls = pow + ((bytes - pow + step - 1) / step) * step;
  if (cls >= kHuge) cls = (cls + kHuge - 1) / kHuge * kHuge;
  return cls;
}

// Where a class's blocks come from.
enum class Tier { kHeap, kSlab, kOwn };
Tier tier_of(size_t cls) {
  if (!kMaps || cls < kArenaMin) return Tier::kHeap;
  return cls < kHuge ? Tier::kSlab : Tier::kOwn;
}

// `bytes` (a multiple of 2 MiB) mapped on a 2 MiB boundary and advised for huge pages:
// over-map by one huge page, return the slack on both sides.
void* map_huge(size_t bytes) {
#if defined(__linux__)
  void* p = mmap(nullptr, bytes + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  const auto base = reinterpret_cast<uintptr_t>(p);
  const uintptr_t aligned = (base + kHuge - 1) & ~static_cast<uintptr_t>(kHuge - 1);
  if (aligned > base) munmap(p, aligned - base);
  const uintptr_t tail = base + bytes + kHuge - (aligned + bytes);
  if (tail) munmap(reinterpret_cast<void*>(aligned + bytes), tail);
#ifdef MADV_HUGEPAGE
  madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);
#endif
  return reinterpret_cast<void*>(aligned);
#else
  (void)bytes;
  throw std::bad_alloc();
#endif
}

void unmap(void* p, size_t bytes) noexcept {
#if defined(__linux__)
  munmap(p, bytes);
#else
  (void)p;
  (void)bytes;
#endif
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

// A 2 MiB mapping carved into blocks of one size class. It goes back to the OS only as a
// whole, once none of its blocks is handed out.
struct Arena {
  size_t cls = 0;
  uint32_t blocks = 0;  // how many blocks of cls fit
  uint32_t carved = 0;  // blocks handed out at least once (the first `carved` slots)
  uint32_t live = 0;    // blocks handed out now
};

struct Pool {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free;  // size class → cached blocks, last freed on top
  std::unordered_map<uintptr_t, Arena> arenas;          // arena base → arena
  std::unordered_map<size_t, uintptr_t> carving;        // size class → the arena with slots never used
  std::map<uintptr_t, size_t> mappings;                 // every huge-page mapping: start → bytes
  Stats st{0, 0, default_limit(), 0, 0, 0};

  static uintptr_t arena_base(const void* block) {
    return reinterpret_cast<uintptr_t>(block) & ~static_cast<uintptr_t>(kHuge - 1);
  }

  // A block of a slab class: from the carving arena, or from a new one. Under mu.
  void* carve(size_t cls) {
    auto it = carving.find(cls);
    if (it == carving.end() || arenas[it->second].carved == arenas[it->second].blocks) {
      void* p = map_huge(kHuge);
      const auto base = reinterpret_cast<uintptr_t>(p);
      Arena a;
      a.cls = cls;
      a.blocks = static_cast<uint32_t>(kHuge / cls);
      arenas[base] = a;
      mappings[base] = kHuge;
      carving[cls] = base;
      st.mapped_bytes += kHuge;
      it = carving.find(cls);
    }
    Arena& a = arenas[it->second];
    void* block = reinterpret_cast<void*>(it->second + static_cast<uintptr_t>(a.carved) * cls);
    ++a.carved;
    ++a.live;
    return block;
  }

  // Unmaps an arena none of whose blocks is handed out, forgetting its cached blocks. Under mu.
  void drop_arena(uintptr_t base) {
    Arena& a = arenas[base];
    auto& list = free[a.cls];
    list.erase(std::remove_if(list.begin(), list.end(), [base](void* b) { return arena_base(b) == base; }), list.end());
    st.cached_bytes -= static_cast<size_t>(a.carved) * a.cls;
    st.mapped_bytes -= kHuge;
    auto c = carving.find(a.cls);
    if (c != carving.end() && c->second == base) carving.erase(c);
    arenas.erase(base);
    mappings.erase(base);
    unmap(reinterpret_cast<void*>(base), kHuge);
  }

  // Frees one cached block of a heap or own class to the OS. Under mu.
  void drop_block(void* block, size_t cls) {
    st.cached_bytes -= cls;
    st.mapped_bytes -= cls;
    if (tier_of(cls) == Tier::kOwn) {
      mappings.erase(reinterpret_cast<uintptr_t>(block));
      unmap(block, cls);
    } else {
      std::free(block);
    }
  }

  void shrink_to(size_t limit) {  // under mu
    for (auto& [cls, blocks] : free) {
      if (tier_of(cls) == Tier::kSlab) continue;
      while (st.cached_bytes > limit && !blocks.empty()) {
        void* b = blocks.back();
        blocks.pop_back();
        drop_block(b, cls);
      }
    }
    if (st.cached_bytes <= limit) return;
    std::vector<uintptr_t> idle;
    for (const auto& [base, a] : arenas)
      if (a.live == 0) idle.push_back(base);
    for (uintptr_t base : idle) {
      if (st.cached_bytes <= limit) break;
      drop_arena(base);
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
  const Tier tier = tier_of(cls);
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    auto it = p.free.find(cls);
    if (it != p.free.end() && !it->second.empty()) {
      void* block = it->second.back();
      it->second.pop_back();
      p.st.cached_bytes -= cls;
      p.st.live_bytes += cls;
      if (tier == Tier::kSlab) ++p.arenas[Pool::arena_base(block)].live;
      ++p.st.hits;
      return block;
    }
    ++p.st.misses;
    if (tier == Tier::kSlab) {
      void* block = p.carve(cls);  // throws bad_alloc before anything is counted
      p.st.live_bytes += cls;
      return block;
    }
    p.st.live_bytes += cls;
    p.st.mapped_bytes += cls;
  }
  try {
    if (tier == Tier::kOwn) {
      void* block = map_huge(cls);
      std::lock_guard<std::mutex> lock(p.mu);
      p.mappings[reinterpret_cast<uintptr_t>(block)] = cls;
      return block;
    }
    void* block = std::aligned_alloc(kAlign, cls);
    if (!block) throw std::bad_alloc();
    return block;
  } catch (...) {
    std::lock_guard<std::mutex> lock(p.mu);
    p.st.live_bytes -= cls;
    p.st.mapped_bytes -= cls;
    throw;
  }
}

void release(void* block, size_t bytes) noexcept {
  if (!block) return;
  const size_t cls = size_class(bytes);
  const Tier tier = tier_of(cls);
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  p.st.live_bytes -= cls;
  uintptr_t base = 0;
  if (tier == Tier::kSlab) {
    base = Pool::arena_base(block);
    --p.arenas[base].live;
  }
  const bool fits = p.st.cached_bytes + cls <= p.st.cache_limit;
  if (fits || tier == Tier::kSlab) {
    try {
      p.free[cls].push_back(block);
      p.st.cached_bytes += cls;
      // An arena goes back as a whole: over the cap, once all of it is free.
      if (!fits && p.arenas[base].live == 0) p.drop_arena(base);
      return;
    } catch (...) {
      // no room to remember it: give it back below
    }
  }
  if (tier == Tier::kSlab) return;  // cannot give back part of an arena; it stays mapped
  p.st.cached_bytes += cls;         // drop_block takes it off again
  p.drop_block(block, cls);
}

Stats stats() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return p.st;
}

size_t huge_page_bytes() {
#if defined(__linux__)
  // Our mappings, adjacent ones merged (the kernel merges adjacent VMAs with equal flags).
  std::vector<std::pair<uintptr_t, uintptr_t>> ours;
  {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    for (const auto& [start, bytes] : p.mappings) {
      if (!ours.empty() && ours.back().second == start) ours.back().second = start + bytes;
      else ours.emplace_back(start, start + bytes);
    }
  }
  if (ours.empty()) return 0;
  auto covered = [&ours](uintptr_t lo, uintptr_t hi) {
    auto it = std::upper_bound(ours.begin(), ours.end(), std::make_pair(lo, ~uintptr_t{0}));
    if (it == ours.begin()) return false;
    --it;
    return it->first <= lo && hi <= it->second;
  };
  FILE* f = std::fopen("/proc/self/smaps", "r");
  if (!f) return 0;
  char line[512];
  bool in_ours = false;
  size_t total = 0;
  while (std::fgets(line, sizeof line, f)) {
    unsigned long lo = 0, hi = 0;
    size_t kb = 0;
    if (std::sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && std::strchr(line, ' ')) {
      in_ours = covered(lo, hi);
    } else if (in_ours && std::sscanf(line, "AnonHugePages: %zu kB", &kb) == 1) {
      total += kb << 10;
    }
  }
  std::fclose(f);
  return total;
#else
  return 0;
#endif
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

namespace detail {

void* scratch_block(int slot, size_t bytes) {
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

#if FOVEAL_CHECK_SCRATCH
namespace {
// The owner holding each slot of this thread, or none.
thread_local bool t_held[kScratchSlots] = {};
thread_local Slot t_holder[kScratchSlots] = {};

[[noreturn]] void nested(int slot, const char* asker) {
  throw std::logic_error(std::string("foveal: scratch slot ") + std::to_string(slot) + " asked for by " + asker +
                         " while " + slot_owner(t_holder[slot]) +
                         " still holds it on this thread (nested reuse; see core/memory.h)");
}
}  // namespace

void hold_slot(Slot s) {
  const int i = slot_index(s);
  if (t_held[i]) nested(i, slot_owner(s));
  t_held[i] = true;
  t_holder[i] = s;
}

void release_slot(Slot s) noexcept { t_held[slot_index(s)] = false; }
#endif

}  // namespace detail

const char* slot_owner(Slot s) {
  switch (static_cast<int>(s) / kScratchSlots) {  // the owner's id (slot_after keeps it)
#define FOVEAL_SCRATCH_SLOT_NAME(name, slot, id, what) \
  case id: return what;
    FOVEAL_SCRATCH_SLOTS(FOVEAL_SCRATCH_SLOT_NAME)
#undef FOVEAL_SCRATCH_SLOT_NAME
  }
  return "an unnamed owner";
}

}  // namespace mem
}  // namespace foveal
