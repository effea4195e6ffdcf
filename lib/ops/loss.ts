// Losses: crossEntropy (logits [N, C] and Int32Array labels, a fused log-softmax so huge
// logits never overflow, label smoothing, an ignored label), mse and bceWithLogits (a
// sigmoid fused into binary cross-entropy, with weight and posWeight broadcast as PyTorch
// does), each with a backward to the logits / predictions. PyTorch semantics and defaults.
import { binding } from '../native'
import { type Shape, type Tensor, type TensorLike } from '../tensor'
import { type Checked, describe, fmtShape, integerArg, optionalTensorArg, optionsArg, outArg, rangeError, sameShape, tensorArg, typeError } from '../validate'
import { MAX_RANK, type Reduction, numberArg, reductionArg } from './args'
import { defineOp, resultTensor } from './define'

export interface CrossEntropyOptions {
  /** 'mean' (default: over the rows not ignored; NaN when every row is ignored, as PyTorch), 'sum', or 'none' ([N]). */
  reduction?: Reduction
  /** ε in [0, 1]: the target is (1−ε)·onehot + ε/C (default 0). */
  labelSmoothing?: number
  /** Rows whose label equals this contribute nothing and get zero gradient (default −100, as PyTorch). */
  ignoreIndex?: number
  /**
   * Class weights [C] (PyTorch's weight): row i's loss is scaled by weight[labels[i]] (with
   * label smoothing, the ε part weighs each class by its own weight), and 'mean' divides
   * by Σ weight[labels[i]] over the rows not ignored.
   */
  weight?: TensorLike | null
  /** A tensor of the loss's shape ([] or [N]) to write into. */
  out?: TensorLike
}
export type CrossEntropyBackwardOptions = CrossEntropyOptions

export interface MseOptions {
  /** 'mean' (default), 'sum', or 'none' (the element-wise squared errors, shaped like pred). */
  reduction?: Reduction
  out?: TensorLike
}
export type MseBackwardOptions = MseOptions

export interface BceWithLogitsOptions {
  /** Multiplies each element's loss; any shape that broadcasts to logits' (PyTorch's weight). */
  weight?: TensorLike | null
  /**
   * The weight of the positive term, −pw·t·log σ(x); a shape that broadcasts to logits',
   * usually [C] for the last (class) dimension (PyTorch's pos_weight).
   */
  posWeight?: TensorLike | null
  /** 'mean' (default: over every element, weights or not, as PyTorch), 'sum', or 'none' (logits' shape). */
  reduction?: Reduction
  /** A tensor of the result's shape to write into ([] or logits' shape; the backward: logits' shape). */
  out?: TensorLike
}
export type BceWithLogitsBackwardOptions = BceWithLogitsOptions

const REDUCTION_CODE = { none: 0, mean: 1, sum: 2 } as const
type F = Float32Array
type FN = Float32Array | null

function labelsArg (op: string, value: unknown, N: number): Int32Array {
  if (!(value instanceof Int32Array)) typeError(op, 'labels', 'an Int32Array', describe(value))
  if (value.length !== N) rangeError(op, 'labels', `${N} elements (one per row of logits)`, String(value.length))
  return value
}

function ceCommon (op: string, logits: TensorLike, labels: unknown, opts: CrossEntropyOptions | undefined) {
  const X = tensorArg(op, 'logits', logits)
  if (X.shape.length !== 2) rangeError(op, 'logits', '[N, C] (rank 2)', fmtShape(X.shape))
  const [N, C] = X.shape as [number, number]
  const L = labelsArg(op, labels, N)
  const o = optionsArg(op, opts, ['reduction', 'labelSmoothing', 'ignoreIndex', 'weight', 'out'])
  const reduction = reductionArg(op, o.reduction)
  const smoothing = numberArg(op, 'labelSmoothing', o.labelSmoothing, 0, 0, 1)
  const ignoreIndex = o.ignoreIndex === undefined ? -100 : integerArg(op, 'ignoreIndex', o.ignoreIndex, -(2 ** 31), 2 ** 31 - 1)
  const W = optionalTensorArg(op, 'weight', o.weight)
  if (W !== null && (W.shape.length !== 1 || W.shape[0] !== C)) rangeError(op, 'weight', `[${C}] (one per class of logits)`, fmtShape(W.shape))
  const lossShape = Object.freeze(reduction === 'none' ? [N] : [])
  return { X, N, C, L, o, reduction, smoothing, ignoreIndex, W, lossShape }
}

