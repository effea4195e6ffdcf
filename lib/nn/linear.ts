// Linear: y = x·wᵀ + b over the last dim (PyTorch's nn.Linear), on fv.ops.linear.
import * as ops from '../ops'
import { type Tensor, type TensorLike } from '../tensor'
import { kaimingUniform_, uniform_ } from './init'
import { Module } from './module'
import { Parameter } from './parameter'
import { boolArg, gradOf, intArg, noForward, options, zeros } from './util'

export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean
}

/** Applies y = x·wᵀ + b to x [..., inFeatures]; weight [outFeatures, inFeatures], bias [outFeatures]. */
export class Linear extends Module {
  readonly inFeatures: number
  readonly outFeatures: number
  weight: Parameter
  bias: Parameter | null
  #x: TensorLike | null = null

  constructor (inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super()
    const o = options('Linear', opts, ['bias'])
    this.inFeatures = intArg('Linear', 'inFeatures', inFeatures)
    this.outFeatures = intArg('Linear', 'outFeatures', outFeatures)
    this.weight = new Parameter(zeros([this.outFeatures, this.inFeatures]))
    this.bias = boolArg('Linear', 'bias', o.bias, true) ? new Parameter(zeros([this.outFeatures])) : null
    this.resetParameters()
  }

  /** PyTorch's defaults: weight kaiming-uniform with a = √5 (U(±1/√in)), bias U(±1/√in). */
  resetParameters (): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5) })
    if (this.bias !== null) {
      const bound = 1 / Math.sqrt(this.inFeatures)
      uniform_(this.bias, -bound, bound)
    }
  }

  forward (x: TensorLike): Tensor {
    const y = ops.linear(x, this.weight.value, this.bias?.value)
    this.#x = this.cachesForBackward ? x : null
    return y
  }

  override async forwardAsync (x: TensorLike): Promise<Tensor> {
    const y = await ops.linearAsync(x, this.weight.value, this.bias?.value)
    this.#x = this.cachesForBackward ? x : null
    return y
  }

  backward (dy: TensorLike): Tensor {
    const x = this.#take()
    return this.#finish(ops.linearBackward(dy, x, this.weight.value, this.#gradOpts()))
  }

  override async backwardAsync (dy: TensorLike): Promise<Tensor> {
    const x = this.#take()
    return this.#finish(await ops.linearBackwardAsync(dy, x, this.weight.value, this.#gradOpts()))
  }

  #take (): TensorLike {
    const x = this.#x
    if (x === null) noForward('Linear')
    this.#x = null
    return x
  }

  #gradOpts (): ops.LinearBackwardOptions {
    const dw = gradOf(this.weight)
    const db = gradOf(this.bias)
    return { out: { dw, db }, accumulate: dw !== undefined || db !== undefined }
  }

  // The gradients not accumulated into a parameter (a frozen weight, no bias) are dropped.
  #finish (g: ops.LinearGrads): Tensor {
    if (g.dw !== this.weight.grad) g.dw.dispose()
    if (this.bias === null || g.db !== this.bias.grad) g.db.dispose()
    return g.dx
  }
}
