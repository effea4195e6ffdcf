// The linear family, all on the GEMM core: linear (y = x·wᵀ + b over the last dim of x,
// PyTorch's F.linear), matmul (torch.matmul's batching and broadcasting), the BLAS-style
// gemm, and their backwards.
import { binding, type RawLinearGrads, type RawMatmulGrads } from '../native'
import { type Shape, type Tensor, type TensorLike } from '../tensor'
import {
  booleanArg, fmtShape, optionalTensorArg, optionsArg, outArg, rangeError, sameShape, tensorArg, outsArg
} from '../validate'
import { finiteArg } from './args'
import { defineOp, resultTensor } from './define'
import { activationArg } from './spatial'

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
  /**
   * Add each gradient given in `out` into it instead of overwriting it (at least one
   * required); the gradients not given are fresh results. So a module adds dw and db into
   * the gradients it holds while dx comes back new.
   */
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
  const outs = outsArg(op, o.out, ['dx', 'dw', 'db'])
  const inputs = [['dy', DY], ['x', X], ['w', W]] as const
  const dxOut = outArg(op, 'out.dx', outs.dx, X.shape, inputs)
  const dwOut = outArg(op, 'out.dw', outs.dw, W.shape, inputs)
  const dbOut = outArg(op, 'out.db', outs.db, Object.freeze([N]), inputs)
  const accumulate = booleanArg(op, 'accumulate', o.accumulate, false)
  if (accumulate && dxOut === null && dwOut === null && dbOut === null) {
    rangeError(op, 'out', 'at least one of dx, dw and db when accumulate is true', 'none')
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

// ---- matmul: batched, with PyTorch's broadcasting of batch dims ----

export interface MatmulOptions {
  /** A tensor of the result's shape to write into instead of allocating one. */
  out?: TensorLike
}

export interface MatmulGrads {
  /** Gradient w.r.t. a, shaped like a (summed over the batch dims a was broadcast along). */
  da: Tensor
  /** Gradient w.r.t. b, shaped like b (summed over the batch dims b was broadcast along). */
  db: Tensor
}

export interface MatmulBackwardOptions {
  /** Tensors to write the gradients into (each optional). */
  out?: { da?: TensorLike, db?: TensorLike }
}

/** The most batch dims matmul and gemm take (after broadcasting). */
const MAX_BATCH_DIMS = 8

interface MatmulShape {
  M: number, K: number, N: number
  batch: number[], aBatch: number[], bBatch: number[]
  yShape: Shape
}

// torch.matmul's rules: a 1-D a is [1,K] and b 1-D is [K,1], their unit dim dropped from
// the result; the batch dims (all but the last two) broadcast from the right.
function matmulShape (op: string, aShape: Shape, bShape: Shape): MatmulShape {
  if (aShape.length < 1) rangeError(op, 'a', 'at least 1-D', fmtShape(aShape))
  if (bShape.length < 1) rangeError(op, 'b', 'at least 1-D', fmtShape(bShape))
  const a1 = aShape.length === 1; const b1 = bShape.length === 1
  const M = a1 ? 1 : aShape[aShape.length - 2]!
  const K = aShape[aShape.length - 1]!
  const Kb = b1 ? bShape[0]! : bShape[bShape.length - 2]!
  const N = b1 ? 1 : bShape[bShape.length - 1]!
  if (Kb !== K) {
    rangeError(op, 'b', `${b1 ? '[K]' : '[..., K, N]'} with K=${K} as the last dim of a`, fmtShape(bShape))
  }
  const aB = a1 ? [] : aShape.slice(0, -2)
  const bB = b1 ? [] : bShape.slice(0, -2)
  const rank = Math.max(aB.length, bB.length)
  if (rank > MAX_BATCH_DIMS) {
    rangeError(op, aB.length >= bB.length ? 'a' : 'b', `at most ${MAX_BATCH_DIMS} batch dims`, fmtShape(aB.length >= bB.length ? aShape : bShape))
  }
  const aBatch = [...new Array<number>(rank - aB.length).fill(1), ...aB]
  const bBatch = [...new Array<number>(rank - bB.length).fill(1), ...bB]
  const batch = aBatch.map((d, i) => {
    const e = bBatch[i]!
    if (d !== e && d !== 1 && e !== 1) {
      rangeError(op, 'b', `batch dims broadcastable with a's ${fmtShape(aB)}`, fmtShape(bShape))
    }
    return d === 1 ? e : d
  })
  const yShape = Object.freeze([...batch, ...(a1 ? [] : [M]), ...(b1 ? [] : [N])])
  return { M, K, N, batch, aBatch, bBatch, yShape }
}

function planMatmul (a: TensorLike, b: TensorLike, opts?: MatmulOptions) {
  const op = 'matmul'
  const A = tensorArg(op, 'a', a)
  const B = tensorArg(op, 'b', b)
  const o = optionsArg(op, opts, ['out'])
  const s = matmulShape(op, A.shape, B.shape)
  const out = outArg(op, 'out', o.out, s.yShape, [['a', A], ['b', B]])
  return {
    args: [A.data, B.data, out?.data ?? null, s.M, s.K, s.N, s.batch, s.aBatch, s.bBatch] as
      [Float32Array, Float32Array, Float32Array | null, number, number, number, number[], number[], number[]],
    finish: (y: Float32Array): Tensor => resultTensor(o.out, out, y, s.yShape)
  }
}

function planMatmulBackward (dy: TensorLike, a: TensorLike, b: TensorLike, opts?: MatmulBackwardOptions) {
  const op = 'matmulBackward'
  const DY = tensorArg(op, 'dy', dy)
  const A = tensorArg(op, 'a', a)
  const B = tensorArg(op, 'b', b)
  const o = optionsArg(op, opts, ['out'])
  const s = matmulShape(op, A.shape, B.shape)
  if (!sameShape(DY.shape, s.yShape)) {
    rangeError(op, 'dy', `${fmtShape(s.yShape)} (the shape of matmul's result)`, fmtShape(DY.shape))
  }
  const outs = outsArg(op, o.out, ['da', 'db'])
  const inputs = [['dy', DY], ['a', A], ['b', B]] as const
  const daOut = outArg(op, 'out.da', outs.da, A.shape, inputs)
  const dbOut = outArg(op, 'out.db', outs.db, B.shape, inputs)
  return {
    args: [DY.data, A.data, B.data, daOut?.data ?? null, dbOut?.data ?? null, s.M, s.K, s.N,
      s.batch, s.aBatch, s.bBatch] as [Float32Array, Float32Array, Float32Array, Float32Array | null,
      Float32Array | null, number, number, number, number[], number[], number[]],
    finish: (g: RawMatmulGrads): MatmulGrads => ({
      da: resultTensor(outs.da, daOut, g.da, A.shape),
      db: resultTensor(outs.db, dbOut, g.db, B.shape)
    })
  }
}

const matmulOp = defineOp(planMatmul, binding.matmul, binding.matmulAsync)
const matmulBackwardOp = defineOp(planMatmulBackward, binding.matmulBackward, binding.matmulBackwardAsync)

/**
 * Matrix product with torch.matmul's rules: a [..., M, K] · b [..., K, N] → [..., M, N],
 * the batch dims broadcast (at most 8); a 1-D a is a row vector and a 1-D b a column
 * vector, their unit dim dropped from the result.
 */
export function matmul (a: TensorLike, b: TensorLike, opts?: MatmulOptions): Tensor {
  return matmulOp.sync(a, b, opts)
}

/** matmul() computed off the event loop. */
export function matmulAsync (a: TensorLike, b: TensorLike, opts?: MatmulOptions): Promise<Tensor> {
  return matmulOp.async(a, b, opts)
}

/**
 * Gradients of matmul(a, b) given dy = ∂loss/∂y: da = dy·bᵀ and db = aᵀ·dy, each summed
 * over the batch dims its operand was broadcast along, so da is shaped like a and db like b.
 */
export function matmulBackward (dy: TensorLike, a: TensorLike, b: TensorLike, opts?: MatmulBackwardOptions): MatmulGrads {
  return matmulBackwardOp.sync(dy, a, b, opts)
}

/** matmulBackward() computed off the event loop. */
export function matmulBackwardAsync (dy: TensorLike, a: TensorLike, b: TensorLike,
  opts?: MatmulBackwardOptions): Promise<MatmulGrads> {
  return matmulBackwardOp.async(dy, a, b, opts)
}

// ---- gemm: BLAS-style, every transpose, strided batches ----

export interface GemmOptions {
  /** Use aᵀ: a is [K, M] (or [batch, K, M]). */
  transA?: boolean
  /** Use bᵀ: b is [N, K] (or [batch, N, K]). */
  transB?: boolean
  /** Scales the product (default 1). */
  alpha?: number
  /** Scales c (default 1 when c is given, else 0; must be 0 without c). */
  beta?: number
  /** Added to the product after scaling by beta: [M, N], or [batch, M, N] when batched. */
  c?: TensorLike | null
  /** [N], added to every row of the result (fused into the product's store). */
  biasRow?: TensorLike | null
  /** [M], added to every column of the result. */
  biasCol?: TensorLike | null
  /** Applied last: 'none' (default) or 'relu' (which keeps NaN). */
  activation?: 'none' | 'relu'
  /** A tensor of the result's shape to write into instead of allocating one. */
  out?: TensorLike
}

function planGemm (a: TensorLike, b: TensorLike, opts?: GemmOptions) {
  const op = 'gemm'
  const A = tensorArg(op, 'a', a)
  const B = tensorArg(op, 'b', b)
  const o = optionsArg(op, opts, ['transA', 'transB', 'alpha', 'beta', 'c', 'biasRow', 'biasCol', 'activation', 'out'])
  const transA = booleanArg(op, 'transA', o.transA, false)
  const transB = booleanArg(op, 'transB', o.transB, false)
  const C = optionalTensorArg(op, 'c', o.c)
  const alpha = finiteArg(op, 'alpha', o.alpha, 1)
  const beta = finiteArg(op, 'beta', o.beta, C !== null ? 1 : 0)
  if (C === null && beta !== 0) rangeError(op, 'beta', '0 when c is not given', String(beta))
  if (A.shape.length !== 2 && A.shape.length !== 3) {
    rangeError(op, 'a', transA ? '[K, M] or [batch, K, M]' : '[M, K] or [batch, M, K]', fmtShape(A.shape))
  }
  if (B.shape.length !== 2 && B.shape.length !== 3) {
    rangeError(op, 'b', transB ? '[N, K] or [batch, N, K]' : '[K, N] or [batch, K, N]', fmtShape(B.shape))
  }
  const aBatched = A.shape.length === 3; const bBatched = B.shape.length === 3
  const a2 = A.shape.slice(-2); const b2 = B.shape.slice(-2)
  const [M, K] = transA ? [a2[1]!, a2[0]!] : [a2[0]!, a2[1]!]
  const [Kb, N] = transB ? [b2[1]!, b2[0]!] : [b2[0]!, b2[1]!]
  if (Kb !== K) {
    rangeError(op, 'b', `${transB ? '[..., N, K]' : '[..., K, N]'} with K=${K} as op(a)`, fmtShape(B.shape))
  }
  if (aBatched && bBatched && A.shape[0] !== B.shape[0]) {
    rangeError(op, 'b', `batch ${A.shape[0]} as a`, fmtShape(B.shape))
  }
  const batched = aBatched || bBatched
  const batch = aBatched ? A.shape[0]! : bBatched ? B.shape[0]! : 1
  const yShape = Object.freeze(batched ? [batch, M, N] : [M, N])
  let cBatched = false
  if (C !== null) {
    cBatched = C.shape.length === 3
    if (!sameShape(C.shape, [M, N]) && !(batched && sameShape(C.shape, yShape))) {
      rangeError(op, 'c', batched ? `[${M},${N}] or ${fmtShape(yShape)}` : `[${M},${N}]`, fmtShape(C.shape))
    }
  }
  const biasRow = optionalTensorArg(op, 'biasRow', o.biasRow)
  if (biasRow !== null && !sameShape(biasRow.shape, [N])) rangeError(op, 'biasRow', `[${N}] (N)`, fmtShape(biasRow.shape))
  const biasCol = optionalTensorArg(op, 'biasCol', o.biasCol)
  if (biasCol !== null && !sameShape(biasCol.shape, [M])) rangeError(op, 'biasCol', `[${M}] (M)`, fmtShape(biasCol.shape))
  const relu = activationArg(op, o.activation)
  const out = outArg(op, 'out', o.out, yShape, [['a', A], ['b', B], ['c', C], ['biasRow', biasRow], ['biasCol', biasCol]])
  return {
    args: [A.data, B.data, C?.data ?? null, out?.data ?? null, biasRow?.data ?? null, biasCol?.data ?? null,
      { batch, M, K, N, transA, transB, alpha, beta, aBatched, bBatched, cBatched, relu }] as Parameters<typeof binding.gemm>,
    finish: (y: Float32Array): Tensor => resultTensor(o.out, out, y, yShape)
  }
}

const gemmOp = defineOp(planGemm, binding.gemm, binding.gemmAsync)

/**
 * BLAS-style product: act(alpha·op(a)·op(b) + beta·c + biasRow + biasCol), op(x) = x or xᵀ
 * (transA, transB). 2-D operands, or 3-D [batch, …, …] ones: a 2-D operand (or c) serves
 * every batch item. alpha = 0 does not read a or b (BLAS); beta = 0 does not read c.
 */
export function gemm (a: TensorLike, b: TensorLike, opts?: GemmOptions): Tensor {
  return gemmOp.sync(a, b, opts)
}

/** gemm() computed off the event loop. */
export function gemmAsync (a: TensorLike, b: TensorLike, opts?: GemmOptions): Promise<Tensor> {
  return gemmOp.async(a, b, opts)
}
