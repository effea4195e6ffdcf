// Pooling layers (PyTorch's nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d) on fv.ops.
import * as ops from '../ops'
import { type Tensor, type TensorLike } from '../tensor'
import { describe, rangeError, typeError } from '../validate'
import { Module } from './module'
import { boolArg, noForward, options, pairArg } from './util'

type Pair = number | readonly [number, number]
type Padding = number | readonly [number, number] | readonly [number, number, number, number]

export interface MaxPool2dOptions {
  /** Default: the kernel size. */
  stride?: Pair
  /** Default 0: number | [h, w] | [top, bottom, left, right]; padded cells never win. */
  padding?: Padding
  /** Default 1. */
  dilation?: Pair
  /** Round output sizes up (PyTorch's ceil_mode). Default false. */
  ceilMode?: boolean
}

export interface AvgPool2dOptions {
  stride?: Pair
  padding?: Padding
  ceilMode?: boolean
  /** Divide by the window's size including padded cells (default true) or by its count of input cells. */
  countIncludePad?: boolean
}

function paddingArg (cls: string, v: unknown): Padding {
  if (v === undefined) return 0
  const ok = (d: unknown): boolean => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0
  if (ok(v)) return v as number
  if (Array.isArray(v) && (v.length === 2 || v.length === 4) && v.every(ok)) return v as unknown as Padding
  const what = 'a non-negative integer, [h, w] or [top, bottom, left, right]'
  if (typeof v === 'number' || Array.isArray(v)) rangeError(cls, 'padding', what, describe(v))
  return typeError(cls, 'padding', what, describe(v))
}

/** A pool whose backward needs its input x: caches it, goes back through it once. */
abstract class PoolBase<O> extends Module {
  #x: TensorLike | null = null
  readonly #cls: string

  constructor (cls: string) {
    super()
    this.#cls = cls
  }

  protected abstract opts (): O
  protected abstract f (x: TensorLike, o: O): Tensor
  protected abstract fa (x: TensorLike, o: O): Promise<Tensor>
  protected abstract b (dy: TensorLike, x: TensorLike, o: O): Tensor
  protected abstract ba (dy: TensorLike, x: TensorLike, o: O): Promise<Tensor>

  forward (x: TensorLike): Tensor {
    const y = this.f(x, this.opts())
    this.#x = this.cachesForBackward ? x : null
    return y
  }

  override async forwardAsync (x: TensorLike): Promise<Tensor> {
    const y = await this.fa(x, this.opts())
    this.#x = this.cachesForBackward ? x : null
    return y
  }

