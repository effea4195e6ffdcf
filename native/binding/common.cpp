#include "binding/common.h"

#include <cmath>
#include <cstring>
#include <new>
#include <sstream>
#include <stdexcept>

#include "binding/results.h"
#include "core/memory.h"

namespace foveal {
namespace binding {
namespace {

constexpr int64_t kMaxSafe = (int64_t{1} << 53) - 1;  // Number.MAX_SAFE_INTEGER

// V8's cap on a typed array's length on 64-bit hosts (v8::TypedArray::kMaxLength).
constexpr size_t v8_typed_array_max_length() { return sizeof(void*) == 4 ? (size_t{1} << 30) - 1 : size_t{1} << 32; }

const char* typed_array_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

// A short description of a JS value for "got ..." in messages.
std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    return std::string(typed_array_name(ta.TypedArrayType())) + "(" + std::to_string(ta.ElementLength()) + ")";
  }
  if (v.IsArray()) return "an Array";
  if (v.IsNumber()) {
    std::ostringstream os;
    os << v.As<Napi::Number>().DoubleValue();
    return os.str();
  }
  if (v.IsString()) return "a string";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsFunction()) return "a function";
  return "an object";
}

constexpr size_t kMaxResultElements = v8_typed_array_max_length();
constexpr size_t kMaxExternalBytes = size_t{1} << 32;

// A result's ArrayBuffer allocated by V8. napi_create_arraybuffer ends the process when V8
// cannot allocate the memory (v8::ArrayBuffer::New's out-of-memory is fatal), so large
// ones are made by the ArrayBuffer constructor called as JS, whose failure is a RangeError:
// that becomes the op's out-of-memory error, before any work is done.
Napi::ArrayBuffer new_result_buffer(Args& args, size_t bytes) {
  Napi::Env env = args.env();
  if (bytes < kSmallResultBytes) return Napi::ArrayBuffer::New(env, bytes);
  Napi::Value made;
  try {
    Napi::Value ctor = env.Global().Get("ArrayBuffer");
    if (ctor.IsFunction()) made = ctor.As<Napi::Function>().New({Napi::Number::New(env, static_cast<double>(bytes))});
  } catch (const Napi::Error& e) {
    Napi::Error err = Napi::Error::New(env, std::string(args.op()) + ": out of memory for a result of " +
                                                std::to_string(bytes) + " bytes (" + e.Message() + ")");
    err.Set("code", Napi::String::New(env, "ERR_FOVEAL_OUT_OF_MEMORY"));
    throw err;
  }
  // (A global ArrayBuffer replaced by something else is not trusted.)
  if (!made.IsEmpty() && made.IsArrayBuffer() && made.As<Napi::ArrayBuffer>().ByteLength() == bytes)
    return made.As<Napi::ArrayBuffer>();
  return Napi::ArrayBuffer::New(env, bytes);
}

// A typed array's first element and length in elements, as they are now.
bool typed_array_now(napi_env env, napi_value v, void** data, size_t* length) {
  napi_typedarray_type type;
  napi_value ab;
  size_t offset = 0;
  return napi_get_typedarray_info(env, v, &type, length, data, &ab, &offset) == napi_ok;
}

}  // namespace

Args::Args(const Napi::CallbackInfo& info, const char* op, bool async) : info_(info), op_(op), async_(async) {}

// An Async op that failed to start gives its pins back here; one that started took them.
Args::~Args() { unpin_all(env(), pins_); }

void unpin_all(Napi::Env env, const std::vector<void*>& pins) noexcept {
  if (pins.empty()) return;
  try {
    ResultBook& book = ResultBook::of(env);
    for (void* base : pins) book.unpin(env, base);
  } catch (...) {
    // the environment is going away: its book no longer reuses anything
  }
}

