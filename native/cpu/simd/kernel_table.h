// FOVEAL_KERNEL_TABLE(table, fn): the dispatch table of an entry point built per ISA by
// cpu/simd/variant.h (generic::fn, avx2::fn, avx512::fn), registered for fv.info().
// Use in a family's .cpp, inside namespace foveal::cpu, after the variants' declarations.
//
// FOVEAL_STREAMING_KERNEL_TABLE(table, fn, name): the same without the AVX-512 variant, so
// AVX-512 hosts run the AVX2 one. For kernels that only stream memory (a load or two, an
// add, a store per element): there 512-bit vectors buy nothing, and on Zen 4 they cost.
// Measured on the 2-core build machine (out path, 2 threads, medians of 200, four
// alternating repeats): same-shape add on [64,128,28,28] 0.77 ms with AVX2 against 0.94
// with AVX-512, on [8,64,56,56] 0.114 against 0.121; reluBackward 0.83 against 0.88.
#pragma once

#include "core/dispatch.h"

#define FOVEAL_KERNEL_TABLE(table, fn)                                                            \
  const ::foveal::Kernel<decltype(&generic::fn)> table{#fn, generic::fn, FOVEAL_IF_X86(avx2::fn), \
                                                       FOVEAL_IF_X86(avx512::fn)};                \
  FOVEAL_REGISTER_KERNEL(table)

#define FOVEAL_STREAMING_KERNEL_TABLE(table, fn, name)                                                       \
  const ::foveal::Kernel<decltype(&generic::fn)> table{name, generic::fn, FOVEAL_IF_X86(avx2::fn), nullptr}; \
  FOVEAL_REGISTER_KERNEL(table)
