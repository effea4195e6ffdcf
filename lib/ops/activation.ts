// Activations: relu, gelu, sigmoid, tanh (PyTorch semantics), and their backwards.
//
// Backward naming, shared by every op in foveal: `<op>Backward(dy, <what it needs>)`.
// Here that is the forward's input for relu and gelu (reluBackward(dy, x),
// geluBackward(dy, x)) and the forward's output for sigmoid and tanh, whose derivatives
// are cheapest from it (sigmoidBackward(dy, y) = dy·y·(1−y), tanhBackward(dy, y) =
// dy·(1−y²)). dy has the forward's shape; the result is dx, shaped like x.
import { binding } from '../native'
import { type Tensor, type TensorLike } from '../tensor'
import { fmtShape, optionsArg, outArg, rangeError, sameShape, tensorArg, oneOfArg } from '../validate'
import { defineOp, resultTensor } from './define'

export interface ActivationOptions {
  /** A tensor of the result's shape to write into instead of allocating one. */
  out?: TensorLike
}

export interface GeluOptions extends ActivationOptions {
  /** 'none' (default): x·Φ(x) with the exact normal CDF; 'tanh': PyTorch's tanh approximation. */
  approximate?: 'none' | 'tanh'
}

type Raw1 = [Float32Array, Float32Array | null]
type RawGelu = [Float32Array, Float32Array | null, boolean]
type RawB1 = [Float32Array, Float32Array, Float32Array | null]
type RawGeluB = [Float32Array, Float32Array, Float32Array | null, boolean]

function approximateArg (op: string, value: unknown): boolean {
  return oneOfArg(op, 'approximate', value, ['none', 'tanh'], 'none') === 'tanh'
}

function planUnary (op: string, x: TensorLike, opts: ActivationOptions | undefined, extra: readonly string[] = []) {
  const X = tensorArg(op, 'x', x)
  const o = optionsArg(op, opts, ['out', ...extra])
  const out = outArg(op, 'out', o.out, X.shape, [['x', X]])
  return { X, o, out, finish: (y: Float32Array): Tensor => resultTensor(o.out, out, y, X.shape) }
}

function planBackward (op: string, savedName: 'x' | 'y', dy: TensorLike, saved: TensorLike,
  opts: ActivationOptions | undefined, extra: readonly string[] = []) {
  const DY = tensorArg(op, 'dy', dy)
  const S = tensorArg(op, savedName, saved)
  if (!sameShape(DY.shape, S.shape)) rangeError(op, 'dy', `${fmtShape(S.shape)} (the shape of ${savedName})`, fmtShape(DY.shape))
  const o = optionsArg(op, opts, ['out', ...extra])
  const out = outArg(op, 'out', o.out, S.shape, [['dy', DY], [savedName, S]])
  return { DY, S, o, out, finish: (dx: Float32Array): Tensor => resultTensor(o.out, out, dx, S.shape) }
}

function unary (op: string) {
  return (x: TensorLike, opts?: ActivationOptions) => {
    const p = planUnary(op, x, opts)
    return { args: [p.X.data, p.out?.data ?? null] as Raw1, finish: p.finish }
  }
}

function unaryBackward (op: string, savedName: 'x' | 'y') {
  return (dy: TensorLike, saved: TensorLike, opts?: ActivationOptions) => {
    const p = planBackward(op, savedName, dy, saved, opts)
    return { args: [p.DY.data, p.S.data, p.out?.data ?? null] as RawB1, finish: p.finish }
  }
}

function planGelu (x: TensorLike, opts?: GeluOptions) {
  const p = planUnary('gelu', x, opts, ['approximate'])
  const tanh = approximateArg('gelu', (p.o as GeluOptions).approximate)
  return { args: [p.X.data, p.out?.data ?? null, tanh] as RawGelu, finish: p.finish }
}

function planGeluBackward (dy: TensorLike, x: TensorLike, opts?: GeluOptions) {
  const p = planBackward('geluBackward', 'x', dy, x, opts, ['approximate'])
  const tanh = approximateArg('geluBackward', (p.o as GeluOptions).approximate)
  return { args: [p.DY.data, p.S.data, p.out?.data ?? null, tanh] as RawGeluB, finish: p.finish }
}

