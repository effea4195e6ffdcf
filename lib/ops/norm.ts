// Normalisation: layerNorm, batchNorm2d, groupNorm (PyTorch semantics and defaults), and
// their backwards. Backwards recompute the statistics from x, so nothing but the forward's
// inputs needs keeping; they always return dweight and dbias (the gradients an affine
// weight and bias would get, whether or not the forward had them).
import { binding, type RawNormGrads } from '../native'
import { type Shape, type Tensor, type TensorLike } from '../tensor'
import {
  type Checked, booleanArg, fmtShape, integerArg, optionalTensorArg, optionsArg, outArg, rangeError, sameShape,
  shapeArg, shapeSize, tensorArg, outsArg
} from '../validate'
import { numberArg } from './args'
import { defineOp, resultTensor } from './define'

export interface NormGrads {
  /** Gradient w.r.t. x, shaped like x. */
  dx: Tensor
  /** Gradient w.r.t. the weight (Σ dy·x̂), shaped like the weight. */
  dweight: Tensor
  /** Gradient w.r.t. the bias (Σ dy), shaped like the bias. */
  dbias: Tensor
}

export interface NormGradOuts { dx?: TensorLike, dweight?: TensorLike, dbias?: TensorLike }

export interface LayerNormOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number
  /** A tensor of x's shape to write into. */
  out?: TensorLike
}
export interface NormBackwardOut {
  /** Tensors to write the gradients into (each optional). */
  out?: NormGradOuts
  /**
   * Add each gradient given in `out` into it instead of overwriting it (at least one is
   * required); the gradients not given come back as fresh results. So a module adds
   * dweight and dbias into the gradients it holds while dx comes back new.
   */
  accumulate?: boolean
}

export interface LayerNormBackwardOptions extends NormBackwardOut { eps?: number }

export interface BatchNormOptions {
  /** Batch statistics (and the running-stat update) when true; the running statistics when false (default). */
  training?: boolean
  /** Weight of the new batch statistics in the running update (default 0.1). */
  momentum?: number
  eps?: number
  out?: TensorLike
}
export interface BatchNormBackwardOptions extends NormBackwardOut { training?: boolean, eps?: number }

export interface GroupNormOptions { eps?: number, out?: TensorLike }
export interface GroupNormBackwardOptions extends NormBackwardOut { eps?: number }

type F = Float32Array
type FN = Float32Array | null

const epsArg = (op: string, v: unknown): number => numberArg(op, 'eps', v, 1e-5, 0, 1e30)

function paramArg (op: string, name: string, value: unknown, shape: Shape): Checked | null {
  const t = optionalTensorArg(op, name, value)
  if (t !== null && !sameShape(t.shape, shape)) rangeError(op, name, fmtShape(shape), fmtShape(t.shape))
  return t
}

function gradOuts (op: string, o: { out?: unknown, accumulate?: unknown }, xShape: Shape, pShape: Shape,
  inputs: ReadonlyArray<readonly [string, Checked | null]>) {
  const outs = outsArg(op, o.out, ['dx', 'dweight', 'dbias'])
  const dx = outArg(op, 'out.dx', outs.dx, xShape, inputs)
  const dw = outArg(op, 'out.dweight', outs.dweight, pShape, inputs)
  const db = outArg(op, 'out.dbias', outs.dbias, pShape, inputs)
  const accumulate = booleanArg(op, 'accumulate', o.accumulate, false)
  if (accumulate && dx === null && dw === null && db === null) {
    rangeError(op, 'out', 'at least one of dx, dweight and dbias when accumulate is true', 'none')
  }
  return {
    args: [dx?.data ?? null, dw?.data ?? null, db?.data ?? null] as [FN, FN, FN],
    accumulate,
    finish: (g: RawNormGrads): NormGrads => ({
      dx: resultTensor(outs.dx, dx, g.dx, xShape),
      dweight: resultTensor(outs.dweight, dw, g.dweight, pShape),
      dbias: resultTensor(outs.dbias, db, g.dbias, pShape)
    })
  }
}

function sameAs (op: string, DY: Checked, X: Checked): void {
  if (!sameShape(DY.shape, X.shape)) rangeError(op, 'dy', `${fmtShape(X.shape)} (the shape of x)`, fmtShape(DY.shape))
}

// ---------------------------------------------------------------- layerNorm

function normalizedArg (op: string, value: unknown, X: Checked): { shape: Shape, rows: number, D: number } {
  const shape = typeof value === 'number' ? shapeArg(op, 'normalizedShape', [value]) : shapeArg(op, 'normalizedShape', value)
  const k = shape.length
  if (X.shape.length < k || !sameShape(X.shape.slice(X.shape.length - k), shape)) {
    rangeError(op, 'x', `[..., ${shape.join(', ')}] (ending in normalizedShape)`, fmtShape(X.shape))
  }
  const D = shapeSize(shape)
  return { shape, rows: D === 0 ? shapeSize(X.shape.slice(0, X.shape.length - k)) : X.size / D, D }
}