F32 Args::f32(size_t i, const char* name) {
  Napi::Value v = at(i);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env(), std::string(op_) + ": " + name + " must be a Float32Array, got " + describe(v));
  auto arr = v.As<Napi::Float32Array>();
  remember(arr, name);
  F32 out;
  out.data = arr.Data();
  out.length = arr.ElementLength();
  out.present = true;
  out.name = name;
  if (async_) {
    keep_.push_back(Napi::Persistent(arr.As<Napi::Object>()));
    // Pinned by the ArrayBuffer's data, which is what dispose() finds it by.
    void* base = static_cast<char*>(static_cast<void*>(arr.Data())) - arr.ByteOffset();
    if (arr.ByteLength() > 0) {
      pins_.push_back(base);
      ResultBook::of(env()).pin(base);
    }
  }
  return out;
}

F32 Args::optional_f32(size_t i, const char* name) {
  Napi::Value v = at(i);
  if (v.IsNull() || v.IsUndefined()) {
    F32 absent;
    absent.name = name;
    return absent;
  }
  return f32(i, name);
}

void Args::type_error(const std::string& name, const std::string& expected, const Napi::Value& got) const {
  throw Napi::TypeError::New(env(), std::string(op_) + ": " + name + " must be " + expected + ", got " + describe(got));
}

void Args::range_error(const std::string& name, const std::string& expected, const Napi::Value& got) const {
  throw Napi::RangeError::New(env(),
                              std::string(op_) + ": " + name + " must be " + expected + ", got " + describe(got));
}

int64_t Args::integer_value(const Napi::Value& v, const std::string& name, int64_t lo, int64_t hi) const {
  if (!v.IsNumber()) type_error(name, "a number", v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || std::floor(d) != d)
    range_error(name, "an integer from " + std::to_string(lo) + " to " + std::to_string(hi), v);
  return static_cast<int64_t>(d);
}

double Args::number_value(const Napi::Value& v, const std::string& name) const {
  if (!v.IsNumber()) type_error(name, "a number", v);
  return v.As<Napi::Number>().DoubleValue();
}

bool Args::flag_value(const Napi::Value& v, const std::string& name) const {
  if (!v.IsBoolean()) type_error(name, "a boolean", v);
  return v.As<Napi::Boolean>().Value();
}

int64_t Args::integer(size_t i, const char* name, int64_t lo, int64_t hi) { return integer_value(at(i), name, lo, hi); }

int64_t Args::dim(size_t i, const char* name) { return integer(i, name, 0, kMaxSafe); }

bool Args::flag(size_t i, const char* name) { return flag_value(at(i), name); }

double Args::number(size_t i, const char* name) { return number_value(at(i), name); }

I32 Args::i32(size_t i, const char* name) {
  Napi::Value v = at(i);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    type_error(name, "an Int32Array", v);
  auto arr = v.As<Napi::Int32Array>();
  remember(arr, name);
  I32 out;
  out.data = arr.Data();
  out.length = arr.ElementLength();
  out.present = true;
  out.name = name;
  if (async_) keep_.push_back(Napi::Persistent(arr.As<Napi::Object>()));
  return out;
}

Shape Args::shape(size_t i, const char* name, int max_rank) {
  if (max_rank > kMaxShapeRank) max_rank = kMaxShapeRank;
  const Napi::Value v = at(i);
  if (!v.IsArray()) type_error(name, "an array of integers", v);
  const Napi::Array arr = v.As<Napi::Array>();
  if (arr.Length() > static_cast<uint32_t>(max_rank))
    throw Napi::RangeError::New(env(), std::string(op_) + ": " + name + " must have at most " +
                                           std::to_string(max_rank) + " dimensions, got " +
                                           std::to_string(arr.Length()));
  Shape s;
  s.present = true;
  s.rank = static_cast<int>(arr.Length());
  for (int k = 0; k < s.rank; ++k) {
    const Napi::Value e = arr.Get(static_cast<uint32_t>(k));
    const double x = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!(x >= 0 && x <= static_cast<double>(kMaxSafe)) || static_cast<double>(static_cast<int64_t>(x)) != x)
      throw Napi::RangeError::New(env(), std::string(op_) + ": " + name + " must hold non-negative integers");
    s.d[k] = static_cast<int64_t>(x);
    s.size = checked_mul(op_, s.size, s.d[k]);
  }
  return s;
}