// The upstream gradient: a number (for the scalar reductions) or a tensor of the loss's shape.
function dyArg (op: string, dy: unknown, lossShape: readonly number[]) {
  if (typeof dy === 'number' && lossShape.length === 0) {
    const d = Float32Array.of(dy)
    return { data: d, shape: lossShape, size: 1 }
  }
  const DY = tensorArg(op, 'dy', dy)
  const ok = lossShape.length === 0 ? DY.size === 1 && DY.shape.length <= 1 : sameShape(DY.shape, lossShape)
  if (!ok) rangeError(op, 'dy', `${fmtShape(lossShape)} (the shape of the loss)${lossShape.length === 0 ? ' or a number' : ''}`, fmtShape(DY.shape))
  return DY
}

function planCrossEntropy (logits: TensorLike, labels: Int32Array, opts?: CrossEntropyOptions) {
  const op = 'crossEntropy'
  const c = ceCommon(op, logits, labels, opts)
  const out = outArg(op, 'out', c.o.out, c.lossShape, [['logits', c.X], ['weight', c.W]])
  return {
    args: [c.X.data, c.L, out?.data ?? null, c.N, c.C, REDUCTION_CODE[c.reduction], c.smoothing, c.ignoreIndex,
      c.W?.data ?? null] as [F, Int32Array, FN, number, number, number, number, number, FN],
    finish: (loss: F): Tensor => resultTensor(c.o.out, out, loss, c.lossShape)
  }
}

function planCrossEntropyBackward (dy: number | TensorLike, logits: TensorLike, labels: Int32Array,
  opts?: CrossEntropyBackwardOptions) {
  const op = 'crossEntropyBackward'
  const c = ceCommon(op, logits, labels, opts)
  const DY = dyArg(op, dy, c.lossShape)
  const out = outArg(op, 'out', c.o.out, c.X.shape, [['dy', DY], ['logits', c.X], ['weight', c.W]])
  return {
    args: [DY.data, c.X.data, c.L, out?.data ?? null, c.N, c.C, REDUCTION_CODE[c.reduction], c.smoothing, c.ignoreIndex,
      c.W?.data ?? null] as [F, F, Int32Array, FN, number, number, number, number, number, FN],
    finish: (g: F): Tensor => resultTensor(c.o.out, out, g, c.X.shape)
  }
}

function mseCommon (op: string, pred: TensorLike, target: TensorLike, opts: MseOptions | undefined) {
  const P = tensorArg(op, 'pred', pred)
  const T = tensorArg(op, 'target', target)
  if (!sameShape(P.shape, T.shape)) rangeError(op, 'target', `${fmtShape(P.shape)} (the shape of pred)`, fmtShape(T.shape))
  const o = optionsArg(op, opts, ['reduction', 'out'])
  const reduction = reductionArg(op, o.reduction)
  return { P, T, o, reduction, lossShape: Object.freeze(reduction === 'none' ? P.shape.slice() : []) }
}

function planMse (pred: TensorLike, target: TensorLike, opts?: MseOptions) {
  const op = 'mse'
  const c = mseCommon(op, pred, target, opts)
  const out = outArg(op, 'out', c.o.out, c.lossShape, [['pred', c.P], ['target', c.T]])
  return {
    args: [c.P.data, c.T.data, out?.data ?? null, REDUCTION_CODE[c.reduction]] as [F, F, FN, number],
    finish: (loss: F): Tensor => resultTensor(c.o.out, out, loss, c.lossShape)
  }
}

function planMseBackward (dy: number | TensorLike, pred: TensorLike, target: TensorLike, opts?: MseBackwardOptions) {
  const op = 'mseBackward'
  const c = mseCommon(op, pred, target, opts)
  const DY = dyArg(op, dy, c.lossShape)
  const out = outArg(op, 'out', c.o.out, c.P.shape, [['dy', DY], ['pred', c.P], ['target', c.T]])
  return {
    args: [DY.data, c.P.data, c.T.data, out?.data ?? null, REDUCTION_CODE[c.reduction]] as [F, F, F, FN, number],
    finish: (g: F): Tensor => resultTensor(c.o.out, out, g, c.P.shape)
  }
}