  backward (dy: TensorLike): Tensor { return this.b(dy, this.#take(), this.opts()) }
  override backwardAsync (dy: TensorLike): Promise<Tensor> {
    try {
      return this.ba(dy, this.#take(), this.opts())
    } catch (err) {
      return Promise.reject(err)
    }
  }

  #take (): TensorLike {
    const x = this.#x
    if (x === null) noForward(this.#cls)
    this.#x = null
    return x
  }
}

/** Max pooling over x [N, C, H, W]. new MaxPool2d(2) halves H and W. */
export class MaxPool2d extends PoolBase<ops.MaxPool2dGeometryOptions> {
  readonly kernelSize: [number, number]
  readonly stride: [number, number]
  readonly padding: Padding
  readonly dilation: [number, number]
  readonly ceilMode: boolean

  constructor (kernelSize: Pair, opts: MaxPool2dOptions = {}) {
    const cls = 'MaxPool2d'
    super(cls)
    const o = options(cls, opts, ['stride', 'padding', 'dilation', 'ceilMode'])
    this.kernelSize = pairArg(cls, 'kernelSize', kernelSize, undefined)
    this.stride = pairArg(cls, 'stride', o.stride ?? undefined, this.kernelSize)
    this.padding = paddingArg(cls, o.padding)
    this.dilation = pairArg(cls, 'dilation', o.dilation, [1, 1])
    this.ceilMode = boolArg(cls, 'ceilMode', o.ceilMode, false)
  }

  protected opts (): ops.MaxPool2dGeometryOptions {
    return { kernel: this.kernelSize, stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode }
  }

  protected f (x: TensorLike, o: ops.MaxPool2dGeometryOptions): Tensor { return ops.maxPool2d(x, o) }
  protected fa (x: TensorLike, o: ops.MaxPool2dGeometryOptions): Promise<Tensor> { return ops.maxPool2dAsync(x, o) }
  protected b (dy: TensorLike, x: TensorLike, o: ops.MaxPool2dGeometryOptions): Tensor { return ops.maxPool2dBackward(dy, x, o) }
  protected ba (dy: TensorLike, x: TensorLike, o: ops.MaxPool2dGeometryOptions): Promise<Tensor> {
    return ops.maxPool2dBackwardAsync(dy, x, o)
  }
}

/** Average pooling over x [N, C, H, W]. */
export class AvgPool2d extends PoolBase<ops.AvgPool2dGeometryOptions> {
  readonly kernelSize: [number, number]
  readonly stride: [number, number]
  readonly padding: Padding
  readonly ceilMode: boolean
  readonly countIncludePad: boolean

  constructor (kernelSize: Pair, opts: AvgPool2dOptions = {}) {
    const cls = 'AvgPool2d'
    super(cls)
    const o = options(cls, opts, ['stride', 'padding', 'ceilMode', 'countIncludePad'])
    this.kernelSize = pairArg(cls, 'kernelSize', kernelSize, undefined)
    this.stride = pairArg(cls, 'stride', o.stride ?? undefined, this.kernelSize)
    this.padding = paddingArg(cls, o.padding)
    this.ceilMode = boolArg(cls, 'ceilMode', o.ceilMode, false)
    this.countIncludePad = boolArg(cls, 'countIncludePad', o.countIncludePad, true)
  }

  protected opts (): ops.AvgPool2dGeometryOptions {
    return {
      kernel: this.kernelSize, stride: this.stride, padding: this.padding, ceilMode: this.ceilMode,
      countIncludePad: this.countIncludePad
    }
  }

  protected f (x: TensorLike, o: ops.AvgPool2dGeometryOptions): Tensor { return ops.avgPool2d(x, o) }
  protected fa (x: TensorLike, o: ops.AvgPool2dGeometryOptions): Promise<Tensor> { return ops.avgPool2dAsync(x, o) }
  protected b (dy: TensorLike, x: TensorLike, o: ops.AvgPool2dGeometryOptions): Tensor { return ops.avgPool2dBackward(dy, x, o) }
  protected ba (dy: TensorLike, x: TensorLike, o: ops.AvgPool2dGeometryOptions): Promise<Tensor> {
    return ops.avgPool2dBackwardAsync(dy, x, o)
  }
}

/**
 * Average pooling to a fixed output size (PyTorch's bins): outputSize is a number or
 * [h, w], where null keeps that input dim.
 */
export class AdaptiveAvgPool2d extends PoolBase<ops.OutputSize> {
  readonly outputSize: ops.OutputSize

  constructor (outputSize: ops.OutputSize) {
    const cls = 'AdaptiveAvgPool2d'
    super(cls)
    const ok = (d: unknown): boolean => d === null || (typeof d === 'number' && Number.isSafeInteger(d) && d >= 1)
    const what = 'a positive integer or [h, w] of positive integers or null'
    if (typeof outputSize === 'number') {
      if (!ok(outputSize)) rangeError(cls, 'outputSize', what, describe(outputSize))
    } else if (Array.isArray(outputSize) && outputSize.length === 2) {
      if (!outputSize.every(ok)) rangeError(cls, 'outputSize', what, describe(outputSize))
    } else {
      typeError(cls, 'outputSize', what, describe(outputSize))
    }
    this.outputSize = typeof outputSize === 'number' ? outputSize : [outputSize[0], outputSize[1]]
  }

  protected opts (): ops.OutputSize { return this.outputSize }
  protected f (x: TensorLike, o: ops.OutputSize): Tensor { return ops.adaptiveAvgPool2d(x, o) }
  protected fa (x: TensorLike, o: ops.OutputSize): Promise<Tensor> { return ops.adaptiveAvgPool2dAsync(x, o) }
  protected b (dy: TensorLike, x: TensorLike): Tensor { return ops.adaptiveAvgPool2dBackward(dy, x) }
  protected ba (dy: TensorLike, x: TensorLike): Promise<Tensor> { return ops.adaptiveAvgPool2dBackwardAsync(dy, x) }
}
