// The binding's one pattern for every op: unwrap and re-check the JS arguments into a
// plain params struct, run the kernel (here, or on a libuv thread for the Async twin),
// and hand back results from foveal's memory pool. No arithmetic happens here.
//
// An op is a class with
//   static constexpr const char* kName;     the op's name in messages
//   explicit Op(Args& args);                unwrap + FOVEAL_CHECK, on the JS thread
//   void run();                             the kernel, on any thread, no N-API
//   Napi::Value result(Napi::Env env);      the JS result, on the JS thread
// and Define<Op>(env, exports, "name") exposes it as `name` and `nameAsync`.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/parallel.h"

namespace foveal {
namespace binding {

// A Float32Array argument: where its elements are and how many there are.
struct F32 {
  float* data = nullptr;
  size_t length = 0;
  bool present = false;
  const char* name = "";
};

// An Int32Array argument (labels, indices, key lengths).
struct I32 {
  const int32_t* data = nullptr;
  size_t length = 0;
  bool present = false;
  const char* name = "";
};

// An array of 4-byte elements that is not a Float32Array (an Int32Array of labels or
// indices) as an F32 span, so Output::bind can refuse an `out` that shares its memory.
inline F32 span_of(const I32& a) {
  F32 s;
  s.data = reinterpret_cast<float*>(const_cast<int32_t*>(a.data));
  s.length = a.length;
  s.present = a.present;
  s.name = a.name;
  return s;
}

// Whether two byte ranges share memory (an empty range shares none). Every binding's
// "must not share memory" check goes through this.
inline bool overlap(const void* a, size_t abytes, const void* b, size_t bbytes) {
  if (abytes == 0 || bbytes == 0) return false;
  const auto* a0 = static_cast<const char*>(a);
  const auto* b0 = static_cast<const char*>(b);
  return a0 < b0 + bbytes && b0 < a0 + abytes;
}
inline bool overlap(const F32& a, const F32& b) {
  return a.present && b.present && overlap(a.data, a.length * sizeof(float), b.data, b.length * sizeof(float));
}

// A shape argument: a JS array of at most kMaxShapeRank non-negative safe integers.
constexpr int kMaxShapeRank = 8;
struct Shape {
  int rank = 0;
  int64_t d[kMaxShapeRank] = {};
  int64_t size = 1;  // the product of d (checked below 2^53)
  bool present = false;
};

class Args;

// The sizes and options an op takes after its arrays, as one plain JS object read by key
// (lib/native.ts declares each such object once). Ops whose arrays would be followed by
// more than six positional sizes and flags take one of these instead. A missing key or a
// value of the wrong kind is a TypeError naming the op and the key, a value out of range
// a RangeError. Reading a key may run JS (a getter, a Proxy), which could detach an array
// unwrapped before it: an op reads its Fields before its arrays.
class Fields {
 public:
  int64_t dim(const char* key);                              // an integer in [0, 2^53)
  int64_t integer(const char* key, int64_t lo, int64_t hi);  // an integer in [lo, hi]
  double number(const char* key);
  bool flag(const char* key);

 private:
  friend class Args;
  Fields(Args& args, Napi::Object obj) : args_(args), obj_(obj) {}
  Napi::Value get(const char* key) const;
  Args& args_;
  Napi::Object obj_;
};

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op, bool async);

  Napi::Env env() const { return info_.Env(); }
  const char* op() const { return op_; }
  bool async() const { return async_; }

  // A Float32Array at position i (TypeError naming `name` otherwise).
  F32 f32(size_t i, const char* name);
  // Same, but null or undefined give an absent F32.
  F32 optional_f32(size_t i, const char* name);
  // An integer size in [0, 2^53) at position i.
  int64_t dim(size_t i, const char* name);
  // An integer in [lo, hi] at position i.
  int64_t integer(size_t i, const char* name, int64_t lo, int64_t hi);
  bool flag(size_t i, const char* name);
  double number(size_t i, const char* name);

