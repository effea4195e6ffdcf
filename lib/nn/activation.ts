// Element-wise and shape layers without parameters: ReLU, GELU, Sigmoid, Tanh, Softmax,
// Flatten, Dropout (PyTorch's nn.*), each caching the one tensor its backward needs.
import * as ops from '../ops'
import { nextSeed } from '../seed'
import { type Tensor, type TensorLike } from '../tensor'
import { describe, rangeError, typeError } from '../validate'
import { Module } from './module'
import { enumArg, noForward, numArg, options, reshaped, shapeOf } from './util'

/**
 * A layer whose backward is op(dy, saved): `saved` is its input x (ReLU, GELU) or its
 * output y (Sigmoid, Tanh, Softmax). A saved output is the caller's (it was returned), so
 * it is never disposed here.
 */
abstract class Pointwise extends Module {
  #saved: TensorLike | null = null
  readonly #cls: string
  readonly #savesOutput: boolean

  constructor (cls: string, savesOutput: boolean) {
    super()
    this.#cls = cls
    this.#savesOutput = savesOutput
  }

  protected abstract f (x: TensorLike): Tensor
  protected abstract fa (x: TensorLike): Promise<Tensor>
  protected abstract b (dy: TensorLike, saved: TensorLike): Tensor
  protected abstract ba (dy: TensorLike, saved: TensorLike): Promise<Tensor>

  forward (x: TensorLike): Tensor {
    const y = this.f(x)
    this.#saved = this.cachesForBackward ? (this.#savesOutput ? y : x) : null
    return y
  }

  override async forwardAsync (x: TensorLike): Promise<Tensor> {
    const y = await this.fa(x)
    this.#saved = this.cachesForBackward ? (this.#savesOutput ? y : x) : null
    return y
  }

