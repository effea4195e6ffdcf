// Losses as modules (PyTorch's nn.CrossEntropyLoss, nn.MSELoss) over fv.ops.crossEntropy
// and fv.ops.mse: forward(input, target) → the loss (a 0-d Tensor for 'mean' / 'sum'),
// backward(dy = 1) → the gradient of the input.
import * as ops from '../ops'
import { type Tensor, type TensorLike } from '../tensor'
import { describe, integerArg, typeError } from '../validate'
import { Module } from './module'
import { enumArg, noForward, numArg, options } from './util'

type Reduction = 'mean' | 'sum' | 'none'
const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none']

export interface CrossEntropyLossOptions {
  /** 'mean' (default: over the rows not ignored), 'sum', or 'none' (the [N] per-row losses). */
  reduction?: Reduction
  /** ε in [0, 1]: the target is (1−ε)·onehot + ε/C (default 0). */
  labelSmoothing?: number
  /** Rows whose label is this contribute nothing and get zero gradient (default −100). */
  ignoreIndex?: number
}

/** Cross-entropy of logits [N, C] against class labels (an Int32Array [N]), the log-softmax fused in. */
export class CrossEntropyLoss extends Module {
  readonly reduction: Reduction
  readonly labelSmoothing: number
  readonly ignoreIndex: number
  #saved: { logits: TensorLike, labels: Int32Array } | null = null

  constructor (opts: CrossEntropyLossOptions = {}) {
    super()
    const cls = 'CrossEntropyLoss'
    const o = options(cls, opts, ['reduction', 'labelSmoothing', 'ignoreIndex'])
    this.reduction = enumArg(cls, 'reduction', o.reduction, REDUCTIONS, 'mean')
    this.labelSmoothing = numArg(cls, 'labelSmoothing', o.labelSmoothing, 0, 0, 1)
    this.ignoreIndex = o.ignoreIndex === undefined ? -100 : integerArg(cls, 'ignoreIndex', o.ignoreIndex, -(2 ** 31), 2 ** 31 - 1)
  }

  #opts (): ops.CrossEntropyOptions {
    return { reduction: this.reduction, labelSmoothing: this.labelSmoothing, ignoreIndex: this.ignoreIndex }
  }

  forward (input: TensorLike, target: Int32Array): Tensor {
    const loss = ops.crossEntropy(input, target, this.#opts())
    this.#saved = this.cachesForBackward ? { logits: input, labels: target } : null
    return loss
  }

  override async forwardAsync (input: TensorLike, target: Int32Array): Promise<Tensor> {
    const loss = await ops.crossEntropyAsync(input, target, this.#opts())
    this.#saved = this.cachesForBackward ? { logits: input, labels: target } : null
    return loss
  }

  /** The gradient of the logits, given the loss's (a number or a tensor of the loss's shape; default 1). */
  backward (dy: number | TensorLike = 1): Tensor {
    const s = this.#take(dy)
    return ops.crossEntropyBackward(dy, s.logits, s.labels, this.#opts())
  }

  override async backwardAsync (dy: number | TensorLike = 1): Promise<Tensor> {
    const s = this.#take(dy)
    return await ops.crossEntropyBackwardAsync(dy, s.logits, s.labels, this.#opts())
  }

  #take (dy: unknown): { logits: TensorLike, labels: Int32Array } {
    if (dy === null || (typeof dy !== 'number' && typeof dy !== 'object')) {
      typeError('CrossEntropyLoss', 'dy', 'a number or a tensor', describe(dy))
    }
    const s = this.#saved
    if (s === null) noForward('CrossEntropyLoss')
    this.#saved = null
    return s
  }
}

export interface MSELossOptions {
  /** 'mean' (default), 'sum', or 'none' (the element-wise squared errors). */
  reduction?: Reduction
}

/** Mean (or summed, or element-wise) squared error between input and target (same shapes). */
export class MSELoss extends Module {
  readonly reduction: Reduction
  #saved: { input: TensorLike, target: TensorLike } | null = null

  constructor (opts: MSELossOptions = {}) {
    super()
    const o = options('MSELoss', opts, ['reduction'])
    this.reduction = enumArg('MSELoss', 'reduction', o.reduction, REDUCTIONS, 'mean')
  }

  forward (input: TensorLike, target: TensorLike): Tensor {
    const loss = ops.mse(input, target, { reduction: this.reduction })
    this.#saved = this.cachesForBackward ? { input, target } : null
    return loss
  }

  override async forwardAsync (input: TensorLike, target: TensorLike): Promise<Tensor> {
    const loss = await ops.mseAsync(input, target, { reduction: this.reduction })
    this.#saved = this.cachesForBackward ? { input, target } : null
    return loss
  }

  /** The gradient of the input, given the loss's (a number or a tensor of the loss's shape; default 1). */
  backward (dy: number | TensorLike = 1): Tensor {
    const s = this.#take(dy)
    return ops.mseBackward(dy, s.input, s.target, { reduction: this.reduction })
  }

  override async backwardAsync (dy: number | TensorLike = 1): Promise<Tensor> {
    const s = this.#take(dy)
    return await ops.mseBackwardAsync(dy, s.input, s.target, { reduction: this.reduction })
  }

  #take (dy: unknown): { input: TensorLike, target: TensorLike } {
    if (dy === null || (typeof dy !== 'number' && typeof dy !== 'object')) {
      typeError('MSELoss', 'dy', 'a number or a tensor', describe(dy))
    }
    const s = this.#saved
    if (s === null) noForward('MSELoss')
    this.#saved = null
    return s
  }
}
