// Argument checks with one message format: `<op>: <argument> must be <expected>, got <actual>`.
// TypeError when the kind of value is wrong, RangeError when its value is (better-sqlite3's
// rule; the message style is sharp's invalidParameterError). Every op validates here,
// before anything reaches native code.
import { binding } from './native'
import { Tensor, type Shape } from './tensor'

/** Throws `TypeError: <op>: <name> must be <expected>, got <actual>`. */
export function typeError (op: string, name: string, expected: string, actual: string): never {
  throw new TypeError(`${op}: ${name} must be ${expected}, got ${actual}`)
}

/** Throws `RangeError: <op>: <name> must be <expected>, got <actual>`. */
export function rangeError (op: string, name: string, expected: string, actual: string): never {
  throw new RangeError(`${op}: ${name} must be ${expected}, got ${actual}`)
}

/** A short description of any value, for the "got ..." part of a message. */
export function describe (value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  switch (typeof value) {
    case 'number': return Number.isNaN(value) ? 'NaN' : String(value)
    case 'string': return `a string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`
    case 'boolean': return String(value)
    case 'bigint': return `a bigint ${value}n`
    case 'function': return 'a function'
    case 'symbol': return 'a symbol'
  }
  if (ArrayBuffer.isView(value)) {
    const name = (value as object).constructor?.name ?? 'TypedArray'
    const len = (value as unknown as { length?: number }).length
    return len === undefined ? name : `${name}(${len})`
  }
  if (Array.isArray(value)) {
    return value.length <= 8 && value.every((v) => typeof v === 'number')
      ? `[${value.join(',')}]`
      : `an Array(${value.length})`
  }
  const ctor = (value as object).constructor?.name
  return ctor && ctor !== 'Object' ? `a ${ctor}` : 'an object'
}

/** `[2,3,4]` */
export function fmtShape (shape: Shape): string {
  return `[${shape.join(',')}]`
}

/** Product of the dimensions (1 for a scalar shape []). */
export function shapeSize (shape: Shape): number {
  let n = 1
  for (const d of shape) n *= d
  return n
}

/**
 * A shape argument: an array of non-negative safe integers whose product is a safe
 * integer. Returns it frozen (a frozen input is returned as is, without a copy).
 */
export function shapeArg (op: string, name: string, value: unknown): Shape {
  if (!Array.isArray(value)) typeError(op, name, 'an array of integers', describe(value))
  let size = 1
  for (let i = 0; i < value.length; i++) {
    const d = value[i]
    if (typeof d !== 'number') typeError(op, name, 'an array of integers', `${describe(d)} at index ${i}`)
    if (!Number.isInteger(d) || d < 0) {
      rangeError(op, name, 'non-negative integer dimensions', `[${value.map(String).join(',')}]`)
    }
    size *= d
  }
  if (size > Number.MAX_SAFE_INTEGER) rangeError(op, name, 'at most 2^53-1 elements', `[${value.join(',')}]`)
  return Object.isFrozen(value) ? value as Shape : Object.freeze(value.slice()) as Shape
}

/** A checked view of a tensor argument: its data and a frozen shape whose product is data.length. */
export interface Checked {
  readonly data: Float32Array
  readonly shape: Shape
  readonly size: number
}

/**
 * Reads a TensorLike argument: `{ data: Float32Array, shape }` or `{ data, dims }`
 * (onnxruntime). Copies nothing; checks that the shape describes exactly data.length
 * elements.
 */
export function tensorArg (op: string, name: string, value: unknown): Checked {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || Array.isArray(value)) {
    typeError(op, name, 'a tensor { data: Float32Array, shape }', describe(value))
  }
  if (value instanceof Tensor && value.isDisposed) typeError(op, name, 'a live tensor', 'a disposed Tensor')
  const foreign = value as { dataSync?: unknown, dtype?: unknown, type?: unknown, shape?: unknown, isDisposed?: unknown }
  if (typeof foreign.dataSync === 'function' && Array.isArray(foreign.shape)) return tfjsArg(op, name, foreign)
  if (typeof foreign.type === 'string' && foreign.type !== 'float32') {
    typeError(op, name, 'a float32 tensor', `a tensor of type '${foreign.type}'`)
  }
  const t = value as { data?: unknown, shape?: unknown, dims?: unknown }
  if (!(t.data instanceof Float32Array)) {
    typeError(op, `${name}.data`, 'a Float32Array', describe(t.data))
  }
  const rawShape = t.shape !== undefined ? t.shape : t.dims
  const shape = shapeArg(op, t.shape === undefined && t.dims !== undefined ? `${name}.dims` : `${name}.shape`, rawShape)
  const size = shapeSize(shape)
  const data = t.data
  if (data.length !== size) {
    if (data.length === 0 && binding.isDetached(data)) {
      typeError(op, `${name}.data`, `a Float32Array of ${size} elements`, 'a detached Float32Array (of a disposed tensor?)')
    }
    rangeError(op, `${name}.data`, `${size} elements for shape ${fmtShape(shape)}`, `${data.length}`)
  }
  return { data, shape, size }
}

