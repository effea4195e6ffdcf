// Run-time dispatch: each op lists its ISA variants in a Kernel table and calls pick().
//
// ggml's cpu-feats and PyTorch's DispatchStub do the same: one portable binary, the best
// variant chosen per call from what the CPU supports, capped by FOVEAL_ISA (or
// fv.setIsa()) so tests and users can force a lower level. pick() is an atomic load and a
// few branches, cheap enough for every call, so a changed cap takes effect at once.
#pragma once

#include <string>
#include <vector>

#include "core/isa.h"

namespace foveal {

enum class Isa : int { generic = 0, neon = 1, avx2 = 2, avx512 = 3 };

const char* isa_name(Isa isa);
// Parses "generic", "neon", "avx2", "avx512"; false for anything else.
bool parse_isa(const std::string& name, Isa* out);

bool isa_supported(Isa isa);  // the CPU and OS can run it
Isa best_isa();               // the highest supported level
Isa isa_limit();              // the current cap: FOVEAL_ISA, fv.setIsa(), else best_isa()
void set_isa_limit(Isa isa);  // throws std::invalid_argument when not supported
// Set when FOVEAL_ISA held something unusable; fv.info() shows it.
const std::string& isa_env_note();

// A kernel's variants. Unused levels stay nullptr; generic is required.
template <class Fn>
struct Kernel {
  const char* name;
  Fn generic;
  Fn avx2 = nullptr;
  Fn avx512 = nullptr;
  Fn neon = nullptr;

  Fn pick(Isa* chosen = nullptr) const {
    const Isa cap = isa_limit();
    Isa isa = Isa::generic;
    Fn fn = generic;
    if (avx512 && cap >= Isa::avx512 && isa_supported(Isa::avx512)) {
      fn = avx512, isa = Isa::avx512;
    } else if (avx2 && cap >= Isa::avx2 && isa_supported(Isa::avx2)) {
      fn = avx2, isa = Isa::avx2;
    } else if (neon && cap >= Isa::neon && isa_supported(Isa::neon)) {
      fn = neon, isa = Isa::neon;
    }
    if (chosen) *chosen = isa;
    return fn;
  }
};

// The op registry: every Kernel table registers itself so fv.info() can list, per kernel,
// which variants were built and which one a call would use now.
struct KernelInfo {
  std::string name;
  std::vector<std::string> built;  // ISA names with a variant in this binary
  std::string active;              // what pick() returns under the current cap
};
std::vector<KernelInfo> registered_kernels();

namespace detail {
void register_kernel(const char* name, std::vector<std::string> (*built)(), std::string (*active)());
}

}  // namespace foveal

// FOVEAL_REGISTER_KERNEL(table): after `static const Kernel<F> table{...};` in a .cpp file.
#define FOVEAL_REGISTER_KERNEL(table)                                                 \
  static const bool table##_registered_ = [] {                                        \
    ::foveal::detail::register_kernel((table).name,                                   \
                                      [] {                                            \
                                        std::vector<std::string> b{"generic"};        \
                                        if ((table).neon) b.emplace_back("neon");     \
                                        if ((table).avx2) b.emplace_back("avx2");     \
                                        if ((table).avx512) b.emplace_back("avx512"); \
                                        return b;                                     \
                                      },                                              \
                                      [] {                                            \
                                        ::foveal::Isa isa;                            \
                                        (table).pick(&isa);                           \
                                        return std::string(::foveal::isa_name(isa));  \
                                      });                                             \
    return true;                                                                      \
  }()
