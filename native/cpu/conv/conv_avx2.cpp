// conv: the AVX2 variant of the kernels in conv_kernels.inc (assembled by cpu/simd/variant.h;
// rules in core/isa.h).
#define FOVEAL_VARIANT_HEADER "cpu/conv/conv_internal.h"
#define FOVEAL_VARIANT_KERNELS "cpu/conv/conv_kernels.inc"
#define FOVEAL_VARIANT_LEVEL 2
#include "cpu/simd/variant.h"
