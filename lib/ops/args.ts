// Argument readers shared by the op families, in validate.ts's message format (the readers
// every layer uses, tensors, options, out, live in validate.ts). Not part of the public API.
import { type Shape } from '../tensor'
import { describe, fmtShape, integerArg, rangeError, typeError, oneOfArg } from '../validate'

/** The most dimensions a tensor may have in the broadcasting ops (PyTorch allows more; foveal's kernels stop at 8). */
export const MAX_RANK = 8

/** An axis in [−rank, rank) (a scalar shape [] has the single axis 0 / −1); returns it in [0, max(rank,1)). */
export function axisArg (op: string, name: string, value: unknown, rank: number, fallback = -1): number {
  const v = value === undefined ? fallback : value
  const r = Math.max(rank, 1)
  if (typeof v !== 'number') typeError(op, name, 'an integer', describe(v))
  if (!Number.isInteger(v) || v < -r || v >= r) {
    rangeError(op, name, `an integer from ${-r} to ${r - 1} (x has rank ${rank})`, describe(v))
  }
  return v < 0 ? v + r : v
}

/** The [outer, len, inner] view of `shape` around `axis`. */
export function axisView (shape: Shape, axis: number): [number, number, number] {
  let outer = 1; let inner = 1
  for (let i = 0; i < axis; i++) outer *= shape[i]!
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!
  return [outer, shape.length === 0 ? 1 : shape[axis]!, inner]
}

export type Reduction = 'mean' | 'sum' | 'none'

export function reductionArg (op: string, value: unknown): Reduction {
  return oneOfArg(op, 'reduction', value, ['mean', 'sum', 'none'], 'mean')
}

/** A finite number in [lo, hi] (hiOpen: [lo, hi)). */
export function numberArg (op: string, name: string, value: unknown, fallback: number, lo: number, hi: number,
  hiOpen = false): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number') typeError(op, name, 'a number', describe(value))
  if (!(value >= lo && (hiOpen ? value < hi : value <= hi))) {
    rangeError(op, name, `a number from ${lo} to ${hi}${hiOpen ? ' (exclusive)' : ''}`, describe(value))
  }
  return value
}

/** A finite number (any sign). */
export function finiteArg (op: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number') typeError(op, name, 'a number', describe(value))
  if (!Number.isFinite(value)) rangeError(op, name, 'a finite number', describe(value))
  return value
}

/** A non-negative safe integer seed (the 64-bit Philox key is its value). */
export function seedArg (op: string, value: unknown): number {
  if (value === undefined) typeError(op, 'seed', 'a non-negative safe integer', 'undefined')
  return integerArg(op, 'seed', value, 0, Number.MAX_SAFE_INTEGER)
}

/**
 * The dropout contract, one for every op that drops (fv.ops.dropout and its backward,
 * attention and its backward):
 *  - p, the drop probability, is a number in [0, 1] (default 0); p = 1 drops everything;
 *  - the seed is a non-negative safe integer, the key of the counter-based mask, and is
 *    required whenever anything is dropped (p > 0 and `active`: dropout's training), in
 *    the forward and the backward alike. A given seed is checked even when unused.
 * Why the seed is the caller's: the backward regenerates the mask from it, so a forward
 * that made one up would have to hand it back (a plain Tensor result cannot), and a draw
 * hidden in an op would not follow fv.manualSeed. fv.nn modules draw theirs from
 * fv.manualSeed's stream (lib/seed.ts) and keep it for their backward.
 */
export function dropoutArgs (op: string, pName: string, p: unknown, seed: unknown,
  active = true): { p: number, seed: number } {
  const prob = numberArg(op, pName, p, 0, 0, 1)
  const drops = active && prob > 0
  if (seed === undefined) {
    if (drops) typeError(op, 'seed', `a non-negative safe integer when ${pName} > 0 (the mask's key)`, 'undefined')
    return { p: prob, seed: 0 }
  }
  return { p: prob, seed: seedArg(op, seed) }
}

/** PyTorch broadcasting of two shapes (aligned at the right); throws naming `bName` when they do not broadcast. */
export function broadcastShapes (op: string, aName: string, a: Shape, bName: string, b: Shape): number[] {
  const rank = Math.max(a.length, b.length)
  const out: number[] = new Array(rank)
  for (let i = 0; i < rank; i++) {
    const da = i - (rank - a.length) >= 0 ? a[i - (rank - a.length)]! : 1
    const db = i - (rank - b.length) >= 0 ? b[i - (rank - b.length)]! : 1
    if (da !== db && da !== 1 && db !== 1) {
      rangeError(op, bName, `a shape that broadcasts with ${aName} ${fmtShape(a)}`, fmtShape(b))
    }
    out[i] = da === 1 ? db : da
  }
  if (out.reduce((p, d) => p * d, 1) > Number.MAX_SAFE_INTEGER) {
    rangeError(op, bName, `a shape whose broadcast with ${aName} ${fmtShape(a)} has at most 2^53-1 elements`, fmtShape(b))
  }
  return out
}

/** A finite number ≥ 0 (an optimizer's lr, eps, weightDecay, momentum). */
export function nonNegativeArg (op: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number') typeError(op, name, 'a non-negative number', describe(value))
  if (!(value >= 0 && value < Infinity)) rangeError(op, name, 'a non-negative number', describe(value))
  return value
}

/** A number in [0, 1) (a decay rate: Adam's betas). */
export function unitArg (op: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number') typeError(op, name, 'a number in [0, 1)', describe(value))
  if (!(value >= 0 && value < 1)) rangeError(op, name, 'a number in [0, 1)', describe(value))
  return value
}
