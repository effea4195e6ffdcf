// Normalisation layers (PyTorch's nn.LayerNorm, nn.BatchNorm2d, nn.GroupNorm) on fv.ops.
// Their backwards recompute the statistics from x, so x is all they cache.
import * as ops from '../ops'
import { Tensor, type TensorLike } from '../tensor'
import { describe, fmtShape, rangeError, typeError } from '../validate'
import { ones_, zeros_ } from './init'
import { Module } from './module'
import { Parameter } from './parameter'
import { boolArg, gradOf, intArg, noForward, numArg, options, shapeOf, zeros } from './util'

type Cached = { x: TensorLike, training: boolean } | null

// Accumulates dweight / dbias into the parameters' grads; drops what was not accumulated.
function normGradArgs (weight: Parameter | null, bias: Parameter | null): ops.NormBackwardOut {
  const dweight = gradOf(weight)
  const dbias = gradOf(bias)
  return { out: { dweight, dbias }, accumulate: dweight !== undefined || dbias !== undefined }
}

function finishNorm (g: ops.NormGrads, weight: Parameter | null, bias: Parameter | null): Tensor {
  if (weight === null || g.dweight !== weight.grad) g.dweight.dispose()
  if (bias === null || g.dbias !== bias.grad) g.dbias.dispose()
  return g.dx
}

const epsArg = (cls: string, v: unknown): number => numArg(cls, 'eps', v, 1e-5, 0, 1e30)

export interface LayerNormOptions {
  /** Default 1e-5. */
  eps?: number
  /** Learn a weight (ones) and a bias (zeros) of normalizedShape (default true). */
  elementwiseAffine?: boolean
  /** With elementwiseAffine, learn the bias too (default true). */
  bias?: boolean
}

/** Normalises over the trailing dims normalizedShape of x [..., *normalizedShape]. */
export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[]
  readonly eps: number
  readonly elementwiseAffine: boolean
  weight: Parameter | null
  bias: Parameter | null
  #x: TensorLike | null = null

  constructor (normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super()
    const cls = 'LayerNorm'
    const o = options(cls, opts, ['eps', 'elementwiseAffine', 'bias'])
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape
    if (!Array.isArray(shape) || shape.length === 0) {
      typeError(cls, 'normalizedShape', 'a positive integer or a non-empty array of them', describe(normalizedShape))
    }
    shape.forEach((d, i) => intArg(cls, `normalizedShape[${i}]`, d))
    this.normalizedShape = Object.freeze(shape.slice())
    this.eps = epsArg(cls, o.eps)
    this.elementwiseAffine = boolArg(cls, 'elementwiseAffine', o.elementwiseAffine, true)
    const withBias = boolArg(cls, 'bias', o.bias, true)
    this.weight = this.elementwiseAffine ? new Parameter(zeros(this.normalizedShape)) : null
    this.bias = this.elementwiseAffine && withBias ? new Parameter(zeros(this.normalizedShape)) : null
    this.resetParameters()
  }

  /** weight ← 1, bias ← 0. */
  resetParameters (): void {
    if (this.weight !== null) ones_(this.weight)
    if (this.bias !== null) zeros_(this.bias)
  }

  forward (x: TensorLike): Tensor {
    const y = ops.layerNorm(x, this.normalizedShape, this.weight?.value, this.bias?.value, { eps: this.eps })
    this.#x = this.cachesForBackward ? x : null
    return y
  }

  override async forwardAsync (x: TensorLike): Promise<Tensor> {
    const y = await ops.layerNormAsync(x, this.normalizedShape, this.weight?.value, this.bias?.value, { eps: this.eps })
    this.#x = this.cachesForBackward ? x : null
    return y
  }

  backward (dy: TensorLike): Tensor {
    const x = this.#take()
    return finishNorm(ops.layerNormBackward(dy, x, this.normalizedShape, this.weight?.value,
      { eps: this.eps, ...normGradArgs(this.weight, this.bias) }), this.weight, this.bias)
  }

  override async backwardAsync (dy: TensorLike): Promise<Tensor> {
    const x = this.#take()
    return finishNorm(await ops.layerNormBackwardAsync(dy, x, this.normalizedShape, this.weight?.value,
      { eps: this.eps, ...normGradArgs(this.weight, this.bias) }), this.weight, this.bias)
  }

  #take (): TensorLike {
    const x = this.#x
    if (x === null) noForward('LayerNorm')
    this.#x = null
    return x
  }
}

