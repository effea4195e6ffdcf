// conv: conv2d (NCHW, PyTorch's weight layout and defaults), its backward, the transposed
// convolution and its backward, and conv1d over [N, C, L] as the H = 1 case of the same
// kernels. Every option is resolved here into one geometry array in the forward
// convolution's terms (lib/ops/spatial.ts); the native side re-checks it.
import { binding, type NativeOps, type RawConvGrads } from '../native'
import type { Shape, Tensor, TensorLike } from '../tensor'
import {
  booleanArg, describe, fmtShape, integerArg, optionalTensorArg, optionsArg, outArg, rangeError, sameShape,
  tensorArg, typeError, type Checked, outsArg
} from '../validate'
import { defineOp, resultTensor } from './define'
import {
  activationArg, checkFits, convOutSize, paddingArg, pairArg, rank4, samePads, singleArg,
  type ConvGeometry, type Pads
} from './spatial'

export type Pair = number | readonly [number, number]
export type Conv2dPadding = number | readonly [number, number] | readonly [number, number, number, number] |
  'same' | 'valid'

export interface Conv2dGeometryOptions {
  /** Default 1. */
  stride?: Pair
  /**
   * Default 0. number | [h, w] | [top, bottom, left, right] | 'valid' (0) | 'same' (the
   * output is ceil(in / stride); the padding splits evenly with the odd pixel at the end,
   * ONNX SAME_UPPER, which at stride 1 is PyTorch's 'same').
   */
  padding?: Conv2dPadding
  /** Default 1. */
  dilation?: Pair
  /** Default 1; must divide both channel counts. groups = C = Cout is a depthwise convolution. */
  groups?: number
}

export interface Conv2dOptions extends Conv2dGeometryOptions {
  /** Fused activation: 'none' (default) or 'relu'. */
  activation?: 'none' | 'relu'
  /** A tensor of the result's shape to write into instead of allocating one. */
  out?: TensorLike
}

export interface ConvGrads {
  /** Gradient w.r.t. x, shaped like x. */
  dx: Tensor
  /** Gradient w.r.t. w, shaped like w. */
  dw: Tensor
  /** Gradient w.r.t. the bias, [channels of the result] (returned whether or not the forward had one). */
  db: Tensor
}

export interface ConvBackwardOut {
  /** Tensors to write the gradients into (each optional). */
  out?: { dx?: TensorLike, dw?: TensorLike, db?: TensorLike }
  /**
   * Add each gradient given in `out` into it instead of overwriting it (at least one
   * required); the gradients not given are fresh results. So a module adds dw and db into
   * the gradients it holds while dx comes back new.
   */
  accumulate?: boolean
}

export type Conv2dBackwardOptions = Conv2dGeometryOptions & ConvBackwardOut

export interface Conv2dTransposeGeometryOptions {
  /** Default 1. */
  stride?: Pair
  /** Default 0: number | [h, w] | [top, bottom, left, right], cropped from the full output. */
  padding?: number | readonly [number, number] | readonly [number, number, number, number]
  /** Extra rows/columns at the bottom/right of the output, each less than the stride. Default 0. */
  outputPadding?: Pair
  /** Default 1. */
  dilation?: Pair
  /** Default 1. */
  groups?: number
}

export interface Conv2dTransposeOptions extends Conv2dTransposeGeometryOptions {
  activation?: 'none' | 'relu'
  out?: TensorLike
}

export type Conv2dTransposeBackwardOptions = Conv2dTransposeGeometryOptions & ConvBackwardOut

export interface Conv1dGeometryOptions {
  /** Default 1. */
  stride?: number
  /** Default 0: number | [left, right] | 'valid' | 'same' (ONNX SAME_UPPER, as conv2d). */
  padding?: number | readonly [number, number] | 'same' | 'valid'
  /** Default 1. */
  dilation?: number
  /** Default 1. */
  groups?: number
}

export interface Conv1dOptions extends Conv1dGeometryOptions {
  activation?: 'none' | 'relu'
  out?: TensorLike
}

export type Conv1dBackwardOptions = Conv1dGeometryOptions & ConvBackwardOut

const GEOMETRY_KEYS = ['stride', 'padding', 'dilation', 'groups'] as const
const TRANSPOSE_KEYS = ['stride', 'padding', 'outputPadding', 'dilation', 'groups'] as const

