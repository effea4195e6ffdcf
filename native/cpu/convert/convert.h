// convert: 16-bit floats (IEEE binary16 "F16", bfloat16 "BF16") to and from float32,
// for checkpoints (lib/io) and anything else that stores half-width weights.
//
// Widening is exact for every input: F16 subnormals become normal floats, ±Inf stay
// ±Inf, a NaN keeps its sign and payload (an F16 signalling NaN comes back quiet, as the
// F16C instruction and PyTorch's conversion both do). Narrowing rounds to nearest, ties
// to even (PyTorch's rule), overflows to ±Inf, keeps subnormal results exact where they
// are representable, and turns a NaN into a quiet NaN of the same sign whose payload is
// the top bits of the float's. Every ISA level gives the same bits.
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

enum class Half : int {
  f16 = 0,   // IEEE 754 binary16: 1 sign, 5 exponent, 10 mantissa bits
  bf16 = 1,  // bfloat16: the top 16 bits of a float32 (1 sign, 8 exponent, 7 mantissa)
};

struct WidenParams {
  const uint16_t* src;  // [n] 16-bit floats
  float* dst;           // [n]
  int64_t n;
  Half kind;
};

struct NarrowParams {
  const float* src;  // [n]
  uint16_t* dst;     // [n] 16-bit floats, rounded to nearest even
  int64_t n;
  Half kind;
};

// Element-wise, so bit-identical across runs, thread counts and ISA levels.
void convert_widen(const WidenParams& p);
void convert_narrow(const NarrowParams& p);

namespace generic {
void convert_widen(const WidenParams& p);
void convert_narrow(const NarrowParams& p);
}  // namespace generic
namespace avx2 {
void convert_widen(const WidenParams& p);
void convert_narrow(const NarrowParams& p);
}  // namespace avx2
namespace avx512 {
void convert_widen(const WidenParams& p);
void convert_narrow(const NarrowParams& p);
}  // namespace avx512

}  // namespace cpu
}  // namespace foveal