function bceCommon (op: string, logits: TensorLike, target: TensorLike, opts: BceWithLogitsOptions | undefined) {
  const X = tensorArg(op, 'logits', logits)
  if (X.shape.length > MAX_RANK) rangeError(op, 'logits', `at most ${MAX_RANK} dimensions`, fmtShape(X.shape))
  const T = tensorArg(op, 'target', target)
  if (!sameShape(X.shape, T.shape)) rangeError(op, 'target', `${fmtShape(X.shape)} (the shape of logits)`, fmtShape(T.shape))
  const o = optionsArg(op, opts, ['weight', 'posWeight', 'reduction', 'out'])
  // A weight broadcasts to logits (aligned at the right) without growing its shape.
  const weightOf = (name: 'weight' | 'posWeight') => {
    const W = optionalTensorArg(op, name, o[name])
    if (W === null) return null
    const r = X.shape.length - W.shape.length
    if (r < 0 || W.shape.some((d, i) => d !== 1 && d !== X.shape[r + i])) {
      rangeError(op, name, `a shape that broadcasts to logits ${fmtShape(X.shape)}`, fmtShape(W.shape))
    }
    return W
  }
  const W = weightOf('weight')
  const P = weightOf('posWeight')
  const reduction = reductionArg(op, o.reduction)
  const lossShape = Object.freeze(reduction === 'none' ? X.shape.slice() : [])
  const native = [X.data, T.data, W?.data ?? null, P?.data ?? null] as [F, F, FN, FN]
  const shapes = [X.shape, W?.shape ?? null, P?.shape ?? null, REDUCTION_CODE[reduction]] as
    [Shape, Shape | null, Shape | null, number]
  const inputs = [['logits', X], ['target', T], ['weight', W], ['posWeight', P]] as Array<[string, Checked | null]>
  return { X, o, lossShape, native, shapes, inputs }
}

function planBce (logits: TensorLike, target: TensorLike, opts?: BceWithLogitsOptions) {
  const op = 'bceWithLogits'
  const c = bceCommon(op, logits, target, opts)
  const out = outArg(op, 'out', c.o.out, c.lossShape, c.inputs)
  return {
    args: [...c.native, out?.data ?? null, ...c.shapes] as [F, F, FN, FN, FN, Shape, Shape | null, Shape | null, number],
    finish: (loss: F): Tensor => resultTensor(c.o.out, out, loss, c.lossShape)
  }
}

function planBceBackward (dy: number | TensorLike, logits: TensorLike, target: TensorLike, opts?: BceWithLogitsBackwardOptions) {
  const op = 'bceWithLogitsBackward'
  const c = bceCommon(op, logits, target, opts)
  const DY = dyArg(op, dy, c.lossShape)
  const out = outArg(op, 'out', c.o.out, c.X.shape, [['dy', DY], ...c.inputs])
  return {
    args: [DY.data, ...c.native, out?.data ?? null, ...c.shapes] as
      [F, F, F, FN, FN, FN, Shape, Shape | null, Shape | null, number],
    finish: (g: F): Tensor => resultTensor(c.o.out, out, g, c.X.shape)
  }
}

const crossEntropyOp = defineOp(planCrossEntropy, binding.crossEntropy, binding.crossEntropyAsync)
const crossEntropyBackwardOp = defineOp(planCrossEntropyBackward, binding.crossEntropyBackward, binding.crossEntropyBackwardAsync)
const mseOp = defineOp(planMse, binding.mse, binding.mseAsync)
const mseBackwardOp = defineOp(planMseBackward, binding.mseBackward, binding.mseBackwardAsync)
const bceOp = defineOp(planBce, binding.bceWithLogits, binding.bceWithLogitsAsync)
const bceBackwardOp = defineOp(planBceBackward, binding.bceWithLogitsBackward, binding.bceWithLogitsBackwardAsync)

/**
 * Cross-entropy of logits [N, C] against class labels (Int32Array [N]), with the
 * log-softmax fused in (max-subtracted, so 1e30 logits are fine): a scalar tensor (shape
 * []) for 'mean' / 'sum', [N] for 'none'. A label outside [0, C) that is not ignoreIndex
 * is a RangeError naming its index.
 */
