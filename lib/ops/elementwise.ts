// add and mul with PyTorch broadcasting (shapes aligned at the right, size-1 dims
// stretched), and their backwards, which sum the gradient over the broadcast dims.
// Ranks up to 8. Common CNN cases — x·gate with gate [N,C,1,1] (channel attention) or
// [N,1,H,W] (spatial attention), a bias [C] on [..., C] — run as whole contiguous rows.
import { binding, type RawBinaryGrads } from '../native'
import { type Shape, type Tensor, type TensorLike } from '../tensor'
import {
  type Checked, fmtShape, optionsArg, outArg, rangeError, sameShape, shapeArg, tensorArg, outsArg
} from '../validate'
import { MAX_RANK, broadcastShapes } from './args'
import { defineOp, resultTensor } from './define'

export interface BinaryOptions {
  /** A tensor of the broadcast result's shape to write into instead of allocating one. */
  out?: TensorLike
}

export interface BinaryGrads {
  /** Gradient w.r.t. a, shaped like a (dy summed over the dims a was broadcast along). */
  da: Tensor
  /** Gradient w.r.t. b, shaped like b. */
  db: Tensor
}

export interface BinaryBackwardOptions {
  /** Tensors to write the gradients into (each optional). */
  out?: { da?: TensorLike, db?: TensorLike }
}

type RawFwd = [Float32Array, Shape, Float32Array, Shape, Float32Array | null]

function rankCheck (op: string, name: string, shape: Shape): void {
  if (shape.length > MAX_RANK) rangeError(op, name, `at most ${MAX_RANK} dimensions`, fmtShape(shape))
}

function planForward (op: string) {
  return (a: TensorLike, b: TensorLike, opts?: BinaryOptions) => {
    const A = tensorArg(op, 'a', a)
    const B = tensorArg(op, 'b', b)
    rankCheck(op, 'a', A.shape)
    rankCheck(op, 'b', B.shape)
    const yShape = Object.freeze(broadcastShapes(op, 'a', A.shape, 'b', B.shape))
    const o = optionsArg(op, opts, ['out'])
    const out = outArg(op, 'out', o.out, yShape, [['a', A], ['b', B]])
    return {
      args: [A.data, A.shape, B.data, B.shape, out?.data ?? null] as RawFwd,
      finish: (y: Float32Array): Tensor => resultTensor(o.out, out, y, yShape)
    }
  }
}

function gradOuts (op: string, opts: BinaryBackwardOptions | undefined, aShape: Shape, bShape: Shape,
  inputs: ReadonlyArray<readonly [string, Checked | null]>) {
  const o = optionsArg(op, opts, ['out'])
  const outs = outsArg(op, o.out, ['da', 'db'])
  const daOut = outArg(op, 'out.da', outs.da, aShape, inputs)
  const dbOut = outArg(op, 'out.db', outs.db, bShape, inputs)
  if (daOut !== null && dbOut !== null && daOut.data.buffer === dbOut.data.buffer &&
    daOut.data.byteOffset < dbOut.data.byteOffset + dbOut.data.byteLength &&
    dbOut.data.byteOffset < daOut.data.byteOffset + daOut.data.byteLength) {
    rangeError(op, 'out.db', 'memory not shared with out.da', 'a view of the same buffer')
  }
  return {
    daOut,
    dbOut,
    finish: (g: RawBinaryGrads): BinaryGrads => ({
      da: resultTensor(outs.da, daOut, g.da, aShape),
      db: resultTensor(outs.db, dbOut, g.db, bShape)
    })
  }
}

function dyCheck (op: string, DY: Checked, yShape: readonly number[]): void {
  if (!sameShape(DY.shape, yShape)) {
    rangeError(op, 'dy', `${fmtShape(yShape)} (the broadcast shape of a and b)`, fmtShape(DY.shape))
  }
}

