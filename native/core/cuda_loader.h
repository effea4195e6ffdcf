// Finds and opens libfoveal_cuda (the CUDA backend) on demand.
//
// The library sits beside the addon binary (build/Release/ or prebuilds/<platform>-<arch>/)
// or where FOVEAL_CUDA_LIBRARY points. It is opened with dlopen the first time anything
// asks for the CUDA backend, never at load time, so the CPU addon loads on any host; a
// host without a GPU or driver gets a status that says which step failed and why.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace foveal {
namespace cuda {

struct Device {
  int index;
  std::string name;
  int cc_major, cc_minor;
  size_t total_memory;
};

struct Status {
  std::string library;      // the path looked for (or opened)
  bool built = false;       // the file exists
  bool loaded = false;      // dlopen and every symbol succeeded, and the ABI matches
  bool usable = false;      // loaded, and at least one device answered
  int runtime_version = 0;  // CUDART_VERSION the library was built with
  std::string reason;       // why not loaded/usable, in words a user can act on
  std::vector<Device> devices;
};

// Probes once (thread-safe) and caches the answer for the life of the process.
const Status& status();

// The entry points, valid only when status().loaded.
struct Api {
  int (*abi_version)();
  int (*runtime_version)();
  int (*device_count)(char*, size_t);
  int (*device_info)(int, char*, size_t, int*, int*, size_t*, char*, size_t);
  int (*axpy)(int, float, const float*, float*, int64_t, char*, size_t);
};
const Api* api();  // nullptr when not loaded

}  // namespace cuda
}  // namespace foveal
