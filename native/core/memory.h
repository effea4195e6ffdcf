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

// Per-thread scratch that lives across calls, so kernels never allocate per call: slot s of
// the calling thread is a kAlign-aligned buffer that grows to the largest size asked of it
// and is kept. A slot is one buffer per thread, so two pieces of code that could hold the
// same slot at the same time on one thread (a kernel, and a kernel it calls) must use
// different slots; code that never nests may share one.
constexpr int kScratchSlots = 8;

// Who uses which slot. Each owner is an enumerator (value = slot + kScratchSlots·id, so
// owners that share a slot stay distinguishable in the debug check's messages); owners
// sharing a slot are listed together. A new user of scratch takes a name here.
//
//   slot 0: attention's per-thread tile arena (attention_work.inc), conv's
//           im2col plan, and the partial sums of the reductions (norm, loss, optim, gate,
//           and the first of elementwise's reduce chain)
//   slot 1: conv's flipped weights and the generic depthwise dw accumulators, gate's
//           per-block rows, loss's per-row sums, elementwise's chain
//   slot 2: pool's column tables and argmax rows, gate's per-channel accumulators,
//           elementwise's chain
//   slot 3: conv's depthwise/direct tables and Winograd dw's Z tile, elementwise's chain
//   slot 4: conv's packed weights, the end of elementwise's chain
//   slot 5: conv's packed-B panels
//   slot 6: gemm's packed B (gemm_kernels.inc), conv's col tiles
//   slot 7: gemm's partial sums (gemm_kernels.inc), conv's packed dy tile
// conv keeps what must survive a gemm() call in slots 0-5 (gemm takes 6 and 7), and uses 6
// and 7 only in regions that call gemm_packed and the packers, which take no scratch.
#define FOVEAL_SCRATCH_SLOTS(X)                                               \
  X(attention_arena, 0, 1, "attention: the tile arena")                       \
  X(conv_plan, 0, 2, "conv: the im2col plan")                                 \
  X(norm_partials, 0, 3, "norm: partial sums")                                \
  X(loss_partials, 0, 4, "loss: partial sums")                                \
  X(optim_partials, 0, 5, "optim: the norm's partial sums")                   \
  X(gate_partials, 0, 6, "gate: per-chunk partial sums")                      \
  X(elementwise_reduce, 0, 7, "elementwise: the reduce chain (slots 0-4)")    \
  X(conv_xform, 1, 8, "conv: the flipped weights")                            \
  X(conv_depthwise_acc, 1, 9, "conv: the generic depthwise dw accumulators")  \
  X(gate_rows, 1, 10, "gate: a block's rows")                                 \
  X(loss_rows, 1, 11, "loss: per-row sums")                                   \
  X(pool_rows, 2, 12, "pool: column tables and argmax rows")                  \
  X(gate_acc, 2, 13, "gate: per-channel accumulators")                        \
  X(conv_tables, 3, 14, "conv: the depthwise/direct tables")                  \
  X(conv_winograd_z, 3, 15, "conv: Winograd dw's Z tile")                     \
  X(conv_packed_a, 4, 16, "conv: the packed weights")                         \
  X(conv_packed_b, 5, 17, "conv: packed-B panels")                            \
  X(gemm_packed_b, 6, 18, "gemm: packed B")                                   \
  X(conv_col, 6, 19, "conv: a col tile")                                      \
  X(gemm_partials, 7, 20, "gemm: partial sums")                               \
  X(conv_dy, 7, 21, "conv: the packed dy tile")                               \
  X(check_probe_a, 5, 22, "the scratch check's self-test (binding/info.cpp)") \
  X(check_probe_b, 5, 23, "the scratch check's self-test (binding/info.cpp)")

enum class Slot : uint16_t {
#define FOVEAL_SCRATCH_SLOT_ENUM(name, slot, id, what) name = (slot) + kScratchSlots * (id),
  FOVEAL_SCRATCH_SLOTS(FOVEAL_SCRATCH_SLOT_ENUM)
#undef FOVEAL_SCRATCH_SLOT_ENUM
};
constexpr int slot_index(Slot s) { return static_cast<int>(s) % kScratchSlots; }
// `s` moved k slots on, for code that uses a run of slots (elementwise's reduce chain).
constexpr Slot slot_after(Slot s, int k) { return static_cast<Slot>(static_cast<int>(s) + k); }
// The owner's description, for messages.
const char* slot_owner(Slot s);

// The check: a Scratch holds its slot until it is destroyed, and asking for a slot that
// this thread already holds (a kernel asking for a slot that an outer kernel on the same
// thread still uses: both would get the same buffer) throws std::logic_error naming both
// owners, which the op reports as its error. It costs a thread-local flag per Scratch, so
// it is always on; -DFOVEAL_CHECK_SCRATCH=0 turns it off.
#ifndef FOVEAL_CHECK_SCRATCH
#define FOVEAL_CHECK_SCRATCH 1
#endif

namespace detail {
void* scratch_block(int slot, size_t bytes);
#if FOVEAL_CHECK_SCRATCH
void hold_slot(Slot s);  // throws std::logic_error if this thread holds the slot
void release_slot(Slot s) noexcept;
#endif
}  // namespace detail

// `count` T's of scratch in `slot` of the calling thread, held until destruction. Use it
// as a T* (it converts), but keep the Scratch itself for as long as the memory is used:
// `mem::Scratch<float> acc(mem::Slot::gate_acc, n);` (a temporary cannot convert).
template <class T>
class Scratch {
 public:
  Scratch() = default;
  Scratch(Slot slot, size_t count) {
#if FOVEAL_CHECK_SCRATCH
    detail::hold_slot(slot);
    slot_ = slot;
    held_ = true;
    // A constructor that throws runs no destructor: a failed allocation (bad_alloc) lets
    // go of the slot here, or every later op on this thread would find it held.
    try {
      p_ = static_cast<T*>(detail::scratch_block(slot_index(slot), count * sizeof(T)));
    } catch (...) {
      reset();
      throw;
    }
#else
    p_ = static_cast<T*>(detail::scratch_block(slot_index(slot), count * sizeof(T)));
#endif
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  Scratch(Scratch&& o) noexcept { *this = static_cast<Scratch&&>(o); }
  Scratch& operator=(Scratch&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = o.p_;
      o.p_ = nullptr;
#if FOVEAL_CHECK_SCRATCH
      slot_ = o.slot_;
      held_ = o.held_;
      o.held_ = false;
#endif
    }
    return *this;
  }
  ~Scratch() { reset(); }

  T* get() const { return p_; }
  operator T*() const& { return p_; }  // NOLINT: used as the pointer it holds
  operator T*() const&& = delete;      // a temporary would let go of the slot at once

 private:
  void reset() noexcept {
#if FOVEAL_CHECK_SCRATCH
    if (held_) detail::release_slot(slot_);
    held_ = false;
#endif
    p_ = nullptr;
  }
  T* p_ = nullptr;
#if FOVEAL_CHECK_SCRATCH
  Slot slot_{};
  bool held_ = false;
#endif
};

}  // namespace mem
}  // namespace foveal