Shape Args::optional_shape(size_t i, const char* name, int max_rank) {
  const Napi::Value v = at(i);
  if (v.IsNull() || v.IsUndefined()) return Shape{};
  return shape(i, name, max_rank);
}

void Args::ints(size_t i, const char* name, size_t count, int64_t* out) {
  const Napi::Value v = at(i);
  if (!v.IsArray()) type_error(name, "an array of " + std::to_string(count) + " integers", v);
  const Napi::Array arr = v.As<Napi::Array>();
  if (arr.Length() != count)
    throw Napi::RangeError::New(env(), std::string(op_) + ": " + name + " must hold " + std::to_string(count) +
                                           " integers, got " + std::to_string(arr.Length()));
  for (uint32_t k = 0; k < count; ++k) {
    const Napi::Value e = arr.Get(k);
    if (!e.IsNumber()) throw Napi::TypeError::New(env(), std::string(op_) + ": " + name + " must hold only numbers");
    const double d = e.As<Napi::Number>().DoubleValue();
    if (!(d >= -static_cast<double>(kMaxSafe) && d <= static_cast<double>(kMaxSafe)) ||
        static_cast<double>(static_cast<int64_t>(d)) != d)
      throw Napi::RangeError::New(env(), std::string(op_) + ": " + name + " must hold safe integers");
    out[k] = static_cast<int64_t>(d);
  }
}

Fields Args::fields(size_t i, const char* name) {
  const Napi::Value v = at(i);
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction()) type_error(name, "an object", v);
  return Fields(*this, v.As<Napi::Object>());
}

Napi::Value Fields::get(const char* key) const { return obj_.Get(key); }

int64_t Fields::integer(const char* key, int64_t lo, int64_t hi) { return args_.integer_value(get(key), key, lo, hi); }

int64_t Fields::dim(const char* key) { return integer(key, 0, kMaxSafe); }

double Fields::number(const char* key) { return args_.number_value(get(key), key); }

bool Fields::flag(const char* key) { return args_.flag_value(get(key), key); }

void Args::remember(const Napi::TypedArray& arr, const char* name) {
  void* data = nullptr;
  size_t length = 0;
  typed_array_now(env(), arr, &data, &length);
  seen_.push_back({arr, data, length, name});
}

void Args::check_unchanged() const {
  for (const Seen& s : seen_) {
    void* data = nullptr;
    size_t length = 0;
    if (!typed_array_now(env(), s.value, &data, &length) || length != s.length || (length > 0 && data != s.data))
      throw Napi::TypeError::New(env(),
                                 std::string(op_) + ": " + s.name +
                                     " was detached while the arguments were read (by a getter of another argument?)");
  }
}

void Args::expect_length(const F32& a, int64_t expected) const {
  if (static_cast<int64_t>(a.length) != expected)
    throw Napi::RangeError::New(env(), std::string(op_) + ": " + a.name + " must have " + std::to_string(expected) +
                                           " elements for the given sizes, got " + std::to_string(a.length));
}

int64_t checked_mul(const char* op, int64_t a, int64_t b) {
  if (a != 0 && b > kMaxSafe / a)
    throw std::invalid_argument(std::string(op) + ": sizes too large (more than 2^53 elements)");
  return a * b;
}

Output::~Output() {
  if (block_) mem::release(block_, length_ * sizeof(float));
}

