// CPU feature detection: what the processor and the OS together support.
//
// Read once (cpuid + xgetbv on x86-64, getauxval on arm64) and cached. "Supported" means
// the OS also saves the register state (XCR0), so an AVX-512 kernel is only chosen where
// it can actually run.
#pragma once

#include <string>
#include <vector>

namespace foveal {

struct CpuFeatures {
  bool sse42 = false;
  bool avx = false;
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool bmi1 = false;
  bool bmi2 = false;
  bool lzcnt = false;
  bool popcnt = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512cd = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool amx = false;
  bool neon = false;
  std::string vendor;  // "AuthenticAMD", "GenuineIntel", "arm64", ...
  std::string brand;   // marketing name where the CPU reports one
};

const CpuFeatures& cpu_features();

// Names of the features present, in a fixed order, for fv.info().
std::vector<std::string> cpu_feature_names(const CpuFeatures& f);

}  // namespace foveal
