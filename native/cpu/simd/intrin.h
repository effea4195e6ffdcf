// <immintrin.h> for ISA variant files: include it first, before FOVEAL_TARGET_*_BEGIN.
//
// GCC 12 builds AVX-512 intrinsics such as _mm512_max_ps on an "undefined" vector made by
// self-initialisation (`__m512 __Y = __Y;`), which -Wmaybe-uninitialized reports at every
// inlined use; the warning is located in the header, so it is silenced for the header
// only, and stays on for our own code.
#pragma once

#include "core/isa.h"

#if FOVEAL_X86
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
