// Convolution layers (PyTorch's nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d) on fv.ops'
// conv1d / conv2d / conv2dTranspose and their backwards, with PyTorch's weight layouts,
// defaults and initialisation.
import * as ops from '../ops'
import { type Tensor, type TensorLike } from '../tensor'
import { describe, rangeError, typeError } from '../validate'
import { kaimingUniform_, uniform_ } from './init'
import { Module } from './module'
import { Parameter } from './parameter'
import { boolArg, fans, gradOf, intArg, noForward, options, pairArg, zeros } from './util'

type Pair = number | readonly [number, number]

export interface Conv2dOptions {
  /** Default 1. */
  stride?: Pair
  /**
   * Default 0: number | [h, w] | [top, bottom, left, right] | 'valid' | 'same' ('same' with
   * stride > 1 pads as ONNX SAME_UPPER, where PyTorch refuses it).
   */
  padding?: ops.Conv2dPadding
  /** Default 1. */
  dilation?: Pair
  /** Default 1; divides both channel counts. */
  groups?: number
  /** Default true. */
  bias?: boolean
  /** Only 'zeros' (the default) is supported. */
  paddingMode?: 'zeros'
}

export interface Conv1dOptions {
  stride?: number
  /** Default 0: number | [left, right] | 'valid' | 'same'. */
  padding?: number | readonly [number, number] | 'same' | 'valid'
  dilation?: number
  groups?: number
  bias?: boolean
  paddingMode?: 'zeros'
}

export interface ConvTranspose2dOptions {
  stride?: Pair
  /** Default 0: number | [h, w] | [top, bottom, left, right], cropped from the full output. */
  padding?: number | readonly [number, number] | readonly [number, number, number, number]
  /** Extra rows/columns at the bottom/right of the output, each below the stride or the dilation. Default 0. */
  outputPadding?: Pair
  groups?: number
  bias?: boolean
  dilation?: Pair
  paddingMode?: 'zeros'
}

interface ConvOps<G> {
  f: (x: TensorLike, w: TensorLike, b: TensorLike | null | undefined, o: G) => Tensor
  fa: (x: TensorLike, w: TensorLike, b: TensorLike | null | undefined, o: G) => Promise<Tensor>
  b: (dy: TensorLike, x: TensorLike, w: TensorLike, o: G & ops.ConvBackwardOut) => ops.ConvGrads
  ba: (dy: TensorLike, x: TensorLike, w: TensorLike, o: G & ops.ConvBackwardOut) => Promise<ops.ConvGrads>
}

function paddingModeArg (cls: string, v: unknown): 'zeros' {
  if (v === undefined || v === 'zeros') return 'zeros'
  if (typeof v !== 'string') typeError(cls, 'paddingMode', "'zeros'", describe(v))
  return rangeError(cls, 'paddingMode', "'zeros' (reflect, replicate and circular padding are not supported)", describe(v))
}

function checkGroups (cls: string, groups: number, inC: number, outC: number): void {
  if (inC % groups !== 0) rangeError(cls, 'groups', `a divisor of inChannels=${inC}`, String(groups))
  if (outC % groups !== 0) rangeError(cls, 'groups', `a divisor of outChannels=${outC}`, String(groups))
}

// The padding forms conv2d takes: number | [h, w] | [t, b, l, r] | 'same' | 'valid'.
function conv2dPaddingArg (cls: string, v: unknown, four: boolean, strings: boolean): ops.Conv2dPadding {
  if (v === undefined) return 0
  if (strings && (v === 'same' || v === 'valid')) return v
  const ok = (d: unknown): boolean => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0
  if (ok(v)) return v as number
  if (Array.isArray(v) && (v.length === 2 || (four && v.length === 4)) && v.every(ok)) return v as unknown as ops.Conv2dPadding
  const what = `a non-negative integer, [h, w]${four ? ', [top, bottom, left, right]' : ''}${strings ? ", 'same' or 'valid'" : ''}`
  if (typeof v === 'string' || typeof v === 'number' || Array.isArray(v)) rangeError(cls, 'padding', what, describe(v))
  return typeError(cls, 'padding', what, describe(v))
}

/** The shared body of the convolution layers: parameters, caching, backward with accumulation. */
abstract class ConvBase<G extends object> extends Module {
  weight: Parameter
  bias: Parameter | null
  #x: TensorLike | null = null
  readonly #cls: string
  readonly #ops: ConvOps<G>

