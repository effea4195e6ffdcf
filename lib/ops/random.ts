// Random fills in place, from the counter-based Philox4x32-10 (native/cpu/random): the
// value of element i depends only on (seed, i), so a seed gives the same tensor on any
// thread count. They are what fv.nn.init draws with.
//
// The numbers are not PyTorch's stream (its CPU generator is a Mersenne Twister): the
// distributions and bounds are the same. uniform_ gives values in [lo, hi) from 24 random
// bits, as PyTorch's float uniform_; normal_ is Box–Muller in double precision (its tail
// is cut at 6.66 standard deviations).
import { binding } from '../native'
import { Tensor, type TensorLike } from '../tensor'
import { describe, rangeError, tensorArg, typeError } from '../validate'
import { seedArg } from './args'
import { defineOp } from './define'

function finiteArg (op: string, name: string, value: unknown): number {
  if (typeof value !== 'number') typeError(op, name, 'a finite number', describe(value))
  if (!Number.isFinite(value)) rangeError(op, name, 'a finite number', describe(value))
  return value
}

// The tensor filled in place: the caller's Tensor itself, or a Tensor over a plain TensorLike's data.
function inPlaceResult (t: TensorLike, shape: readonly number[]): (data: Float32Array) => Tensor {
  return (data) => t instanceof Tensor ? t : new Tensor(data, shape)
}

function planUniform (t: TensorLike, lo: number, hi: number, seed: number) {
  const op = 'uniform_'
  const T = tensorArg(op, 't', t)
  const a = finiteArg(op, 'lo', lo)
  const b = finiteArg(op, 'hi', hi)
  if (b < a) rangeError(op, 'hi', `a number ≥ lo=${a}`, describe(b))
  if (!Number.isFinite(b - a)) rangeError(op, 'hi', `within the float64 range of lo=${a} (hi − lo overflows)`, describe(b))
  const s = seedArg(op, seed)
  return {
    args: [T.data, a, b, s] as [Float32Array, number, number, number],
    finish: inPlaceResult(t, T.shape)
  }
}

function planNormal (t: TensorLike, mean: number, std: number, seed: number) {
  const op = 'normal_'
  const T = tensorArg(op, 't', t)
  const m = finiteArg(op, 'mean', mean)
  const s = finiteArg(op, 'std', std)
  if (s < 0) rangeError(op, 'std', 'a number ≥ 0', describe(s))
  return {
    args: [T.data, m, s, seedArg(op, seed)] as [Float32Array, number, number, number],
    finish: inPlaceResult(t, T.shape)
  }
}

const uniformOp = defineOp(planUniform, binding.uniform_, binding.uniform_Async)
const normalOp = defineOp(planNormal, binding.normal_, binding.normal_Async)

/**
 * Fills t in place with values uniform in [lo, hi) drawn from `seed` (a non-negative safe
 * integer) and returns it (a plain TensorLike comes back as a Tensor over its data).
 */
export function uniform_ (t: TensorLike, lo: number, hi: number, seed: number): Tensor {
  return uniformOp.sync(t, lo, hi, seed)
}
/** uniform_() computed off the event loop (t must not be touched until the promise settles). */
// eslint-disable-next-line camelcase -- PyTorch's in-place suffix, then the Async one
export function uniform_Async (t: TensorLike, lo: number, hi: number, seed: number): Promise<Tensor> {
  return uniformOp.async(t, lo, hi, seed)
}
/** Fills t in place with normal values of the given mean and standard deviation drawn from `seed`, and returns it. */
export function normal_ (t: TensorLike, mean: number, std: number, seed: number): Tensor {
  return normalOp.sync(t, mean, std, seed)
}
/** normal_() computed off the event loop. */
// eslint-disable-next-line camelcase -- PyTorch's in-place suffix, then the Async one
export function normal_Async (t: TensorLike, mean: number, std: number, seed: number): Promise<Tensor> {
  return normalOp.async(t, mean, std, seed)
}