  // An Int32Array at position i (TypeError otherwise); an Async op keeps it alive. Its
  // values are the caller's to change while an Async op runs: copy what is checked once.
  I32 i32(size_t i, const char* name);
  // A shape (JS array of at most max_rank non-negative safe integers) at position i.
  Shape shape(size_t i, const char* name, int max_rank = kMaxShapeRank);
  // Same, but null or undefined give an absent Shape.
  Shape optional_shape(size_t i, const char* name, int max_rank = kMaxShapeRank);
  // A JS array of exactly `count` safe integers (any sign) at position i, into out[0..count).
  void ints(size_t i, const char* name, size_t count, int64_t* out);
  // The plain object at position i, read by key (see Fields).
  Fields fields(size_t i, const char* name);

  // Messages in the one format: "<op>: <name> must be <expected>, got <what came>".
  [[noreturn]] void type_error(const std::string& name, const std::string& expected, const Napi::Value& got) const;
  [[noreturn]] void range_error(const std::string& name, const std::string& expected, const Napi::Value& got) const;
  // The value checks shared by positional arguments and Fields keys.
  int64_t integer_value(const Napi::Value& v, const std::string& name, int64_t lo, int64_t hi) const;
  double number_value(const Napi::Value& v, const std::string& name) const;
  bool flag_value(const Napi::Value& v, const std::string& name) const;

  // The argument must hold exactly `expected` elements (RangeError otherwise).
  void expect_length(const F32& a, int64_t expected) const;

  // Reading an argument can run JS (an array element's getter, a Proxy), and JS can
  // detach a typed array whose data pointer was taken before. Every typed array read is
  // remembered (f32 and i32 do it; other readers call remember), and check_unchanged,
  // called once the op has read all its arguments, throws a TypeError if one no longer
  // has the data and length it had.
  void remember(const Napi::TypedArray& arr, const char* name);
  void check_unchanged() const;

  // JS objects an async op must keep alive until it settles, and the ArrayBuffers (by
  // their data) it pins against dispose() meanwhile.
  std::vector<Napi::ObjectReference> take_keep() { return std::move(keep_); }
  std::vector<void*> take_pins() { return std::move(pins_); }
  ~Args();

  Napi::Value at(size_t i) const { return i < info_.Length() ? info_[i] : info_.Env().Undefined(); }

 private:
  struct Seen {
    napi_value value;
    const void* data;
    size_t length;
    const char* name;
  };

  const Napi::CallbackInfo& info_;
  const char* op_;
  bool async_;
  std::vector<Seen> seen_;
  std::vector<Napi::ObjectReference> keep_;
  std::vector<void*> pins_;
};

// Unpins an Async op's ArrayBuffers once it has settled (JS thread).
void unpin_all(Napi::Env env, const std::vector<void*>& pins) noexcept;

// Throws RangeError unless a·b fits in an int64 and stays below 2^53 elements.
int64_t checked_mul(const char* op, int64_t a, int64_t b);

// A result buffer: the caller's `out` array; or a pool block allocated the first time
// data() is called (on the thread that runs the kernel, so page faults never land on the
// event loop) and lent to JS as an external ArrayBuffer; or, for small results (and
// results over 4 GiB), an ArrayBuffer V8 allocates at bind() (binding/results.h says why).
class Output {
 public:
  Output() = default;
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;
  ~Output();

  // The optional Float32Array at argument `index` (null/undefined: allocate) must hold
  // exactly `length` elements and must not share memory with any of `inputs`.
  void bind(Args& args, size_t index, const char* name, int64_t length, std::initializer_list<const F32*> inputs);

  float* data();                     // any thread
  Napi::Value to_js(Napi::Env env);  // JS thread, once
  size_t length() const { return length_; }
  bool bound() const { return caller_out_; }  // writes into the caller's array

 private:
  size_t length_ = 0;
  bool caller_out_ = false;
  float* user_ = nullptr;           // the caller's array, or one V8 allocated for the result
  Napi::ObjectReference user_ref_;  // keeps it alive (Async twins)
  Napi::Value user_local_;          // or a handle does, within a sync call
  float* block_ = nullptr;
};

// What went wrong in a kernel, carried from the worker thread to the JS thread.
struct OpError {
  enum Kind { kRange, kType, kMemory, kOther } kind = kOther;
  std::string message;
};

// Runs op.run(), turning any exception into an OpError (never lets one escape).
template <class Op>
bool run_catching(Op& op, OpError* err) noexcept;

Napi::Error make_error(Napi::Env env, const OpError& err);