/** A resolved convolution: the native geometry and the shapes of its input and output. */
interface Resolved {
  geom: ConvGeometry
  /** The shape of the tensor the op reads (x). */
  inShape: Shape
  /** The shape of the op's result (y). */
  outShape: Shape
  /** The result's channel count (db's length). */
  outChannels: number
}

function groupsArg (op: string, value: unknown): number {
  if (value === undefined) return 1
  return integerArg(op, 'groups', value, 1, 2 ** 40)
}

function checkGroups (op: string, groups: number, C: number, Cout: number, coutFrom: string): void {
  if (C % groups !== 0) rangeError(op, 'groups', `a divisor of the input channels C=${C}`, String(groups))
  if (Cout % groups !== 0) rangeError(op, 'groups', `a divisor of the output channels ${coutFrom}`, String(groups))
}

function checkKernel (op: string, W: Checked, layout: string): void {
  if (W.shape.slice(2).some((d) => d < 1)) rangeError(op, 'w', `${layout} with kernel sizes ≥ 1`, fmtShape(W.shape))
}

/** conv2d's geometry from x [N,C,H,W], w [Cout, C/groups, kh, kw] and the options. */
function resolveConv2d (op: string, X: Checked, W: Checked, o: Conv2dGeometryOptions): Resolved {
  const [N, C, H, Wd] = rank4(op, 'x', X.shape, '[N,C,H,W]')
  const [Cout, Cg, kh, kw] = rank4(op, 'w', W.shape, '[Cout,C/groups,kH,kW]')
  const groups = groupsArg(op, o.groups)
  checkGroups(op, groups, C, Cout, `Cout=${Cout} (w.shape[0])`)
  if (Cg * groups !== C) {
    rangeError(op, 'w', `[Cout,C/groups,kH,kW] with C/groups=${C / groups} (x has C=${C}, groups=${groups})`,
      fmtShape(W.shape))
  }
  checkKernel(op, W, '[Cout,C/groups,kH,kW]')
  const stride = pairArg(op, 'stride', o.stride, [1, 1], 1)
  const dil = pairArg(op, 'dilation', o.dilation, [1, 1], 1)
  const p = paddingArg(op, o.padding, ['same', 'valid'] as const)
  let pads: Pads
  if (p === 'valid') pads = [0, 0, 0, 0]
  else if (p === 'same') pads = [...samePads(H, kh, stride[0], dil[0]), ...samePads(Wd, kw, stride[1], dil[1])]
  else pads = p
  checkFits(op, 'w', [kh, kw], dil, H, Wd, pads)
  const OH = convOutSize(H, kh, stride[0], dil[0], pads[0], pads[1])
  const OW = convOutSize(Wd, kw, stride[1], dil[1], pads[2], pads[3])
  return {
    geom: [N, C, H, Wd, Cout, kh, kw, stride[0], stride[1], dil[0], dil[1], pads[0], pads[1], pads[2], pads[3], groups],
    inShape: X.shape,
    outShape: Object.freeze([N, Cout, OH, OW]),
    outChannels: Cout
  }
}

/**
 * The transposed convolution's geometry: x [N, Cin, H, W], w [Cin, Cout/groups, kh, kw]
 * (PyTorch's layout). The native geometry describes the convolution whose dx it is: that
 * convolution reads the [N, Cout, Hout, Wout] result and gives x's shape.
 */
function resolveTranspose (op: string, X: Checked, W: Checked, o: Conv2dTransposeGeometryOptions): Resolved {
  const [N, Cin, H, Wd] = rank4(op, 'x', X.shape, '[N,C,H,W]')
  const [Cw, Cog, kh, kw] = rank4(op, 'w', W.shape, '[C,Cout/groups,kH,kW]')
  if (Cw !== Cin) rangeError(op, 'w', `[C,Cout/groups,kH,kW] with C=${Cin} as x`, fmtShape(W.shape))
  const groups = groupsArg(op, o.groups)
  const Cout = Cog * groups
  checkGroups(op, groups, Cin, Cout, `Cout=${Cout}`)
  checkKernel(op, W, '[C,Cout/groups,kH,kW]')
  if (H < 1 || Wd < 1) rangeError(op, 'x', '[N,C,H,W] with H, W ≥ 1', fmtShape(X.shape))
  const stride = pairArg(op, 'stride', o.stride, [1, 1], 1)
  const dil = pairArg(op, 'dilation', o.dilation, [1, 1], 1)
  const pads = paddingArg(op, o.padding, [] as const) as Pads
  const opad = pairArg(op, 'outputPadding', o.outputPadding, [0, 0], 0)
  if (opad[0] >= stride[0] || opad[1] >= stride[1]) {
    rangeError(op, 'outputPadding', `less than the stride [${stride[0]},${stride[1]}]`, `[${opad[0]},${opad[1]}]`)
  }
  const Hout = (H - 1) * stride[0] - pads[0] - pads[1] + dil[0] * (kh - 1) + opad[0] + 1
  const Wout = (Wd - 1) * stride[1] - pads[2] - pads[3] + dil[1] * (kw - 1) + opad[1] + 1
  if (Hout < 1 || Wout < 1) {
    rangeError(op, 'padding', `small enough to leave an output (it leaves ${Hout}x${Wout})`, describe(o.padding))
  }
  return {
    geom: [N, Cout, Hout, Wout, Cin, kh, kw, stride[0], stride[1], dil[0], dil[1], pads[0], pads[1], pads[2], pads[3],
      groups],
    inShape: X.shape,
    outShape: Object.freeze([N, Cout, Hout, Wout]),
    outChannels: Cout
  }
}

