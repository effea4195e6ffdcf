// The optimizers' functional layer: one fused native pass per parameter tensor that
// updates the parameter and its state in place (PyTorch's single-tensor, foreach=False,
// update rules; native/cpu/optim/optim.h spells them out), and the two reductions gradient
// clipping is made of. fv.optim's classes are built on these.
//
// In-place ops return nothing (their Async twins a Promise<void>): the tensors passed are
// the results. While an Async update is in flight, do not read or write its tensors.
import { binding } from '../native'
import { type Shape, type TensorLike } from '../tensor'
import {
  type Checked, booleanArg, describe, fmtShape, integerArg, optionsArg, rangeError, sameShape, tensorArg, typeError
} from '../validate'
import { finiteArg, nonNegativeArg, unitArg } from './args'
import { defineOp } from './define'

export interface AdamStepOptions {
  /** Learning rate, ≥ 0 (default 1e-3). */
  lr?: number
  /** Decay of the first moment, in [0, 1) (default 0.9). */
  beta1?: number
  /** Decay of the second moment, in [0, 1) (default 0.999). */
  beta2?: number
  /** Added to √v̂ in the denominator, ≥ 0 (default 1e-8). */
  eps?: number
  /** L2 penalty added to the gradient (Adam), or the decoupled decay rate (AdamW), ≥ 0 (default 0). */
  weightDecay?: number
  /** This update's step number, counting from 1 (the bias corrections use it). Required. */
  step: number
  /** Normalise by the running maximum of the second moment, kept in maxExpAvgSq (default false). */
  amsgrad?: boolean
  /** AdamW: decay the parameter by (1 − lr·weightDecay) instead of adding weightDecay·param to the gradient (default false). */
  decoupled?: boolean
  /** Ascend: use −grad (default false). */
  maximize?: boolean
}

export interface SgdStepOptions {
  /** Learning rate, ≥ 0 (default 1e-3). */
  lr?: number
  /** Momentum factor, ≥ 0 (default 0: no buffer is read or written). */
  momentum?: number
  /** Dampening of the gradient's share of the momentum (default 0). */
  dampening?: number
  /** Nesterov momentum (default false; needs momentum > 0 and dampening = 0). */
  nesterov?: boolean
  /** L2 penalty added to the gradient, ≥ 0 (default 0). */
  weightDecay?: number
  /** Ascend: use −grad (default false). */
  maximize?: boolean
  /**
   * The momentum buffer holds no history yet: set it to this step's gradient (after weight
   * decay) instead of blending into it, as PyTorch does on a parameter's first step
   * (default false).
   */
  initBuffer?: boolean
}

type F = Float32Array

// The state tensors must have param's shape, and no two tensors may share memory: the
// kernel reads every one of them while it writes param and the state.
function sameShapeAs (op: string, name: string, t: Checked, shape: Shape): void {
  if (!sameShape(t.shape, shape)) rangeError(op, name, `${fmtShape(shape)} (the shape of param)`, fmtShape(t.shape))
}

function disjoint (op: string, ts: ReadonlyArray<readonly [string, Checked | null]>): void {
  for (let i = 0; i < ts.length; i++) {
    for (let j = i + 1; j < ts.length; j++) {
      const a = ts[i]![1]; const b = ts[j]![1]
      if (a !== null && b !== null && overlaps(a.data, b.data)) {
        rangeError(op, ts[j]![0], `memory not shared with ${ts[i]![0]}`, 'a view of the same buffer')
      }
    }
  }
}

function overlaps (a: Float32Array, b: Float32Array): boolean {
  if (a.buffer !== b.buffer || a.length === 0 || b.length === 0) return false
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength
}

const ADAM_KEYS = ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'step', 'amsgrad', 'decoupled', 'maximize'] as const

