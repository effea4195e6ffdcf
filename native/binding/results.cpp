#include "binding/results.h"

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "core/memory.h"

namespace foveal {
namespace binding {

// One pool block lent to JS. Lives until its ArrayBuffer's finaliser has run, which may be
// long after the block came back (the block is then nullptr).
struct Loan {
  void* block = nullptr;
  size_t bytes = 0;
  napi_ref ref = nullptr;  // weak: cleared by V8 when it collects the ArrayBuffer
  std::shared_ptr<ResultBook> book;
  uint64_t seq = 0;  // when it was lent (the book's count at the time)
};

namespace {

// The tag on ArrayBuffers that V8 allocated for foveal's results, so dispose() detaches
// only what foveal made.
const napi_type_tag kV8ResultTag = {0x666f7665616c2d72ULL, 0x6573756c74763801ULL};

struct EnvData {
  std::shared_ptr<ResultBook> results;
};

// A napi call that must succeed for the book to stay consistent; failures are reported as
// errors of the op that asked.
void ok(napi_status s, const char* what) {
  if (s != napi_ok) throw std::runtime_error(std::string("result memory: ") + what + " failed");
}

}  // namespace

void finalize_loan(napi_env env, void* /*data*/, void* hint) {
  auto* loan = static_cast<Loan*>(hint);
  if (loan->block) loan->book->reclaim(loan, ResultBook::Way::kFinalizer);
  delete loan;
}

void close_book(napi_env env, void* data, void* /*hint*/) {
  auto* d = static_cast<EnvData*>(data);
  ResultBook& book = *d->results;
  // The book's references are its own to delete, even now: at teardown Node lets go of the
  // objects but not of a napi_ref the addon made (LeakSanitizer found the canary's, 40
  // bytes, left behind by every environment that had lent a block). After this, closed_
  // keeps reclaim() and unpin() from touching N-API again.
  for (auto& [block, loan] : book.loans_) {
    if (loan->ref) napi_delete_reference(env, loan->ref);
    loan->ref = nullptr;
  }
  for (auto& [base, pin] : book.pins_) {
    if (pin.disposed) napi_delete_reference(env, pin.disposed);
    pin.disposed = nullptr;
  }
  if (book.canary_) napi_delete_reference(env, book.canary_);
  book.canary_ = nullptr;
  // No JS runs in this environment any more, so nothing can read a lent block. One that an
  // Async op still uses stays lent (and leaks) rather than risk a reuse under it.
  book.closed_ = true;
  std::vector<Loan*> back;
  for (auto& [block, loan] : book.loans_)
    if (book.pins_.find(block) == book.pins_.end()) back.push_back(loan);
  for (Loan* loan : back) book.reclaim(loan, ResultBook::Way::kClose);
  delete d;  // loans still waiting for their finalisers keep the book itself alive
}

void ResultBook::install(Napi::Env env) {
  auto* d = new EnvData{std::make_shared<ResultBook>()};
  ResultBook& book = *d->results;
  book.self_ = d->results;
  book.env_ = env;
  // Past this many outstanding bytes, a runtime that cannot reclaim on GC allocates results
  // in V8 (which frees them inside a synchronous loop) rather than grow without bound.
  book.v8_budget_ = std::max<size_t>(mem::stats().cache_limit / 4, size_t{64} << 20);
  if (napi_set_instance_data(env, d, close_book, nullptr) != napi_ok) {
    delete d;
    throw Napi::Error::New(env, "foveal: could not set up result memory for this environment");
  }
  book.reclaim_on_gc_ = !book.probe_transfer_moves(env);
}

ResultBook& ResultBook::of(napi_env env) {
  void* data = nullptr;
  ok(napi_get_instance_data(env, &data), "napi_get_instance_data");
  if (!data) throw std::runtime_error("result memory: the environment was not set up");
  return *static_cast<EnvData*>(data)->results;
}

// Does ArrayBuffer.prototype.transfer move an external buffer's memory without a copy? If
// so, a collected ArrayBuffer no longer proves its block free.
bool ResultBook::probe_transfer_moves(napi_env env) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return true;
  bool moves = false;
  napi_value global, ctor, proto, transfer;
  napi_valuetype type = napi_undefined;
  if (napi_get_global(env, &global) == napi_ok &&
      napi_get_named_property(env, global, "ArrayBuffer", &ctor) == napi_ok &&
      napi_get_named_property(env, ctor, "prototype", &proto) == napi_ok &&
      napi_get_named_property(env, proto, "transfer", &transfer) == napi_ok &&
      napi_typeof(env, transfer, &type) == napi_ok && type == napi_function) {
    void* probe = std::malloc(64);
    napi_value ab, moved;
    if (probe && napi_create_external_arraybuffer(
                     env, probe, 64, [](napi_env, void* p, void*) { std::free(p); }, nullptr, &ab) == napi_ok) {
      if (napi_call_function(env, ab, transfer, 0, nullptr, &moved) == napi_ok) {
        void* data = nullptr;
        size_t len = 0;
        moves = napi_get_arraybuffer_info(env, moved, &data, &len) != napi_ok || data == probe;
      } else {
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);  // transfer refused: it cannot move one
      }
    } else {
      std::free(probe);
      moves = true;  // could not find out: assume the worst
    }
  }
  napi_close_handle_scope(env, scope);
  return moves;
}

