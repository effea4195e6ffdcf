// linear: the AVX512 variant (see core/isa.h for the rules of variant files).
#include "core/isa.h"
#if FOVEAL_X86
#include "core/parallel.h"
#include "cpu/linear/linear.h"

FOVEAL_TARGET_AVX512_BEGIN
#define FOVEAL_ISA_NS avx512
#include "cpu/linear/linear_kernels.h"
#undef FOVEAL_ISA_NS
FOVEAL_TARGET_END
#endif
