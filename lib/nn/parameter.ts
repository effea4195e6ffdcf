// Parameter: a trainable tensor and the gradient that backward accumulates into it.
import { keep } from '../lifetime'
import { Tensor } from '../tensor'
import { describe, typeError } from '../validate'

/**
 * A module's trainable tensor (PyTorch's nn.Parameter). `value` is updated in place by the
 * optimizers; `grad` is null until a backward pass accumulates into it, and `zeroGrad()`
 * fills it with zeros rather than dropping it (PyTorch's `set_to_none=False`), so a
 * training step in steady state reuses the same gradient memory.
 */
export class Parameter {
  value: Tensor
  grad: Tensor | null = null
  /** The dotted name within its module tree ('0.weight', 'out_proj.bias'); '' until registered. */
  name: string
  /** False freezes it: backward leaves grad alone and optimizers skip it. */
  requiresGrad: boolean

  constructor (value: Tensor, opts: { name?: string, requiresGrad?: boolean } = {}) {
    if (!(value instanceof Tensor)) typeError('Parameter', 'value', 'a Tensor', describe(value))
    this.value = keep(value)  // parameters outlive any tidy() they were made in
    this.name = opts.name ?? ''
    this.requiresGrad = opts.requiresGrad ?? true
  }

  /** The shape of `value`. */
  get shape (): readonly number[] { return this.value.shape }

  /** Fills `grad` with zeros (keeps its memory); no-op while it is null. */
  zeroGrad (): void {
    if (this.grad !== null) this.grad.data.fill(0)
  }

  /** The gradient tensor, created (zeros, value's shape) on first use. */
  ensureGrad (): Tensor {
    if (this.grad === null) this.grad = keep(new Tensor(new Float32Array(this.value.size), this.value.shape))
    return this.grad
  }
}
