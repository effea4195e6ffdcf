// Assembles one ISA variant of an op family from its kernel bodies (<family>_kernels.inc),
// so each variant file (<family>_generic.cpp, _avx2.cpp, _avx512.cpp) is four lines
// (core/isa.h has the rules this follows):
//
//   #define FOVEAL_VARIANT_HEADER "cpu/softmax/softmax.h"              the family header
//   #define FOVEAL_VARIANT_KERNELS "cpu/softmax/softmax_kernels.inc"   bodies, per ISA
//   #define FOVEAL_VARIANT_LEVEL 3                                    0 generic, 2 AVX2, 3 AVX-512
//   #include "cpu/simd/variant.h"
//
// Every header the kernels use is included here first, outside the target region; the
// .inc is then included as text inside it, in namespace generic / avx2 / avx512. No
// include guard: a translation unit assembles exactly one variant.
#if !defined(FOVEAL_VARIANT_HEADER) || !defined(FOVEAL_VARIANT_KERNELS) || !defined(FOVEAL_VARIANT_LEVEL)
#error "define FOVEAL_VARIANT_HEADER, FOVEAL_VARIANT_KERNELS and FOVEAL_VARIANT_LEVEL first"
#endif

#include "core/isa.h"

#if FOVEAL_VARIANT_LEVEL == 0 || FOVEAL_X86
#include "cpu/simd/intrin.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/check.h"
#include "core/memory.h"
#include "core/parallel.h"
#include "core/rng.h"
#include FOVEAL_VARIANT_HEADER

#if FOVEAL_VARIANT_LEVEL == 3
FOVEAL_TARGET_AVX512_BEGIN
#define FOVEAL_ISA_NS avx512
#elif FOVEAL_VARIANT_LEVEL == 2
FOVEAL_TARGET_AVX2_BEGIN
#define FOVEAL_ISA_NS avx2
#else
#define FOVEAL_ISA_NS generic
#endif
#define FOVEAL_VEC_LEVEL FOVEAL_VARIANT_LEVEL
#include FOVEAL_VARIANT_KERNELS
#undef FOVEAL_VEC_LEVEL
#undef FOVEAL_ISA_NS
#if FOVEAL_VARIANT_LEVEL != 0
FOVEAL_TARGET_END
#endif
#endif
