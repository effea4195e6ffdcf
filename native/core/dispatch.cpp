#include "core/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "core/cpu_features.h"

namespace foveal {
namespace {

std::string g_env_note;

Isa initial_limit() {
  const char* env = std::getenv("FOVEAL_ISA");
  if (!env || !*env || std::string(env) == "auto") return best_isa();
  Isa isa;
  if (!parse_isa(env, &isa)) {
    g_env_note = std::string("FOVEAL_ISA='") + env + "' was ignored: expected auto, generic, neon, avx2 or avx512";
    return best_isa();
  }
  if (!isa_supported(isa)) {
    g_env_note = std::string("FOVEAL_ISA='") + env + "' was ignored: this CPU does not support it";
    return best_isa();
  }
  return isa;
}

std::atomic<int>& limit_storage() {
  static std::atomic<int> limit{static_cast<int>(initial_limit())};
  return limit;
}

struct Registry {
  std::mutex mu;
  struct Entry {
    const char* name;
    std::vector<std::string> (*built)();
    std::string (*active)();
  };
  std::vector<Entry> entries;
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: read during static destruction
  return *r;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::generic: return "generic";
    case Isa::neon: return "neon";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "unknown";
}

bool parse_isa(const std::string& name, Isa* out) {
  for (Isa isa : {Isa::generic, Isa::neon, Isa::avx2, Isa::avx512}) {
    if (name == isa_name(isa)) {
      *out = isa;
      return true;
    }
  }
  return false;
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::generic: return true;
    case Isa::neon: return FOVEAL_ARM64 && f.neon;
    // Everything FOVEAL_TARGETS_AVX2 lets the compiler use (bmi2's shlx/pdep included).
    case Isa::avx2: return FOVEAL_X86 && f.avx2 && f.fma && f.f16c && f.bmi1 && f.bmi2 && f.lzcnt && f.popcnt;
    case Isa::avx512:
      return FOVEAL_X86 && isa_supported(Isa::avx2) && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq &&
             f.avx512cd;
  }
  return false;
}

Isa best_isa() {
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::neon})
    if (isa_supported(isa)) return isa;
  return Isa::generic;
}

Isa isa_limit() { return static_cast<Isa>(limit_storage().load(std::memory_order_relaxed)); }

void set_isa_limit(Isa isa) {
  if (!isa_supported(isa))
    throw std::invalid_argument(std::string("setIsa: this CPU does not support ") + isa_name(isa));
  limit_storage().store(static_cast<int>(isa), std::memory_order_relaxed);
}

const std::string& isa_env_note() {
  limit_storage();  // make sure FOVEAL_ISA has been read
  return g_env_note;
}

std::vector<KernelInfo> registered_kernels() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<KernelInfo> out;
  for (const auto& e : r.entries) out.push_back({e.name, e.built(), e.active()});
  return out;
}

namespace detail {
void register_kernel(const char* name, std::vector<std::string> (*built)(), std::string (*active)()) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.entries.push_back({name, built, active});
}
}  // namespace detail

}  // namespace foveal
