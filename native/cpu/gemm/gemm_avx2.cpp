// GEMM: the AVX2 variant (assembled by cpu/simd/variant.h; rules in core/isa.h).
#define FOVEAL_VARIANT_HEADER "cpu/gemm/gemm_internal.h"
#define FOVEAL_VARIANT_KERNELS "cpu/gemm/gemm_kernels.inc"
#define FOVEAL_VARIANT_LEVEL 2
#include "cpu/simd/variant.h"
