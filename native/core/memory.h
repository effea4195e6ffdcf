// Memory for op results and kernel scratch.
//
// On the VMs foveal is built on, the first touch of a fresh 4 KiB page costs microseconds
// (a huge page much less per byte once the guest has one to give), so an op that
// allocated its result with new/malloc would pay for page faults on every call. Results
// come from this pool instead: a freed block is kept (up to a cap) for the next result of
// a similar size, already touched. Fresh memory of 64 KiB and more comes from 2 MiB-aligned
// mappings advised for transparent huge pages: blocks under 2 MiB are carved from 2 MiB
// arenas of one size class each, larger blocks get a mapping of their own rounded to 2 MiB.
//
// When a block comes back is the binding's business (binding/results.h): through
// dispose/tidy, once V8 has collected the ArrayBuffer that lent it to JS, or from the
// ArrayBuffer's finaliser, whichever comes first.
#pragma once

#include <cstddef>
#include <cstdint>

namespace foveal {
namespace mem {

constexpr size_t kAlign = 64;  // a cache line, and an AVX-512 vector

// A block of at least `bytes` bytes, kAlign-aligned, its contents unspecified. Throws
// std::bad_alloc. Thread-safe. acquire(0) returns a valid pointer that must be released.
void* acquire(size_t bytes);
// Gives back a block from acquire(); `bytes` is what acquire() was asked for.
void release(void* block, size_t bytes) noexcept;

struct Stats {
  size_t live_bytes;    // handed out and not yet released (by size class)
  size_t cached_bytes;  // released and kept for reuse
  size_t cache_limit;   // the cap on cached_bytes (FOVEAL_POOL_LIMIT, fv.setPoolLimit)
  size_t mapped_bytes;  // memory the pool holds from the OS: live, cached, and arena space not yet carved
  uint64_t hits;        // acquires served from the cache
  uint64_t misses;      // acquires that needed fresh memory
};
Stats stats();
// Bytes of the pool's mappings that the OS backs with huge pages right now (read from
// /proc/self/smaps on Linux; 0 elsewhere). Costs a file read: for statistics only.
size_t huge_page_bytes();
void set_cache_limit(size_t bytes);  // trims the cache down to the new cap
void trim();                         // returns every cached block it can to the OS

// Per-thread scratch that lives across calls, so kernels never allocate per call: a
// kAlign-aligned buffer of at least `bytes` for slot `slot` (0 ≤ slot < kScratchSlots) of
// the calling thread, valid until the same thread asks for the same slot again. Grows, and
// keeps its largest size.
constexpr int kScratchSlots = 8;
void* scratch(int slot, size_t bytes);
template <class T>
T* scratch_as(int slot, size_t count) {
  return static_cast<T*>(scratch(slot, count * sizeof(T)));
}

}  // namespace mem
}  // namespace foveal