/** conv1d's padding: number | [left, right] | 'valid' | 'same' → [left, right]. */
function padding1d (op: string, p: unknown, L: number, k: number, stride: number, dil: number): [number, number] {
  const expected = "an integer ≥ 0, [left, right], 'same' or 'valid'"
  if (p === undefined || p === 'valid') return [0, 0]
  if (p === 'same') return samePads(L, k, stride, dil)
  if (typeof p === 'string') return rangeError(op, 'padding', expected, describe(p))
  const pair = typeof p === 'number' ? [p, p] : Array.isArray(p) && p.length === 2 ? p : null
  if (pair === null) return typeError(op, 'padding', expected, describe(p))
  for (const v of pair) {
    if (typeof v !== 'number') typeError(op, 'padding', expected, describe(p))
    if (!Number.isInteger(v) || v < 0 || v > 2 ** 40) rangeError(op, 'padding', expected, describe(p))
  }
  return [pair[0], pair[1]]
}

/** conv1d's geometry: x [N, C, L], w [Cout, C/groups, k] as a conv2d with H = 1. */
function resolveConv1d (op: string, X: Checked, W: Checked, o: Conv1dGeometryOptions): Resolved {
  if (X.shape.length !== 3) rangeError(op, 'x', '[N,C,L] (rank 3)', fmtShape(X.shape))
  if (W.shape.length !== 3) rangeError(op, 'w', '[Cout,C/groups,k] (rank 3)', fmtShape(W.shape))
  const [N, C, L] = X.shape as [number, number, number]
  const [Cout, Cg, k] = W.shape as [number, number, number]
  const groups = groupsArg(op, o.groups)
  checkGroups(op, groups, C, Cout, `Cout=${Cout} (w.shape[0])`)
  if (Cg * groups !== C) {
    rangeError(op, 'w', `[Cout,C/groups,k] with C/groups=${C / groups} (x has C=${C}, groups=${groups})`,
      fmtShape(W.shape))
  }
  if (k < 1) rangeError(op, 'w', '[Cout,C/groups,k] with k ≥ 1', fmtShape(W.shape))
  const stride = singleArg(op, 'stride', o.stride, 1, 1)
  const dil = singleArg(op, 'dilation', o.dilation, 1, 1)
  const pads = padding1d(op, o.padding, L, k, stride, dil)
  checkFits(op, 'w', [1, k], [1, dil], 1, L, [0, 0, pads[0], pads[1]])
  const OL = convOutSize(L, k, stride, dil, pads[0], pads[1])
  return {
    geom: [N, C, 1, L, Cout, 1, k, 1, stride, 1, dil, 0, 0, pads[0], pads[1], groups],
    inShape: X.shape,
    outShape: Object.freeze([N, Cout, OL]),
    outChannels: Cout
  }
}

type Resolver<O> = (op: string, X: Checked, W: Checked, o: O) => Resolved
type NativeForward = NativeOps['conv2d']
type NativeBackward = NativeOps['conv2dBackward']

