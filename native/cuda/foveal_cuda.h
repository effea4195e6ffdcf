/* The C ABI of libfoveal_cuda, the CUDA backend.
 *
 * The CPU addon never links against CUDA: native/core/cuda_loader.cpp opens this library
 * with dlopen only when the CUDA backend is asked for (or fv.info() probes it), so the
 * addon loads on every host and a host without a GPU driver gets a clear message instead
 * of a failed require(). Every function is extern "C", takes plain pointers and sizes, and
 * reports errors through its return value and an (err, err_len) message buffer: no C++
 * types or exceptions cross the boundary, so the two libraries can be built by different
 * compilers. Bump FOVEAL_CUDA_ABI whenever a signature changes; the loader refuses a
 * library whose ABI differs.
 */
#ifndef FOVEAL_CUDA_H_
#define FOVEAL_CUDA_H_

#include <stddef.h>
#include <stdint.h>

#define FOVEAL_CUDA_ABI 1

#if defined(_WIN32)
#define FOVEAL_CUDA_EXPORT __declspec(dllexport)
#else
#define FOVEAL_CUDA_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

FOVEAL_CUDA_EXPORT int foveal_cuda_abi_version(void);

/* The CUDA runtime version this library was built with, as 1000*major + 10*minor. */
FOVEAL_CUDA_EXPORT int foveal_cuda_runtime_version(void);

/* Number of usable devices (≥ 0), or -1 with the reason in err. */
FOVEAL_CUDA_EXPORT int foveal_cuda_device_count(char* err, size_t err_len);

/* Name, compute capability and memory of a device; 0 on success, -1 with err. */
FOVEAL_CUDA_EXPORT int foveal_cuda_device_info(int device, char* name, size_t name_len, int* cc_major, int* cc_minor,
                                               size_t* total_mem, char* err, size_t err_len);

/* y[i] += a * x[i] for i < n, on `device`, from and to host memory: a smoke test of the
 * whole path (allocate, copy, launch, copy back, free). 0 on success, -1 with err. */
FOVEAL_CUDA_EXPORT int foveal_cuda_axpy(int device, float a, const float* x, float* y, int64_t n, char* err,
                                        size_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* FOVEAL_CUDA_H_ */
