// fv.io.loadOnnxWeights: the initializers of an ONNX model (PyTorch's torch.onnx.export
// names them after the state dict, e.g. '0.weight'), so weights trained elsewhere move into
// foveal modules with loadStateDict. Decoded with protobufjs, required only when called.
import * as fs from 'node:fs'
import * as nodePath from 'node:path'
import { fileURLToPath } from 'node:url'
import { bf16ToF32, f16ToF32 } from '../ops/convert'
import { Tensor, type Shape } from '../tensor'
import { describe, typeError } from '../validate'
import type { IntegerTensor, LoadedTensor, PathArg } from './safetensors'

// The part of onnx.proto (onnx/onnx, proto2, field numbers as published) this reader
// needs; protobufjs skips every other field.
const SCHEMA = `
syntax = "proto2";
package onnx;
message StringStringEntryProto { optional string key = 1; optional string value = 2; }
message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional bytes raw_data = 9;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
  repeated StringStringEntryProto external_data = 13;
  optional int32 data_location = 14;
}
message GraphProto { repeated TensorProto initializer = 5; }
message ModelProto { optional int64 ir_version = 1; optional GraphProto graph = 7; }
`

// TensorProto.DataType values.
const DT = { FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, BFLOAT16: 16 } as const
const DT_NAME: Record<number, string> = Object.fromEntries(Object.entries(DT).map(([k, v]) => [v, k]))

interface TensorProto {
  dims: Array<number | { toString(): string }>
  data_type?: number
  float_data: number[]
  int32_data: number[]
  int64_data: Array<number | { toString(): string }>
  name?: string
  raw_data?: Uint8Array
  double_data: number[]
  uint64_data: Array<number | { toString(): string }>
  external_data: Array<{ key?: string, value?: string }>
  data_location?: number
}

let modelType: { decode(bytes: Uint8Array): unknown, toObject(m: unknown, o: object): unknown } | undefined

function decoder (): NonNullable<typeof modelType> {
  if (modelType) return modelType
  let protobuf: { parse(src: string, opts?: object): { root: { lookupType(name: string): NonNullable<typeof modelType> } } }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    protobuf = require('protobufjs')
  } catch (err) {
    throw new Error(`loadOnnxWeights: reading ONNX needs the protobufjs package (npm install protobufjs): ${(err as Error).message}`)
  }
  modelType = protobuf.parse(SCHEMA, { keepCase: true }).root.lookupType('onnx.ModelProto')
  return modelType
}

function fail (file: string, what: string): never {
  const err = new Error(`loadOnnxWeights: ${file}: ${what}`) as Error & { code: string }
  err.code = 'ERR_FOVEAL_ONNX'
  throw err
}

function pathOf (p: unknown): string {
  if (typeof p === 'string') return p
  if (p instanceof URL) return fileURLToPath(p)
  if (Buffer.isBuffer(p)) return p.toString()
  return typeError('loadOnnxWeights', 'path', 'a string, URL or Buffer', describe(p))
}

// The bytes of a tensor's data: raw_data, or an external file beside the model.
function rawBytes (file: string, t: TensorProto): Uint8Array | null {
  if (t.data_location === 1) {
    const kv = Object.fromEntries(t.external_data.map((e) => [e.key, e.value]))
    if (!kv.location) fail(file, `initializer '${t.name}' is external but names no location`)
    const where = nodePath.resolve(nodePath.dirname(file), kv.location!)
    if (!where.startsWith(nodePath.resolve(nodePath.dirname(file)) + nodePath.sep)) {
      fail(file, `initializer '${t.name}' points outside the model's folder (${kv.location})`)
    }
    const offset = Number(kv.offset ?? 0)
    let data: Buffer
    try {
      data = fs.readFileSync(where)
    } catch (err) {
      fail(file, `initializer '${t.name}': its external data: ${(err as Error).message}`)
    }
    const length = kv.length !== undefined ? Number(kv.length) : data.length - offset
    if (!(offset >= 0 && length >= 0 && offset + length <= data.length)) {
      fail(file, `initializer '${t.name}': offset ${kv.offset} / length ${kv.length} outside ${kv.location} (${data.length} bytes)`)
    }
    return data.subarray(offset, offset + length)
  }
  return t.raw_data && t.raw_data.length > 0 ? t.raw_data : null
}

// A little-endian view of `bytes` as `Ctor` elements, copied so it is aligned and owned.
function typed<T extends ArrayBufferView> (bytes: Uint8Array, Ctor: { new(b: ArrayBuffer): T, BYTES_PER_ELEMENT: number }): T {
  const copy = new Uint8Array(bytes.length)
  copy.set(bytes)
  return new Ctor(copy.buffer)
}

