// Binding for the convert family (16-bit floats ↔ float32):
//   f16ToF32(src: Uint16Array, out: Float32Array | null) → Float32Array
//   bf16ToF32(src: Uint16Array, out: Float32Array | null) → Float32Array
//   f32ToF16(src: Float32Array, out: Uint16Array | null) → Uint16Array
//   f32ToBf16(src: Float32Array, out: Uint16Array | null) → Uint16Array
// The sizes are the arrays' lengths, which must agree. Args reads Float32Arrays only, so
// the Uint16Array side is unwrapped here (as loss.cpp does for its Int32Array labels).
#include <string>

#include "binding/common.h"
#include "cpu/convert/convert.h"

namespace foveal {
namespace binding {
namespace {

using cpu::Half;

// A Uint16Array argument, kept alive (for the Async twin) by the op that holds it.
struct U16 {
  uint16_t* data = nullptr;
  size_t length = 0;
  Napi::ObjectReference ref;
};

bool is_u16(const Napi::Value& v) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array;
}

void u16_arg(Args& a, size_t i, const char* name, U16* out) {
  const Napi::Value v = a.at(i);
  if (!is_u16(v)) throw Napi::TypeError::New(a.env(), std::string(a.op()) + ": " + name + " must be a Uint16Array");
  Napi::Uint16Array arr = v.As<Napi::Uint16Array>();
  a.remember(arr, name);
  out->data = arr.Data();
  out->length = arr.ElementLength();
  out->ref = Napi::Persistent(arr.As<Napi::Object>());
}

void refuse_shared(Args& a) {
  throw Napi::RangeError::New(a.env(), std::string(a.op()) + ": out must not share memory with src");
}

template <Half K>
struct Names;
template <>
struct Names<Half::f16> {
  static constexpr const char* kWiden = "f16ToF32";
  static constexpr const char* kNarrow = "f32ToF16";
};
template <>
struct Names<Half::bf16> {
  static constexpr const char* kWiden = "bf16ToF32";
  static constexpr const char* kNarrow = "f32ToBf16";
};

template <Half K>
class WidenOp {
 public:
  static constexpr const char* kName = Names<K>::kWiden;

  explicit WidenOp(Args& a) {
    u16_arg(a, 0, "src", &src_);
    dst_.bind(a, 1, "out", static_cast<int64_t>(src_.length), {});
    if (dst_.bound() && overlap(dst_.data(), src_.length * sizeof(float), src_.data, src_.length * sizeof(uint16_t)))
      refuse_shared(a);
    p_.src = src_.data;
    p_.n = static_cast<int64_t>(src_.length);
    p_.kind = K;
  }

  void run() {
    p_.dst = dst_.data();
    cpu::convert_widen(p_);
  }

  Napi::Value result(Napi::Env env) { return dst_.to_js(env); }

 private:
  cpu::WidenParams p_{};
  U16 src_;
  Output dst_;
};

template <Half K>
class NarrowOp {
 public:
  static constexpr const char* kName = Names<K>::kNarrow;

  explicit NarrowOp(Args& a) {
    const F32 src = a.f32(0, "src");
    n_ = src.length;
    const Napi::Value out = a.at(1);
    if (out.IsNull() || out.IsUndefined()) {
      // A pool block of ⌈n/2⌉ floats, handed to JS as a Uint16Array over its buffer.
      block_.bind(a, 1, "out", static_cast<int64_t>((n_ + 1) / 2), {});
    } else if (is_u16(out)) {
      u16_arg(a, 1, "out", &user_);
      user_given_ = true;
      if (user_.length != n_)
        throw Napi::RangeError::New(a.env(), std::string(kName) + ": out must have " + std::to_string(n_) +
                                                 " elements for the given sizes, got " + std::to_string(user_.length));
      if (overlap(user_.data, n_ * sizeof(uint16_t), src.data, n_ * sizeof(float))) refuse_shared(a);
    } else {
      throw Napi::TypeError::New(a.env(), std::string(kName) + ": out must be a Uint16Array or null");
    }
    p_.src = src.data;
    p_.n = static_cast<int64_t>(n_);
    p_.kind = K;
  }

  void run() {
    p_.dst = user_given_ ? user_.data : reinterpret_cast<uint16_t*>(block_.data());
    cpu::convert_narrow(p_);
  }

  Napi::Value result(Napi::Env env) {
    // The caller's out itself, even when empty (its data pointer may then be null).
    if (user_given_ || n_ == 0) return user_given_ ? user_.ref.Value() : Napi::Uint16Array::New(env, 0);
    const Napi::Float32Array f = block_.to_js(env).As<Napi::Float32Array>();
    return Napi::Uint16Array::New(env, n_, f.ArrayBuffer(), f.ByteOffset());
  }

 private:
  cpu::NarrowParams p_{};
  size_t n_ = 0;
  U16 user_;
  bool user_given_ = false;
  Output block_;
};

}  // namespace

void InitConvert(Napi::Env env, Napi::Object exports) {
  Define<WidenOp<Half::f16>>(env, exports, "f16ToF32");
  Define<WidenOp<Half::bf16>>(env, exports, "bf16ToF32");
  Define<NarrowOp<Half::f16>>(env, exports, "f32ToF16");
  Define<NarrowOp<Half::bf16>>(env, exports, "f32ToBf16");
}

}  // namespace binding
}  // namespace foveal
