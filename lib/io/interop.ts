// Tensors in and out of the other Node ML stacks, without a copy where the other side
// allows it. In: every op already takes onnxruntime's `{ data, dims, type: 'float32' }` and
// tfjs tensors (anything with dataSync() and shape) as they are. Out: these wrap a foveal
// tensor's Float32Array for the other library.
import { Tensor, type TensorLike } from '../tensor'
import { describe, tensorArg, typeError } from '../validate'

/** What onnxruntime(-node|-web|-common) exports that this needs: its Tensor class. */
export interface OrtLike<T> { Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => T }
/** What tfjs exports that this needs. */
export interface TfLike<T> { tensor(values: Float32Array, shape: number[], dtype: 'float32'): T }

/**
 * An onnxruntime Tensor over the same memory (no copy), for `session.run` feeds:
 * `session.run({ x: fv.io.toOrt(y, ort) })` with `const ort = require('onnxruntime-node')`.
 */
export function toOrt<T> (t: TensorLike, ort: OrtLike<T>): T {
  const x = tensorArg('toOrt', 't', t)
  if (ort === null || typeof ort !== 'object' || typeof ort.Tensor !== 'function') {
    typeError('toOrt', 'ort', "the onnxruntime module (require('onnxruntime-node'))", describe(ort))
  }
  return new ort.Tensor('float32', x.data, x.shape)
}

/** A tfjs tensor of the same values (tfjs's CPU backends keep the array they are given). */
export function toTfjs<T> (t: TensorLike, tf: TfLike<T>): T {
  const x = tensorArg('toTfjs', 't', t)
  if (tf === null || typeof tf !== 'object' || typeof tf.tensor !== 'function') {
    typeError('toTfjs', 'tf', "the tfjs module (require('@tensorflow/tfjs-core'))", describe(tf))
  }
  return tf.tensor(x.data, x.shape.slice(), 'float32')
}

/**
 * A foveal Tensor from an onnxruntime tensor, a tfjs tensor or any `{ data, shape | dims }`:
 * over the same Float32Array where there is one (onnxruntime; tfjs's CPU backend hands out
 * its own array, so do not write into the result), else a copy.
 */
export function fromTensor (t: unknown): Tensor {
  const x = tensorArg('fromTensor', 't', t)
  return x.data === (t as { data?: unknown }).data && t instanceof Tensor ? t : new Tensor(x.data, x.shape)
}