/** The plan of a forward op (conv2d, conv2dTranspose, conv1d): validate, resolve, bind out. */
function forwardPlan<O extends object> (op: string, keys: readonly string[], resolve: Resolver<O>) {
  return (x: TensorLike, w: TensorLike, bias?: TensorLike | null, opts?: O & { activation?: unknown, out?: TensorLike }) => {
    const X = tensorArg(op, 'x', x)
    const W = tensorArg(op, 'w', w)
    const B = optionalTensorArg(op, 'bias', bias)
    const o = optionsArg(op, opts, [...keys, 'activation', 'out']) as O & { activation?: unknown, out?: TensorLike }
    const r = resolve(op, X, W, o)
    if (B !== null && (B.shape.length !== 1 || B.shape[0] !== r.outChannels)) {
      rangeError(op, 'bias', `[${r.outChannels}] (the output channels)`, fmtShape(B.shape))
    }
    const relu = activationArg(op, o.activation)
    const out = outArg(op, 'out', o.out, r.outShape, [['x', X], ['w', W], ['bias', B]])
    return {
      args: [X.data, W.data, B?.data ?? null, out?.data ?? null, r.geom, relu] as Parameters<NativeForward>,
      finish: (y: Float32Array): Tensor => resultTensor(o.out, out, y, r.outShape)
    }
  }
}

/**
 * The plan of a backward op: dy has the forward's result shape; the gradients have the
 * shapes of x, w and [result channels].
 */
function backwardPlan<O extends object> (op: string, keys: readonly string[], resolve: Resolver<O>) {
  return (dy: TensorLike, x: TensorLike, w: TensorLike, opts?: O & ConvBackwardOut) => {
    const DY = tensorArg(op, 'dy', dy)
    const X = tensorArg(op, 'x', x)
    const W = tensorArg(op, 'w', w)
    const o = optionsArg(op, opts, [...keys, 'out', 'accumulate']) as O & ConvBackwardOut
    const r = resolve(op, X, W, o)
    if (!sameShape(DY.shape, r.outShape)) {
      rangeError(op, 'dy', `${fmtShape(r.outShape)} (the shape of the forward's result)`, fmtShape(DY.shape))
    }
    const outs = outsArg(op, o.out, ['dx', 'dw', 'db'])
    const inputs = [['dy', DY], ['x', X], ['w', W]] as const
    const dbShape = Object.freeze([r.outChannels])
    const dxOut = outArg(op, 'out.dx', outs.dx, X.shape, inputs)
    const dwOut = outArg(op, 'out.dw', outs.dw, W.shape, inputs)
    const dbOut = outArg(op, 'out.db', outs.db, dbShape, inputs)
    const accumulate = booleanArg(op, 'accumulate', o.accumulate, false)
    if (accumulate && dxOut === null && dwOut === null && dbOut === null) {
      rangeError(op, 'out', 'at least one of dx, dw and db when accumulate is true', 'none')
    }
    return {
      args: [DY.data, X.data, W.data, dxOut?.data ?? null, dwOut?.data ?? null, dbOut?.data ?? null, r.geom,
        accumulate] as Parameters<NativeBackward>,
      finish: (g: RawConvGrads): ConvGrads => ({
        dx: resultTensor(outs.dx, dxOut, g.dx, X.shape),
        dw: resultTensor(outs.dw, dwOut, g.dw, W.shape),
        db: resultTensor(outs.db, dbOut, g.db, dbShape)
      })
    }
  }
}

// The transposed conv's backward resolves from x (its input) and w like its forward.
const conv2dOp = defineOp(forwardPlan<Conv2dGeometryOptions>('conv2d', GEOMETRY_KEYS, resolveConv2d),
  binding.conv2d, binding.conv2dAsync)
const conv2dBackwardOp = defineOp(backwardPlan<Conv2dGeometryOptions>('conv2dBackward', GEOMETRY_KEYS, resolveConv2d),
  binding.conv2dBackward, binding.conv2dBackwardAsync)
const conv2dTransposeOp = defineOp(
  forwardPlan<Conv2dTransposeGeometryOptions>('conv2dTranspose', TRANSPOSE_KEYS, resolveTranspose),
  binding.conv2dTranspose, binding.conv2dTransposeAsync)
const conv2dTransposeBackwardOp = defineOp(
  backwardPlan<Conv2dTransposeGeometryOptions>('conv2dTransposeBackward', TRANSPOSE_KEYS, resolveTranspose),
  binding.conv2dTransposeBackward, binding.conv2dTransposeBackwardAsync)
const conv1dOp = defineOp(forwardPlan<Conv1dGeometryOptions>('conv1d', GEOMETRY_KEYS, resolveConv1d),
  binding.conv2d, binding.conv2dAsync)
const conv1dBackwardOp = defineOp(backwardPlan<Conv1dGeometryOptions>('conv1dBackward', GEOMETRY_KEYS, resolveConv1d),
  binding.conv2dBackward, binding.conv2dBackwardAsync)

