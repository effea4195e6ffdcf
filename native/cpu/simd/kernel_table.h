// FOVEAL_KERNEL_TABLE(table, fn): the dispatch table of an entry point built per ISA by
// cpu/simd/variant.h (generic::fn, avx2::fn, avx512::fn), registered for fv.info().
// Use in a family's .cpp, inside namespace foveal::cpu, after the variants' declarations.
#pragma once

#include "core/dispatch.h"

#define FOVEAL_KERNEL_TABLE(table, fn)                                                              \
  const ::foveal::Kernel<decltype(&generic::fn)> table{#fn, generic::fn, FOVEAL_IF_X86(avx2::fn), \
                                                       FOVEAL_IF_X86(avx512::fn)};                  \
  FOVEAL_REGISTER_KERNEL(table)
