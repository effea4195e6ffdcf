// softmax and logSoftmax along any axis, and their backwards (PyTorch semantics).
//
// At the edges (the design's contract): a slice whose inputs are all −Infinity gives
// zeros from softmax and −Infinity from logSoftmax, and zero gradients from both
// backwards; finite and −Infinity inputs never give NaN, and huge logits (1e30) never
// overflow (the max is subtracted first). A NaN makes its slice NaN; +Infinity gives NaN
// as in PyTorch.
import { binding } from '../native'
import { type Tensor, type TensorLike } from '../tensor'
import { fmtShape, optionsArg, outArg, rangeError, sameShape, tensorArg } from '../validate'
import { axisArg, axisView } from './args'
import { defineOp, resultTensor } from './define'

export interface SoftmaxOptions {
  /** A tensor of the result's shape to write into instead of allocating one. */
  out?: TensorLike
}

type RawFwd = [Float32Array, Float32Array | null, number, number, number]
type RawBwd = [Float32Array, Float32Array, Float32Array | null, number, number, number]

function planForward (op: string) {
  return (x: TensorLike, axis?: number, opts?: SoftmaxOptions) => {
    const X = tensorArg(op, 'x', x)
    const a = axisArg(op, 'axis', axis, X.shape.length)
    const o = optionsArg(op, opts, ['out'])
    const out = outArg(op, 'out', o.out, X.shape, [['x', X]])
    return {
      args: [X.data, out?.data ?? null, ...axisView(X.shape, a)] as RawFwd,
      finish: (y: Float32Array): Tensor => resultTensor(o.out, out, y, X.shape)
    }
  }
}

function planBackward (op: string) {
  return (dy: TensorLike, y: TensorLike, axis?: number, opts?: SoftmaxOptions) => {
    const DY = tensorArg(op, 'dy', dy)
    const Y = tensorArg(op, 'y', y)
    if (!sameShape(DY.shape, Y.shape)) rangeError(op, 'dy', `${fmtShape(Y.shape)} (the shape of y)`, fmtShape(DY.shape))
    const a = axisArg(op, 'axis', axis, Y.shape.length)
    const o = optionsArg(op, opts, ['out'])
    const out = outArg(op, 'out', o.out, Y.shape, [['dy', DY], ['y', Y]])
    return {
      args: [DY.data, Y.data, out?.data ?? null, ...axisView(Y.shape, a)] as RawBwd,
      finish: (dx: Float32Array): Tensor => resultTensor(o.out, out, dx, Y.shape)
    }
  }
}

const softmaxOp = defineOp(planForward('softmax'), binding.softmax, binding.softmaxAsync)
const logSoftmaxOp = defineOp(planForward('logSoftmax'), binding.logSoftmax, binding.logSoftmaxAsync)
const softmaxBackwardOp = defineOp(planBackward('softmaxBackward'), binding.softmaxBackward, binding.softmaxBackwardAsync)
const logSoftmaxBackwardOp = defineOp(planBackward('logSoftmaxBackward'), binding.logSoftmaxBackward,
  binding.logSoftmaxBackwardAsync)

/** e^{x−max} / Σ e^{x−max} along `axis` (default −1, the last). */
export function softmax (x: TensorLike, axis = -1, opts?: SoftmaxOptions): Tensor { return softmaxOp.sync(x, axis, opts) }
/** softmax() computed off the event loop. */
export function softmaxAsync (x: TensorLike, axis = -1, opts?: SoftmaxOptions): Promise<Tensor> {
  return softmaxOp.async(x, axis, opts)
}
/** x − max − log Σ e^{x−max} along `axis` (default −1). */
export function logSoftmax (x: TensorLike, axis = -1, opts?: SoftmaxOptions): Tensor { return logSoftmaxOp.sync(x, axis, opts) }
/** logSoftmax() computed off the event loop. */
export function logSoftmaxAsync (x: TensorLike, axis = -1, opts?: SoftmaxOptions): Promise<Tensor> {
  return logSoftmaxOp.async(x, axis, opts)
}
/** dx = y·(dy − Σ dy·y) along `axis`, from the forward's output y. */
export function softmaxBackward (dy: TensorLike, y: TensorLike, axis = -1, opts?: SoftmaxOptions): Tensor {
  return softmaxBackwardOp.sync(dy, y, axis, opts)
}
/** softmaxBackward() computed off the event loop. */
export function softmaxBackwardAsync (dy: TensorLike, y: TensorLike, axis = -1, opts?: SoftmaxOptions): Promise<Tensor> {
  return softmaxBackwardOp.async(dy, y, axis, opts)
}
/** dx = dy − e^y·Σ dy along `axis`, from the forward's output y (zero on all −Infinity slices). */
export function logSoftmaxBackward (dy: TensorLike, y: TensorLike, axis = -1, opts?: SoftmaxOptions): Tensor {
  return logSoftmaxBackwardOp.sync(dy, y, axis, opts)
}
/** logSoftmaxBackward() computed off the event loop. */
export function logSoftmaxBackwardAsync (dy: TensorLike, y: TensorLike, axis = -1, opts?: SoftmaxOptions): Promise<Tensor> {
  return logSoftmaxBackwardOp.async(dy, y, axis, opts)
}