function planAddBackward (dy: TensorLike, aShape: readonly number[], bShape: readonly number[], opts?: BinaryBackwardOptions) {
  const op = 'addBackward'
  const DY = tensorArg(op, 'dy', dy)
  const as = shapeArg(op, 'aShape', aShape)
  const bs = shapeArg(op, 'bShape', bShape)
  rankCheck(op, 'aShape', as)
  rankCheck(op, 'bShape', bs)
  dyCheck(op, DY, broadcastShapes(op, 'aShape', as, 'bShape', bs))
  const g = gradOuts(op, opts, as, bs, [['dy', DY]])
  return {
    args: [DY.data, as, bs, g.daOut?.data ?? null, g.dbOut?.data ?? null] as
      [Float32Array, Shape, Shape, Float32Array | null, Float32Array | null],
    finish: g.finish
  }
}

function planMulBackward (dy: TensorLike, a: TensorLike, b: TensorLike, opts?: BinaryBackwardOptions) {
  const op = 'mulBackward'
  const DY = tensorArg(op, 'dy', dy)
  const A = tensorArg(op, 'a', a)
  const B = tensorArg(op, 'b', b)
  rankCheck(op, 'a', A.shape)
  rankCheck(op, 'b', B.shape)
  dyCheck(op, DY, broadcastShapes(op, 'a', A.shape, 'b', B.shape))
  const g = gradOuts(op, opts, A.shape, B.shape, [['dy', DY], ['a', A], ['b', B]])
  return {
    args: [DY.data, A.data, A.shape, B.data, B.shape, g.daOut?.data ?? null, g.dbOut?.data ?? null] as
      [Float32Array, Float32Array, Shape, Float32Array, Shape, Float32Array | null, Float32Array | null],
    finish: g.finish
  }
}

const addOp = defineOp(planForward('add'), binding.add, binding.addAsync)
const mulOp = defineOp(planForward('mul'), binding.mul, binding.mulAsync)
const addBackwardOp = defineOp(planAddBackward, binding.addBackward, binding.addBackwardAsync)
const mulBackwardOp = defineOp(planMulBackward, binding.mulBackward, binding.mulBackwardAsync)

/** a + b with broadcasting; the result has the broadcast shape. */
export function add (a: TensorLike, b: TensorLike, opts?: BinaryOptions): Tensor { return addOp.sync(a, b, opts) }
/** add() computed off the event loop. */
export function addAsync (a: TensorLike, b: TensorLike, opts?: BinaryOptions): Promise<Tensor> { return addOp.async(a, b, opts) }
/** a · b (element-wise) with broadcasting. */
export function mul (a: TensorLike, b: TensorLike, opts?: BinaryOptions): Tensor { return mulOp.sync(a, b, opts) }
/** mul() computed off the event loop. */
export function mulAsync (a: TensorLike, b: TensorLike, opts?: BinaryOptions): Promise<Tensor> { return mulOp.async(a, b, opts) }

/**
 * Gradients of add(a, b) given dy (the broadcast shape): da = dy summed over the dims a
 * was broadcast along, shaped aShape; db likewise. Only the shapes are needed.
 */
export function addBackward (dy: TensorLike, aShape: readonly number[], bShape: readonly number[],
  opts?: BinaryBackwardOptions): BinaryGrads {
  return addBackwardOp.sync(dy, aShape, bShape, opts)
}
/** addBackward() computed off the event loop. */
export function addBackwardAsync (dy: TensorLike, aShape: readonly number[], bShape: readonly number[],
  opts?: BinaryBackwardOptions): Promise<BinaryGrads> {
  return addBackwardOp.async(dy, aShape, bShape, opts)
}
/** Gradients of mul(a, b): da = Σ_broadcast dy·b shaped like a, db = Σ_broadcast dy·a shaped like b. */
export function mulBackward (dy: TensorLike, a: TensorLike, b: TensorLike, opts?: BinaryBackwardOptions): BinaryGrads {
  return mulBackwardOp.sync(dy, a, b, opts)
}
/** mulBackward() computed off the event loop. */
export function mulBackwardAsync (dy: TensorLike, a: TensorLike, b: TensorLike, opts?: BinaryBackwardOptions): Promise<BinaryGrads> {
  return mulBackwardOp.async(dy, a, b, opts)
}