  constructor (cls: string, weightShape: number[], biasSize: number, bias: boolean, convOps: ConvOps<G>) {
    super()
    this.#cls = cls
    this.#ops = convOps
    this.weight = new Parameter(zeros(weightShape))
    this.bias = bias ? new Parameter(zeros([biasSize])) : null
  }

  /** The geometry options handed to the ops. */
  protected abstract geometry (): G

  /** PyTorch's defaults: weight kaiming-uniform with a = √5, bias U(±1/√fanIn) (fanIn from the weight's dims 1…). */
  resetParameters (): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5) })
    if (this.bias !== null) {
      const [fanIn] = fans(this.#cls, this.weight.value.shape)
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0
      uniform_(this.bias, -bound, bound)
    }
  }

  forward (x: TensorLike): Tensor {
    const y = this.#ops.f(x, this.weight.value, this.bias?.value, this.geometry())
    this.#x = this.cachesForBackward ? x : null
    return y
  }

  override async forwardAsync (x: TensorLike): Promise<Tensor> {
    const y = await this.#ops.fa(x, this.weight.value, this.bias?.value, this.geometry())
    this.#x = this.cachesForBackward ? x : null
    return y
  }

  backward (dy: TensorLike): Tensor {
    const [x, o] = this.#args()
    return this.#finish(this.#ops.b(dy, x, this.weight.value, o))
  }

  override async backwardAsync (dy: TensorLike): Promise<Tensor> {
    const [x, o] = this.#args()
    return this.#finish(await this.#ops.ba(dy, x, this.weight.value, o))
  }

  #args (): [TensorLike, G & ops.ConvBackwardOut] {
    const x = this.#x
    if (x === null) noForward(this.#cls)
    this.#x = null
    const dw = gradOf(this.weight)
    const db = gradOf(this.bias)
    return [x, { ...this.geometry(), out: { dw, db }, accumulate: dw !== undefined || db !== undefined }]
  }

  #finish (g: ops.ConvGrads): Tensor {
    if (g.dw !== this.weight.grad) g.dw.dispose()
    if (this.bias === null || g.db !== this.bias.grad) g.db.dispose()
    return g.dx
  }
}

const CONV2D_KEYS = ['stride', 'padding', 'dilation', 'groups', 'bias', 'paddingMode'] as const

/**
 * 2-D convolution over x [N, inChannels, H, W]: weight [outChannels, inChannels/groups, kh, kw],
 * bias [outChannels]. new Conv2d(1, 8, 3, { padding: 1 }).
 */
export class Conv2d extends ConvBase<ops.Conv2dGeometryOptions> {
  readonly inChannels: number
  readonly outChannels: number
  readonly kernelSize: [number, number]
  readonly stride: [number, number]
  readonly padding: ops.Conv2dPadding
  readonly dilation: [number, number]
  readonly groups: number
  readonly paddingMode: 'zeros'

  constructor (inChannels: number, outChannels: number, kernelSize: Pair, opts: Conv2dOptions = {}) {
    const cls = 'Conv2d'
    const o = options(cls, opts, CONV2D_KEYS)
    const inC = intArg(cls, 'inChannels', inChannels)
    const outC = intArg(cls, 'outChannels', outChannels)
    const k = pairArg(cls, 'kernelSize', kernelSize, undefined)
    const groups = o.groups === undefined ? 1 : intArg(cls, 'groups', o.groups)
    checkGroups(cls, groups, inC, outC)
    super(cls, [outC, inC / groups, k[0], k[1]], outC, boolArg(cls, 'bias', o.bias, true), {
      f: ops.conv2d, fa: ops.conv2dAsync, b: ops.conv2dBackward, ba: ops.conv2dBackwardAsync
    })
    this.inChannels = inC
    this.outChannels = outC
    this.kernelSize = k
    this.stride = pairArg(cls, 'stride', o.stride, [1, 1])
    this.padding = conv2dPaddingArg(cls, o.padding, true, true)
    this.dilation = pairArg(cls, 'dilation', o.dilation, [1, 1])
    this.groups = groups
    this.paddingMode = paddingModeArg(cls, o.paddingMode)
    this.resetParameters()
  }

  protected geometry (): ops.Conv2dGeometryOptions {
    return { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups }
  }
}

/**
 * 1-D convolution over x [N, inChannels, L]: weight [outChannels, inChannels/groups, k],
 * bias [outChannels].
 */