bool ResultBook::prefer_v8(size_t bytes) const {
  if (bytes < kSmallResultBytes) return true;
  return !reclaim_on_gc_ && c_.outstanding_bytes + bytes > v8_budget_;
}

napi_value ResultBook::lend(napi_env env, void* block, size_t bytes) {
  auto* loan = new Loan{block, bytes, nullptr, self_.lock(), c_.lent};
  napi_value ab;
  if (napi_create_external_arraybuffer(env, block, bytes, finalize_loan, loan, &ab) != napi_ok) {
    delete loan;
    return nullptr;
  }
  // From here the finaliser owns `loan`: no exception may leave before it is booked.
  if (reclaim_on_gc_ && napi_create_reference(env, ab, 0, &loan->ref) != napi_ok) loan->ref = nullptr;
  try {
    loans_.emplace(block, loan);
  } catch (...) {
    // Unbooked, the block still comes back through the finaliser.
  }
  ++c_.lent;
  ++c_.outstanding;
  c_.outstanding_bytes += bytes;
  return ab;
}

void ResultBook::reclaim(Loan* loan, Way way) {
  void* block = loan->block;
  loan->block = nullptr;
  if (!closed_) {
    loans_.erase(block);
    if (loan->ref) napi_delete_reference(env_, loan->ref);
  }
  loan->ref = nullptr;
  mem::release(block, loan->bytes);
  --c_.outstanding;
  c_.outstanding_bytes -= loan->bytes;
  switch (way) {
    case Way::kDispose: ++c_.by_dispose; break;
    case Way::kGc: ++c_.by_gc; break;
    case Way::kFinalizer:
    case Way::kClose: ++c_.by_finalizer; break;
  }
}

bool ResultBook::collected(napi_env env, napi_ref ref) {
  // In a scope of its own: a handle left in the caller's scope would keep the object alive
  // through a collection that starts later in the same call (creating an external buffer
  // can start one), and the canary would then never die.
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  napi_value value = nullptr;
  const bool gone = napi_get_reference_value(env, ref, &value) == napi_ok && value == nullptr;
  napi_close_handle_scope(env, scope);
  return gone;
}

void ResultBook::sweep(napi_env env, bool force) {
  if (!reclaim_on_gc_ || closed_ || loans_.empty()) return;
  if (canary_ && !force && !collected(env, canary_)) return;  // no collection since the last sweep
  std::vector<Loan*> dead;
  for (const auto& [block, loan] : loans_)
    if (loan->ref && collected(env, loan->ref) && pins_.find(block) == pins_.end()) dead.push_back(loan);
  // Oldest first: the pool hands out the block freed last, so the next ops get the blocks
  // written most recently, the likeliest to be still in the cache.
  std::sort(dead.begin(), dead.end(), [](const Loan* a, const Loan* b) { return a->seq < b->seq; });
  for (Loan* loan : dead) reclaim(loan, Way::kGc);
  // A fresh canary nobody references: the next collection of any kind clears it.
  if (canary_) napi_delete_reference(env, canary_);
  canary_ = nullptr;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value obj;
  if (napi_create_object(env, &obj) == napi_ok) napi_create_reference(env, obj, 0, &canary_);
  napi_close_handle_scope(env, scope);
}

void ResultBook::detach_and_reclaim(napi_env env, napi_value arraybuffer, void* base) {
  auto it = loans_.find(base);
  if (it == loans_.end()) {
    bool ours = false;
    if (napi_check_object_type_tag(env, arraybuffer, &kV8ResultTag, &ours) != napi_ok || !ours) return;
    napi_detach_arraybuffer(env, arraybuffer);  // V8 frees it
    return;
  }
  if (napi_detach_arraybuffer(env, arraybuffer) != napi_ok) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    return;  // still reachable: leave it to the GC
  }
  reclaim(it->second, Way::kDispose);
}

bool ResultBook::dispose(napi_env env, napi_value arraybuffer) {
  void* data = nullptr;
  size_t len = 0;
  bool detached = false;
  ok(napi_get_arraybuffer_info(env, arraybuffer, &data, &len), "napi_get_arraybuffer_info");
  if (napi_is_detached_arraybuffer(env, arraybuffer, &detached) != napi_ok || detached || len == 0 || !data)
    return false;
  const bool loan = loans_.find(data) != loans_.end();
  auto pin = pins_.find(data);
  if (pin != pins_.end()) {
    if (!pin->second.disposed)
      ok(napi_create_reference(env, arraybuffer, 1, &pin->second.disposed), "napi_create_reference");
    return loan;
  }
  detach_and_reclaim(env, arraybuffer, data);
  return loan;
}

void ResultBook::tag_v8_result(napi_env env, napi_value arraybuffer) {
  napi_type_tag_object(env, arraybuffer, &kV8ResultTag);
  ++c_.v8_results;
}

void ResultBook::pin(void* base) { ++pins_[base].count; }

void ResultBook::unpin(napi_env env, void* base) {
  auto it = pins_.find(base);
  if (it == pins_.end() || --it->second.count > 0) return;
  napi_ref disposed = it->second.disposed;
  pins_.erase(it);
  if (!disposed || closed_) return;
  napi_value ab = nullptr;
  if (napi_get_reference_value(env, disposed, &ab) == napi_ok && ab) detach_and_reclaim(env, ab, base);
  napi_delete_reference(env, disposed);
}

ResultBook::~ResultBook() = default;

}  // namespace binding
}  // namespace foveal
