// Embedding: a lookup of rows of a weight matrix by Int32Array indices (PyTorch's
// F.embedding), and its backward, a deterministic scatter-add into the rows the indices
// name. Index values are checked natively (a RangeError naming the position and value):
// the TS layer never loops over a tensor's elements.
import { binding } from '../native'
import { type Shape, type Tensor, type TensorLike } from '../tensor'
import {
  booleanArg, describe, fmtShape, integerArg, optionsArg, outArg, rangeError, sameShape, shapeArg, shapeSize,
  tensorArg, typeError
} from '../validate'
import { defineOp, resultTensor } from './define'

/** Indices: an Int32Array (1-D), or `{ data: Int32Array, shape }` / `{ data: Int32Array, dims }` of any rank. */
export type IndexTensorLike =
  | Int32Array
  | { readonly data: Int32Array; readonly shape: Shape }
  | { readonly data: Int32Array; readonly dims: Shape }

export interface EmbeddingOptions {
  /**
   * PyTorch's padding_idx (negative counts from the end): that row gets no gradient in
   * embeddingBackward. The forward returns its row like any other.
   */
  paddingIdx?: number | null
  /** A tensor [...indices.shape, dim] to write into. */
  out?: TensorLike
}

export interface EmbeddingBackwardOptions {
  /** The row that gets no gradient (zero, or left as it was with accumulate). */
  paddingIdx?: number | null
  /** A tensor [numEmbeddings, dim] to write into. */
  out?: TensorLike
  /** Add the gradient into out (required) instead of overwriting it. */
  accumulate?: boolean
}

type F = Float32Array
type FN = Float32Array | null

function indicesArg (op: string, value: unknown): { data: Int32Array, shape: Shape } {
  const expected = 'an Int32Array or { data: Int32Array, shape }'
  if (value instanceof Int32Array) return { data: value, shape: Object.freeze([value.length]) }
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || Array.isArray(value)) {
    typeError(op, 'indices', expected, describe(value))
  }
  const t = value as { data?: unknown, shape?: unknown, dims?: unknown }
  if (!(t.data instanceof Int32Array)) typeError(op, 'indices.data', 'an Int32Array', describe(t.data))
  const useDims = t.shape === undefined && t.dims !== undefined
  const shape = shapeArg(op, useDims ? 'indices.dims' : 'indices.shape', useDims ? t.dims : t.shape)
  const size = shapeSize(shape)
  if (t.data.length !== size) {
    rangeError(op, 'indices.data', `${size} elements for shape ${fmtShape(shape)}`, String(t.data.length))
  }
  return { data: t.data, shape }
}

/** paddingIdx in [−num, num) (PyTorch's rule), returned in [0, num); −1 for none. */
function paddingArg (op: string, value: unknown, num: number): number {
  if (value === undefined || value === null) return -1
  if (typeof value !== 'number') typeError(op, 'paddingIdx', 'an integer', describe(value))
  if (!Number.isInteger(value) || value < -num || value >= num) {
    rangeError(op, 'paddingIdx', `an integer from ${-num} to ${num - 1} (numEmbeddings ${num})`, describe(value))
  }
  return value < 0 ? value + num : value
}

function planEmbedding (indices: IndexTensorLike, weight: TensorLike, opts?: EmbeddingOptions) {
  const op = 'embedding'
  const I = indicesArg(op, indices)
  const W = tensorArg(op, 'weight', weight)
  if (W.shape.length !== 2) rangeError(op, 'weight', '[numEmbeddings, dim] (rank 2)', fmtShape(W.shape))
  const [num, dim] = W.shape as [number, number]
  const o = optionsArg(op, opts, ['paddingIdx', 'out'])
  paddingArg(op, o.paddingIdx, num)
  const yShape = shapeArg(op, 'the result shape', [...I.shape, dim])
  const out = outArg(op, 'out', o.out, yShape, [['weight', W]])
  return {
    args: [I.data, W.data, out?.data ?? null, I.data.length, num, dim] as [Int32Array, F, FN, number, number, number],
    finish: (y: F): Tensor => resultTensor(o.out, out, y, yShape)
  }
}

function planEmbeddingBackward (dy: TensorLike, indices: IndexTensorLike, numEmbeddings: number,
  opts?: EmbeddingBackwardOptions) {
  const op = 'embeddingBackward'
  const I = indicesArg(op, indices)
  const DY = tensorArg(op, 'dy', dy)
  const r = I.shape.length
  if (DY.shape.length !== r + 1 || !sameShape(DY.shape.slice(0, r), I.shape)) {
    rangeError(op, 'dy', `[...indices.shape, dim] = [${[...I.shape, 'dim'].join(',')}]`, fmtShape(DY.shape))
  }
  const dim = DY.shape[r]!
  const num = integerArg(op, 'numEmbeddings', numEmbeddings, 0, Number.MAX_SAFE_INTEGER)
  const o = optionsArg(op, opts, ['paddingIdx', 'out', 'accumulate'])
  const padding = paddingArg(op, o.paddingIdx, num)
  const wShape = shapeArg(op, 'the gradient shape [numEmbeddings, dim]', [num, dim])
  const out = outArg(op, 'out', o.out, wShape, [['dy', DY]])
  const accumulate = booleanArg(op, 'accumulate', o.accumulate, false)
  if (accumulate && out === null) rangeError(op, 'out', 'a tensor when accumulate is true', 'none')
  return {
    args: [DY.data, I.data, out?.data ?? null, I.data.length, num, dim, padding, accumulate] as
      [F, Int32Array, FN, number, number, number, number, boolean],
    finish: (g: F): Tensor => resultTensor(o.out, out, g, wShape)
  }
}

const embeddingOp = defineOp(planEmbedding, binding.embedding, binding.embeddingAsync)
const embeddingBackwardOp = defineOp(planEmbeddingBackward, binding.embeddingBackward, binding.embeddingBackwardAsync)

/**
 * Rows of weight [numEmbeddings, dim] picked by indices (an Int32Array, or an Int32Array
 * tensor of any shape): a tensor [...indices.shape, dim] (PyTorch's F.embedding). An index
 * outside [0, numEmbeddings) is a RangeError naming its position and value.
 */
export function embedding (indices: IndexTensorLike, weight: TensorLike, opts?: EmbeddingOptions): Tensor {
  return embeddingOp.sync(indices, weight, opts)
}
/** embedding() computed off the event loop. */
export function embeddingAsync (indices: IndexTensorLike, weight: TensorLike, opts?: EmbeddingOptions): Promise<Tensor> {
  return embeddingOp.async(indices, weight, opts)
}
/**
 * Gradient of embedding w.r.t. weight, [numEmbeddings, dim]: row r is the sum of the rows
 * of dy [...indices.shape, dim] whose index is r, added in index order (the same bits for
 * any thread count); the paddingIdx row gets none.
 */
export function embeddingBackward (dy: TensorLike, indices: IndexTensorLike, numEmbeddings: number,
  opts?: EmbeddingBackwardOptions): Tensor {
  return embeddingBackwardOp.sync(dy, indices, numEmbeddings, opts)
}
/** embeddingBackward() computed off the event loop. */
export function embeddingBackwardAsync (dy: TensorLike, indices: IndexTensorLike, numEmbeddings: number,
  opts?: EmbeddingBackwardOptions): Promise<Tensor> {
  return embeddingBackwardOp.async(dy, indices, numEmbeddings, opts)
}
