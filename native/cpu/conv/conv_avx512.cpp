// conv: the AVX512 variant of the kernels in conv_kernels.h (see core/isa.h for the rules of
// variant files).
#include "core/isa.h"
#if FOVEAL_X86
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "core/memory.h"
#include "cpu/conv/conv_internal.h"

FOVEAL_TARGET_AVX512_BEGIN
#define FOVEAL_ISA_NS avx512
#define FOVEAL_VEC_LEVEL 3
#include "cpu/conv/conv_kernels.h"
#undef FOVEAL_VEC_LEVEL
#undef FOVEAL_ISA_NS
FOVEAL_TARGET_END
#endif