function toTensor (file: string, t: TensorProto): LoadedTensor {
  const name = t.name ?? ''
  const shape: Shape = Object.freeze(t.dims.map((d) => Number(d.toString())))
  const count = shape.reduce((a, b) => a * b, 1)
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0) || !Number.isSafeInteger(count)) {
    fail(file, `initializer '${name}' has bad dims [${shape.join(',')}]`)
  }
  const dt = t.data_type ?? 0
  const raw = rawBytes(file, t)
  const size = { [DT.FLOAT]: 4, [DT.DOUBLE]: 8, [DT.FLOAT16]: 2, [DT.BFLOAT16]: 2, [DT.INT64]: 8, [DT.UINT64]: 8, [DT.INT32]: 4, [DT.UINT32]: 4, [DT.INT16]: 2, [DT.UINT16]: 2, [DT.INT8]: 1, [DT.UINT8]: 1, [DT.BOOL]: 1 }[dt]
  if (size === undefined) fail(file, `initializer '${name}' has data type ${DT_NAME[dt] ?? dt}, which foveal does not load`)
  if (raw !== null && raw.length !== count * size) {
    fail(file, `initializer '${name}' holds ${raw.length} bytes, its dims [${shape.join(',')}] need ${count * size}`)
  }
  const fromFields = (values: ArrayLike<number>): void => {
    if (values.length !== count) fail(file, `initializer '${name}' holds ${values.length} values, its dims need ${count}`)
  }
  const big = (v: number | { toString(): string }): bigint => BigInt(v.toString())
  switch (dt) {
    case DT.FLOAT: {
      if (raw) return new Tensor(typed(raw, Float32Array), shape)
      fromFields(t.float_data)
      return new Tensor(Float32Array.from(t.float_data), shape)
    }
    case DT.DOUBLE: {
      const d = raw ? typed(raw, Float64Array) : Float64Array.from(t.double_data)
      fromFields(d)
      return new Tensor(Float32Array.from(d), shape)
    }
    case DT.FLOAT16:
    case DT.BFLOAT16: {
      // Stored as uint16 codes: raw, or one per int32_data entry.
      const codes = raw ? typed(raw, Uint16Array) : Uint16Array.from(t.int32_data)
      fromFields(codes)
      const f = dt === DT.FLOAT16 ? f16ToF32(codes) : bf16ToF32(codes)
      return new Tensor(f, shape)
    }
    case DT.INT64: {
      const data = raw ? typed(raw, BigInt64Array) : BigInt64Array.from(t.int64_data.map(big))
      if (data.length !== count) fail(file, `initializer '${name}' holds ${data.length} values, its dims need ${count}`)
      return { dtype: 'I64', data, shape } as IntegerTensor
    }
    case DT.UINT64: {
      const data = raw ? typed(raw, BigUint64Array) : BigUint64Array.from(t.uint64_data.map(big))
      if (data.length !== count) fail(file, `initializer '${name}' holds ${data.length} values, its dims need ${count}`)
      return { dtype: 'U64', data, shape } as IntegerTensor
    }
    default: {
      const ints: Record<number, [string, { new(b: ArrayBuffer): ArrayBufferView & ArrayLike<number>, from(a: ArrayLike<number>): ArrayBufferView & ArrayLike<number>, BYTES_PER_ELEMENT: number }]> = {
        [DT.INT32]: ['I32', Int32Array], [DT.UINT32]: ['U32', Uint32Array], [DT.INT16]: ['I16', Int16Array],
        [DT.UINT16]: ['U16', Uint16Array], [DT.INT8]: ['I8', Int8Array], [DT.UINT8]: ['U8', Uint8Array], [DT.BOOL]: ['BOOL', Uint8Array]
      }
      const [dtype, Ctor] = ints[dt]!
      const data = raw ? typed(raw, Ctor) : Ctor.from(t.int32_data)
      fromFields(data)
      return { dtype, data, shape } as unknown as IntegerTensor
    }
  }
}

function decode (file: string, bytes: Uint8Array): Record<string, LoadedTensor> {
  let model: { graph?: { initializer?: TensorProto[] } }
  try {
    model = decoder().toObject(decoder().decode(bytes), { defaults: true, arrays: true }) as typeof model
  } catch (err) {
    fail(file, `not an ONNX model (${(err as Error).message})`)
  }
  if (!model.graph) fail(file, 'not an ONNX model (no graph)')
  const out: Record<string, LoadedTensor> = Object.create(null)
  for (const t of model.graph.initializer ?? []) {
    const name = t.name ?? ''
    if (name === '') fail(file, 'an initializer has no name')
    if (name in out) fail(file, `two initializers are named '${name}'`)
    out[name] = toTensor(file, t)
  }
  return Object.assign({}, out)
}

/**
 * The initializers (weights) of an ONNX model as tensors, by name: FLOAT as Tensors;
 * FLOAT16, BFLOAT16 and DOUBLE converted to float32 Tensors; integer types as
 * `{ dtype, data, shape }` (INT64 as a BigInt64Array), as fv.io.loadSafetensors returns them.
 * External data (models over 2 GB) is read from its file beside the model.
 */
export function loadOnnxWeights (path: PathArg): Record<string, LoadedTensor> {
  const file = pathOf(path)
  let bytes: Buffer
  try {
    bytes = fs.readFileSync(file)
  } catch (err) {
    fail(file, (err as Error).message)
  }
  return decode(file, bytes)
}

/** loadOnnxWeights(), reading the file without blocking the event loop. */
export async function loadOnnxWeightsAsync (path: PathArg): Promise<Record<string, LoadedTensor>> {
  const file = pathOf(path)
  let bytes: Buffer
  try {
    bytes = await fs.promises.readFile(file)
  } catch (err) {
    fail(file, (err as Error).message)
  }
  return decode(file, bytes)
}
