// Shared by the layers: constructor argument checks in validate.ts's message format (named
// by the class: `Conv2d: kernelSize must be a positive integer or [h, w], got 0`), the
// gradient targets of parameters, and the release rule for tensors a module made.
import { Tensor, type TensorLike } from '../tensor'
import { describe, fmtShape, optionsArg, rangeError, typeError, oneOfArg } from '../validate'
import { type Parameter } from './parameter'

/**
 * [fanIn, fanOut] of a weight (PyTorch's _calculate_fan_in_and_fan_out): dim 1 and dim 0
 * times the receptive field (the product of dims 2…). Needs at least 2 dims.
 */
export function fans (fn: string, shape: readonly number[]): [number, number] {
  if (shape.length < 2) {
    rangeError(fn, 'tensor', 'at least 2 dimensions to compute fan in and fan out', fmtShape(shape))
  }
  let receptive = 1
  for (let i = 2; i < shape.length; i++) receptive *= shape[i]!
  return [shape[1]! * receptive, shape[0]! * receptive]
}

/** An options object with only the given keys (a typo is a TypeError naming the class). */
export function options<K extends string> (cls: string, value: unknown, known: readonly K[]): Partial<Record<K, unknown>> {
  return optionsArg(cls, value, known)
}

/** An integer ≥ min (TypeError for a non-number, RangeError otherwise). */
export function intArg (cls: string, name: string, value: unknown, min = 1): number {
  const what = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer ≥ ${min}`
  if (typeof value !== 'number') typeError(cls, name, what, describe(value))
  if (!Number.isSafeInteger(value) || value < min) rangeError(cls, name, what, describe(value))
  return value
}

/** number | [h, w] of integers ≥ min, as [h, w]. */
export function pairArg (cls: string, name: string, value: unknown, fallback: readonly [number, number] | undefined,
  min = 1): [number, number] {
  const what = min === 1 ? 'a positive integer or [h, w]' : 'a non-negative integer or [h, w]'
  if (value === undefined && fallback !== undefined) return [fallback[0], fallback[1]]
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min
  if (ok(value)) return [value, value]
  if (Array.isArray(value) && value.length === 2 && ok(value[0]) && ok(value[1])) return [value[0], value[1]]
  if (typeof value === 'number' || (Array.isArray(value) && value.every((v) => typeof v === 'number'))) {
    rangeError(cls, name, what, describe(value))
  }
  return typeError(cls, name, what, describe(value))
}

export function boolArg (cls: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') typeError(cls, name, 'a boolean', describe(value))
  return value
}

/** A finite number in [lo, hi] (hiOpen: [lo, hi)). */
export function numArg (cls: string, name: string, value: unknown, fallback: number, lo: number, hi: number,
  hiOpen = false): number {
  if (value === undefined) return fallback
  const what = `a number from ${lo} to ${hi}${hiOpen ? ' (exclusive)' : ''}`
  if (typeof value !== 'number') typeError(cls, name, what, describe(value))
  if (!(value >= lo && (hiOpen ? value < hi : value <= hi))) rangeError(cls, name, what, describe(value))
  return value
}

/** One of the given strings. */
export function enumArg<T extends string> (cls: string, name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  return oneOfArg(cls, name, value, allowed, fallback)
}

/** The tensor a backward accumulates a parameter's gradient into (none for a frozen or absent one). */
export function gradOf (p: Parameter | null): Tensor | undefined {
  return p !== null && p.requiresGrad ? p.ensureGrad() : undefined
}

/** A zero-filled tensor (a parameter's or buffer's memory: not from the pool, kept for the module's life). */
export function zeros (shape: readonly number[]): Tensor {
  let n = 1
  for (const d of shape) n *= d
  return new Tensor(new Float32Array(n), shape)
}

type Maybe = TensorLike | null | undefined

const shares = (k: Maybe, buffer: ArrayBufferLike): boolean => k !== null && k !== undefined && k.data.buffer === buffer

/**
 * Disposes `t`, a tensor a module or container made for itself, unless its memory is
 * shared with one of k1…k6 (a reshape of an input, an identity's output): a view's fate is
 * its buffer's, so that tensor then goes with the one it shares. (Fixed arity: it runs
 * between every two children of a Sequential, and a rest array would be garbage each time.)
 */
export function release (t: Maybe, k1?: Maybe, k2?: Maybe, k3?: Maybe, k4?: Maybe, k5?: Maybe, k6?: Maybe): void {
  if (!(t instanceof Tensor) || t.isDisposed) return
  const b = t.data.buffer
  if (shares(k1, b) || shares(k2, b) || shares(k3, b) || shares(k4, b) || shares(k5, b) || shares(k6, b)) return
  t.dispose()
}

/** The error of a backward with nothing to go back through. */
export function noForward (cls: string): never {
  throw new Error(`${cls}: backward needs a forward first, in training mode or after eval({ grad: true }) ` +
    '(each forward is gone back through once)')
}

/** A tensor's shape, whichever of shape / dims it carries. */
export function shapeOf (t: TensorLike): readonly number[] {
  return 'shape' in t ? t.shape : t.dims
}

/** A Tensor over a TensorLike's data with another shape (no copy; a Tensor's reshape keeps its lifetime link). */
export function reshaped (t: TensorLike, shape: readonly number[]): Tensor {
  return t instanceof Tensor ? t.reshape(shape) : new Tensor(t.data, shape)
}
