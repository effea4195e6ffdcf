// pool: maxPool2d, avgPool2d, adaptiveAvgPool2d and globalAvgPool2d over NCHW, with their
// backwards (PyTorch's semantics; see native/cpu/pool/pool.h). Options are resolved here
// into one geometry array; the native side re-checks it.
import { binding } from '../native'
import type { Shape, Tensor, TensorLike } from '../tensor'
import {
  booleanArg, describe, fmtShape, optionsArg, outArg, rangeError, sameShape, tensorArg, typeError, type Checked
} from '../validate'
import { defineOp, resultTensor } from './define'
import { checkFits, paddingArg, pairArg, poolOutSize, rank4, type Pads } from './spatial'
import type { Pair } from './conv'

export interface PoolGeometryOptions {
  /** The window: number | [h, w]. Required. */
  kernel: Pair
  /** Default: the kernel. */
  stride?: Pair
  /** Default 0: number | [h, w] | [top, bottom, left, right], any size ≥ 0. */
  padding?: number | readonly [number, number] | readonly [number, number, number, number]
  /**
   * Output sizes rounded up instead of down (PyTorch's ceil_mode): a last window that
   * would start inside the bottom/right padding is dropped. Default false.
   */
  ceilMode?: boolean
}

export interface MaxPool2dGeometryOptions extends PoolGeometryOptions {
  /** Default 1. */
  dilation?: Pair
}

export interface AvgPool2dGeometryOptions extends PoolGeometryOptions {
  /** Divide by the window's size including padded cells (default true) or by its count of input cells. */
  countIncludePad?: boolean
}

export interface MaxPool2dOptions extends MaxPool2dGeometryOptions {
  out?: TensorLike
}

export interface AvgPool2dOptions extends AvgPool2dGeometryOptions {
  out?: TensorLike
}

export interface PoolBackwardOut {
  /** A tensor shaped like x to write dx into. */
  out?: TensorLike
  /** Add the gradient into out (required) instead of overwriting it. */
  accumulate?: boolean
}

export type MaxPool2dBackwardOptions = MaxPool2dGeometryOptions & PoolBackwardOut
export type AvgPool2dBackwardOptions = AvgPool2dGeometryOptions & PoolBackwardOut

/** [N, C, H, W, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr] */
type PoolGeometry = [number, number, number, number, number, number, number, number, number, number,
  number, number, number, number]

interface ResolvedPool {
  geom: PoolGeometry
  ceilMode: boolean
  outShape: Shape
}

const MAX_KEYS = ['kernel', 'stride', 'padding', 'dilation', 'ceilMode'] as const
const AVG_KEYS = ['kernel', 'stride', 'padding', 'ceilMode', 'countIncludePad'] as const

function resolvePool (op: string, X: Checked, o: MaxPool2dGeometryOptions): ResolvedPool {
  const [N, C, H, W] = rank4(op, 'x', X.shape, '[N,C,H,W]')
  if (o.kernel === undefined) typeError(op, 'kernel', 'a positive integer or [h, w] of positive integers', 'undefined')
  const k = pairArg(op, 'kernel', o.kernel, [1, 1], 1)
  const stride = pairArg(op, 'stride', o.stride, k, 1)
  const dil = pairArg(op, 'dilation', o.dilation, [1, 1], 1)
  const pads = paddingArg(op, o.padding, [] as const) as Pads
  const ceilMode = booleanArg(op, 'ceilMode', o.ceilMode, false)
  checkFits(op, 'kernel', k, dil, H, W, pads)
  const OH = poolOutSize(H, k[0], stride[0], dil[0], pads[0], pads[1], ceilMode)
  const OW = poolOutSize(W, k[1], stride[1], dil[1], pads[2], pads[3], ceilMode)
  return {
    geom: [N, C, H, W, k[0], k[1], stride[0], stride[1], dil[0], dil[1], pads[0], pads[1], pads[2], pads[3]],
    ceilMode,
    outShape: Object.freeze([N, C, OH, OW])
  }
}

function checkDy (op: string, DY: Checked, shape: Shape): void {
  if (!sameShape(DY.shape, shape)) {
    rangeError(op, 'dy', `${fmtShape(shape)} (the shape of the forward's result)`, fmtShape(DY.shape))
  }
}

function backwardOut (op: string, o: PoolBackwardOut, X: Checked, inputs: ReadonlyArray<readonly [string, Checked]>) {
  const out = outArg(op, 'out', o.out, X.shape, inputs)
  const accumulate = booleanArg(op, 'accumulate', o.accumulate, false)
  if (accumulate && out === null) rangeError(op, 'out', 'a tensor when accumulate is true', 'none')
  return { out, accumulate }
}

