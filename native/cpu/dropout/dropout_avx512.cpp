// dropout: the AVX512 variant (see core/isa.h for the rules of variant files).
#include "core/isa.h"
#if FOVEAL_X86
#include "cpu/simd/intrin.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/parallel.h"
#include "core/rng.h"
#include "cpu/dropout/dropout.h"

FOVEAL_TARGET_AVX512_BEGIN
#define FOVEAL_ISA_NS avx512
#define FOVEAL_VEC_LEVEL 3
#include "cpu/dropout/dropout_kernels.h"
#undef FOVEAL_VEC_LEVEL
#undef FOVEAL_ISA_NS
FOVEAL_TARGET_END
#endif