export class Conv1d extends ConvBase<ops.Conv1dGeometryOptions> {
  readonly inChannels: number
  readonly outChannels: number
  readonly kernelSize: number
  readonly stride: number
  readonly padding: number | readonly [number, number] | 'same' | 'valid'
  readonly dilation: number
  readonly groups: number
  readonly paddingMode: 'zeros'

  constructor (inChannels: number, outChannels: number, kernelSize: number | readonly [number], opts: Conv1dOptions = {}) {
    const cls = 'Conv1d'
    const o = options(cls, opts, CONV2D_KEYS)
    const inC = intArg(cls, 'inChannels', inChannels)
    const outC = intArg(cls, 'outChannels', outChannels)
    const k = intArg(cls, 'kernelSize', Array.isArray(kernelSize) && kernelSize.length === 1 ? kernelSize[0] : kernelSize)
    const groups = o.groups === undefined ? 1 : intArg(cls, 'groups', o.groups)
    checkGroups(cls, groups, inC, outC)
    super(cls, [outC, inC / groups, k], outC, boolArg(cls, 'bias', o.bias, true), {
      f: ops.conv1d, fa: ops.conv1dAsync, b: ops.conv1dBackward, ba: ops.conv1dBackwardAsync
    })
    this.inChannels = inC
    this.outChannels = outC
    this.kernelSize = k
    this.stride = o.stride === undefined ? 1 : intArg(cls, 'stride', o.stride)
    this.padding = conv2dPaddingArg(cls, o.padding, false, true) as Conv1d['padding']
    this.dilation = o.dilation === undefined ? 1 : intArg(cls, 'dilation', o.dilation)
    this.groups = groups
    this.paddingMode = paddingModeArg(cls, o.paddingMode)
    this.resetParameters()
  }

  protected geometry (): ops.Conv1dGeometryOptions {
    return { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups }
  }
}

/**
 * Transposed 2-D convolution (the gradient of a convolution w.r.t. its input) over
 * x [N, inChannels, H, W]: weight [inChannels, outChannels/groups, kh, kw] (PyTorch's
 * layout), bias [outChannels].
 */
export class ConvTranspose2d extends ConvBase<ops.Conv2dTransposeGeometryOptions> {
  readonly inChannels: number
  readonly outChannels: number
  readonly kernelSize: [number, number]
  readonly stride: [number, number]
  readonly padding: number | readonly [number, number] | readonly [number, number, number, number]
  readonly outputPadding: [number, number]
  readonly dilation: [number, number]
  readonly groups: number
  readonly paddingMode: 'zeros'

  constructor (inChannels: number, outChannels: number, kernelSize: Pair, opts: ConvTranspose2dOptions = {}) {
    const cls = 'ConvTranspose2d'
    const o = options(cls, opts, ['stride', 'padding', 'outputPadding', 'groups', 'bias', 'dilation', 'paddingMode'])
    const inC = intArg(cls, 'inChannels', inChannels)
    const outC = intArg(cls, 'outChannels', outChannels)
    const k = pairArg(cls, 'kernelSize', kernelSize, undefined)
    const groups = o.groups === undefined ? 1 : intArg(cls, 'groups', o.groups)
    checkGroups(cls, groups, inC, outC)
    super(cls, [inC, outC / groups, k[0], k[1]], outC, boolArg(cls, 'bias', o.bias, true), {
      f: ops.conv2dTranspose, fa: ops.conv2dTransposeAsync, b: ops.conv2dTransposeBackward, ba: ops.conv2dTransposeBackwardAsync
    })
    this.inChannels = inC
    this.outChannels = outC
    this.kernelSize = k
    this.stride = pairArg(cls, 'stride', o.stride, [1, 1])
    this.padding = conv2dPaddingArg(cls, o.padding, true, false) as ConvTranspose2d['padding']
    this.outputPadding = pairArg(cls, 'outputPadding', o.outputPadding, [0, 0], 0)
    this.dilation = pairArg(cls, 'dilation', o.dilation, [1, 1])
    for (let i = 0; i < 2; i++) {
      if (this.outputPadding[i]! >= Math.max(this.stride[i]!, this.dilation[i]!)) {
        rangeError(cls, 'outputPadding', 'smaller than either stride or dilation', describe(o.outputPadding))
      }
    }
    this.groups = groups
    this.paddingMode = paddingModeArg(cls, o.paddingMode)
    this.resetParameters()
  }

  protected geometry (): ops.Conv2dTransposeGeometryOptions {
    return {
      stride: this.stride, padding: this.padding, outputPadding: this.outputPadding, dilation: this.dilation, groups: this.groups
    }
  }
}