function planMaxPool (x: TensorLike, opts: MaxPool2dOptions) {
  const op = 'maxPool2d'
  const X = tensorArg(op, 'x', x)
  const o = optionsArg(op, opts, [...MAX_KEYS, 'out']) as MaxPool2dOptions
  const r = resolvePool(op, X, o)
  const out = outArg(op, 'out', o.out, r.outShape, [['x', X]])
  return {
    args: [X.data, out?.data ?? null, r.geom, r.ceilMode] as [Float32Array, Float32Array | null, PoolGeometry, boolean],
    finish: (y: Float32Array): Tensor => resultTensor(o.out, out, y, r.outShape)
  }
}

function planMaxPoolBackward (dy: TensorLike, x: TensorLike, opts: MaxPool2dBackwardOptions) {
  const op = 'maxPool2dBackward'
  const DY = tensorArg(op, 'dy', dy)
  const X = tensorArg(op, 'x', x)
  const o = optionsArg(op, opts, [...MAX_KEYS, 'out', 'accumulate']) as MaxPool2dBackwardOptions
  const r = resolvePool(op, X, o)
  checkDy(op, DY, r.outShape)
  const { out, accumulate } = backwardOut(op, o, X, [['dy', DY], ['x', X]])
  return {
    args: [DY.data, X.data, out?.data ?? null, r.geom, r.ceilMode, accumulate] as
      [Float32Array, Float32Array, Float32Array | null, PoolGeometry, boolean, boolean],
    finish: (dx: Float32Array): Tensor => resultTensor(o.out, out, dx, X.shape)
  }
}

function resolveAvg (op: string, X: Checked, o: AvgPool2dGeometryOptions) {
  const r = resolvePool(op, X, o)
  return { ...r, countIncludePad: booleanArg(op, 'countIncludePad', o.countIncludePad, true) }
}

function planAvgPool (x: TensorLike, opts: AvgPool2dOptions) {
  const op = 'avgPool2d'
  const X = tensorArg(op, 'x', x)
  const o = optionsArg(op, opts, [...AVG_KEYS, 'out']) as AvgPool2dOptions
  const r = resolveAvg(op, X, o)
  const out = outArg(op, 'out', o.out, r.outShape, [['x', X]])
  return {
    args: [X.data, out?.data ?? null, r.geom, r.ceilMode, r.countIncludePad] as
      [Float32Array, Float32Array | null, PoolGeometry, boolean, boolean],
    finish: (y: Float32Array): Tensor => resultTensor(o.out, out, y, r.outShape)
  }
}

function planAvgPoolBackward (dy: TensorLike, x: TensorLike, opts: AvgPool2dBackwardOptions) {
  const op = 'avgPool2dBackward'
  const DY = tensorArg(op, 'dy', dy)
  const X = tensorArg(op, 'x', x)
  const o = optionsArg(op, opts, [...AVG_KEYS, 'out', 'accumulate']) as AvgPool2dBackwardOptions
  const r = resolveAvg(op, X, o)
  checkDy(op, DY, r.outShape)
  const { out, accumulate } = backwardOut(op, o, X, [['dy', DY], ['x', X]])
  return {
    args: [DY.data, out?.data ?? null, r.geom, r.ceilMode, r.countIncludePad, accumulate] as
      [Float32Array, Float32Array | null, PoolGeometry, boolean, boolean, boolean],
    finish: (dx: Float32Array): Tensor => resultTensor(o.out, out, dx, X.shape)
  }
}

/** [N, C, H, W, OH, OW] */
type AdaptiveSizes = [number, number, number, number, number, number]

function adaptiveInput (op: string, X: Checked): [number, number, number, number] {
  const dims = rank4(op, 'x', X.shape, '[N,C,H,W]')
  if (dims[2] < 1 || dims[3] < 1) rangeError(op, 'x', '[N,C,H,W] with H, W ≥ 1', fmtShape(X.shape))
  return dims
}