function planLayerNorm (x: TensorLike, normalizedShape: number | readonly number[], weight?: TensorLike | null,
  bias?: TensorLike | null, opts?: LayerNormOptions) {
  const op = 'layerNorm'
  const X = tensorArg(op, 'x', x)
  const { shape, rows, D } = normalizedArg(op, normalizedShape, X)
  const W = paramArg(op, 'weight', weight, shape)
  const B = paramArg(op, 'bias', bias, shape)
  const o = optionsArg(op, opts, ['eps', 'out'])
  const eps = epsArg(op, o.eps)
  const out = outArg(op, 'out', o.out, X.shape, [['x', X], ['weight', W], ['bias', B]])
  return {
    args: [X.data, W?.data ?? null, B?.data ?? null, out?.data ?? null, rows, D, eps] as [F, FN, FN, FN, number, number, number],
    finish: (y: F): Tensor => resultTensor(o.out, out, y, X.shape)
  }
}

function planLayerNormBackward (dy: TensorLike, x: TensorLike, normalizedShape: number | readonly number[],
  weight?: TensorLike | null, opts?: LayerNormBackwardOptions) {
  const op = 'layerNormBackward'
  const DY = tensorArg(op, 'dy', dy)
  const X = tensorArg(op, 'x', x)
  sameAs(op, DY, X)
  const { shape, rows, D } = normalizedArg(op, normalizedShape, X)
  const W = paramArg(op, 'weight', weight, shape)
  const o = optionsArg(op, opts, ['eps', 'out', 'accumulate'])
  const eps = epsArg(op, o.eps)
  const g = gradOuts(op, o, X.shape, shape, [['dy', DY], ['x', X], ['weight', W]])
  return {
    args: [DY.data, X.data, W?.data ?? null, ...g.args, rows, D, eps, g.accumulate] as
      [F, F, FN, FN, FN, FN, number, number, number, boolean],
    finish: g.finish
  }
}

// ---------------------------------------------------------------- batchNorm2d, groupNorm

// x [N, C, ...spatial] → N, C, S.
function ncsArg (op: string, X: Checked): [number, number, number] {
  if (X.shape.length < 2) rangeError(op, 'x', '[N, C, ...] (rank ≥ 2)', fmtShape(X.shape))
  const [N, C] = X.shape as [number, number]
  return [N, C, shapeSize(X.shape.slice(2))]
}

function runningArgs (op: string, rm: unknown, rv: unknown, C: number, training: boolean) {
  const RM = paramArg(op, 'runningMean', rm, [C])
  const RV = paramArg(op, 'runningVar', rv, [C])
  if ((RM === null) !== (RV === null)) {
    rangeError(op, RM === null ? 'runningMean' : 'runningVar', 'given together with ' + (RM === null ? 'runningVar' : 'runningMean'), 'null')
  }
  if (!training && RM === null) rangeError(op, 'runningMean', `a tensor [${C}] in eval mode (training: false)`, 'null')
  return { RM, RV }
}

function planBatchNorm (x: TensorLike, runningMean: TensorLike | null, runningVar: TensorLike | null,
  weight?: TensorLike | null, bias?: TensorLike | null, opts?: BatchNormOptions) {
  const op = 'batchNorm2d'
  const X = tensorArg(op, 'x', x)
  const [N, C, S] = ncsArg(op, X)
  const o = optionsArg(op, opts, ['training', 'momentum', 'eps', 'out'])
  const training = booleanArg(op, 'training', o.training, false)
  const momentum = numberArg(op, 'momentum', o.momentum, 0.1, 0, 1)
  const eps = epsArg(op, o.eps)
  const { RM, RV } = runningArgs(op, runningMean, runningVar, C, training)
  const W = paramArg(op, 'weight', weight, [C])
  const B = paramArg(op, 'bias', bias, [C])
  if (training && N * S <= 1) rangeError(op, 'x', 'more than one value per channel in training', fmtShape(X.shape))
  const out = outArg(op, 'out', o.out, X.shape, [['x', X], ['runningMean', RM], ['runningVar', RV], ['weight', W], ['bias', B]])
  return {
    args: [X.data, RM?.data ?? null, RV?.data ?? null, W?.data ?? null, B?.data ?? null, out?.data ?? null,
      N, C, S, training, momentum, eps] as [F, FN, FN, FN, FN, FN, number, number, number, boolean, number, number],
    finish: (y: F): Tensor => resultTensor(o.out, out, y, X.shape)
  }
}

