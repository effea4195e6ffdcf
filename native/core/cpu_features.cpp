#include "core/cpu_features.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#define FOVEAL_X86 1
#include <cpuid.h>
#elif defined(__aarch64__)
#define FOVEAL_ARM64 1
#endif

namespace foveal {
namespace {

#if FOVEAL_X86
uint64_t read_xcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  const unsigned max_leaf = a;
  char vendor[13];
  std::memcpy(vendor + 0, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  vendor[12] = 0;
  f.vendor = vendor;

  __get_cpuid(1, &a, &b, &c, &d);
  const bool osxsave = (c >> 27) & 1;
  f.sse42 = (c >> 20) & 1;
  f.popcnt = (c >> 23) & 1;
  const bool cpu_avx = (c >> 28) & 1;
  const bool cpu_fma = (c >> 12) & 1;
  const bool cpu_f16c = (c >> 29) & 1;

  // The OS must save YMM (bits 1,2) and, for AVX-512, opmask/ZMM state (bits 5,6,7).
  const uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6;
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;

  f.avx = cpu_avx && os_ymm;
  f.fma = cpu_fma && os_ymm;
  f.f16c = cpu_f16c && os_ymm;
  if (max_leaf >= 7) {
    __get_cpuid_count(7, 0, &a, &b, &c, &d);
    f.avx2 = ((b >> 5) & 1) && os_ymm;
    f.bmi1 = (b >> 3) & 1;
    f.bmi2 = (b >> 8) & 1;
    f.avx512f = ((b >> 16) & 1) && os_zmm;
    f.avx512dq = ((b >> 17) & 1) && os_zmm;
    f.avx512cd = ((b >> 28) & 1) && os_zmm;
    f.avx512bw = ((b >> 30) & 1) && os_zmm;
    f.avx512vl = ((b >> 31) & 1) && os_zmm;
    f.avx512vnni = ((c >> 11) & 1) && os_zmm;
    f.amx = ((d >> 24) & 1) && os_amx;  // AMX-TILE
    unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
    __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
    f.avx512bf16 = ((a1 >> 5) & 1) && os_zmm;
  }

  char brand[49] = {0};
  const bool ext = __get_cpuid(0x80000000, &a, &b, &c, &d);
  const unsigned max_ext = ext ? a : 0;
  if (max_ext >= 0x80000001) {
    __get_cpuid(0x80000001, &a, &b, &c, &d);
    f.lzcnt = (c >> 5) & 1;
  }
  if (max_ext >= 0x80000004) {
    for (unsigned i = 0; i < 3; ++i) {
      __get_cpuid(0x80000002 + i, &a, &b, &c, &d);
      std::memcpy(brand + 16 * i + 0, &a, 4);
      std::memcpy(brand + 16 * i + 4, &b, 4);
      std::memcpy(brand + 16 * i + 8, &c, 4);
      std::memcpy(brand + 16 * i + 12, &d, 4);
    }
  }
  std::string s(brand);
  const auto first = s.find_first_not_of(' ');
  const auto last = s.find_last_not_of(' ');
  f.brand = first == std::string::npos ? "" : s.substr(first, last - first + 1);
  return f;
}
#elif FOVEAL_ARM64
CpuFeatures detect() {
  CpuFeatures f;
  f.vendor = "arm64";
  f.neon = true;  // Advanced SIMD is mandatory on AArch64.
  return f;
}
#else
CpuFeatures detect() { return CpuFeatures{}; }
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

std::vector<std::string> cpu_feature_names(const CpuFeatures& f) {
  std::vector<std::string> names;
  const std::pair<bool, const char*> all[] = {
      {f.sse42, "sse4.2"},
      {f.avx, "avx"},
      {f.avx2, "avx2"},
      {f.fma, "fma"},
      {f.f16c, "f16c"},
      {f.bmi1, "bmi1"},
      {f.bmi2, "bmi2"},
      {f.lzcnt, "lzcnt"},
      {f.popcnt, "popcnt"},
      {f.avx512f, "avx512f"},
      {f.avx512bw, "avx512bw"},
      {f.avx512vl, "avx512vl"},
      {f.avx512dq, "avx512dq"},
      {f.avx512cd, "avx512cd"},
      {f.avx512vnni, "avx512vnni"},
      {f.avx512bf16, "avx512bf16"},
      {f.amx, "amx"},
      {f.neon, "neon"},
  };
  for (const auto& [present, name] : all)
    if (present) names.emplace_back(name);
  return names;
}

}  // namespace foveal
