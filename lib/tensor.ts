// Tensor: a Float32Array and a shape. Nothing more, so tensors cross into other Node ML
// stacks (onnxruntime's { data, dims }, tfjs's dataSync()) without a copy. Its lifetime
// (dispose, tidy) is in lifetime.ts.
import { track } from './lifetime'
import { binding } from './native'
import { describe, rangeError, shapeArg, shapeSize, typeError } from './validate'

export { shapeSize }

export type Shape = readonly number[]

/** Anything foveal accepts as a tensor: its own Tensor, `{ data, shape }`, or onnxruntime's `{ data, dims }`. */
export type TensorLike =
  | { readonly data: Float32Array; readonly shape: Shape }
  | { readonly data: Float32Array; readonly dims: Shape }

// Set up by Tensor's static block: the lifetime flags are private to the class.
let markResult: (t: Tensor) => Tensor
let markKept: (t: Tensor) => void
let isKept: (t: Tensor) => boolean

/**
 * Dense, row-major (C-order) float32 tensor. `data.length === size === product(shape)`.
 *
 * Lifetime: a result's memory goes back to foveal's pool once JS can no longer reach it,
 * or at once with `dispose()` (also `fv.tidy`, and `using` through `Symbol.dispose`).
 */
export class Tensor {
  readonly data: Float32Array
  readonly shape: Shape
  readonly size: number
  /** foveal allocated `data` (an op's result): dispose() detaches it and reuses its memory. */
  #result = false
  #disposed = false
  /** Exempt from tidy(): see keep(). */
  #kept = false

  static {
    markResult = (t) => { t.#result = true; return t }
    markKept = (t) => { t.#kept = true }
    isKept = (t) => t.#kept
  }

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
    track(this)
  }

  /** True once dispose() has been called on this Tensor. */
  get isDisposed (): boolean { return this.#disposed }

  /**
   * Gives the tensor's memory back now instead of when it is collected. For a result
   * foveal allocated, its ArrayBuffer is detached first: `data` — and every other view of
   * that buffer, reshapes included — reads length 0 from then on, so a stale reference can
   * never see the data of the tensor that reuses the memory. For a tensor over memory foveal
   * did not allocate (your own Float32Array, an `out` you passed), the array is left
   * untouched and stays yours; only this Tensor is marked disposed. Either way ops refuse a
   * disposed tensor with a TypeError. Calling it again does nothing.
   */
  dispose (): void {
    if (this.#disposed) return
    this.#disposed = true
    if (this.#result && this.data.length > 0) binding.dispose(this.data)
  }

  /** `using t = fv.ops.relu(x)` disposes t at the end of the block. */
  [Symbol.dispose] (): void { this.dispose() }

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
        return this.#view(dims)
      }
    }
    return this.#view(shape)
  }

  // A view shares the data, and so its fate: disposing either disposes both.
  #view (shape: readonly number[]): Tensor {
    if (this.#disposed) typeError('reshape', 'this', 'a live tensor', 'a disposed Tensor')
    const t = new Tensor(this.data, shape)
    t.#result = this.#result
    return t
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

/** A Tensor over an op's freshly allocated result (internal: lib/ops/define.ts). */
export function resultOf (data: Float32Array, shape: Shape): Tensor {
  return markResult(new Tensor(data, shape))
}

/** Marks tensors tidy() must not dispose (internal; the public keep() is in lifetime.ts). */
export function markKeep (t: Tensor): void { markKept(t) }
export function kept (t: Tensor): boolean { return isKept(t) }
