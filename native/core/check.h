// FOVEAL_CHECK: the native re-check of what lib/validate.ts already checked.
//
// The TypeScript layer validates every argument and throws TypeError/RangeError with a
// message naming the op and the argument. Native code checks again, because a caller can
// reach the binding directly (or the TS layer can have a bug), and nothing a caller passes
// may crash the process. A failed check throws std::invalid_argument; the binding turns it
// into a JS RangeError. In normal use it never fires.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace foveal {
namespace detail {

template <class... Args>
[[noreturn]] void check_failed(Args&&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  throw std::invalid_argument(os.str());
}

}  // namespace detail
}  // namespace foveal

// FOVEAL_CHECK(cond, "linear: x has ", n, " elements, expected ", m)
#define FOVEAL_CHECK(cond, ...)                               \
  do {                                                        \
    if (!(cond)) ::foveal::detail::check_failed(__VA_ARGS__); \
  } while (0)