  backward (dy: TensorLike): Tensor { return this.b(dy, this.#take()) }

  override backwardAsync (dy: TensorLike): Promise<Tensor> {
    try {
      return this.ba(dy, this.#take())
    } catch (err) {
      return Promise.reject(err)
    }
  }

  #take (): TensorLike {
    const s = this.#saved
    if (s === null) noForward(this.#cls)
    this.#saved = null
    return s
  }
}

function noOptions (cls: string, opts: unknown): void {
  options(cls, opts, [])
}

/** max(x, 0). */
export class ReLU extends Pointwise {
  constructor (opts?: Record<string, never>) { super('ReLU', false); noOptions('ReLU', opts) }
  protected f (x: TensorLike): Tensor { return ops.relu(x) }
  protected fa (x: TensorLike): Promise<Tensor> { return ops.reluAsync(x) }
  protected b (dy: TensorLike, x: TensorLike): Tensor { return ops.reluBackward(dy, x) }
  protected ba (dy: TensorLike, x: TensorLike): Promise<Tensor> { return ops.reluBackwardAsync(dy, x) }
}

export interface GELUOptions {
  /** 'none' (default: x·Φ(x)) or 'tanh' (the tanh approximation). */
  approximate?: 'none' | 'tanh'
}

/** x·Φ(x), or its tanh approximation. */
export class GELU extends Pointwise {
  readonly approximate: 'none' | 'tanh'
  constructor (opts: GELUOptions = {}) {
    super('GELU', false)
    const o = options('GELU', opts, ['approximate'])
    this.approximate = enumArg('GELU', 'approximate', o.approximate, ['none', 'tanh'], 'none')
  }

  protected f (x: TensorLike): Tensor { return ops.gelu(x, { approximate: this.approximate }) }
  protected fa (x: TensorLike): Promise<Tensor> { return ops.geluAsync(x, { approximate: this.approximate }) }
  protected b (dy: TensorLike, x: TensorLike): Tensor { return ops.geluBackward(dy, x, { approximate: this.approximate }) }
  protected ba (dy: TensorLike, x: TensorLike): Promise<Tensor> {
    return ops.geluBackwardAsync(dy, x, { approximate: this.approximate })
  }
}

/** 1/(1 + e^−x). */
export class Sigmoid extends Pointwise {
  constructor (opts?: Record<string, never>) { super('Sigmoid', true); noOptions('Sigmoid', opts) }
  protected f (x: TensorLike): Tensor { return ops.sigmoid(x) }
  protected fa (x: TensorLike): Promise<Tensor> { return ops.sigmoidAsync(x) }
  protected b (dy: TensorLike, y: TensorLike): Tensor { return ops.sigmoidBackward(dy, y) }
  protected ba (dy: TensorLike, y: TensorLike): Promise<Tensor> { return ops.sigmoidBackwardAsync(dy, y) }
}

/** tanh(x). */
export class Tanh extends Pointwise {
  constructor (opts?: Record<string, never>) { super('Tanh', true); noOptions('Tanh', opts) }
  protected f (x: TensorLike): Tensor { return ops.tanh(x) }
  protected fa (x: TensorLike): Promise<Tensor> { return ops.tanhAsync(x) }
  protected b (dy: TensorLike, y: TensorLike): Tensor { return ops.tanhBackward(dy, y) }
  protected ba (dy: TensorLike, y: TensorLike): Promise<Tensor> { return ops.tanhBackwardAsync(dy, y) }
}

/** softmax along `dim` (required: PyTorch's implicit choice of dim is deprecated there). */
export class Softmax extends Pointwise {
  readonly dim: number
  constructor (dim: number) {
    super('Softmax', true)
    if (typeof dim !== 'number') typeError('Softmax', 'dim', 'an integer', describe(dim))
    if (!Number.isSafeInteger(dim)) rangeError('Softmax', 'dim', 'an integer', describe(dim))
    this.dim = dim
  }

  protected f (x: TensorLike): Tensor { return ops.softmax(x, this.dim) }
  protected fa (x: TensorLike): Promise<Tensor> { return ops.softmaxAsync(x, this.dim) }
  protected b (dy: TensorLike, y: TensorLike): Tensor { return ops.softmaxBackward(dy, y, this.dim) }
  protected ba (dy: TensorLike, y: TensorLike): Promise<Tensor> { return ops.softmaxBackwardAsync(dy, y, this.dim) }
}

export interface FlattenOptions {
  /** The first dim to flatten (default 1: keeps the batch dim). */
  startDim?: number
  /** The last dim to flatten (default −1). */
  endDim?: number
}

/**
 * Flattens dims startDim…endDim into one: a reshape, no copy (the result shares x's
 * memory). new Flatten() or new Flatten({ startDim, endDim }); PyTorch's positional
 * new Flatten(startDim, endDim) works too.
 */
export class Flatten extends Module {
  readonly startDim: number
  readonly endDim: number
  #shape: readonly number[] | null = null

  constructor (startDim?: number | FlattenOptions, endDim?: number) {
    super()
    let s: unknown = startDim; let e: unknown = endDim
    if (startDim !== null && typeof startDim === 'object') {
      const o = options('Flatten', startDim, ['startDim', 'endDim'])
      s = o.startDim; e = o.endDim
    }
    const int = (name: string, v: unknown, fallback: number): number => {
      if (v === undefined) return fallback
      if (typeof v !== 'number') typeError('Flatten', name, 'an integer', describe(v))
      if (!Number.isSafeInteger(v)) rangeError('Flatten', name, 'an integer', describe(v))
      return v
    }
    this.startDim = int('startDim', s, 1)
    this.endDim = int('endDim', e, -1)
  }

  #outShape (shape: readonly number[]): number[] {
    const r = Math.max(shape.length, 1)
    const s = this.startDim < 0 ? this.startDim + r : this.startDim
    const e = this.endDim < 0 ? this.endDim + r : this.endDim
    if (s < 0 || s >= r) rangeError('Flatten', 'startDim', `a dim of x (rank ${shape.length})`, String(this.startDim))
    if (e < 0 || e >= r) rangeError('Flatten', 'endDim', `a dim of x (rank ${shape.length})`, String(this.endDim))
    if (s > e) rangeError('Flatten', 'startDim', `at most endDim (${e}) for x of rank ${shape.length}`, String(this.startDim))
    if (shape.length === 0) return [1]
    let n = 1
    for (let i = s; i <= e; i++) n *= shape[i]!
    return [...shape.slice(0, s), n, ...shape.slice(e + 1)]
  }

  forward (x: TensorLike): Tensor {
    const shape = shapeOf(x)
    const y = reshaped(x, this.#outShape(shape))
    this.#shape = this.cachesForBackward ? shape : null
    return y
  }

  backward (dy: TensorLike): Tensor {
    const shape = this.#shape
    if (shape === null) noForward('Flatten')
    this.#shape = null
    return reshaped(dy, shape)
  }
}

export interface DropoutOptions {
  /** Not supported (foveal's ops never write over their input): false only. */
  inplace?: false
}

/**
 * Zeroes each element with probability p in training and scales the rest by 1/(1 − p);
 * the identity in eval (a Tensor over x's own data, no copy). Each training forward draws a fresh seed
 * from the global stream (fv.manualSeed) and its backward regenerates the same mask.
 */
export class Dropout extends Module {
  readonly p: number
  #seed = -1

  constructor (p = 0.5, opts: DropoutOptions = {}) {
    super()
    const o = options('Dropout', opts, ['inplace'])
    if (o.inplace !== undefined && o.inplace !== false) rangeError('Dropout', 'inplace', 'false', describe(o.inplace))
    this.p = numArg('Dropout', 'p', p, 0.5, 0, 1)
  }

  #seedFor (): number {
    const seed = nextSeed()
    this.#seed = this.cachesForBackward ? seed : -1
    return seed
  }

  forward (x: TensorLike): Tensor {
    if (!this.training) return this.#identity(x)
    return ops.dropout(x, { p: this.p, seed: this.#seedFor() })
  }

  override async forwardAsync (x: TensorLike): Promise<Tensor> {
    if (!this.training) return this.#identity(x)
    return await ops.dropoutAsync(x, { p: this.p, seed: this.#seedFor() })
  }

  backward (dy: TensorLike): Tensor {
    const seed = this.#take()
    return seed === null ? reshaped(dy, shapeOf(dy)) : ops.dropoutBackward(dy, { p: this.p, seed })
  }

  override async backwardAsync (dy: TensorLike): Promise<Tensor> {
    const seed = this.#take()
    return seed === null ? reshaped(dy, shapeOf(dy)) : await ops.dropoutBackwardAsync(dy, { p: this.p, seed })
  }

  // -2: an eval({ grad: true }) forward (the identity's gradient is dy).
  #identity (x: TensorLike): Tensor {
    this.#seed = this.gradInEval ? -2 : -1
    return reshaped(x, shapeOf(x))
  }

  #take (): number | null {
    const seed = this.#seed
    if (seed === -1) noForward('Dropout')
    this.#seed = -1
    return seed === -2 ? null : seed
  }
}
