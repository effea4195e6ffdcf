// Attention: the AVX512 variant (see core/isa.h for the rules of variant files).
#include "core/isa.h"
#if FOVEAL_X86
#include <immintrin.h>

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
#include "cpu/attention/attention.h"

// GCC 12 reports its own _mm512_undefined_ps() (a self-initialised placeholder for the
// unused pass-through operand of max/roundscale/scalef/reduce/shuffle/unpack) as
// maybe-uninitialised, and inside the kᵀ pack's transposes as uninitialised outright.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
FOVEAL_TARGET_AVX512_BEGIN
#define FOVEAL_ISA_NS avx512
#define FOVEAL_VEC_LEVEL 3
#include "cpu/simd/transpose.h"
#define FOVEAL_ATTN_SIMD 512
#include "cpu/attention/attention_simd.h"
#include "cpu/attention/attention_kernels.h"
#undef FOVEAL_ATTN_SIMD
#undef FOVEAL_VEC_LEVEL
#undef FOVEAL_ISA_NS
FOVEAL_TARGET_END
#endif
