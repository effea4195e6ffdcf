// pool: the AVX2 variant of the kernels in pool_kernels.inc (assembled by cpu/simd/variant.h;
// rules in core/isa.h).
#define FOVEAL_VARIANT_HEADER "cpu/pool/pool.h"
#define FOVEAL_VARIANT_KERNELS "cpu/pool/pool_kernels.inc"
#define FOVEAL_VARIANT_LEVEL 2
#include "cpu/simd/variant.h"
