// Attention kernel bodies, compiled once per ISA by cpu/simd/variant.h (rules in
// core/isa.h), on cpu/simd/vec.h's vectors: kN float lanes per Vf.
//
// Layout of the work (FlashAttention-2 on a CPU):
//  - a query block of kBr rows against key blocks of kBc keys;
//  - S = (q·scale)·kᵀ on register-blocked micro-kernels (kMr rows × up to kNv vectors),
//    K packed once per kv head and thread as kᵀ panels [D][kBc];
//  - the online softmax keeps a running max m and sum l per row; O is rescaled by
//    exp(m_old − m_new) inside the next P·V product's load of O;
//  - fully masked tiles (causal, window, keyLengths) are never computed, and inside a
//    partly masked tile each group of micro-kernel rows (or keys) covers only the span
//    its rows (keys) can see.
// Every element of every product is summed in one fixed order (k = 0, 1, … from zero or
// from C), whatever the tiling and whichever thread computes it: scores recomputed in the
// backward are bit-identical to the forward's, which topK relies on.
//
// The concerns, one header each, included here in dependency order:
//   attention_gemm_isa.h      the micro-GEMM on tiles (kMr × kNv vectors per level)
//   attention_topk_isa.h      topK thresholds
//   attention_dropout_isa.h   dropout keep bits (Philox)
//   attention_work_isa.h      per-thread scratch and the work queue
//   attention_tiles_isa.h     block sizes, visibility, packing, the masked score tile
//   attention_forward_isa.h   the forward pass
//   attention_backward_isa.h  the backward pass
// `_isa.h` names a header that is text compiled once per ISA level, inside the level's
// target region and namespace (a translation unit assembles one level).
#ifndef FOVEAL_ISA_NS
#error "define FOVEAL_ISA_NS before including attention_isa.h (cpu/simd/variant.h does)"
#endif

#include "cpu/simd/philox.h"
#include "cpu/simd/transpose.h"
#include "cpu/simd/vec.h"
#include "cpu/simd/vmath.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {
namespace attn {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();  // a hidden score

}  // namespace attn
}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal

#include "cpu/attention/attention_gemm_isa.h"
#include "cpu/attention/attention_topk_isa.h"
#include "cpu/attention/attention_dropout_isa.h"
#include "cpu/attention/attention_work_isa.h"
#include "cpu/attention/attention_tiles_isa.h"
#include "cpu/attention/attention_forward_isa.h"
#include "cpu/attention/attention_backward_isa.h"

namespace foveal {
namespace cpu {
namespace FOVEAL_ISA_NS {

void attention_forward(const AttentionParams& p) { attn::attention_forward(p); }
void attention_backward(const AttentionBackwardParams& p) { attn::attention_backward(p); }

}  // namespace FOVEAL_ISA_NS
}  // namespace cpu
}  // namespace foveal