function planAdam (param: TensorLike, grad: TensorLike, expAvg: TensorLike, expAvgSq: TensorLike,
  maxExpAvgSq: TensorLike | null, opts: AdamStepOptions) {
  const op = 'adamStep'
  const P = tensorArg(op, 'param', param)
  const G = tensorArg(op, 'grad', grad)
  const M = tensorArg(op, 'expAvg', expAvg)
  const V = tensorArg(op, 'expAvgSq', expAvgSq)
  const VM = maxExpAvgSq === null || maxExpAvgSq === undefined ? null : tensorArg(op, 'maxExpAvgSq', maxExpAvgSq)
  sameShapeAs(op, 'grad', G, P.shape)
  sameShapeAs(op, 'expAvg', M, P.shape)
  sameShapeAs(op, 'expAvgSq', V, P.shape)
  if (VM !== null) sameShapeAs(op, 'maxExpAvgSq', VM, P.shape)
  if (opts === undefined) typeError(op, 'options', 'an object with step', 'undefined')
  const o = optionsArg(op, opts, ADAM_KEYS)
  const lr = nonNegativeArg(op, 'lr', o.lr, 1e-3)
  const beta1 = unitArg(op, 'beta1', o.beta1, 0.9)
  const beta2 = unitArg(op, 'beta2', o.beta2, 0.999)
  const eps = nonNegativeArg(op, 'eps', o.eps, 1e-8)
  const weightDecay = nonNegativeArg(op, 'weightDecay', o.weightDecay, 0)
  const step = integerArg(op, 'step', o.step, 1, Number.MAX_SAFE_INTEGER)
  const amsgrad = booleanArg(op, 'amsgrad', o.amsgrad, false)
  const decoupled = booleanArg(op, 'decoupled', o.decoupled, false)
  const maximize = booleanArg(op, 'maximize', o.maximize, false)
  if (amsgrad && VM === null) typeError(op, 'maxExpAvgSq', 'a tensor with amsgrad', 'null')
  disjoint(op, [['param', P], ['grad', G], ['expAvg', M], ['expAvgSq', V], ['maxExpAvgSq', VM]])
  return {
    args: [P.data, G.data, M.data, V.data, VM?.data ?? null,
      { lr, beta1, beta2, eps, weightDecay, step, amsgrad, decoupled, maximize }] as Parameters<typeof binding.adamStep>,
    finish: (): void => undefined
  }
}

const SGD_KEYS = ['lr', 'momentum', 'dampening', 'nesterov', 'weightDecay', 'maximize', 'initBuffer'] as const

function planSgd (param: TensorLike, grad: TensorLike, momentumBuffer: TensorLike | null, opts?: SgdStepOptions) {
  const op = 'sgdStep'
  const P = tensorArg(op, 'param', param)
  const G = tensorArg(op, 'grad', grad)
  const B = momentumBuffer === null || momentumBuffer === undefined ? null : tensorArg(op, 'momentumBuffer', momentumBuffer)
  sameShapeAs(op, 'grad', G, P.shape)
  if (B !== null) sameShapeAs(op, 'momentumBuffer', B, P.shape)
  const o = optionsArg(op, opts, SGD_KEYS)
  const lr = nonNegativeArg(op, 'lr', o.lr, 1e-3)
  const momentum = nonNegativeArg(op, 'momentum', o.momentum, 0)
  const dampening = finiteArg(op, 'dampening', o.dampening, 0)
  const nesterov = booleanArg(op, 'nesterov', o.nesterov, false)
  const weightDecay = nonNegativeArg(op, 'weightDecay', o.weightDecay, 0)
  const maximize = booleanArg(op, 'maximize', o.maximize, false)
  const initBuffer = booleanArg(op, 'initBuffer', o.initBuffer, false)
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    rangeError(op, 'nesterov', 'used with momentum > 0 and dampening = 0', `momentum=${momentum}, dampening=${dampening}`)
  }
  if (momentum !== 0 && B === null) typeError(op, 'momentumBuffer', 'a tensor when momentum ≠ 0', 'null')
  disjoint(op, [['param', P], ['grad', G], ['momentumBuffer', momentum !== 0 ? B : null]])
  return {
    args: [P.data, G.data, momentum !== 0 ? B!.data : null,
      { lr, momentum, dampening, weightDecay, nesterov, maximize, initBuffer }] as Parameters<typeof binding.sgdStep>,
    finish: (): void => undefined
  }
}

function ordArg (op: string, value: unknown): number {
  if (value === undefined) return 2
  if (typeof value !== 'number') typeError(op, 'ord', 'a number (Infinity for the max norm)', describe(value))
  if (Number.isNaN(value)) rangeError(op, 'ord', 'a number (Infinity for the max norm)', 'NaN')
  return value
}

