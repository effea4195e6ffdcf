// Where op results live, and how their memory comes back (DESIGN.md, "Memory is part of
// speed").
//
// A result of kSmallResultBytes or more is a pool block lent to JS as an external
// ArrayBuffer. Node runs an external buffer's finaliser only after the event loop turns, so
// a synchronous loop would never give its memory back that way. What V8 does clear inside
// the loop, at every garbage collection, is a weak reference: each loan holds one to its
// ArrayBuffer, and once a collection has happened (a weakly held canary object is gone)
// the next op sweeps the loans and takes back every block whose ArrayBuffer V8 has
// collected. No JS can reach such a block: views keep their buffer alive, and Node makes
// external buffers untransferable, so postMessage and structuredClone copy them. (Where
// the runtime has ArrayBuffer.prototype.transfer, which moves an external buffer's memory
// to a new ArrayBuffer without a copy, the weak reference proves nothing; a probe at load
// time finds that out, and then blocks come back only through dispose and the finaliser,
// and results past an in-flight budget are allocated by V8 instead.)
//
// Smaller results are ArrayBuffers V8 allocates and frees itself: for them the bookkeeping
// of a loan would cost more than the memory, and malloc's heap keeps small chunks warm.
//
// dispose() detaches a result's ArrayBuffer (every view reads length 0) before its block is
// reused. A block that an Async op in flight reads or writes is pinned: disposing it
// detaches and frees it when the op settles.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace foveal {
namespace binding {

// Results below this size are allocated by V8 (malloc's heap), from it up by the pool.
constexpr size_t kSmallResultBytes = size_t{64} << 10;

struct Loan;

// The results of one JS environment (the main thread or a worker_thread).
class ResultBook {
 public:
  struct Counters {
    uint64_t lent = 0;          // pool blocks handed to JS
    uint64_t by_dispose = 0;    // came back through dispose()/tidy
    uint64_t by_gc = 0;         // came back when V8 collected their ArrayBuffer
    uint64_t by_finalizer = 0;  // came back from the ArrayBuffer's finaliser
    uint64_t v8_results = 0;    // results allocated by V8 (small, or past the budget)
    uint64_t outstanding = 0;   // lent and not back yet
    uint64_t outstanding_bytes = 0;
  };

  // The book of `env`, created on first use.
  static ResultBook& of(napi_env env);
  // Registers the environment's book (addon Init).
  static void install(Napi::Env env);

  // Takes back the blocks of collected results, when a collection has happened since the
  // last sweep (or always, with force).
  void sweep(napi_env env, bool force = false);
  // True when a new result should be allocated by V8 rather than lent from the pool.
  bool prefer_v8(size_t bytes) const;
  // Marks an ArrayBuffer V8 allocated for a result as foveal's, so dispose() may detach it.
  void tag_v8_result(napi_env env, napi_value arraybuffer);
  // Lends `block` (acquired for `bytes`) to JS: its external ArrayBuffer. The book owns the
  // block from here on. Returns nullptr if the runtime refuses external buffers (the block
  // is then still the caller's).
  napi_value lend(napi_env env, void* block, size_t bytes);

  // dispose(): detaches the ArrayBuffer and returns its memory now, or when the Async ops
  // that use it have settled. Returns true if the buffer was foveal's (a loan).
  bool dispose(napi_env env, napi_value arraybuffer);

  // Async ops pin the ArrayBuffers they read and write until they settle.
  void pin(void* base);
  void unpin(napi_env env, void* base);

  const Counters& counters() const { return c_; }
  bool reclaims_on_gc() const { return reclaim_on_gc_; }

  ~ResultBook();

 private:
  friend void finalize_loan(napi_env, void*, void*);
  friend void close_book(napi_env, void*, void*);
  enum class Way { kDispose, kGc, kFinalizer, kClose };
  void reclaim(Loan* loan, Way way);
  void detach_and_reclaim(napi_env env, napi_value arraybuffer, void* base);
  static bool collected(napi_env env, napi_ref ref);
  bool probe_transfer_moves(napi_env env);

  struct Pin {
    int count = 0;
    napi_ref disposed = nullptr;  // a strong reference to the ArrayBuffer disposed while pinned
  };

  std::weak_ptr<ResultBook> self_;  // loans hold the book alive past the environment
  napi_env env_ = nullptr;
  bool closed_ = false;  // the environment is going away: no more N-API
  bool reclaim_on_gc_ = true;
  size_t v8_budget_ = 0;  // with !reclaim_on_gc_: outstanding bytes before V8 takes over
  napi_ref canary_ = nullptr;
  std::unordered_map<void*, Loan*> loans_;  // block → its loan, while lent
  std::unordered_map<void*, Pin> pins_;     // ArrayBuffer data → Async ops using it
  Counters c_;
};

}  // namespace binding
}  // namespace foveal
