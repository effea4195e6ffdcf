// Attention: the AVX2 variant (see core/isa.h for the rules of variant files).
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

FOVEAL_TARGET_AVX2_BEGIN
#define FOVEAL_ISA_NS avx2
#define FOVEAL_VEC_LEVEL 2
#include "cpu/simd/transpose.h"
#define FOVEAL_ATTN_SIMD 256
#include "cpu/attention/attention_simd.h"
#include "cpu/attention/attention_kernels.h"
#undef FOVEAL_ATTN_SIMD
#undef FOVEAL_VEC_LEVEL
#undef FOVEAL_ISA_NS
FOVEAL_TARGET_END
#endif
