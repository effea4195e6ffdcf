// Checks libfoveal_cuda on a CUDA host without Node: opens it the way the addon does
// (dlopen + dlsym through the C ABI), lists the devices and runs the axpy smoke kernel
// against a CPU result. Exit status 0 only if every check passes.
//   native/cuda/check/run.sh   (builds the library and this program, then runs it)
#include <dlfcn.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "../foveal_cuda.h"

static int failures = 0;
#define EXPECT(cond, ...)     \
  do {                        \
    if (cond) {               \
      std::printf("ok    ");  \
    } else {                  \
      std::printf("FAIL  ");  \
      ++failures;             \
    }                         \
    std::printf(__VA_ARGS__); \
    std::printf("\n");        \
  } while (0)

template <class F>
F sym(void* h, const char* name) {
  F f = reinterpret_cast<F>(dlsym(h, name));
  EXPECT(f != nullptr, "symbol %s", name);
  return f;
}

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "build/Release/libfoveal_cuda.so";
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  EXPECT(h != nullptr, "dlopen %s%s%s", path, h ? "" : ": ", h ? "" : dlerror());
  if (!h) return 1;
  auto abi = sym<int (*)()>(h, "foveal_cuda_abi_version");
  auto runtime = sym<int (*)()>(h, "foveal_cuda_runtime_version");
  auto count = sym<int (*)(char*, size_t)>(h, "foveal_cuda_device_count");
  auto info = sym<int (*)(int, char*, size_t, int*, int*, size_t*, char*, size_t)>(h, "foveal_cuda_device_info");
  auto axpy = sym<int (*)(int, float, const float*, float*, int64_t, char*, size_t)>(h, "foveal_cuda_axpy");
  if (failures) return 1;

  EXPECT(abi() == FOVEAL_CUDA_ABI, "ABI %d (expected %d)", abi(), FOVEAL_CUDA_ABI);
  std::printf("      CUDA runtime %d.%d\n", runtime() / 1000, (runtime() % 1000) / 10);
  char err[512] = {0};
  const int n = count(err, sizeof err);
  EXPECT(n > 0, "device count %d%s%s", n, n > 0 ? "" : ": ", n > 0 ? "" : err);
  for (int d = 0; d < n; ++d) {
    char name[256];
    int major = 0, minor = 0;
    size_t mem = 0;
    EXPECT(info(d, name, sizeof name, &major, &minor, &mem, err, sizeof err) == 0, "device %d: %s, sm_%d%d, %.1f GiB",
           d, name, major, minor, mem / 1073741824.0);
  }
  if (n <= 0) return 1;

  for (int64_t len : {int64_t{0}, int64_t{1}, int64_t{1000}, int64_t{1} << 22}) {
    std::vector<float> x(len), y(len), want(len);
    for (int64_t i = 0; i < len; ++i) {
      x[i] = std::sin(0.001f * i);
      y[i] = std::cos(0.002f * i);
      want[i] = std::fma(2.5f, x[i], y[i]);
    }
    const int rc = axpy(0, 2.5f, x.data(), y.data(), len, err, sizeof err);
    int64_t bad = 0;
    for (int64_t i = 0; i < len; ++i) bad += y[i] != want[i];
    EXPECT(rc == 0 && bad == 0, "axpy n=%lld: rc=%d, %lld elements differ from the CPU's fmaf%s%s", (long long)len, rc,
           (long long)bad, rc ? ": " : "", rc ? err : "");
  }
  EXPECT(axpy(0, 1.f, nullptr, nullptr, 5, err, sizeof err) != 0, "axpy refuses null pointers: %s", err);
  EXPECT(axpy(0, 1.f, nullptr, nullptr, -1, err, sizeof err) != 0, "axpy refuses a negative length");
  EXPECT(axpy(n + 7, 1.f, nullptr, nullptr, 0, err, sizeof err) == 0,
         "axpy with n=0 does nothing, whatever the device");
  std::vector<float> one(1, 1.f);
  EXPECT(axpy(n + 7, 1.f, one.data(), one.data(), 1, err, sizeof err) != 0, "axpy on a missing device fails: %s", err);

  std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
  return failures ? 1 : 0;
}