const reluOp = defineOp(unary('relu'), binding.relu, binding.reluAsync)
const sigmoidOp = defineOp(unary('sigmoid'), binding.sigmoid, binding.sigmoidAsync)
const tanhOp = defineOp(unary('tanh'), binding.tanh, binding.tanhAsync)
const geluOp = defineOp(planGelu, binding.gelu, binding.geluAsync)
const reluBackwardOp = defineOp(unaryBackward('reluBackward', 'x'), binding.reluBackward, binding.reluBackwardAsync)
const sigmoidBackwardOp = defineOp(unaryBackward('sigmoidBackward', 'y'), binding.sigmoidBackward, binding.sigmoidBackwardAsync)
const tanhBackwardOp = defineOp(unaryBackward('tanhBackward', 'y'), binding.tanhBackward, binding.tanhBackwardAsync)
const geluBackwardOp = defineOp(planGeluBackward, binding.geluBackward, binding.geluBackwardAsync)

/** max(x, 0) element-wise (NaN stays NaN). */
export function relu (x: TensorLike, opts?: ActivationOptions): Tensor { return reluOp.sync(x, opts) }
/** relu() computed off the event loop. */
export function reluAsync (x: TensorLike, opts?: ActivationOptions): Promise<Tensor> { return reluOp.async(x, opts) }
/** dx = dy where x > 0, else 0 (PyTorch's threshold_backward: a NaN x passes dy). */
export function reluBackward (dy: TensorLike, x: TensorLike, opts?: ActivationOptions): Tensor { return reluBackwardOp.sync(dy, x, opts) }
/** reluBackward() computed off the event loop. */
export function reluBackwardAsync (dy: TensorLike, x: TensorLike, opts?: ActivationOptions): Promise<Tensor> {
  return reluBackwardOp.async(dy, x, opts)
}

/**
 * GELU: x·Φ(x) (approximate 'none', the default) or x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))
 * ('tanh'). Accurate to a few ulp relative everywhere, the far negative tail included;
 * gelu(−∞) = −0 (the limit) rather than PyTorch's NaN.
 */
export function gelu (x: TensorLike, opts?: GeluOptions): Tensor { return geluOp.sync(x, opts) }
/** gelu() computed off the event loop. */
export function geluAsync (x: TensorLike, opts?: GeluOptions): Promise<Tensor> { return geluOp.async(x, opts) }
/** dx = dy·gelu'(x), for the same `approximate` as the forward. */
export function geluBackward (dy: TensorLike, x: TensorLike, opts?: GeluOptions): Tensor { return geluBackwardOp.sync(dy, x, opts) }
/** geluBackward() computed off the event loop. */
export function geluBackwardAsync (dy: TensorLike, x: TensorLike, opts?: GeluOptions): Promise<Tensor> {
  return geluBackwardOp.async(dy, x, opts)
}

/** 1/(1 + e^{−x}) element-wise, to full relative precision (σ(−100) is a correct subnormal). */
export function sigmoid (x: TensorLike, opts?: ActivationOptions): Tensor { return sigmoidOp.sync(x, opts) }
/** sigmoid() computed off the event loop. */
export function sigmoidAsync (x: TensorLike, opts?: ActivationOptions): Promise<Tensor> { return sigmoidOp.async(x, opts) }
/** dx = dy·y·(1 − y), from the forward's output y. */
export function sigmoidBackward (dy: TensorLike, y: TensorLike, opts?: ActivationOptions): Tensor {
  return sigmoidBackwardOp.sync(dy, y, opts)
}
/** sigmoidBackward() computed off the event loop. */
export function sigmoidBackwardAsync (dy: TensorLike, y: TensorLike, opts?: ActivationOptions): Promise<Tensor> {
  return sigmoidBackwardOp.async(dy, y, opts)
}

/** tanh element-wise. */
export function tanh (x: TensorLike, opts?: ActivationOptions): Tensor { return tanhOp.sync(x, opts) }
/** tanh() computed off the event loop. */
export function tanhAsync (x: TensorLike, opts?: ActivationOptions): Promise<Tensor> { return tanhOp.async(x, opts) }
/** dx = dy·(1 − y²), from the forward's output y. */
export function tanhBackward (dy: TensorLike, y: TensorLike, opts?: ActivationOptions): Tensor { return tanhBackwardOp.sync(dy, y, opts) }
/** tanhBackward() computed off the event loop. */
export function tanhBackwardAsync (dy: TensorLike, y: TensorLike, opts?: ActivationOptions): Promise<Tensor> {
  return tanhBackwardOp.async(dy, y, opts)
}