function planNorm (x: TensorLike, ord?: number) {
  const op = 'vectorNorm'
  const X = tensorArg(op, 'x', x)
  const p = ordArg(op, ord)
  return {
    args: [X.data, p] as [F, number],
    // The reduction comes back in double; only the root is left (torch.linalg.vector_norm).
    finish: (r: number): number => (p === 2 ? Math.sqrt(r) : p === 1 || p === 0 || !Number.isFinite(p) ? r : r ** (1 / p))
  }
}

function planScale (x: TensorLike, scale: number) {
  const op = 'scaleInPlace'
  const X = tensorArg(op, 'x', x)
  if (typeof scale !== 'number') typeError(op, 'scale', 'a number', describe(scale))
  return { args: [X.data, scale] as [F, number], finish: (): void => undefined }
}

const adamOp = defineOp(planAdam, binding.adamStep, binding.adamStepAsync)
const sgdOp = defineOp(planSgd, binding.sgdStep, binding.sgdStepAsync)
const normOp = defineOp(planNorm, binding.normReduce, binding.normReduceAsync)
const scaleOp = defineOp(planScale, binding.scaleInPlace, binding.scaleInPlaceAsync)

/**
 * One Adam / AdamW update of `param` from `grad`, in place: param, expAvg, expAvgSq (and
 * maxExpAvgSq with amsgrad) are read and rewritten in one pass. PyTorch's
 * `_single_tensor_adam` / `_single_tensor_adamw` (foreach=False) for step number `step`:
 * m ← β1·m + (1 − β1)·g, v ← β2·v + (1 − β2)·g², p ← p − lr/(1 − β1^step) · m / (√v̂/√(1 − β2^step) + eps),
 * with L2 weight decay (g += wd·p) or, `decoupled`, p ← p·(1 − lr·wd) first.
 */
export function adamStep (param: TensorLike, grad: TensorLike, expAvg: TensorLike, expAvgSq: TensorLike,
  maxExpAvgSq: TensorLike | null, opts: AdamStepOptions): void {
  adamOp.sync(param, grad, expAvg, expAvgSq, maxExpAvgSq, opts)
}
/** adamStep() computed off the event loop; the tensors are updated when the promise resolves. */
export function adamStepAsync (param: TensorLike, grad: TensorLike, expAvg: TensorLike, expAvgSq: TensorLike,
  maxExpAvgSq: TensorLike | null, opts: AdamStepOptions): Promise<void> {
  return adamOp.async(param, grad, expAvg, expAvgSq, maxExpAvgSq, opts)
}

/**
 * One SGD update of `param` from `grad`, in place (PyTorch's `_single_tensor_sgd`):
 * d = g (+ wd·p); with momentum, b ← μ·b + (1 − dampening)·d (b ← d with initBuffer) and
 * d = nesterov ? d + μ·b : b; p ← p − lr·d. momentumBuffer may be null when momentum is 0.
 */
export function sgdStep (param: TensorLike, grad: TensorLike, momentumBuffer: TensorLike | null, opts?: SgdStepOptions): void {
  sgdOp.sync(param, grad, momentumBuffer, opts)
}
/** sgdStep() computed off the event loop; the tensors are updated when the promise resolves. */
export function sgdStepAsync (param: TensorLike, grad: TensorLike, momentumBuffer: TensorLike | null,
  opts?: SgdStepOptions): Promise<void> {
  return sgdOp.async(param, grad, momentumBuffer, opts)
}

/**
 * torch.linalg.vector_norm(x, ord) over all elements, as a number: (Σ|x|^ord)^(1/ord);
 * ord = Infinity the largest |x|, −Infinity the smallest, 0 the count of non-zeros.
 * Accumulated in double over fixed blocks, so bit-identical for any thread count and ISA.
 */
export function vectorNorm (x: TensorLike, ord?: number): number { return normOp.sync(x, ord) }
/** vectorNorm() computed off the event loop. */
export function vectorNormAsync (x: TensorLike, ord?: number): Promise<number> { return normOp.async(x, ord) }

/** x ← x·scale in place (scale rounded to float32, as PyTorch's mul_ by a float32 scalar). */
export function scaleInPlace (x: TensorLike, scale: number): void { scaleOp.sync(x, scale) }
/** scaleInPlace() computed off the event loop. */
export function scaleInPlaceAsync (x: TensorLike, scale: number): Promise<void> { return scaleOp.async(x, scale) }