template <class Op>
class OpWorker final : public Napi::AsyncWorker {
 public:
  OpWorker(Napi::Env env, std::unique_ptr<Op> op, std::vector<Napi::ObjectReference> keep, std::vector<void*> pins)
      : Napi::AsyncWorker(env, Op::kName),
        deferred_(Napi::Promise::Deferred::New(env)),
        op_(std::move(op)),
        keep_(std::move(keep)),
        pins_(std::move(pins)) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    allow_waiting_for_pool();  // a libuv thread: waiting for the pool blocks no event loop
    if (!run_catching(*op_, &error_)) SetError(error_.message);
  }
  // Neither may let an exception out: node-addon-api would turn it into a JS throw, and in
  // an environment being torn down (a worker terminated while this op ran, its loop run
  // once more by FreeEnvironment) no JS value can be made, so wrapping the result, then
  // rejecting with that failure, then the throw itself all fail, and the process aborted
  // ("terminate called after throwing an instance of 'Napi::Error'"). There nobody can
  // observe the promise: the op's memory goes back with the op and the pins are dropped.
  void OnOK() override {
    try {
      try {
        deferred_.Resolve(op_->result(Env()));
      } catch (const Napi::Error& e) {
        deferred_.Reject(e.Value());
      } catch (const std::exception& e) {
        deferred_.Reject(make_error(Env(), {OpError::kOther, std::string(Op::kName) + ": " + e.what()}).Value());
      }
    } catch (...) {
      // the environment is going away (above)
    }
    unpin_all(Env(), pins_);
  }
  void OnError(const Napi::Error&) override {
    try {
      deferred_.Reject(make_error(Env(), error_).Value());
    } catch (...) {
      // the environment is going away (above)
    }
    unpin_all(Env(), pins_);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<Op> op_;
  std::vector<Napi::ObjectReference> keep_;  // inputs and outputs stay alive until settled
  std::vector<void*> pins_;                  // and their memory is not reused under it
  OpError error_;
};

// A promise already rejected with `reason`.
Napi::Value rejected(Napi::Env env, Napi::Value reason);

// Throws the JS exception for a C++ one (used by the sync path and the constructors).
[[noreturn]] void rethrow_as_js(Napi::Env env, const char* op);

template <class Op>
Napi::Value RunSync(const Napi::CallbackInfo& info) {
  Args args(info, Op::kName, false);
  try {
    Op op(args);
    args.check_unchanged();
    OpError err;
    if (!run_catching(op, &err)) throw make_error(info.Env(), err);
    return op.result(info.Env());
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow_as_js(info.Env(), Op::kName);
  }
}

// Bad arguments reject the promise rather than throw: a function that returns a promise
// reports every failure the same way.
template <class Op>
Napi::Value RunAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    Args args(info, Op::kName, true);
    auto op = std::make_unique<Op>(args);
    args.check_unchanged();
    auto* worker = new OpWorker<Op>(env, std::move(op), args.take_keep(), args.take_pins());
    Napi::Promise promise = worker->promise();
    worker->Queue();  // the worker deletes itself once settled
    return promise;
  } catch (const Napi::Error& e) {
    return rejected(env, e.Value());
  } catch (...) {
    try {
      rethrow_as_js(env, Op::kName);
    } catch (const Napi::Error& e) {
      return rejected(env, e.Value());
    }
  }
}

template <class Op>
void Define(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, RunSync<Op>, name));
  const std::string async_name = std::string(name) + "Async";
  exports.Set(async_name, Napi::Function::New(env, RunAsync<Op>, async_name));
}

template <class Op>
bool run_catching(Op& op, OpError* err) noexcept {
  try {
    op.run();
    return true;
  } catch (const std::invalid_argument& e) {
    *err = {OpError::kRange, e.what()};
  } catch (const std::bad_alloc&) {
    *err = {OpError::kMemory, std::string(Op::kName) + ": out of memory"};
  } catch (const std::exception& e) {
    *err = {OpError::kOther, std::string(Op::kName) + ": " + e.what()};
  } catch (...) {
    *err = {OpError::kOther, std::string(Op::kName) + ": unknown native error"};
  }
  return false;
}

}  // namespace binding
}  // namespace foveal