// A tfjs tensor (anything with dataSync() and shape): its values, read without a copy
// where its backend keeps a Float32Array (tfjs-backend-cpu does).
function tfjsArg (op: string, name: string, t: { dataSync?: unknown, dtype?: unknown, shape?: unknown, isDisposed?: unknown }): Checked {
  if (t.isDisposed === true) typeError(op, name, 'a live tensor', 'a disposed tfjs tensor')
  if (t.dtype !== undefined && t.dtype !== 'float32') typeError(op, name, 'a float32 tensor', `a tfjs tensor of dtype '${String(t.dtype)}'`)
  const shape = shapeArg(op, `${name}.shape`, t.shape)
  const values = (t.dataSync as () => unknown).call(t)
  const data = values instanceof Float32Array ? values : ArrayBuffer.isView(values) ? Float32Array.from(values as unknown as ArrayLike<number>) : null
  if (data === null) typeError(op, `${name}.dataSync()`, 'a typed array', describe(values))
  if (data.length !== shapeSize(shape)) rangeError(op, `${name}.dataSync()`, `${shapeSize(shape)} elements for shape ${fmtShape(shape)}`, `${data.length}`)
  return { data, shape, size: data.length }
}

/** Like tensorArg, but null and undefined mean "none". */
export function optionalTensorArg (op: string, name: string, value: unknown): Checked | null {
  return value === null || value === undefined ? null : tensorArg(op, name, value)
}

/**
 * An `out` tensor the op writes into: must have exactly `shape`, and must not share
 * memory with any input (the kernels read inputs while they write the output).
 */
export function outArg (op: string, name: string, value: unknown, shape: Shape,
  inputs: ReadonlyArray<readonly [string, Checked | null]>): Checked | null {
  const out = optionalTensorArg(op, name, value)
  if (out === null) return null
  if (!sameShape(out.shape, shape)) rangeError(op, `${name}.shape`, fmtShape(shape), fmtShape(out.shape))
  for (const [inName, input] of inputs) {
    if (input !== null && overlaps(out.data, input.data)) {
      rangeError(op, name, `memory not shared with ${inName}`, 'a view of the same buffer')
    }
  }
  return out
}

export function sameShape (a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function overlaps (a: Float32Array, b: Float32Array): boolean {
  if (a.buffer !== b.buffer || a.length === 0 || b.length === 0) return false
  const a0 = a.byteOffset; const a1 = a0 + a.byteLength
  const b0 = b.byteOffset; const b1 = b0 + b.byteLength
  return a0 < b1 && b0 < a1
}

/** An options object (or undefined). Unknown keys are a TypeError: a typo must not be silently ignored. */
export function optionsArg<K extends string> (op: string, value: unknown, known: readonly K[]): Partial<Record<K, unknown>> {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) {
    typeError(op, 'options', 'an object', describe(value))
  }
  for (const key of Object.keys(value)) {
    if (!(known as readonly string[]).includes(key)) {
      typeError(op, 'options', `an object with keys among ${known.join(', ')}`, `unknown key '${key}'`)
    }
  }
  return value as Partial<Record<K, unknown>>
}

/**
 * The `out` option of an op with several results: an object whose keys name the results it
 * holds tensors for (each optional), e.g. { dx?, dw?, db? }. Returns its entries unchecked
 * (outArg checks each one, named `out.<key>`). One reader, so every op words the same
 * mistakes the same way.
 */
export function outsArg<K extends string> (op: string, value: unknown, keys: readonly K[]): Partial<Record<K, unknown>> {
  if (value === undefined || value === null) return {}
  const expected = `an object { ${keys.join('?, ')}? }`
  if (typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) typeError(op, 'out', expected, describe(value))
  for (const key of Object.keys(value)) {
    if (!(keys as readonly string[]).includes(key)) typeError(op, 'out', expected, `unknown key '${key}'`)
  }
  return value as Partial<Record<K, unknown>>
}

/** One of the strings in `allowed` (a TypeError for a non-string, a RangeError for another string). */
export function oneOfArg<T extends string> (op: string, name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  const quoted = allowed.map((a) => `'${a}'`)
  const list = quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}` : quoted.join('')
  if (typeof value !== 'string') typeError(op, name, list, describe(value))
  if (!(allowed as readonly string[]).includes(value)) rangeError(op, name, list, describe(value))
  return value as T
}

export function booleanArg (op: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') typeError(op, name, 'a boolean', describe(value))
  return value
}

export function integerArg (op: string, name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') typeError(op, name, 'an integer', describe(value))
  if (!Number.isInteger(value) || value < min || value > max) {
    rangeError(op, name, `an integer from ${min} to ${max}`, describe(value))
  }
  return value
}