function planBatchNormBackward (dy: TensorLike, x: TensorLike, runningMean: TensorLike | null,
  runningVar: TensorLike | null, weight?: TensorLike | null, opts?: BatchNormBackwardOptions) {
  const op = 'batchNorm2dBackward'
  const DY = tensorArg(op, 'dy', dy)
  const X = tensorArg(op, 'x', x)
  sameAs(op, DY, X)
  const [N, C, S] = ncsArg(op, X)
  const o = optionsArg(op, opts, ['training', 'eps', 'out', 'accumulate'])
  const training = booleanArg(op, 'training', o.training, false)
  const eps = epsArg(op, o.eps)
  const { RM, RV } = runningArgs(op, runningMean, runningVar, C, training)
  const W = paramArg(op, 'weight', weight, [C])
  if (training && N * S <= 1) rangeError(op, 'x', 'more than one value per channel in training', fmtShape(X.shape))
  const g = gradOuts(op, o, X.shape, [C], [['dy', DY], ['x', X], ['runningMean', RM], ['runningVar', RV], ['weight', W]])
  return {
    args: [DY.data, X.data, RM?.data ?? null, RV?.data ?? null, W?.data ?? null, ...g.args, N, C, S, training, eps,
      g.accumulate] as [F, F, FN, FN, FN, FN, FN, FN, number, number, number, boolean, number, boolean],
    finish: g.finish
  }
}

function groupsArg (op: string, value: unknown, C: number): number {
  const G = integerArg(op, 'numGroups', value, 1, Number.MAX_SAFE_INTEGER)
  if (C % G !== 0) rangeError(op, 'numGroups', `a divisor of the channel count C=${C}`, String(G))
  return G
}

function planGroupNorm (x: TensorLike, numGroups: number, weight?: TensorLike | null, bias?: TensorLike | null,
  opts?: GroupNormOptions) {
  const op = 'groupNorm'
  const X = tensorArg(op, 'x', x)
  const [N, C, S] = ncsArg(op, X)
  const G = groupsArg(op, numGroups, C)
  const W = paramArg(op, 'weight', weight, [C])
  const B = paramArg(op, 'bias', bias, [C])
  const o = optionsArg(op, opts, ['eps', 'out'])
  const eps = epsArg(op, o.eps)
  const out = outArg(op, 'out', o.out, X.shape, [['x', X], ['weight', W], ['bias', B]])
  return {
    args: [X.data, W?.data ?? null, B?.data ?? null, out?.data ?? null, N, C, S, G, eps] as
      [F, FN, FN, FN, number, number, number, number, number],
    finish: (y: F): Tensor => resultTensor(o.out, out, y, X.shape)
  }
}

function planGroupNormBackward (dy: TensorLike, x: TensorLike, numGroups: number, weight?: TensorLike | null,
  opts?: GroupNormBackwardOptions) {
  const op = 'groupNormBackward'
  const DY = tensorArg(op, 'dy', dy)
  const X = tensorArg(op, 'x', x)
  sameAs(op, DY, X)
  const [N, C, S] = ncsArg(op, X)
  const G = groupsArg(op, numGroups, C)
  const W = paramArg(op, 'weight', weight, [C])
  const o = optionsArg(op, opts, ['eps', 'out', 'accumulate'])
  const eps = epsArg(op, o.eps)
  const g = gradOuts(op, o, X.shape, [C], [['dy', DY], ['x', X], ['weight', W]])
  return {
    args: [DY.data, X.data, W?.data ?? null, ...g.args, N, C, S, G, eps, g.accumulate] as
      [F, F, FN, FN, FN, FN, number, number, number, number, number, boolean],
    finish: g.finish
  }
}

const layerNormOp = defineOp(planLayerNorm, binding.layerNorm, binding.layerNormAsync)
const layerNormBackwardOp = defineOp(planLayerNormBackward, binding.layerNormBackward, binding.layerNormBackwardAsync)
const batchNormOp = defineOp(planBatchNorm, binding.batchNorm2d, binding.batchNorm2dAsync)
const batchNormBackwardOp = defineOp(planBatchNormBackward, binding.batchNorm2dBackward, binding.batchNorm2dBackwardAsync)
const groupNormOp = defineOp(planGroupNorm, binding.groupNorm, binding.groupNormAsync)
const groupNormBackwardOp = defineOp(planGroupNormBackward, binding.groupNormBackward, binding.groupNormBackwardAsync)

type NS = number | readonly number[]
type TL = TensorLike | null | undefined

