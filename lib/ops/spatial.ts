// Option parsing shared by the conv and pool families: integer pairs (stride, dilation,
// kernel), the padding forms of the contract, ONNX SAME_UPPER, and the output-size
// formulas. Internal: lib/ops/index.ts does not export it.
import type { Shape } from '../tensor'
import { describe, fmtShape, rangeError, typeError, oneOfArg } from '../validate'

/** [top, bottom, left, right] */
export type Pads = readonly [number, number, number, number]

/** Geometry sent to native conv ops: [N, C, H, W, Cout, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, groups]. */
export type ConvGeometry = [number, number, number, number, number, number, number, number,
  number, number, number, number, number, number, number, number]

/** Sizes above this are refused before they reach native code (which refuses them too). */
const MAX_DIM = 2 ** 40

function isInt (v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v)
}

/**
 * `number | [h, w]` → [h, w], each an integer ≥ min (undefined → fallback). TypeError when
 * the value is not a number or a pair of numbers, RangeError when a number is out of range.
 */
export function pairArg (op: string, name: string, value: unknown, fallback: readonly [number, number],
  min: number): [number, number] {
  if (value === undefined) return [fallback[0], fallback[1]]
  const expected = min === 1
    ? 'a positive integer or [h, w] of positive integers'
    : `an integer ≥ ${min} or [h, w] of integers ≥ ${min}`
  let pair: [unknown, unknown]
  if (typeof value === 'number') pair = [value, value]
  else if (Array.isArray(value) && value.length === 2) pair = [value[0], value[1]]
  else return typeError(op, name, expected, describe(value))
  for (const v of pair) {
    if (typeof v !== 'number') typeError(op, name, expected, describe(value))
    if (!isInt(v) || v < min || v > MAX_DIM) rangeError(op, name, expected, describe(value))
  }
  return pair as [number, number]
}

/** A single integer ≥ min, or a one-element array of one (conv1d's forms). */
export function singleArg (op: string, name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback
  const expected = min === 1 ? 'a positive integer' : `an integer ≥ ${min}`
  const v = Array.isArray(value) && value.length === 1 ? value[0] : value
  if (typeof v !== 'number') typeError(op, name, expected, describe(value))
  if (!isInt(v) || v < min || v > MAX_DIM) rangeError(op, name, expected, describe(value))
  return v
}

/**
 * The numeric padding forms: number | [h, w] | [top, bottom, left, right], each an integer
 * ≥ 0. `modes` lists the strings accepted besides ('same', 'valid'); a string returns
 * itself for the caller to resolve against the shapes.
 */
export function paddingArg<M extends string> (op: string, value: unknown, modes: readonly M[]): Pads | M {
  const forms = 'an integer ≥ 0, [h, w] or [top, bottom, left, right]'
  const expected = modes.length ? `${forms}, or ${modes.map((m) => `'${m}'`).join(' or ')}` : forms
  if (value === undefined) return [0, 0, 0, 0]
  if (typeof value === 'string') {
    if ((modes as readonly string[]).includes(value)) return value as M
    return rangeError(op, 'padding', expected, describe(value))
  }
  let p: unknown[]
  if (typeof value === 'number') p = [value, value, value, value]
  else if (Array.isArray(value) && value.length === 2) p = [value[0], value[0], value[1], value[1]]
  else if (Array.isArray(value) && value.length === 4) p = value
  else return typeError(op, 'padding', expected, describe(value))
  for (const v of p) {
    if (typeof v !== 'number') typeError(op, 'padding', expected, describe(value))
    if (!isInt(v) || v < 0 || v > MAX_DIM) rangeError(op, 'padding', expected, describe(value))
  }
  return p as unknown as Pads
}

/**
 * ONNX SAME_UPPER along one axis: the output is ceil(in / stride) and the padding that
 * takes splits evenly, the odd pixel at the end. At stride 1 it is PyTorch's 'same'.
 */
export function samePads (size: number, k: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(size / stride)
  const total = Math.max((out - 1) * stride + dilation * (k - 1) + 1 - size, 0)
  const begin = Math.floor(total / 2)
  return [begin, total - begin]
}

/** floor((in + pads − (dilation·(k−1)+1)) / stride) + 1; 0 when the window does not fit. */
export function convOutSize (size: number, k: number, stride: number, dilation: number, p0: number, p1: number): number {
  const room = size + p0 + p1 - (dilation * (k - 1) + 1)
  return room < 0 ? 0 : Math.floor(room / stride) + 1
}

/** PyTorch's pooling output size, with its ceil-mode rule (a window starting in the end padding is dropped). */
export function poolOutSize (size: number, k: number, stride: number, dilation: number, p0: number, p1: number,
  ceilMode: boolean): number {
  const room = size + p0 + p1 - (dilation * (k - 1) + 1)
  if (room < 0) return 0
  let out = Math.floor((room + (ceilMode ? stride - 1 : 0)) / stride) + 1
  if (ceilMode && (out - 1) * stride >= size + p0) out--
  return out
}

/** Requires a rank-4 NCHW shape; `layout` names the dims in the message. */
export function rank4 (op: string, name: string, shape: Shape, layout: string): [number, number, number, number] {
  if (shape.length !== 4) rangeError(op, name, `${layout} (rank 4)`, fmtShape(shape))
  return shape as unknown as [number, number, number, number]
}

/**
 * Requires the dilated window to fit the padded input along both axes (RangeError naming
 * `name`, the argument that carries the window: w for conv, kernel for pools).
 */
export function checkFits (op: string, name: string, k: readonly [number, number], dil: readonly [number, number],
  H: number, W: number, pads: Pads): void {
  const eh = dil[0] * (k[0] - 1) + 1
  const ew = dil[1] * (k[1] - 1) + 1
  const ph = H + pads[0] + pads[1]
  const pw = W + pads[2] + pads[3]
  if (eh > ph || ew > pw) {
    const dilated = dil[0] === 1 && dil[1] === 1 ? '' : ` (dilated ${eh}x${ew})`
    rangeError(op, name, `a window${dilated} that fits the padded input ${ph}x${pw}`, `${k[0]}x${k[1]}`)
  }
}

/** The `activation` option: 'none' (default) or 'relu' → whether ReLU is fused. */
export function activationArg (op: string, value: unknown): boolean {
  return oneOfArg(op, 'activation', value, ['none', 'relu'], 'none') === 'relu'
}
