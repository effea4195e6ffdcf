// optim: the fused optimizer updates (one pass over a parameter tensor and its state per
// step), and the reductions gradient clipping needs.
//
// The updates follow PyTorch's single-tensor (foreach=False) implementations operation
// for operation, in float32, with the scalar coefficients computed in double as Python
// computes them and then rounded to float where PyTorch hands them to a kernel, and each
// multiply-add fused exactly where PyTorch's kernels fuse it: trajectories equal
// PyTorch 1.13's bit for bit. Each element is updated independently, so results are
// bit-identical for any thread count, and every ISA level (the generic one included: it
// emulates the FMAs exactly) gives the same bits.
#pragma once

#include <cstdint>

namespace foveal {
namespace cpu {

// Adam / AdamW, per element (g = ±grad, float arithmetic, PyTorch 1.13's op order):
//   decoupled:          p ← p·(1 − lr·wd)                       (AdamW: param.mul_)
//   else if wd ≠ 0:     g ← fma(p, wd, g)                         (Adam: grad.add(param, alpha=wd))
//   m ← fma(g, 1 − β1, m·β1)                                     (exp_avg.mul_(β1).add_(g, alpha=1−β1))
//   v ← fma((1 − β2)·g, g, v·β2)                                 (exp_avg_sq.mul_(β2).addcmul_(g, g, value=1−β2))
//   amsgrad:            v̂ ← max(v̂, v), else v̂ = v
//   p ← p + (−step_size·m) / (√v̂ / √bc2 + eps)                 (param.addcdiv_(m, denom, value=−step_size))
// with bc1 = 1 − β1^step, bc2 = 1 − β2^step, step_size = lr / bc1 (double, as Python).
struct AdamParams {
  float* param;           // [n] updated in place
  const float* grad;      // [n]
  float* exp_avg;         // [n] first moment m, updated in place
  float* exp_avg_sq;      // [n] second moment v, updated in place
  float* max_exp_avg_sq;  // [n] running max of v (amsgrad), updated in place; nullptr otherwise
  int64_t n;
  double lr;
  double beta1, beta2;
  double eps;
  double weight_decay;
  int64_t step;  // this update's step number, ≥ 1 (the bias corrections use it)
  bool amsgrad;
  bool decoupled;  // AdamW's decoupled weight decay instead of L2 on the gradient
  bool maximize;   // ascend: use −grad
};

// SGD with momentum, per element (PyTorch 1.13's _single_tensor_sgd; each "x + a·y" is one
// fma, as PyTorch's add with alpha):
//   d ← ±grad;  wd ≠ 0: d ← d + wd·p
//   momentum ≠ 0: b ← init_buffer ? d : b·μ + (1 − dampening)·d;  d ← nesterov ? d + μ·b : b
//   p ← p − lr·d
struct SgdParams {
  float* param;            // [n] updated in place
  const float* grad;       // [n]
  float* momentum_buffer;  // [n] updated in place; nullptr when momentum == 0
  int64_t n;
  double lr;
  double momentum;
  double dampening;
  double weight_decay;
  bool nesterov;
  bool maximize;
  bool init_buffer;  // the buffer holds no history yet: set it to d (PyTorch's clone on first use)
};

// A vector norm's reduction over one tensor, before the final root:
//   ord = +∞: max|x|;  ord = −∞: min|x|;  ord = 0: the count of non-zeros;
//   ord = 2: Σx²;  ord = 1: Σ|x|;  any other ord: Σ|x|^ord.
// Accumulated in double over fixed blocks of elements whose partials are added in block
// order, so the result is bit-identical for any thread count and ISA level. A NaN
// anywhere gives NaN (ord = 0 counts it as a non-zero, as PyTorch). n = 0 gives 0 (+∞ for
// ord = −∞).
struct NormParams {
  const float* x;  // [n]
  int64_t n;
  double ord;
};

struct ScaleParams {
  float* x;  // [n] scaled in place
  int64_t n;
  double scale;  // rounded to float, as PyTorch's mul_ by a float32 scalar
};

void adam_step(const AdamParams& p);
void sgd_step(const SgdParams& p);
double norm_reduce(const NormParams& p);
void scale_inplace(const ScaleParams& p);

namespace generic {
void adam_step(const AdamParams& p);
void sgd_step(const SgdParams& p);
double norm_reduce(const NormParams& p);
void scale_inplace(const ScaleParams& p);
}  // namespace generic
namespace avx2 {
void adam_step(const AdamParams& p);
void sgd_step(const SgdParams& p);
double norm_reduce(const NormParams& p);
void scale_inplace(const ScaleParams& p);
}  // namespace avx2
namespace avx512 {
void adam_step(const AdamParams& p);
void sgd_step(const SgdParams& p);
double norm_reduce(const NormParams& p);
void scale_inplace(const ScaleParams& p);
}  // namespace avx512

}  // namespace cpu
}  // namespace foveal
