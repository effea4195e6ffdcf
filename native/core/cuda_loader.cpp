#include "core/cuda_loader.h"

#include <cstdlib>
#include <mutex>

#include "../cuda/foveal_cuda.h"

#if defined(__linux__) || defined(__APPLE__)
#include <dlfcn.h>
#include <sys/stat.h>
#define FOVEAL_HAVE_DLOPEN 1
#endif

namespace foveal {
namespace cuda {
namespace {

#if defined(__APPLE__)
constexpr const char* kLibName = "libfoveal_cuda.dylib";
#else
constexpr const char* kLibName = "libfoveal_cuda.so";
#endif

Api g_api;

#if FOVEAL_HAVE_DLOPEN
std::string addon_dir() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&addon_dir), &info) && info.dli_fname) {
    std::string path(info.dli_fname);
    const auto slash = path.find_last_of('/');
    if (slash != std::string::npos) return path.substr(0, slash);
  }
  return ".";
}

template <class F>
bool sym(void* handle, const char* name, F* out, std::string* reason) {
  *out = reinterpret_cast<F>(dlsym(handle, name));
  if (!*out) *reason = std::string("the library lacks the symbol ") + name + "; rebuild it with this version of foveal";
  return *out != nullptr;
}

Status probe() {
  Status s;
  const char* env = std::getenv("FOVEAL_CUDA_LIBRARY");
  s.library = env && *env ? std::string(env) : addon_dir() + "/" + kLibName;
  struct stat st;
  s.built = stat(s.library.c_str(), &st) == 0;
  if (!s.built) {
    s.reason = env && *env ? "FOVEAL_CUDA_LIBRARY points to a file that does not exist"
                           : "not built: this binary was built without nvcc (the CUDA library is "
                             "built beside the addon when nvcc is on the PATH at build time)";
    return s;
  }
  void* handle = dlopen(s.library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = dlerror();
    s.reason = std::string("dlopen failed: ") + (e ? e : "unknown error");
    return s;
  }
  // The handle is kept open for the life of the process: kernels may be running.
  Api a{};
  if (!sym(handle, "foveal_cuda_abi_version", &a.abi_version, &s.reason) ||
      !sym(handle, "foveal_cuda_runtime_version", &a.runtime_version, &s.reason) ||
      !sym(handle, "foveal_cuda_device_count", &a.device_count, &s.reason) ||
      !sym(handle, "foveal_cuda_device_info", &a.device_info, &s.reason) ||
      !sym(handle, "foveal_cuda_axpy", &a.axpy, &s.reason))
    return s;
  if (a.abi_version() != FOVEAL_CUDA_ABI) {
    s.reason = "the library speaks ABI " + std::to_string(a.abi_version()) + ", this addon ABI " +
               std::to_string(FOVEAL_CUDA_ABI) + "; rebuild them together";
    return s;
  }
  s.loaded = true;
  s.runtime_version = a.runtime_version();
  g_api = a;

  char err[512] = {0};
  const int count = a.device_count(err, sizeof err);
  if (count < 0) {
    s.reason = err;
    return s;
  }
  if (count == 0) {
    s.reason = "the NVIDIA driver reports no CUDA device";
    return s;
  }
  for (int i = 0; i < count; ++i) {
    char name[256] = {0};
    Device d{i, "", 0, 0, 0};
    if (a.device_info(i, name, sizeof name, &d.cc_major, &d.cc_minor, &d.total_memory, err, sizeof err) == 0) {
      d.name = name;
      s.devices.push_back(d);
    }
  }
  s.usable = !s.devices.empty();
  if (!s.usable) s.reason = err;
  return s;
}
#else
Status probe() {
  Status s;
  s.reason = "the CUDA backend is not supported on this platform";
  return s;
}
#endif

}  // namespace

const Status& status() {
  static const Status s = probe();  // thread-safe, once
  return s;
}

const Api* api() { return status().loaded ? &g_api : nullptr; }

}  // namespace cuda
}  // namespace foveal