/** number | [h | null, w | null] (null keeps the input's size) → [OH, OW]. */
function outputSizeArg (op: string, value: unknown, H: number, W: number): [number, number] {
  const expected = 'a positive integer or [h, w] of positive integers (null keeps the input size)'
  let pair: unknown[]
  if (typeof value === 'number') pair = [value, value]
  else if (Array.isArray(value) && value.length === 2) pair = [value[0] ?? H, value[1] ?? W]
  else return typeError(op, 'outputSize', expected, describe(value))
  for (const v of pair) {
    if (typeof v !== 'number') typeError(op, 'outputSize', expected, describe(value))
    if (!Number.isInteger(v) || v < 1 || v > 2 ** 40) rangeError(op, 'outputSize', expected, describe(value))
  }
  return pair as [number, number]
}

function planAdaptive (op: string, x: TensorLike, outputSize: unknown, opts: { out?: TensorLike } | undefined) {
  const X = tensorArg(op, 'x', x)
  const o = optionsArg(op, opts, ['out']) as { out?: TensorLike }
  const [N, C, H, W] = adaptiveInput(op, X)
  const [OH, OW] = outputSizeArg(op, outputSize, H, W)
  const shape = Object.freeze([N, C, OH, OW])
  const out = outArg(op, 'out', o.out, shape, [['x', X]])
  return {
    args: [X.data, out?.data ?? null, [N, C, H, W, OH, OW]] as [Float32Array, Float32Array | null, AdaptiveSizes],
    finish: (y: Float32Array): Tensor => resultTensor(o.out, out, y, shape)
  }
}

function planAdaptiveBackward (op: string, dy: TensorLike, x: TensorLike, opts: PoolBackwardOut | undefined,
  global: boolean) {
  const DY = tensorArg(op, 'dy', dy)
  const X = tensorArg(op, 'x', x)
  const o = optionsArg(op, opts, ['out', 'accumulate']) as PoolBackwardOut
  const [N, C, H, W] = adaptiveInput(op, X)
  if (global) {
    checkDy(op, DY, [N, C, 1, 1])
  } else if (DY.shape.length !== 4 || DY.shape[0] !== N || DY.shape[1] !== C || DY.shape[2]! < 1 || DY.shape[3]! < 1) {
    rangeError(op, 'dy', `[${N},${C},OH,OW] with OH, OW ≥ 1 (the shape of the forward's result)`, fmtShape(DY.shape))
  }
  const { out, accumulate } = backwardOut(op, o, X, [['dy', DY], ['x', X]])
  return {
    args: [DY.data, out?.data ?? null, [N, C, H, W, DY.shape[2]!, DY.shape[3]!], accumulate] as
      [Float32Array, Float32Array | null, AdaptiveSizes, boolean],
    finish: (dx: Float32Array): Tensor => resultTensor(o.out, out, dx, X.shape)
  }
}

const maxPoolOp = defineOp(planMaxPool, binding.maxPool2d, binding.maxPool2dAsync)
const maxPoolBackwardOp = defineOp(planMaxPoolBackward, binding.maxPool2dBackward, binding.maxPool2dBackwardAsync)
const avgPoolOp = defineOp(planAvgPool, binding.avgPool2d, binding.avgPool2dAsync)
const avgPoolBackwardOp = defineOp(planAvgPoolBackward, binding.avgPool2dBackward, binding.avgPool2dBackwardAsync)
const adaptiveOp = defineOp(
  (x: TensorLike, size: unknown, opts?: { out?: TensorLike }) => planAdaptive('adaptiveAvgPool2d', x, size, opts),
  binding.adaptiveAvgPool2d, binding.adaptiveAvgPool2dAsync)
const adaptiveBackwardOp = defineOp(
  (dy: TensorLike, x: TensorLike, opts?: PoolBackwardOut) => planAdaptiveBackward('adaptiveAvgPool2dBackward', dy, x, opts, false),
  binding.adaptiveAvgPool2dBackward, binding.adaptiveAvgPool2dBackwardAsync)
const globalOp = defineOp(
  (x: TensorLike, opts?: { out?: TensorLike }) => planAdaptive('globalAvgPool2d', x, 1, opts),
  binding.adaptiveAvgPool2d, binding.adaptiveAvgPool2dAsync)
const globalBackwardOp = defineOp(
  (dy: TensorLike, x: TensorLike, opts?: PoolBackwardOut) => planAdaptiveBackward('globalAvgPool2dBackward', dy, x, opts, true),
  binding.adaptiveAvgPool2dBackward, binding.adaptiveAvgPool2dBackwardAsync)

/**
 * Max pooling (PyTorch's F.max_pool2d): x [N, C, H, W] → [N, C, OH, OW]. Padded cells never
 * win; a window with no input cell gives −Infinity. NaN propagates.
 */
