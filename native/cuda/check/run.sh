#!/usr/bin/env bash
# Checks the CUDA library on a bare CUDA machine (nvcc, a GPU, CMake; no Node needed):
# builds libfoveal_cuda with plain CMake (CMakeLists.txt builds only the CUDA library
# when not run by cmake-js), builds check.cpp, runs it.
#   bash native/cuda/check/run.sh [build-dir]
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
build="${1:-$root/build-cuda-check}"
archs="${FOVEAL_CUDA_ARCHS:-}"
if [ -z "$archs" ] && command -v nvidia-smi >/dev/null; then
  # Only the local GPU's architecture: a check needs no fat binary.
  archs="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '.')"
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release ${archs:+-DCMAKE_CUDA_ARCHITECTURES=$archs} >/dev/null
cmake --build "$build" --target foveal_cuda -j
"${CXX:-c++}" -O2 -std=c++17 -o "$build/check" "$root/native/cuda/check/check.cpp" -ldl
"$build/check" "$build/Release/libfoveal_cuda.so"