void Output::bind(Args& args, size_t index, const char* name, int64_t length,
                  std::initializer_list<const F32*> inputs) {
  length_ = static_cast<size_t>(length);
  const F32 out = args.optional_f32(index, name);
  if (!out.present) {
    // A result must fit a Float32Array; refuse before any work is done.
    if (length_ > kMaxResultElements)
      throw Napi::RangeError::New(
          args.env(), std::string(args.op()) + ": " + name + " would have " + std::to_string(length_) +
                          " elements, more than a Float32Array holds (" + std::to_string(kMaxResultElements) + ")");
    if (length_ == 0) return;
    const size_t bytes = length_ * sizeof(float);
    ResultBook& book = ResultBook::of(args.env());
    book.sweep(args.env());  // blocks of collected results come back before this op takes one
    // Node hands external memory to JS only up to 4 GiB (it goes through a Buffer), and a
    // copy of anything larger would need the memory twice: JS allocates such results
    // itself, up front, and the kernel writes into them as into a caller's `out`. If JS
    // cannot allocate it, that is the op's out-of-memory error here, before any work.
    // Small results are V8's too (results.h).
    if (bytes >= kMaxExternalBytes || book.prefer_v8(bytes)) {
      Napi::ArrayBuffer ab = new_result_buffer(args, bytes);
      book.tag_v8_result(args.env(), ab);
      Napi::Float32Array arr = Napi::Float32Array::New(args.env(), length_, ab, 0);
      user_ = arr.Data();
      if (args.async()) user_ref_ = Napi::Persistent(arr.As<Napi::Object>());
      else user_local_ = arr;
    }
    return;
  }
  args.expect_length(out, length);
  for (const F32* in : inputs) {
    if (overlap(out, *in))
      throw Napi::RangeError::New(args.env(),
                                  std::string(args.op()) + ": " + name + " must not share memory with " + in->name);
  }
  user_ = out.data;
  caller_out_ = true;
  if (args.async()) user_ref_ = Napi::Persistent(args.at(index).As<Napi::Object>());
  else user_local_ = args.at(index);
}

float* Output::data() {
  if (user_ || caller_out_) return user_;  // an empty caller's array may have no data pointer
  if (!block_) block_ = static_cast<float*>(mem::acquire(length_ * sizeof(float)));
  return block_;
}

Napi::Value Output::to_js(Napi::Env env) {
  // The caller's array itself, also an empty one (whose data pointer may be null).
  if (user_ || caller_out_) return user_ref_.IsEmpty() ? user_local_ : user_ref_.Value();
  if (length_ == 0) return Napi::Float32Array::New(env, 0);
  float* block = data();
  const size_t bytes = length_ * sizeof(float);
  if (napi_value ab = ResultBook::of(env).lend(env, block, bytes)) {
    block_ = nullptr;  // lent: the book gives it back to the pool
    return Napi::Float32Array::New(env, length_, Napi::ArrayBuffer(env, ab), 0);
  }
  // Runtimes that forbid external buffers (Electron's V8 sandbox) get a copy; the block
  // goes back to the pool with this Output.
  if (env.IsExceptionPending()) env.GetAndClearPendingException();
  Napi::ArrayBuffer copy = Napi::ArrayBuffer::New(env, bytes);
  std::memcpy(copy.Data(), block, bytes);
  return Napi::Float32Array::New(env, length_, copy, 0);
}

Napi::Error make_error(Napi::Env env, const OpError& err) {
  switch (err.kind) {
    case OpError::kRange: return Napi::RangeError::New(env, err.message);
    case OpError::kType: return Napi::TypeError::New(env, err.message);
    case OpError::kMemory: {
      Napi::Error e = Napi::Error::New(env, err.message);
      e.Set("code", Napi::String::New(env, "ERR_FOVEAL_OUT_OF_MEMORY"));
      return e;
    }
    case OpError::kOther: break;
  }
  return Napi::Error::New(env, err.message);
}

Napi::Value rejected(Napi::Env env, Napi::Value reason) {
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(reason);
  return deferred.Promise();
}

void rethrow_as_js(Napi::Env env, const char* op) {
  try {
    throw;
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const std::bad_alloc&) {
    throw make_error(env, {OpError::kMemory, std::string(op) + ": out of memory"});
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string(op) + ": " + e.what());
  } catch (...) {
    throw Napi::Error::New(env, std::string(op) + ": unknown native error");
  }
}

}  // namespace binding
}  // namespace foveal
