// pool: the AVX2 variant of the kernels in pool_kernels.h (see core/isa.h for the rules of
// variant files).
#include "core/isa.h"
#if FOVEAL_X86
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "core/memory.h"
#include "cpu/pool/pool.h"

FOVEAL_TARGET_AVX2_BEGIN
#define FOVEAL_VEC_LEVEL 2
#define FOVEAL_ISA_NS avx2
#include "cpu/pool/pool_kernels.h"
#undef FOVEAL_ISA_NS
#undef FOVEAL_VEC_LEVEL
FOVEAL_TARGET_END
#endif