/**
 * Layer normalisation over the trailing dims `normalizedShape` of x:
 * (x − mean)/√(var + eps)·weight + bias, with the biased variance (PyTorch's F.layer_norm).
 */
export function layerNorm (x: TensorLike, normalizedShape: NS, weight?: TL, bias?: TL, opts?: LayerNormOptions): Tensor {
  return layerNormOp.sync(x, normalizedShape, weight, bias, opts)
}
/** layerNorm() computed off the event loop. */
export function layerNormAsync (x: TensorLike, normalizedShape: NS, weight?: TL, bias?: TL, opts?: LayerNormOptions): Promise<Tensor> {
  return layerNormOp.async(x, normalizedShape, weight, bias, opts)
}
/** Gradients of layerNorm(x, normalizedShape, weight, ·): dx, dweight, dbias (shaped normalizedShape). */
export function layerNormBackward (dy: TensorLike, x: TensorLike, normalizedShape: NS, weight?: TL,
  opts?: LayerNormBackwardOptions): NormGrads {
  return layerNormBackwardOp.sync(dy, x, normalizedShape, weight, opts)
}
/** layerNormBackward() computed off the event loop. */
export function layerNormBackwardAsync (dy: TensorLike, x: TensorLike, normalizedShape: NS, weight?: TL,
  opts?: LayerNormBackwardOptions): Promise<NormGrads> {
  return layerNormBackwardOp.async(dy, x, normalizedShape, weight, opts)
}

/**
 * Batch normalisation of x [N, C, ...] per channel (PyTorch's F.batch_norm; BatchNorm2d's
 * x is [N, C, H, W]). training: batch statistics, and runningMean / runningVar (may be
 * null in training) are updated in place: r ← (1 − momentum)·r + momentum·batch, with the
 * unbiased batch variance. Eval (the default): the running statistics.
 */
export function batchNorm2d (x: TensorLike, runningMean: TensorLike | null, runningVar: TensorLike | null,
  weight?: TL, bias?: TL, opts?: BatchNormOptions): Tensor {
  return batchNormOp.sync(x, runningMean, runningVar, weight, bias, opts)
}
/** batchNorm2d() computed off the event loop (in training the running statistics are updated by the worker, before the promise settles). */
export function batchNorm2dAsync (x: TensorLike, runningMean: TensorLike | null, runningVar: TensorLike | null,
  weight?: TL, bias?: TL, opts?: BatchNormOptions): Promise<Tensor> {
  return batchNormOp.async(x, runningMean, runningVar, weight, bias, opts)
}
/**
 * Gradients of batchNorm2d for the same `training` mode: in training the batch statistics
 * are recomputed from x (runningMean / runningVar are not read and may be null); in eval
 * the running statistics are constants.
 */
export function batchNorm2dBackward (dy: TensorLike, x: TensorLike, runningMean: TensorLike | null,
  runningVar: TensorLike | null, weight?: TL, opts?: BatchNormBackwardOptions): NormGrads {
  return batchNormBackwardOp.sync(dy, x, runningMean, runningVar, weight, opts)
}
/** batchNorm2dBackward() computed off the event loop. */
export function batchNorm2dBackwardAsync (dy: TensorLike, x: TensorLike, runningMean: TensorLike | null,
  runningVar: TensorLike | null, weight?: TL, opts?: BatchNormBackwardOptions): Promise<NormGrads> {
  return batchNormBackwardOp.async(dy, x, runningMean, runningVar, weight, opts)
}

/** Group normalisation of x [N, C, ...]: statistics per sample over each group of C/numGroups channels; weight, bias [C]. */
export function groupNorm (x: TensorLike, numGroups: number, weight?: TL, bias?: TL, opts?: GroupNormOptions): Tensor {
  return groupNormOp.sync(x, numGroups, weight, bias, opts)
}
/** groupNorm() computed off the event loop. */
export function groupNormAsync (x: TensorLike, numGroups: number, weight?: TL, bias?: TL, opts?: GroupNormOptions): Promise<Tensor> {
  return groupNormOp.async(x, numGroups, weight, bias, opts)
}
/** Gradients of groupNorm: dx, dweight [C], dbias [C]. */
export function groupNormBackward (dy: TensorLike, x: TensorLike, numGroups: number, weight?: TL,
  opts?: GroupNormBackwardOptions): NormGrads {
  return groupNormBackwardOp.sync(dy, x, numGroups, weight, opts)
}
/** groupNormBackward() computed off the event loop. */
export function groupNormBackwardAsync (dy: TensorLike, x: TensorLike, numGroups: number, weight?: TL,
  opts?: GroupNormBackwardOptions): Promise<NormGrads> {
  return groupNormBackwardOp.async(dy, x, numGroups, weight, opts)
}