/**
 * 2-D convolution (PyTorch's F.conv2d, plus ONNX-style 'same' at any stride and a fused
 * ReLU): x [N, C, H, W], w [Cout, C/groups, kH, kW], bias [Cout] → [N, Cout, OH, OW].
 */
export function conv2d (x: TensorLike, w: TensorLike, bias?: TensorLike | null, opts?: Conv2dOptions): Tensor {
  return conv2dOp.sync(x, w, bias, opts)
}

/** conv2d() computed off the event loop. */
export function conv2dAsync (x: TensorLike, w: TensorLike, bias?: TensorLike | null, opts?: Conv2dOptions): Promise<Tensor> {
  return conv2dOp.async(x, w, bias, opts)
}

/**
 * Gradients of conv2d(x, w, bias) given dy = ∂loss/∂y (of the convolution itself, before
 * any fused activation), with the same geometry options: { dx, dw, db }.
 */
export function conv2dBackward (dy: TensorLike, x: TensorLike, w: TensorLike, opts?: Conv2dBackwardOptions): ConvGrads {
  return conv2dBackwardOp.sync(dy, x, w, opts)
}

/** conv2dBackward() computed off the event loop. */
export function conv2dBackwardAsync (dy: TensorLike, x: TensorLike, w: TensorLike,
  opts?: Conv2dBackwardOptions): Promise<ConvGrads> {
  return conv2dBackwardOp.async(dy, x, w, opts)
}

/**
 * Transposed 2-D convolution (PyTorch's F.conv_transpose2d): x [N, C, H, W],
 * w [C, Cout/groups, kH, kW], bias [Cout] → [N, Cout, Hout, Wout] with
 * Hout = (H−1)·stride − padTop − padBottom + dilation·(kH−1) + outputPadding + 1.
 * It is conv2d's input gradient, computed by the same kernels.
 */
export function conv2dTranspose (x: TensorLike, w: TensorLike, bias?: TensorLike | null,
  opts?: Conv2dTransposeOptions): Tensor {
  return conv2dTransposeOp.sync(x, w, bias, opts)
}

/** conv2dTranspose() computed off the event loop. */
export function conv2dTransposeAsync (x: TensorLike, w: TensorLike, bias?: TensorLike | null,
  opts?: Conv2dTransposeOptions): Promise<Tensor> {
  return conv2dTransposeOp.async(x, w, bias, opts)
}

/** Gradients of conv2dTranspose(x, w, bias) given dy: { dx (like x), dw (like w), db [Cout] }. */
export function conv2dTransposeBackward (dy: TensorLike, x: TensorLike, w: TensorLike,
  opts?: Conv2dTransposeBackwardOptions): ConvGrads {
  return conv2dTransposeBackwardOp.sync(dy, x, w, opts)
}

/** conv2dTransposeBackward() computed off the event loop. */
export function conv2dTransposeBackwardAsync (dy: TensorLike, x: TensorLike, w: TensorLike,
  opts?: Conv2dTransposeBackwardOptions): Promise<ConvGrads> {
  return conv2dTransposeBackwardOp.async(dy, x, w, opts)
}

/** 1-D convolution (PyTorch's F.conv1d): x [N, C, L], w [Cout, C/groups, k], bias [Cout] → [N, Cout, OL]. */
export function conv1d (x: TensorLike, w: TensorLike, bias?: TensorLike | null, opts?: Conv1dOptions): Tensor {
  return conv1dOp.sync(x, w, bias, opts)
}

/** conv1d() computed off the event loop. */
export function conv1dAsync (x: TensorLike, w: TensorLike, bias?: TensorLike | null, opts?: Conv1dOptions): Promise<Tensor> {
  return conv1dOp.async(x, w, bias, opts)
}

/** Gradients of conv1d(x, w, bias) given dy: { dx, dw, db }. */
export function conv1dBackward (dy: TensorLike, x: TensorLike, w: TensorLike, opts?: Conv1dBackwardOptions): ConvGrads {
  return conv1dBackwardOp.sync(dy, x, w, opts)
}

/** conv1dBackward() computed off the event loop. */
export function conv1dBackwardAsync (dy: TensorLike, x: TensorLike, w: TensorLike,
  opts?: Conv1dBackwardOptions): Promise<ConvGrads> {
  return conv1dBackwardOp.async(dy, x, w, opts)
}
