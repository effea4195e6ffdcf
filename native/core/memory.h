// Memory for op results and kernel scratch.
//
// On the VMs foveal is built on, the first touch of a fresh 4 KiB page costs microseconds,
// so an op that allocates its result with new/malloc pays for page faults on every call.
// Results come from this pool instead: blocks are handed to JS as external ArrayBuffers
// whose finaliser gives the block back, and a freed block is kept (up to a cap) for the
// next result of a similar size, already touched. Large blocks are mapped with transparent
// huge pages where the OS offers them (one fault per 2 MiB instead of per 4 KiB).
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
  uint64_t hits;        // acquires served from the cache
  uint64_t misses;      // acquires that needed fresh memory
};
Stats stats();
void set_cache_limit(size_t bytes);  // trims the cache down to the new cap
void trim();                         // returns every cached block to the OS

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
