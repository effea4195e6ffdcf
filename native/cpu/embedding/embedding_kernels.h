// embedding kernel bodies, compiled once per ISA (see core/isa.h and cpu/simd/vec.h).
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including embedding_kernels.h"
#endif

#include "cpu/simd/vec.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {

// dweight[indices[i], d0:d1] += dy[i, d0:d1] for every i in order (padding and, should JS
// have changed one meanwhile, out-of-range indices skipped).
void embedding_scatter(const EmbeddingBackwardParams& p, int64_t d0, int64_t d1) {
  const int64_t len = d1 - d0;
  for (int64_t i = 0; i < p.n; ++i) {
    const int64_t r = p.indices[i];
    if (r < 0 || r >= p.num || r == p.padding_idx) continue;
    const float* src = p.dy + i * p.dim + d0;
    float* dst = p.dweight + r * p.dim + d0;
    int64_t k = 0;
    for (; k + 2 * kN <= len; k += 2 * kN) {
      vstore(dst + k, vadd(vload(dst + k), vload(src + k)));
      vstore(dst + k + kN, vadd(vload(dst + k + kN), vload(src + k + kN)));
    }
    for (; k < len; k += kN) vstore_part(dst + k, vadd(vload_part(dst + k, len - k), vload_part(src + k, len - k)), len - k);
  }
}

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
