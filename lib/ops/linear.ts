// linear: y = x·wᵀ + b over the last dim of x (PyTorch's F.linear), and its backward.
import { binding, type RawLinearGrads } from '../native'
import { type Shape, type Tensor, type TensorLike } from '../tensor'
import {
  booleanArg, fmtShape, optionalTensorArg, optionsArg, outArg, rangeError, tensorArg, typeError, describe
} from '../validate'
import { defineOp, resultTensor } from './define'

export interface LinearOptions {
  /** A tensor of the result's shape to write into instead of allocating one. */
  out?: TensorLike
}

export interface LinearGrads {
  /** Gradient w.r.t. x, shaped like x. */
  dx: Tensor
  /** Gradient w.r.t. w, [out, in]. */
  dw: Tensor
  /** Gradient w.r.t. the bias, [out] (returned whether or not the forward had one). */
  db: Tensor
}

export interface LinearBackwardOptions {
  /** Tensors to write the gradients into (each optional). */
  out?: { dx?: TensorLike, dw?: TensorLike, db?: TensorLike }
  /** Add the gradients into out.dx, out.dw and out.db (all three required) instead of overwriting them. */
  accumulate?: boolean
}

function dims (op: string, xShape: Shape, wShape: Shape): { M: number, K: number, N: number } {
  if (wShape.length !== 2) rangeError(op, 'w', '[out, in] (rank 2)', fmtShape(wShape))
  const [N, K] = wShape as [number, number]
  if (xShape.length < 1 || xShape[xShape.length - 1] !== K) {
    rangeError(op, 'x', `[..., in] with in=${K} as w`, fmtShape(xShape))
  }
  let M = 1
  for (let i = 0; i < xShape.length - 1; i++) M *= xShape[i]!
  return { M, K, N }
}

function planLinear (x: TensorLike, w: TensorLike, bias?: TensorLike | null, opts?: LinearOptions) {
  const op = 'linear'
  const X = tensorArg(op, 'x', x)
  const W = tensorArg(op, 'w', w)
  const B = optionalTensorArg(op, 'bias', bias)
  const o = optionsArg(op, opts, ['out'])
  const { M, K, N } = dims(op, X.shape, W.shape)
  if (B !== null && (B.shape.length !== 1 || B.shape[0] !== N)) {
    rangeError(op, 'bias', `[${N}] (out of w)`, fmtShape(B.shape))
  }
  const yShape = Object.freeze([...X.shape.slice(0, -1), N])
  const out = outArg(op, 'out', o.out, yShape, [['x', X], ['w', W], ['bias', B]])
  return {
    args: [X.data, W.data, B?.data ?? null, out?.data ?? null, M, K, N] as
      [Float32Array, Float32Array, Float32Array | null, Float32Array | null, number, number, number],
    finish: (y: Float32Array): Tensor => resultTensor(o.out, out, y, yShape)
  }
}

function planLinearBackward (dy: TensorLike, x: TensorLike, w: TensorLike, opts?: LinearBackwardOptions) {
  const op = 'linearBackward'
  const DY = tensorArg(op, 'dy', dy)
  const X = tensorArg(op, 'x', x)
  const W = tensorArg(op, 'w', w)
  const o = optionsArg(op, opts, ['out', 'accumulate'])
  const { M, K, N } = dims(op, X.shape, W.shape)
  const yShape = [...X.shape.slice(0, -1), N]
  if (DY.shape.length !== yShape.length || DY.shape.some((d, i) => d !== yShape[i])) {
    rangeError(op, 'dy', `${fmtShape(yShape)} (the shape of linear's result)`, fmtShape(DY.shape))
  }
  const outs = optionsArg(op + ' options.out', o.out, ['dx', 'dw', 'db'])
  if (o.out !== undefined && (typeof o.out !== 'object' || o.out === null)) {
    typeError(op, 'options.out', 'an object { dx?, dw?, db? }', describe(o.out))
  }
  const inputs = [['dy', DY], ['x', X], ['w', W]] as const
  const dxOut = outArg(op, 'out.dx', outs.dx, X.shape, inputs)
  const dwOut = outArg(op, 'out.dw', outs.dw, W.shape, inputs)
  const dbOut = outArg(op, 'out.db', outs.db, Object.freeze([N]), inputs)
  const accumulate = booleanArg(op, 'accumulate', o.accumulate, false)
  if (accumulate && (dxOut === null || dwOut === null || dbOut === null)) {
    rangeError(op, 'out', 'all of dx, dw and db when accumulate is true', 'some missing')
  }
  return {
    args: [DY.data, X.data, W.data, dxOut?.data ?? null, dwOut?.data ?? null, dbOut?.data ?? null,
      M, K, N, accumulate] as [Float32Array, Float32Array, Float32Array, Float32Array | null,
      Float32Array | null, Float32Array | null, number, number, number, boolean],
    finish: (g: RawLinearGrads): LinearGrads => ({
      dx: resultTensor(outs.dx, dxOut, g.dx, X.shape),
      dw: resultTensor(outs.dw, dwOut, g.dw, W.shape),
      db: resultTensor(outs.db, dbOut, g.db, Object.freeze([N]))
    })
  }
}

const linearOp = defineOp(planLinear, binding.linear, binding.linearAsync)
const linearBackwardOp = defineOp(planLinearBackward, binding.linearBackward, binding.linearBackwardAsync)

/**
 * y = x·wᵀ + bias. x is [..., in] (or [in]), w is [out, in] (PyTorch's layout), bias is
 * [out]; y is [..., out].
 */
export function linear (x: TensorLike, w: TensorLike, bias?: TensorLike | null, opts?: LinearOptions): Tensor {
  return linearOp.sync(x, w, bias, opts)
}

/** linear() computed off the event loop. */
export function linearAsync (x: TensorLike, w: TensorLike, bias?: TensorLike | null, opts?: LinearOptions): Promise<Tensor> {
  return linearOp.async(x, w, bias, opts)
}

/** Gradients of linear(x, w, bias) given dy = ∂loss/∂y: dx = dy·w, dw = dyᵀ·x, db = Σ dy. */
export function linearBackward (dy: TensorLike, x: TensorLike, w: TensorLike, opts?: LinearBackwardOptions): LinearGrads {
  return linearBackwardOp.sync(dy, x, w, opts)
}

/** linearBackward() computed off the event loop. */
export function linearBackwardAsync (dy: TensorLike, x: TensorLike, w: TensorLike,
  opts?: LinearBackwardOptions): Promise<LinearGrads> {
  return linearBackwardOp.async(dy, x, w, opts)
}
