#!/bin/sh
# Builds scripts/vmath/ulp.cpp once per ISA level and prints the worst error of each
# function in cpu/simd/vmath.h (or only the one named).
# Usage, from the package root: sh scripts/vmath/ulp.sh [exp|sigmoid|tanh|ncdf|gelu]
set -e
out=${TMPDIR:-/tmp}/foveal-vmath-ulp
for level in 0 2 3; do
  ${CXX:-g++} -std=c++17 -O3 -Wno-psabi -Inative -DLEVEL=$level scripts/vmath/ulp.cpp -o "$out-$level"
  "$out-$level" "$@"
done