export function crossEntropy (logits: TensorLike, labels: Int32Array, opts?: CrossEntropyOptions): Tensor {
  return crossEntropyOp.sync(logits, labels, opts)
}
/** crossEntropy() computed off the event loop. */
export function crossEntropyAsync (logits: TensorLike, labels: Int32Array, opts?: CrossEntropyOptions): Promise<Tensor> {
  return crossEntropyOp.async(logits, labels, opts)
}
/**
 * Gradient of crossEntropy w.r.t. the logits, [N, C]: dy·(softmax − (1−ε)·onehot − ε/C)
 * per row (÷ the counted rows for 'mean'); dy is the loss's gradient (a number for the
 * scalar reductions, or a tensor of the loss's shape). Same options as the forward.
 */
export function crossEntropyBackward (dy: number | TensorLike, logits: TensorLike, labels: Int32Array,
  opts?: CrossEntropyBackwardOptions): Tensor {
  return crossEntropyBackwardOp.sync(dy, logits, labels, opts)
}
/** crossEntropyBackward() computed off the event loop. */
export function crossEntropyBackwardAsync (dy: number | TensorLike, logits: TensorLike, labels: Int32Array,
  opts?: CrossEntropyBackwardOptions): Promise<Tensor> {
  return crossEntropyBackwardOp.async(dy, logits, labels, opts)
}

/** Mean (or summed, or element-wise) squared error between pred and target (same shapes). */
export function mse (pred: TensorLike, target: TensorLike, opts?: MseOptions): Tensor { return mseOp.sync(pred, target, opts) }
/** mse() computed off the event loop. */
export function mseAsync (pred: TensorLike, target: TensorLike, opts?: MseOptions): Promise<Tensor> {
  return mseOp.async(pred, target, opts)
}
/** Gradient of mse w.r.t. pred: 2(pred − target)·dy (÷ n for 'mean'); the target's is its negation. */
export function mseBackward (dy: number | TensorLike, pred: TensorLike, target: TensorLike, opts?: MseBackwardOptions): Tensor {
  return mseBackwardOp.sync(dy, pred, target, opts)
}
/** mseBackward() computed off the event loop. */
export function mseBackwardAsync (dy: number | TensorLike, pred: TensorLike, target: TensorLike,
  opts?: MseBackwardOptions): Promise<Tensor> {
  return mseBackwardOp.async(dy, pred, target, opts)
}

/**
 * Binary cross-entropy on logits (PyTorch's BCEWithLogitsLoss): per element
 * w·[(1 − t)·x + (1 + (pw − 1)·t)·log(1 + e^{−x})], computed without overflow for any
 * finite x. target has logits' shape (values in [0, 1], soft labels allowed); weight and
 * posWeight broadcast to it. A 0-d tensor (shape []) for 'mean' / 'sum', logits' shape
 * for 'none'.
 */
export function bceWithLogits (logits: TensorLike, target: TensorLike, opts?: BceWithLogitsOptions): Tensor {
  return bceOp.sync(logits, target, opts)
}
/** bceWithLogits() computed off the event loop. */
export function bceWithLogitsAsync (logits: TensorLike, target: TensorLike, opts?: BceWithLogitsOptions): Promise<Tensor> {
  return bceOp.async(logits, target, opts)
}
/**
 * Gradient of bceWithLogits w.r.t. the logits: dy·w·((1 + (pw − 1)·t)·σ(x) − pw·t) (÷ the
 * element count for 'mean'); dy is the loss's gradient (a number for the scalar
 * reductions, or a tensor of the loss's shape). Same options as the forward.
 */
export function bceWithLogitsBackward (dy: number | TensorLike, logits: TensorLike, target: TensorLike,
  opts?: BceWithLogitsBackwardOptions): Tensor {
  return bceBackwardOp.sync(dy, logits, target, opts)
}
/** bceWithLogitsBackward() computed off the event loop. */
export function bceWithLogitsBackwardAsync (dy: number | TensorLike, logits: TensorLike, target: TensorLike,
  opts?: BceWithLogitsBackwardOptions): Promise<Tensor> {
  return bceBackwardOp.async(dy, logits, target, opts)
}
