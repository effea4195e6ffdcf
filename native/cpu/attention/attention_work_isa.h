// Attention: per-thread scratch (a bump allocator over mem::scratch) and the queue that
// hands out work items.
//
// Attention's kernels are text compiled once per ISA level: cpu/simd/variant.h includes
// attention_isa.h inside the level's target region, which includes this file.
#pragma once

#ifndef FOVEAL_ISA_NS
#error "include cpu/attention/attention_work_isa.h through attention_isa.h (cpu/simd/variant.h)"
#endif

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace attn {

// Bump allocator over one scratch block: carve() hands out kAlign-aligned float arrays.
class Arena {
 public:
  Arena() = default;
  Arena(void* base, size_t bytes) : base_(static_cast<char*>(base)), bytes_(bytes) {}
  static size_t bytes_for(size_t floats) { return (floats * sizeof(float) + mem::kAlign - 1) / mem::kAlign * mem::kAlign; }
  float* carve(size_t floats) {
    const size_t b = bytes_for(floats);
    FOVEAL_CHECK(off_ + b <= bytes_, "attention: internal scratch overflow");
    float* p = reinterpret_cast<float*>(base_ + off_);
    off_ += b;
    return p;
  }

 private:
  char* base_ = nullptr;
  size_t bytes_ = 0;
  size_t off_ = 0;
};

// Runs body(scratch, item) for items [0, total) on the kernel pool, in guided ranges or
// one item at a time. Each thread carves its scratch from its own `bytes` of
// mem::scratch and calls pack(scratch, kv) only when kv_of(item) changes.
template <class Scratch, class Carve, class KvOf, class Pack, class Body>
void for_each_item(int64_t total, size_t bytes, bool guided, Carve carve, KvOf kv_of, Pack pack, Body body);

// Hands out ranges of [0, total). Guided (threads > 0): large ones first, so a thread
// keeps whole heads and packs each kv head once, then smaller ones, so the threads finish
// together (guided self-scheduling); otherwise one item at a time. Which thread takes
// which range never changes a result.
class WorkQueue {
 public:
  WorkQueue(int64_t total, int threads) : total_(total), threads_(threads) {}
  bool grab(int64_t* begin, int64_t* end) {
    int64_t cur = next_.load(std::memory_order_relaxed);
    for (;;) {
      if (cur >= total_) return false;
      const int64_t n = threads_ > 0 ? std::max<int64_t>(1, (total_ - cur) / (2 * threads_)) : 1;
      if (next_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed)) {
        *begin = cur;
        *end = std::min(total_, cur + n);
        return true;
      }
    }
  }

 private:
  std::atomic<int64_t> next_{0};
  int64_t total_;
  int threads_;
};

template <class Scratch, class Carve, class KvOf, class Pack, class Body>
void for_each_item(int64_t total, size_t bytes, bool guided, Carve carve, KvOf kv_of, Pack pack, Body body) {
  const int threads = static_cast<int>(std::min<int64_t>(num_threads(), total));
  WorkQueue queue(total, guided ? threads : 0);
  // parallel_join: items are claimed from the queue, so a worker that is slow to arrive
  // (asleep, or its core busy with another process) never holds the others up.
  parallel_join(threads, [&] {
    Arena arena(mem::scratch(0, bytes), bytes);
    Scratch s = carve(arena);
    int64_t packed = -1;
    for (int64_t i0, i1; queue.grab(&i0, &i1);) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t kv = kv_of(i);
        if (kv != packed) {
          pack(s, kv);
          packed = kv;
        }
        body(s, i);
      }
    }
  });
}

}  // namespace attn
}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