export function maxPool2d (x: TensorLike, opts: MaxPool2dOptions): Tensor {
  return maxPoolOp.sync(x, opts)
}

/** maxPool2d() computed off the event loop. */
export function maxPool2dAsync (x: TensorLike, opts: MaxPool2dOptions): Promise<Tensor> {
  return maxPoolOp.async(x, opts)
}

/**
 * Gradient of maxPool2d w.r.t. x: each dy goes to its window's argmax, recomputed from x
 * (ties: the first in row-major window order, as PyTorch). Deterministic.
 */
export function maxPool2dBackward (dy: TensorLike, x: TensorLike, opts: MaxPool2dBackwardOptions): Tensor {
  return maxPoolBackwardOp.sync(dy, x, opts)
}

/** maxPool2dBackward() computed off the event loop. */
export function maxPool2dBackwardAsync (dy: TensorLike, x: TensorLike, opts: MaxPool2dBackwardOptions): Promise<Tensor> {
  return maxPoolBackwardOp.async(dy, x, opts)
}

/** Average pooling (PyTorch's F.avg_pool2d): x [N, C, H, W] → [N, C, OH, OW]. */
export function avgPool2d (x: TensorLike, opts: AvgPool2dOptions): Tensor {
  return avgPoolOp.sync(x, opts)
}

/** avgPool2d() computed off the event loop. */
export function avgPool2dAsync (x: TensorLike, opts: AvgPool2dOptions): Promise<Tensor> {
  return avgPoolOp.async(x, opts)
}

/** Gradient of avgPool2d w.r.t. x (x gives the shape). */
export function avgPool2dBackward (dy: TensorLike, x: TensorLike, opts: AvgPool2dBackwardOptions): Tensor {
  return avgPoolBackwardOp.sync(dy, x, opts)
}

/** avgPool2dBackward() computed off the event loop. */
export function avgPool2dBackwardAsync (dy: TensorLike, x: TensorLike, opts: AvgPool2dBackwardOptions): Promise<Tensor> {
  return avgPoolBackwardOp.async(dy, x, opts)
}

export type OutputSize = number | readonly [number | null, number | null]

/**
 * Adaptive average pooling (PyTorch's F.adaptive_avg_pool2d): output cell (i, j) averages
 * rows ⌊i·H/OH⌋ … ⌈(i+1)·H/OH⌉−1 and the columns likewise.
 */
export function adaptiveAvgPool2d (x: TensorLike, outputSize: OutputSize, opts?: { out?: TensorLike }): Tensor {
  return adaptiveOp.sync(x, outputSize, opts)
}

/** adaptiveAvgPool2d() computed off the event loop. */
export function adaptiveAvgPool2dAsync (x: TensorLike, outputSize: OutputSize, opts?: { out?: TensorLike }): Promise<Tensor> {
  return adaptiveOp.async(x, outputSize, opts)
}

/** Gradient of adaptiveAvgPool2d w.r.t. x (the output size is dy's). */
export function adaptiveAvgPool2dBackward (dy: TensorLike, x: TensorLike, opts?: PoolBackwardOut): Tensor {
  return adaptiveBackwardOp.sync(dy, x, opts)
}

/** adaptiveAvgPool2dBackward() computed off the event loop. */
export function adaptiveAvgPool2dBackwardAsync (dy: TensorLike, x: TensorLike, opts?: PoolBackwardOut): Promise<Tensor> {
  return adaptiveBackwardOp.async(dy, x, opts)
}

/** The mean of each plane: x [N, C, H, W] → [N, C, 1, 1] (ONNX GlobalAveragePool). */
export function globalAvgPool2d (x: TensorLike, opts?: { out?: TensorLike }): Tensor {
  return globalOp.sync(x, opts)
}

/** globalAvgPool2d() computed off the event loop. */
export function globalAvgPool2dAsync (x: TensorLike, opts?: { out?: TensorLike }): Promise<Tensor> {
  return globalOp.async(x, opts)
}

/** Gradient of globalAvgPool2d w.r.t. x: dy [N, C, 1, 1] spread evenly over each plane. */
export function globalAvgPool2dBackward (dy: TensorLike, x: TensorLike, opts?: PoolBackwardOut): Tensor {
  return globalBackwardOp.sync(dy, x, opts)
}

/** globalAvgPool2dBackward() computed off the event loop. */
export function globalAvgPool2dBackwardAsync (dy: TensorLike, x: TensorLike, opts?: PoolBackwardOut): Promise<Tensor> {
  return globalBackwardOp.async(dy, x, opts)
}
