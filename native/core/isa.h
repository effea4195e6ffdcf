// Instruction-set variants, side by side in one binary, picked at run time.
//
// Every op that has SIMD kernels keeps one variant per ISA level in its family folder:
//   native/cpu/<family>/<name>_generic.cpp  generic (any CPU the binary runs on)
//   native/cpu/<family>/<name>_avx2.cpp     AVX2 + FMA (x86-64-v3)
//   native/cpu/<family>/<name>_avx512.cpp   AVX-512 F/BW/VL/DQ (x86-64-v4)
// beside the family's other files:
//   native/cpu/<family>/<name>.h            the params structs and entry points (and the
//                                           variants' declarations, per namespace)
//   native/cpu/<family>/<name>.cpp          what is not per ISA: checks, planning, the
//                                           driver, the dispatch table (Kernel<>)
//   native/cpu/<family>/<name>_kernels.inc  the kernel bodies, written once and compiled
//                                           per ISA: each variant file is four lines that
//                                           include it through cpu/simd/variant.h (.inc:
//                                           included as text into a namespace, never a
//                                           header of its own)
// The whole binary is compiled for the baseline ISA; a variant file switches the target on
// for its own functions with FOVEAL_TARGET_AVX512_BEGIN / FOVEAL_TARGET_END, so both build
// routes share one source list and one set of flags (and no per-file flag can be lost).
//
// Rules for variant files, which keep the baseline code free of AVX instructions:
//  - include every header (<vector>, <immintrin.h>, core/...) BEFORE the BEGIN macro: code
//    from a header included inside the region would be compiled for the wide target, and as
//    an inline function it could be the copy the linker keeps for the whole binary;
//  - what is compiled once per ISA (a family's _kernels.inc, and the vector vocabulary of
//    cpu/simd/) is included inside the region and wraps itself in `namespace
//    FOVEAL_ISA_NS`, so each ISA gets its own symbols (PyTorch's CPU_CAPABILITY namespaces
//    solve the same problem);
//  - only the entry points declared in the family header leave the file.
#pragma once

#if defined(__x86_64__) || defined(_M_X64)
#define FOVEAL_X86 1
#else
#define FOVEAL_X86 0
#endif
#if defined(__aarch64__)
#define FOVEAL_ARM64 1
#else
#define FOVEAL_ARM64 0
#endif

#define FOVEAL_STR_(x) #x
#define FOVEAL_STR(x) FOVEAL_STR_(x)

// Target strings for each level (what the CPU must report is checked in dispatch.cpp).
#define FOVEAL_TARGETS_AVX2 "avx,avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt"
#define FOVEAL_TARGETS_AVX512 FOVEAL_TARGETS_AVX2 ",avx512f,avx512bw,avx512vl,avx512dq,avx512cd"

#if defined(__clang__)
#define FOVEAL_TARGET_BEGIN_(t) \
  _Pragma(FOVEAL_STR(clang attribute push(__attribute__((target(t))), apply_to = function)))
#define FOVEAL_TARGET_END _Pragma("clang attribute pop")
#elif defined(__GNUC__)
#define FOVEAL_TARGET_BEGIN_(t) _Pragma("GCC push_options") _Pragma(FOVEAL_STR(GCC target(t)))
#define FOVEAL_TARGET_END _Pragma("GCC pop_options")
#else
#error "foveal's ISA variants need GCC or Clang"
#endif

#define FOVEAL_TARGET_AVX2_BEGIN FOVEAL_TARGET_BEGIN_(FOVEAL_TARGETS_AVX2)
#define FOVEAL_TARGET_AVX512_BEGIN FOVEAL_TARGET_BEGIN_(FOVEAL_TARGETS_AVX512)

// FOVEAL_IF_X86(fn): the variant on x86-64 builds, nullptr elsewhere (its file compiles empty).
#if FOVEAL_X86
#define FOVEAL_IF_X86(fn) (fn)
#else
#define FOVEAL_IF_X86(fn) nullptr
#endif
#if FOVEAL_ARM64
#define FOVEAL_IF_ARM64(fn) (fn)
#else
#define FOVEAL_IF_ARM64(fn) nullptr
#endif
