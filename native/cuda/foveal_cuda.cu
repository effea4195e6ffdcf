// libfoveal_cuda: the CUDA backend behind the C ABI in foveal_cuda.h.
#include "foveal_cuda.h"

#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>

namespace {

void set_err(char* err, size_t len, const char* what, cudaError_t e) {
  if (!err || len == 0) return;
  std::snprintf(err, len, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

// Explains the two failures a host without a working GPU gives, in words a user can act on.
void set_probe_err(char* err, size_t len, cudaError_t e) {
  if (!err || len == 0) return;
  if (e == cudaErrorInsufficientDriver) {
    std::snprintf(err, len,
                  "no usable NVIDIA driver: the CUDA runtime could not load libcuda.so.1 or it is "
                  "older than CUDA %d.%d needs (%s)",
                  CUDART_VERSION / 1000, (CUDART_VERSION % 1000) / 10, cudaGetErrorName(e));
  } else if (e == cudaErrorNoDevice) {
    std::snprintf(err, len, "the NVIDIA driver reports no CUDA device (%s)", cudaGetErrorName(e));
  } else {
    set_err(err, len, "cudaGetDeviceCount failed", e);
  }
}

__global__ void axpy_kernel(float a, const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i] = fmaf(a, x[i], y[i]);
}

}  // namespace

extern "C" {

int foveal_cuda_abi_version(void) { return FOVEAL_CUDA_ABI; }

int foveal_cuda_runtime_version(void) { return CUDART_VERSION; }

int foveal_cuda_device_count(char* err, size_t err_len) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    set_probe_err(err, err_len, e);
    return -1;
  }
  return count;
}

int foveal_cuda_device_info(int device, char* name, size_t name_len, int* cc_major, int* cc_minor, size_t* total_mem,
                            char* err, size_t err_len) {
  cudaDeviceProp prop;
  const cudaError_t e = cudaGetDeviceProperties(&prop, device);
  if (e != cudaSuccess) {
    set_err(err, err_len, "cudaGetDeviceProperties failed", e);
    return -1;
  }
  if (name && name_len) {
    std::strncpy(name, prop.name, name_len - 1);
    name[name_len - 1] = 0;
  }
  if (cc_major) *cc_major = prop.major;
  if (cc_minor) *cc_minor = prop.minor;
  if (total_mem) *total_mem = prop.totalGlobalMem;
  return 0;
}

int foveal_cuda_axpy(int device, float a, const float* x, float* y, int64_t n, char* err, size_t err_len) {
  if (n < 0 || (n > 0 && (!x || !y))) {
    if (err && err_len) std::snprintf(err, err_len, "foveal_cuda_axpy: invalid arguments");
    return -1;
  }
  if (n == 0) return 0;
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return set_err(err, err_len, "cudaSetDevice failed", e), -1;
  float* dx = nullptr;
  float* dy = nullptr;
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  int rc = -1;
  if ((e = cudaMalloc(&dx, bytes)) != cudaSuccess) set_err(err, err_len, "cudaMalloc failed", e);
  else if ((e = cudaMalloc(&dy, bytes)) != cudaSuccess) set_err(err, err_len, "cudaMalloc failed", e);
  else if ((e = cudaMemcpy(dx, x, bytes, cudaMemcpyHostToDevice)) != cudaSuccess)
    set_err(err, err_len, "cudaMemcpy failed", e);
  else if ((e = cudaMemcpy(dy, y, bytes, cudaMemcpyHostToDevice)) != cudaSuccess)
    set_err(err, err_len, "cudaMemcpy failed", e);
  else {
    const int threads = 256;
    const int64_t want = (n + threads - 1) / threads;
    const int blocks = static_cast<int>(want < 65535 ? want : 65535);
    axpy_kernel<<<blocks, threads>>>(a, dx, dy, n);
    if ((e = cudaGetLastError()) != cudaSuccess) set_err(err, err_len, "axpy launch failed", e);
    else if ((e = cudaMemcpy(y, dy, bytes, cudaMemcpyDeviceToHost)) != cudaSuccess)
      set_err(err, err_len, "cudaMemcpy failed", e);
    else rc = 0;
  }
  cudaFree(dx);
  cudaFree(dy);
  return rc;
}

}  // extern "C"