export interface BatchNorm2dOptions {
  /** Default 1e-5. */
  eps?: number
  /** The running statistics' update weight (default 0.1); null: a cumulative average over the batches seen. */
  momentum?: number | null
  /** Learn a weight (ones) and a bias (zeros) per channel (default true). */
  affine?: boolean
  /** Keep running statistics for eval (default true); false: batch statistics always. */
  trackRunningStats?: boolean
}

/**
 * Batch normalisation of x [N, C, H, W] per channel. Buffers running_mean (zeros),
 * running_var (ones) and num_batches_tracked (an I64 scalar, counted in training as
 * PyTorch does).
 */
export class BatchNorm2d extends Module {
  readonly numFeatures: number
  readonly eps: number
  readonly momentum: number | null
  readonly affine: boolean
  readonly trackRunningStats: boolean
  weight: Parameter | null
  bias: Parameter | null
  #cache: Cached = null

  constructor (numFeatures: number, opts: BatchNorm2dOptions = {}) {
    super()
    const cls = 'BatchNorm2d'
    const o = options(cls, opts, ['eps', 'momentum', 'affine', 'trackRunningStats'])
    this.numFeatures = intArg(cls, 'numFeatures', numFeatures)
    this.eps = epsArg(cls, o.eps)
    this.momentum = o.momentum === null ? null : numArg(cls, 'momentum', o.momentum, 0.1, 0, 1)
    this.affine = boolArg(cls, 'affine', o.affine, true)
    this.trackRunningStats = boolArg(cls, 'trackRunningStats', o.trackRunningStats, true)
    const C = this.numFeatures
    this.weight = this.affine ? new Parameter(zeros([C])) : null
    this.bias = this.affine ? new Parameter(zeros([C])) : null
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', zeros([C]))
      this.registerBuffer('running_var', zeros([C]))
      this.registerBuffer('num_batches_tracked', { data: new BigInt64Array(1), shape: Object.freeze([]) })
    }
    this.resetParameters()
  }

  /** The running mean [C] (null without trackRunningStats). */
  get runningMean (): Tensor | null { return (this.getBuffer('running_mean') as Tensor | undefined) ?? null }
  /** The running (unbiased) variance [C] (null without trackRunningStats). */
  get runningVar (): Tensor | null { return (this.getBuffer('running_var') as Tensor | undefined) ?? null }
  /** Training batches seen (0n without trackRunningStats). */
  get numBatchesTracked (): bigint {
    const b = this.getBuffer('num_batches_tracked')
    return b !== undefined ? (b.data as BigInt64Array)[0]! : 0n
  }

  /** running_mean ← 0, running_var ← 1, num_batches_tracked ← 0. */
  resetRunningStats (): void {
    if (!this.trackRunningStats) return
    this.runningMean!.data.fill(0)
    this.runningVar!.data.fill(1)
    ;(this.getBuffer('num_batches_tracked')!.data as BigInt64Array)[0] = 0n
  }

  /** The running statistics reset, weight ← 1, bias ← 0. */
  resetParameters (): void {
    this.resetRunningStats()
    if (this.weight !== null) ones_(this.weight)
    if (this.bias !== null) zeros_(this.bias)
  }

  // Batch statistics in training, and always without running statistics (PyTorch). The
  // batch count goes up once the op has run (a refused input counts no batch).
  #forwardArgs (x: TensorLike): { args: Parameters<typeof ops.batchNorm2d>, batchStats: boolean, counts: boolean } {
    const shape = shapeOf(x)
    if (shape.length !== 4 || shape[1] !== this.numFeatures) {
      rangeError('BatchNorm2d', 'x', `[N, C, H, W] with C=${this.numFeatures}`, fmtShape(shape))
    }
    const batchStats = this.training || !this.trackRunningStats
    const counts = this.training && this.trackRunningStats
    let momentum = this.momentum ?? 0
    if (counts && this.momentum === null) momentum = 1 / Number(this.numBatchesTracked + 1n)
    const track = this.trackRunningStats
    return {
      args: [x, track ? this.runningMean : null, track ? this.runningVar : null, this.weight?.value, this.bias?.value,
        { training: batchStats, momentum, eps: this.eps }],
      batchStats,
      counts
    }
  }

  #after (x: TensorLike, batchStats: boolean, counts: boolean): void {
    if (counts) {
      const nbt = this.getBuffer('num_batches_tracked')!.data as BigInt64Array
      nbt[0] = nbt[0]! + 1n
    }
    this.#cache = this.cachesForBackward ? { x, training: batchStats } : null
  }

  forward (x: TensorLike): Tensor {
    const p = this.#forwardArgs(x)
    const y = ops.batchNorm2d(...p.args)
    this.#after(x, p.batchStats, p.counts)
    return y
  }

  override async forwardAsync (x: TensorLike): Promise<Tensor> {
    const p = this.#forwardArgs(x)
    const y = await ops.batchNorm2dAsync(...p.args)
    this.#after(x, p.batchStats, p.counts)
    return y
  }

  #backwardArgs (dy: TensorLike): Parameters<typeof ops.batchNorm2dBackward> {
    const c = this.#cache
    if (c === null) noForward('BatchNorm2d')
    this.#cache = null
    return [dy, c.x, c.training ? null : this.runningMean, c.training ? null : this.runningVar, this.weight?.value,
      { training: c.training, eps: this.eps, ...normGradArgs(this.weight, this.bias) }]
  }

  backward (dy: TensorLike): Tensor {
    return finishNorm(ops.batchNorm2dBackward(...this.#backwardArgs(dy)), this.weight, this.bias)
  }

  override async backwardAsync (dy: TensorLike): Promise<Tensor> {
    const a = this.#backwardArgs(dy)
    return finishNorm(await ops.batchNorm2dBackwardAsync(...a), this.weight, this.bias)
  }
}

export interface GroupNormOptions {
  /** Default 1e-5. */
  eps?: number
  /** Learn a weight (ones) and a bias (zeros) per channel (default true). */
  affine?: boolean
}

/** Group normalisation of x [N, C, ...]: statistics per sample over each group of C/numGroups channels. */
export class GroupNorm extends Module {
  readonly numGroups: number
  readonly numChannels: number
  readonly eps: number
  readonly affine: boolean
  weight: Parameter | null
  bias: Parameter | null
  #x: TensorLike | null = null

  constructor (numGroups: number, numChannels: number, opts: GroupNormOptions = {}) {
    super()
    const cls = 'GroupNorm'
    const o = options(cls, opts, ['eps', 'affine'])
    this.numGroups = intArg(cls, 'numGroups', numGroups)
    this.numChannels = intArg(cls, 'numChannels', numChannels)
    if (this.numChannels % this.numGroups !== 0) {
      rangeError(cls, 'numGroups', `a divisor of numChannels=${this.numChannels}`, String(numGroups))
    }
    this.eps = epsArg(cls, o.eps)
    this.affine = boolArg(cls, 'affine', o.affine, true)
    this.weight = this.affine ? new Parameter(zeros([this.numChannels])) : null
    this.bias = this.affine ? new Parameter(zeros([this.numChannels])) : null
    this.resetParameters()
  }

  /** weight ← 1, bias ← 0. */
  resetParameters (): void {
    if (this.weight !== null) ones_(this.weight)
    if (this.bias !== null) zeros_(this.bias)
  }

  #check (x: TensorLike): void {
    const shape = shapeOf(x)
    if (shape.length < 2 || shape[1] !== this.numChannels) {
      rangeError('GroupNorm', 'x', `[N, C, ...] with C=${this.numChannels}`, fmtShape(shape))
    }
  }

  forward (x: TensorLike): Tensor {
    this.#check(x)
    const y = ops.groupNorm(x, this.numGroups, this.weight?.value, this.bias?.value, { eps: this.eps })
    this.#x = this.cachesForBackward ? x : null
    return y
  }

  override async forwardAsync (x: TensorLike): Promise<Tensor> {
    this.#check(x)
    const y = await ops.groupNormAsync(x, this.numGroups, this.weight?.value, this.bias?.value, { eps: this.eps })
    this.#x = this.cachesForBackward ? x : null
    return y
  }

  backward (dy: TensorLike): Tensor {
    const x = this.#take()
    return finishNorm(ops.groupNormBackward(dy, x, this.numGroups, this.weight?.value,
      { eps: this.eps, ...normGradArgs(this.weight, this.bias) }), this.weight, this.bias)
  }

  override async backwardAsync (dy: TensorLike): Promise<Tensor> {
    const x = this.#take()
    return finishNorm(await ops.groupNormBackwardAsync(dy, x, this.numGroups, this.weight?.value,
      { eps: this.eps, ...normGradArgs(this.weight, this.bias) }), this.weight, this.bias)
  }

  #take (): TensorLike {
    const x = this.#x
    if (x === null) noForward('GroupNorm')
    this.#x = null
    return x
  }
}
