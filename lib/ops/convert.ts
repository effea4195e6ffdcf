// 16-bit floats to and from float32: IEEE binary16 ("F16", PyTorch's torch.float16) and
// bfloat16 ("BF16", torch.bfloat16), held as the raw bits in a Uint16Array (Node 20 has no
// Float16Array). Checkpoints (fv.io) use them for F16/BF16 tensors; the work is native
// (native/cpu/convert), never a loop here.
//
// Widening is exact for every input (F16 subnormals become normal floats; a signalling
// NaN comes back quiet, as PyTorch's conversion does). Narrowing rounds to nearest, ties
// to even, as PyTorch's .half() / .bfloat16() do: values past the largest finite one
// round to ±Infinity, tiny ones to subnormals or a signed zero. A NaN narrows to a quiet
// NaN of the same sign (PyTorch's own CPU kernels disagree among themselves on the NaN's
// bits). Every ISA level gives the same bits.
import { binding } from '../native'
import { describe, optionsArg, rangeError, typeError } from '../validate'
import { defineOp } from './define'

export interface WidenOptions {
  /** A Float32Array of src.length elements to write into instead of allocating one. */
  out?: Float32Array
}

export interface NarrowOptions {
  /** A Uint16Array of src.length elements to write into instead of allocating one. */
  out?: Uint16Array
}

type Ctor<T> = { new (...args: never[]): T, name: string }

function arrayArg<T extends ArrayBufferView> (op: string, name: string, value: unknown, ctor: Ctor<T>): T {
  if (!(value instanceof ctor)) typeError(op, name, `a ${ctor.name}`, describe(value))
  return value as T
}

function sharesMemory (a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer || a.byteLength === 0 || b.byteLength === 0) return false
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength
}

function outOf<T extends ArrayBufferView & { length: number }> (op: string, value: unknown, ctor: Ctor<T>,
  src: ArrayBufferView & { length: number }): T | null {
  const o = optionsArg(op, value, ['out'])
  if (o.out === undefined || o.out === null) return null
  const out = arrayArg(op, 'out', o.out, ctor)
  if (out.length !== src.length) rangeError(op, 'out', `${src.length} elements (as src)`, `${out.length}`)
  if (sharesMemory(out, src)) rangeError(op, 'out', 'memory not shared with src', 'a view of the same buffer')
  return out
}

function widen (op: string) {
  return (src: Uint16Array, opts?: WidenOptions) => {
    const s = arrayArg(op, 'src', src, Uint16Array)
    const out = outOf(op, opts, Float32Array, s)
    return { args: [s, out] as [Uint16Array, Float32Array | null], finish: (r: Float32Array) => r }
  }
}

function narrow (op: string) {
  return (src: Float32Array, opts?: NarrowOptions) => {
    const s = arrayArg(op, 'src', src, Float32Array)
    const out = outOf(op, opts, Uint16Array, s)
    return { args: [s, out] as [Float32Array, Uint16Array | null], finish: (r: Uint16Array) => r }
  }
}

const f16ToF32Op = defineOp(widen('f16ToF32'), binding.f16ToF32, binding.f16ToF32Async)
const bf16ToF32Op = defineOp(widen('bf16ToF32'), binding.bf16ToF32, binding.bf16ToF32Async)
const f32ToF16Op = defineOp(narrow('f32ToF16'), binding.f32ToF16, binding.f32ToF16Async)
const f32ToBf16Op = defineOp(narrow('f32ToBf16'), binding.f32ToBf16, binding.f32ToBf16Async)

/** IEEE binary16 bits → float32 values, exactly. */
export function f16ToF32 (src: Uint16Array, opts?: WidenOptions): Float32Array { return f16ToF32Op.sync(src, opts) }
/** f16ToF32() computed off the event loop. */
export function f16ToF32Async (src: Uint16Array, opts?: WidenOptions): Promise<Float32Array> {
  return f16ToF32Op.async(src, opts)
}
/** bfloat16 bits → float32 values, exactly (the bits shifted into the top half). */
export function bf16ToF32 (src: Uint16Array, opts?: WidenOptions): Float32Array { return bf16ToF32Op.sync(src, opts) }
/** bf16ToF32() computed off the event loop. */
export function bf16ToF32Async (src: Uint16Array, opts?: WidenOptions): Promise<Float32Array> {
  return bf16ToF32Op.async(src, opts)
}
/** float32 values → IEEE binary16 bits, rounded to nearest even (overflow → ±Infinity). */
export function f32ToF16 (src: Float32Array, opts?: NarrowOptions): Uint16Array { return f32ToF16Op.sync(src, opts) }
/** f32ToF16() computed off the event loop. */
export function f32ToF16Async (src: Float32Array, opts?: NarrowOptions): Promise<Uint16Array> {
  return f32ToF16Op.async(src, opts)
}
/** float32 values → bfloat16 bits, rounded to nearest even (overflow → ±Infinity). */
export function f32ToBf16 (src: Float32Array, opts?: NarrowOptions): Uint16Array { return f32ToBf16Op.sync(src, opts) }
/** f32ToBf16() computed off the event loop. */
export function f32ToBf16Async (src: Float32Array, opts?: NarrowOptions): Promise<Uint16Array> {
  return f32ToBf16Op.async(src, opts)
}
