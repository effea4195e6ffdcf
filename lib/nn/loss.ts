// Losses as modules (PyTorch's nn.CrossEntropyLoss, nn.MSELoss, nn.BCEWithLogitsLoss) over
// fv.ops.crossEntropy, fv.ops.mse and fv.ops.bceWithLogits: forward(input, target) → the
// loss (a 0-d Tensor for 'mean' / 'sum'), backward(dy = 1) → the gradient of the input.
// Weights are buffers named as PyTorch's (weight, pos_weight), so they are in the state dict.
import * as ops from '../ops'
import { Tensor, type TensorLike } from '../tensor'
import { describe, integerArg, optionalTensorArg, typeError } from '../validate'
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
  /** Class weights [C] (a buffer named 'weight', as PyTorch): see fv.ops.crossEntropy. */
  weight?: TensorLike | null
}

// A weight option as a buffer of the module's own (a copy: later changes to the caller's
// array do not reach it, as PyTorch's registered buffer).
function weightBuffer (m: Module, cls: string, name: string, key: string, value: unknown): void {
  const w = optionalTensorArg(cls, name, value)
  m.registerBuffer(key, w === null ? null : new Tensor(Float32Array.from(w.data), w.shape.slice()))
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
    const o = options(cls, opts, ['reduction', 'labelSmoothing', 'ignoreIndex', 'weight'])
    this.reduction = enumArg(cls, 'reduction', o.reduction, REDUCTIONS, 'mean')
    this.labelSmoothing = numArg(cls, 'labelSmoothing', o.labelSmoothing, 0, 0, 1)
    this.ignoreIndex = o.ignoreIndex === undefined ? -100 : integerArg(cls, 'ignoreIndex', o.ignoreIndex, -(2 ** 31), 2 ** 31 - 1)
    weightBuffer(this, cls, 'weight', 'weight', o.weight)
  }

  #opts (): ops.CrossEntropyOptions {
    const weight = this.getBuffer('weight') as TensorLike | undefined
    return { reduction: this.reduction, labelSmoothing: this.labelSmoothing, ignoreIndex: this.ignoreIndex, weight: weight ?? null }
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

export interface BCEWithLogitsLossOptions {
  /** 'mean' (default: over every element), 'sum', or 'none' (the element-wise losses). */
  reduction?: Reduction
  /** Multiplies each element's loss; broadcast to the input's shape (a buffer 'weight'). */
  weight?: TensorLike | null
  /** The positive term's weight, broadcast along the last dims, usually [C] (a buffer 'pos_weight'). */
  posWeight?: TensorLike | null
}

/**
 * Binary cross-entropy on logits with the sigmoid fused in, numerically stable for any
 * logit (PyTorch's nn.BCEWithLogitsLoss): input and target share a shape, targets in [0, 1].
 */
export class BCEWithLogitsLoss extends Module {
  readonly reduction: Reduction
  #saved: { input: TensorLike, target: TensorLike } | null = null

  constructor (opts: BCEWithLogitsLossOptions = {}) {
    super()
    const cls = 'BCEWithLogitsLoss'
    const o = options(cls, opts, ['reduction', 'weight', 'posWeight'])
    this.reduction = enumArg(cls, 'reduction', o.reduction, REDUCTIONS, 'mean')
    weightBuffer(this, cls, 'weight', 'weight', o.weight)
    weightBuffer(this, cls, 'posWeight', 'pos_weight', o.posWeight)
  }

  #opts (): ops.BceWithLogitsOptions {
    return {
      reduction: this.reduction,
      weight: (this.getBuffer('weight') as TensorLike | undefined) ?? null,
      posWeight: (this.getBuffer('pos_weight') as TensorLike | undefined) ?? null
    }
  }

  forward (input: TensorLike, target: TensorLike): Tensor {
    const loss = ops.bceWithLogits(input, target, this.#opts())
    this.#saved = this.cachesForBackward ? { input, target } : null
    return loss
  }

  override async forwardAsync (input: TensorLike, target: TensorLike): Promise<Tensor> {
    const loss = await ops.bceWithLogitsAsync(input, target, this.#opts())
    this.#saved = this.cachesForBackward ? { input, target } : null
    return loss
  }

  /** The gradient of the input, given the loss's (a number or a tensor of the loss's shape; default 1). */
  backward (dy: number | TensorLike = 1): Tensor {
    const s = this.#take(dy)
    return ops.bceWithLogitsBackward(dy, s.input, s.target, this.#opts())
  }

  override async backwardAsync (dy: number | TensorLike = 1): Promise<Tensor> {
    const s = this.#take(dy)
    return await ops.bceWithLogitsBackwardAsync(dy, s.input, s.target, this.#opts())
  }

  #take (dy: unknown): { input: TensorLike, target: TensorLike } {
    if (dy === null || (typeof dy !== 'number' && typeof dy !== 'object')) {
      typeError('BCEWithLogitsLoss', 'dy', 'a number or a tensor', describe(dy))
    }
    const s = this.#saved
    if (s === null) noForward('BCEWithLogitsLoss')
    this.#saved = null
    return s
  }
}
