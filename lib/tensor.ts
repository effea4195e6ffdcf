// Tensor: a Float32Array and a shape. Nothing more, so tensors cross into other Node ML
// stacks (onnxruntime's { data, dims }, tfjs's dataSync()) without a copy.
import { describe, rangeError, shapeArg, shapeSize, typeError } from './validate'

export { shapeSize }

export type Shape = readonly number[]

/** Anything foveal accepts as a tensor: its own Tensor, `{ data, shape }`, or onnxruntime's `{ data, dims }`. */
export type TensorLike =
  | { readonly data: Float32Array; readonly shape: Shape }
  | { readonly data: Float32Array; readonly dims: Shape }

/** Dense, row-major (C-order) float32 tensor. `data.length === size === product(shape)`. */
export class Tensor {
  readonly data: Float32Array
  readonly shape: Shape
  readonly size: number

  /** Wraps `data` without copying it. Throws if the shape does not describe exactly `data.length` elements. */
  constructor (data: Float32Array, shape: Shape) {
    if (!(data instanceof Float32Array)) typeError('tensor', 'data', 'a Float32Array', describe(data))
    const dims = shapeArg('tensor', 'shape', shape)
    const size = shapeSize(dims)
    if (size !== data.length) {
      rangeError('tensor', 'shape', `to hold data.length=${data.length} elements`,
        `[${dims.join(',')}] (${size} elements)`)
    }
    this.data = data
    this.shape = dims
    this.size = size
  }

  /** Rank (number of dimensions). */
  get rank (): number { return this.shape.length }

  /** onnxruntime-style alias of `shape`, so a Tensor can be passed where `{ data, dims }` is expected. */
  get dims (): Shape { return this.shape }

  /** A view with another shape over the same data (no copy); one dimension may be -1. */
  reshape (shape: readonly number[]): Tensor {
    if (!Array.isArray(shape)) typeError('reshape', 'shape', 'an array of integers', describe(shape))
    const free = shape.indexOf(-1)
    if (free >= 0 && shape.indexOf(-1, free + 1) < 0) {
      const known = shapeSize(shape.filter((_, i) => i !== free))
      if (known > 0 && this.size % known === 0) {
        const dims = shape.slice()
        dims[free] = this.size / known
        return new Tensor(this.data, dims)
      }
    }
    return new Tensor(this.data, shape)
  }

  toString (): string {
    return `Tensor(shape=[${this.shape.join(',')}])`
  }
}

/** Makes a Tensor. A Float32Array is used as is (no copy); an array of numbers is copied. */
export function tensor (data: Float32Array | ArrayLike<number>, shape?: readonly number[]): Tensor {
  let array: Float32Array
  if (data instanceof Float32Array) {
    array = data
  } else if (Array.isArray(data) || ArrayBuffer.isView(data)) {
    array = Float32Array.from(data as ArrayLike<number>)
  } else {
    typeError('tensor', 'data', 'a Float32Array or an array of numbers', describe(data))
  }
  return new Tensor(array, shape ?? [array.length])
}
