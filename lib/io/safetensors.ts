// safetensors checkpoints (https://github.com/huggingface/safetensors), written from the
// format's definition: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
// ({ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { string: string } },
// possibly padded with trailing spaces), then the byte buffer the offsets point into.
//
// Loading reads and checks the whole header before it reads or allocates anything for the
// data: a hostile file (a header length past the end of the file or over 100 MB, broken
// JSON, duplicate names, bad shapes, offsets that overlap, leave holes or run past the
// end) is refused with an Error naming the file and the tensor. Then
//  - F32 and the integer dtypes are read straight into buffers they are views of: tensors
//    that follow each other in the file share one buffer (zero copies), and a tensor whose
//    offset is not a multiple of its element size starts a buffer of its own, so it is a
//    view as well, never a copy;
//  - F16 and BF16 are widened to float32 natively (exact, lib/ops/convert.ts), F64 is
//    rounded to float32 (to nearest), a few MiB at a time through one scratch buffer, so
//    only the float32 results stay in memory.
// Saving writes a temporary file beside the target and renames it over the target once it
// is complete and flushed, so a crash never leaves a half-written checkpoint. The data is
// laid out by element size, largest first (as the reference implementation does), so every
// tensor is aligned for a zero-copy load; the header lists the tensors in the record's order.
//
// The sync and Async functions share one implementation: generators that yield the reads,
// writes and conversions they need, driven with fs.*Sync or with fs.promises and the
// conversions' Async twins (so the Async functions never hold the event loop for more
// than a few MiB of work at a time).
import * as fs from 'node:fs'
import * as fsp from 'node:fs/promises'
import * as os from 'node:os'
import * as nodePath from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Tensor, type Shape, type TensorLike } from '../tensor'
import { describe, fmtShape, optionsArg, rangeError, shapeArg, shapeSize, typeError } from '../validate'
import {
  bf16ToF32, bf16ToF32Async, f16ToF32, f16ToF32Async, f32ToBf16, f32ToBf16Async, f32ToF16, f32ToF16Async
} from '../ops/convert'

/** Float dtypes a Float32Array can be saved as. */
export type FloatDtype = 'F32' | 'F16' | 'BF16'
/** Integer dtypes, loaded as (and saved from) the typed array of the same width. */
export type IntegerDtype = 'I64' | 'U64' | 'I32' | 'U32' | 'I16' | 'U16' | 'I8' | 'U8' | 'BOOL'
/** Every dtype foveal loads: the float ones become float32 Tensors (F64 rounded to nearest). */
export type SafetensorsDtype = FloatDtype | 'F64' | IntegerDtype

interface IntegerArrays {
  I64: BigInt64Array
  U64: BigUint64Array
  I32: Int32Array
  U32: Uint32Array
  I16: Int16Array
  U16: Uint16Array
  I8: Int8Array
  U8: Uint8Array
  BOOL: Uint8Array
}

/** An integer tensor: its dtype, the typed array of that width, and its shape (BatchNorm's num_batches_tracked is { dtype: 'I64', data: BigInt64Array [1], shape: [] }). */
export type IntegerTensor = { [D in IntegerDtype]: { readonly dtype: D, readonly data: IntegerArrays[D], readonly shape: Shape } }[IntegerDtype]

/** What a checkpoint loads as: float32 Tensors, and integer tensors as their typed arrays. */
export type LoadedTensor = Tensor | IntegerTensor

/** A float tensor to save: any TensorLike, stored as F32 unless its dtype (or the save option) says F16 or BF16. */
export type FloatEntry = TensorLike & { readonly dtype?: FloatDtype }
/** An integer tensor to save: its dtype follows the array (a Uint8Array may say 'BOOL'). */
export type IntegerEntry = {
  [D in IntegerDtype]: { readonly dtype?: D, readonly data: IntegerArrays[D], readonly shape: Shape }
}[IntegerDtype]
export type SaveEntry = FloatEntry | IntegerEntry

export interface SaveOptions {
  /** How Float32Array tensors without a dtype of their own are stored (default 'F32'). F16/BF16 round to nearest even. */
  dtype?: FloatDtype
}

/** A path as fs takes it. */
export type PathArg = string | URL | Buffer

interface DtypeInfo {
  readonly size: number
  /** Typed array the dtype loads as (a view on the file's bytes); null for the converted ones. */
  readonly array: (new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView) | null
}

const DTYPES: Readonly<Record<SafetensorsDtype, DtypeInfo>> = {
  F64: { size: 8, array: null },
  F32: { size: 4, array: Float32Array },
  F16: { size: 2, array: null },
  BF16: { size: 2, array: null },
  I64: { size: 8, array: BigInt64Array },
  U64: { size: 8, array: BigUint64Array },
  I32: { size: 4, array: Int32Array },
  U32: { size: 4, array: Uint32Array },
  I16: { size: 2, array: Int16Array },
  U16: { size: 2, array: Uint16Array },
  I8: { size: 1, array: Int8Array },
  U8: { size: 1, array: Uint8Array },
  BOOL: { size: 1, array: Uint8Array }
}
// In the format, not loaded by foveal (no float32 meaning without a scale, or complex).
const UNSUPPORTED = ['F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64']

/** The reference implementation's cap on the header, so a file cannot make us allocate gigabytes for it. */
export const MAX_HEADER_BYTES = 100_000_000
// One buffer holds consecutive tensors up to this size; a larger tensor gets its own.
const SEGMENT_BYTES = 2 ** 30
// The raw bytes of converted (F16/BF16/F64) tensors pass through a scratch buffer this big.
const CHUNK_BYTES = 8 * 2 ** 20
// One read() or write() call moves at most this much (Linux stops near 2 GiB per call).
const IO_BYTES = 2 ** 30

function isDtype (s: string): s is SafetensorsDtype {
  return Object.prototype.hasOwnProperty.call(DTYPES, s)
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)
}

/** 'name' for messages: JSON escapes for control characters, long names cut. */
function q (name: string): string {
  const s = JSON.stringify(name.length > 80 ? name.slice(0, 80) + '…' : name).slice(1, -1)
  return `'${s}'`
}

function brief (v: unknown): string {
  let s: string
  try { s = JSON.stringify(v) ?? String(v) } catch { s = String(v) }
  return s.length > 60 ? s.slice(0, 60) + '…' : s
}

function littleEndianOnly (op: string): void {
  if (os.endianness() !== 'LE') throw new Error(`${op}: safetensors data is little-endian; foveal reads and writes it on little-endian hosts only`)
}

function pathArg (op: string, value: unknown): string {
  if (typeof value === 'string') return value
  if (value instanceof URL) return fileURLToPath(value)
  if (Buffer.isBuffer(value)) return value.toString()
  return typeError(op, 'path', 'a string, Buffer or file URL', describe(value))
}

/** A malformed file: an Error naming the op, the file and (where there is one) the tensor. */
export class SafetensorsError extends Error {
  readonly code = 'ERR_FOVEAL_SAFETENSORS'
  /** The file that was refused. */
  readonly path: string
  /** The tensor the problem is in, when it is in one. */
  readonly tensor: string | undefined
  constructor (op: string, file: string, detail: string, tensor?: string) {
    super(`${op}: ${JSON.stringify(file)} is not a valid safetensors file: ${tensor !== undefined ? `tensor ${q(tensor)}: ` : ''}${detail}`)
    this.name = 'SafetensorsError'
    this.path = file
    this.tensor = tensor
  }
}

type Fail = (detail: string, tensor?: string) => never

// ------------------------------------------------------------------ the steps

type Half = 'F16' | 'BF16'
type Step =
  | { readonly op: 'read', readonly into: Uint8Array, readonly at: number }
  | { readonly op: 'write', readonly from: Uint8Array }
  | { readonly op: 'widen', readonly half: Half, readonly src: Uint16Array, readonly out: Float32Array }
  | { readonly op: 'narrow', readonly half: Half, readonly src: Float32Array, readonly out: Uint16Array }

function runSync<T> (steps: Generator<Step, T, void>, fd: number, fail: Fail): T {
  for (let r = steps.next(); ; r = steps.next()) {
    if (r.done === true) return r.value
    const s = r.value
    switch (s.op) {
      case 'read': {
        for (let done = 0; done < s.into.length;) {
          const n = fs.readSync(fd, s.into, done, Math.min(IO_BYTES, s.into.length - done), s.at + done)
          if (n === 0) fail('the file ended before the data its header describes (was it changed while being read?)')
          done += n
        }
        break
      }
      case 'write':
        for (let done = 0; done < s.from.length;) {
          done += fs.writeSync(fd, s.from, done, Math.min(IO_BYTES, s.from.length - done))
        }
        break
      case 'widen': (s.half === 'F16' ? f16ToF32 : bf16ToF32)(s.src, { out: s.out }); break
      case 'narrow': (s.half === 'F16' ? f32ToF16 : f32ToBf16)(s.src, { out: s.out }); break
    }
  }
}

async function runAsync<T> (steps: Generator<Step, T, void>, fh: fsp.FileHandle, fail: Fail): Promise<T> {
  for (let r = steps.next(); ; r = steps.next()) {
    if (r.done === true) return r.value
    const s = r.value
    switch (s.op) {
      case 'read': {
        for (let done = 0; done < s.into.length;) {
          const { bytesRead } = await fh.read(s.into, done, Math.min(IO_BYTES, s.into.length - done), s.at + done)
          if (bytesRead === 0) fail('the file ended before the data its header describes (was it changed while being read?)')
          done += bytesRead
        }
        break
      }
      case 'write':
        for (let done = 0; done < s.from.length;) {
          const { bytesWritten } = await fh.write(s.from, done, Math.min(IO_BYTES, s.from.length - done))
          done += bytesWritten
        }
        break
      case 'widen': await (s.half === 'F16' ? f16ToF32Async : bf16ToF32Async)(s.src, { out: s.out }); break
      case 'narrow': await (s.half === 'F16' ? f32ToF16Async : f32ToBf16Async)(s.src, { out: s.out }); break
    }
  }
}

// ------------------------------------------------------------------ the header

interface Entry {
  readonly name: string
  readonly dtype: SafetensorsDtype
  readonly shape: Shape
  readonly size: number
  readonly begin: number
  readonly end: number
}

interface Header {
  readonly metadata: Record<string, string> | null
  /** In the header's order. */
  readonly entries: Entry[]
  /** File offset of the byte buffer (8 + N). */
  readonly dataStart: number
}

/**
 * The first key that occurs twice in one object of `text` (already valid JSON), described
 * for a message, or null. JSON.parse keeps the last of duplicate keys silently, so a file
 * could show one tensor to one reader and another to the next.
 */
function findDuplicateKey (text: string): string | null {
  interface Level { keys: Set<string> | null, expectKey: boolean, name: string | null }
  const stack: Level[] = []
  const special = /["{}[\],]/g
  let lastKey: string | null = null
  for (let m = special.exec(text); m !== null; m = special.exec(text)) {
    const c = m[0]
    const top = stack[stack.length - 1]
    if (c === '"') {
      let end = m.index + 1
      for (;;) {
        end = text.indexOf('"', end)
        if (end < 0) return null  // unreachable for text JSON.parse accepted
        let slashes = 0
        while (text[end - 1 - slashes] === '\\') slashes++
        if (slashes % 2 === 0) break
        end++
      }
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(m.index, end + 1)) as string
        if (top.keys.has(key)) {
          if (stack.length === 1) return `its header names ${q(key)} twice`
          return `its header has the key ${q(key)} twice in ${q(top.name ?? '')}`
        }
        top.keys.add(key)
        top.expectKey = false
        lastKey = key
      }
      special.lastIndex = end + 1
    } else if (c === '{') {
      stack.push({ keys: new Set(), expectKey: true, name: stack.length === 1 ? lastKey : top?.name ?? null })
    } else if (c === '[') {
      stack.push({ keys: null, expectKey: false, name: null })
    } else if (c === '}' || c === ']') {
      stack.pop()
    } else if (top?.keys) {
      top.expectKey = true  // a comma in an object: a key comes next
    }
  }
  return null
}

function parseHeader (bytes: Uint8Array, dataLength: number, fail: Fail): { metadata: Record<string, string> | null, entries: Entry[] } {
  let text: string
  try {
    // ignoreBOM keeps a byte-order mark in the text, where the '{' check below refuses it.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    return fail('its header is not valid UTF-8')
  }
  if (text[0] !== '{') {
    const c = text.codePointAt(0)
    const first = c === undefined ? 'nothing' : c > 0x20 && c < 0x7F ? `'${text[0]}'` : `U+${c.toString(16).toUpperCase().padStart(4, '0')}`
    fail(`its header must be a JSON object starting with '{', it starts with ${first}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    return fail(`its header is not valid JSON (${(err as Error).message})`)
  }
  if (!isPlainObject(json)) return fail('its header is not a JSON object')
  const dup = findDuplicateKey(text)
  if (dup !== null) fail(dup)

  let metadata: Record<string, string> | null = null
  const entries: Entry[] = []
  for (const name of Object.keys(json)) {
    const info = json[name]
    if (name === '__metadata__') {
      if (!isPlainObject(info)) fail(`__metadata__ must be an object of strings, got ${brief(info)}`)
      metadata = {}
      for (const key of Object.keys(info)) {
        const value = info[key]
        if (typeof value !== 'string') fail(`__metadata__[${q(key)}] must be a string, got ${brief(value)}`)
        Object.defineProperty(metadata, key, { value, enumerable: true, writable: true, configurable: true })
      }
      continue
    }
    entries.push(parseEntry(name, info, dataLength, fail))
  }
  checkCoverage(entries, dataLength, fail)
  return { metadata, entries }
}

function parseEntry (name: string, info: unknown, dataLength: number, fail: Fail): Entry {
  if (!isPlainObject(info)) return fail(`its entry must be an object { dtype, shape, data_offsets }, got ${brief(info)}`, name)
  const { dtype, shape, data_offsets: offsets } = info
  if (typeof dtype !== 'string') return fail(`dtype must be a string, got ${brief(dtype)}`, name)
  if (!isDtype(dtype)) {
    return fail(UNSUPPORTED.includes(dtype)
      ? `dtype ${dtype} is not one foveal loads (it loads ${Object.keys(DTYPES).join(', ')})`
      : `unknown dtype ${q(dtype)} (foveal loads ${Object.keys(DTYPES).join(', ')})`, name)
  }
  if (!Array.isArray(shape)) return fail(`shape must be an array of integers, got ${brief(shape)}`, name)
  let size = 1
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d)) fail(`shape ${brief(shape)} has a dimension that is not an integer`, name)
    if (d < 0) fail(`shape ${brief(shape)} has a negative dimension`, name)
    size *= d
    if (size > Number.MAX_SAFE_INTEGER) fail(`shape ${brief(shape)} has more than 2^53 elements`, name)
  }
  const elt = DTYPES[dtype].size
  if (size * elt > Number.MAX_SAFE_INTEGER) fail(`shape ${brief(shape)} of ${dtype} needs more than 2^53 bytes`, name)
  if (!Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)) {
    return fail(`data_offsets must be [begin, end] with non-negative integers, got ${brief(offsets)}`, name)
  }
  const [begin, end] = offsets as [number, number]
  if (end < begin) fail(`data_offsets [${begin},${end}] are reversed (end before begin)`, name)
  if (end - begin !== size * elt) {
    fail(`shape ${brief(shape)} of ${dtype} needs ${size * elt} bytes, but data_offsets [${begin},${end}] span ${end - begin}`, name)
  }
  if (end > dataLength) fail(`data_offsets [${begin},${end}] run past the end of the data (${dataLength} bytes)`, name)
  return { name, dtype, shape: Object.freeze(shape.slice()) as Shape, size, begin, end }
}

// The tensors must tile the byte buffer: no overlaps, no holes, nothing after the last.
function checkCoverage (entries: Entry[], dataLength: number, fail: Fail): void {
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end)
  let expected = 0
  let previous: Entry | null = null
  for (const e of sorted) {
    if (e.begin < expected) {
      fail(`data_offsets [${e.begin},${e.end}] overlap those of ${q(previous!.name)} [${previous!.begin},${previous!.end}]`, e.name)
    }
    if (e.begin > expected) fail(`bytes [${expected},${e.begin}) of the data belong to no tensor (a hole before this one)`, e.name)
    expected = e.end
    previous = e
  }
  if (expected !== dataLength) fail(`the data has ${dataLength} bytes but its tensors cover only the first ${expected}`)
}

function * readHeader (fileSize: number, fail: Fail): Generator<Step, Header, void> {
  if (fileSize < 8) fail(`it has ${fileSize} bytes, fewer than the 8 of the header length`)
  const len = new Uint8Array(8)
  yield { op: 'read', into: len, at: 0 }
  const n = new DataView(len.buffer).getBigUint64(0, true)
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`its header length is ${n} bytes, more than the ${MAX_HEADER_BYTES} allowed`)
  if (n > BigInt(fileSize - 8)) fail(`its header length is ${n} bytes, more than the ${fileSize - 8} bytes after the length`)
  const bytes = new Uint8Array(Number(n))
  yield { op: 'read', into: bytes, at: 8 }
  const dataStart = 8 + Number(n)
  const { metadata, entries } = parseHeader(bytes, fileSize - dataStart, fail)
  return { metadata, entries, dataStart }
}

// ------------------------------------------------------------------ load

function allocate (bytes: number, fail: Fail, what: string): ArrayBuffer {
  try {
    return new ArrayBuffer(bytes)
  } catch (err) {
    return fail(`could not allocate ${bytes} bytes for ${what} (${(err as Error).message})`)
  }
}

function * loadSteps (fileSize: number, fail: Fail): Generator<Step, Record<string, LoadedTensor>, void> {
  const { entries, dataStart } = yield * readHeader(fileSize, fail)
  const loaded = new Map<Entry, LoadedTensor>()
  const wrap = (e: Entry, data: ArrayBufferView): LoadedTensor =>
    e.dtype === 'F32' || e.dtype === 'F16' || e.dtype === 'BF16' || e.dtype === 'F64'
      ? new Tensor(data as Float32Array, e.shape)
      : Object.freeze({ dtype: e.dtype, data, shape: e.shape }) as IntegerTensor

  // Views on the file's bytes: runs of consecutive tensors, each at an offset that is a
  // multiple of its element size from the start of its run, share one buffer.
  const kept = entries.filter((e) => DTYPES[e.dtype].array !== null).sort((a, b) => a.begin - b.begin)
  let run: Entry[] = []
  const flush = function * (): Generator<Step, void, void> {
    if (run.length === 0) return
    const start = run[0]!.begin
    const end = run[run.length - 1]!.end
    const buffer = allocate(end - start, fail, run.length === 1 ? `tensor ${q(run[0]!.name)}` : `${run.length} tensors`)
    if (end > start) yield { op: 'read', into: new Uint8Array(buffer), at: dataStart + start }
    for (const e of run) loaded.set(e, wrap(e, new (DTYPES[e.dtype].array!)(buffer, e.begin - start, e.size)))
    run = []
  }
  for (const e of kept) {
    const start = run.length > 0 ? run[0]!.begin : e.begin
    const joins = run.length > 0 && e.begin === run[run.length - 1]!.end &&
      (e.begin - start) % DTYPES[e.dtype].size === 0 && e.end - start <= SEGMENT_BYTES
    if (!joins) yield * flush()
    run.push(e)
  }
  yield * flush()

  // Converted dtypes: read a chunk into the scratch buffer, convert it into the result.
  const converted = entries.filter((e) => DTYPES[e.dtype].array === null)
  let scratch: ArrayBuffer | null = null
  for (const e of converted) {
    const out = new Float32Array(allocate(e.size * 4, fail, `tensor ${q(e.name)}`))
    const elt = DTYPES[e.dtype].size
    const per = CHUNK_BYTES / elt
    for (let i = 0; i < e.size; i += per) {
      const m = Math.min(per, e.size - i)
      scratch ??= allocate(CHUNK_BYTES, fail, 'a scratch buffer')
      yield { op: 'read', into: new Uint8Array(scratch, 0, m * elt), at: dataStart + e.begin + i * elt }
      if (e.dtype === 'F64') out.set(new Float64Array(scratch, 0, m), i)  // rounds to nearest (V8, natively)
      else yield { op: 'widen', half: e.dtype as Half, src: new Uint16Array(scratch, 0, m), out: out.subarray(i, i + m) }
    }
    loaded.set(e, wrap(e, out))
  }

  const record: Record<string, LoadedTensor> = {}
  for (const e of entries) {
    // defineProperty: a tensor may be called '__proto__'.
    Object.defineProperty(record, e.name, { value: loaded.get(e), enumerable: true, writable: true, configurable: true })
  }
  return record
}

function metadataSteps (fileSize: number, fail: Fail): Generator<Step, Record<string, string>, void> {
  return (function * () {
    const { metadata } = yield * readHeader(fileSize, fail)
    return metadata ?? {}
  })()
}

function openSync (op: string, file: string): { fd: number, size: number } {
  const fd = fs.openSync(file, 'r')
  try {
    const st = fs.fstatSync(fd)
    if (!st.isFile()) throw new SafetensorsError(op, file, 'it is not a regular file')
    return { fd, size: st.size }
  } catch (err) {
    fs.closeSync(fd)
    throw err
  }
}

function withFileSync<T> (op: string, path: unknown, steps: (size: number, fail: Fail) => Generator<Step, T, void>): T {
  littleEndianOnly(op)
  const file = pathArg(op, path)
  const fail: Fail = (detail, tensor) => { throw new SafetensorsError(op, file, detail, tensor) }
  const { fd, size } = openSync(op, file)
  try {
    return runSync(steps(size, fail), fd, fail)
  } finally {
    fs.closeSync(fd)
  }
}

async function withFileAsync<T> (op: string, path: unknown,
  steps: (size: number, fail: Fail) => Generator<Step, T, void>): Promise<T> {
  littleEndianOnly(op)
  const file = pathArg(op, path)
  const fail: Fail = (detail, tensor) => { throw new SafetensorsError(op, file, detail, tensor) }
  const fh = await fsp.open(file, 'r')
  try {
    const st = await fh.stat()
    if (!st.isFile()) fail('it is not a regular file')
    return await runAsync(steps(st.size, fail), fh, fail)
  } finally {
    await fh.close()
  }
}

/**
 * Loads every tensor of a safetensors file: F32, F16, BF16 and F64 as float32 Tensors
 * (F16/BF16 exactly, F64 rounded to nearest), integer dtypes as `{ dtype, data, shape }`
 * with data the typed array of that width (I64: BigInt64Array). F32 and integer tensors
 * are views on buffers read straight from the file; tensors stored next to each other
 * share a buffer, which stays in memory while any of them is referenced. A malformed
 * file throws a SafetensorsError naming it (and the tensor) before any data is read.
 */
export function loadSafetensors (path: PathArg): Record<string, LoadedTensor> {
  return withFileSync('loadSafetensors', path, loadSteps)
}

/** loadSafetensors() through fs.promises, with the conversions off the event loop. */
export async function loadSafetensorsAsync (path: PathArg): Promise<Record<string, LoadedTensor>> {
  return withFileAsync('loadSafetensorsAsync', path, loadSteps)
}

/**
 * The file's `__metadata__` (string → string; {} when it has none), after checking the
 * whole header, without reading any tensor data.
 */
export function readSafetensorsMetadata (path: PathArg): Record<string, string> {
  return withFileSync('readSafetensorsMetadata', path, metadataSteps)
}

/** readSafetensorsMetadata() through fs.promises. */
export async function readSafetensorsMetadataAsync (path: PathArg): Promise<Record<string, string>> {
  return withFileAsync('readSafetensorsMetadataAsync', path, metadataSteps)
}

// ------------------------------------------------------------------ save

type IntegerArray = IntegerArrays[IntegerDtype]

const INTEGER_ARRAYS: ReadonlyArray<readonly [IntegerDtype, new (n: number) => IntegerArray]> = [
  ['I64', BigInt64Array], ['U64', BigUint64Array], ['I32', Int32Array], ['U32', Uint32Array],
  ['I16', Int16Array], ['U16', Uint16Array], ['I8', Int8Array], ['U8', Uint8Array]
]

interface Item {
  readonly name: string
  readonly dtype: SafetensorsDtype
  readonly shape: Shape
  readonly data: Float32Array | IntegerArray
  begin: number
  end: number
}

function floatDtypeArg (op: string, name: string, value: unknown): FloatDtype | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string') typeError(op, name, "'F32', 'F16' or 'BF16'", describe(value))
  if (value !== 'F32' && value !== 'F16' && value !== 'BF16') rangeError(op, name, "'F32', 'F16' or 'BF16' for Float32Array data", describe(value))
  return value
}

function itemOf (op: string, name: string, value: unknown, fallback: FloatDtype): Item {
  const label = `record[${q(name)}]`
  if (!isPlainObjectLike(value)) typeError(op, label, 'a Tensor or { data, shape }', describe(value))
  const v = value as { data?: unknown, shape?: unknown, dims?: unknown, dtype?: unknown }
  const data = v.data
  let dtype: SafetensorsDtype
  if (data instanceof Float32Array) {
    dtype = floatDtypeArg(op, `${label}.dtype`, v.dtype) ?? fallback
  } else {
    const match = INTEGER_ARRAYS.find(([, ctor]) => data instanceof ctor)
    if (match === undefined) {
      return typeError(op, `${label}.data`, 'a Float32Array or an integer typed array (BigInt64Array, Int32Array, Uint8Array, …)', describe(data))
    }
    dtype = match[0]
    if (v.dtype !== undefined && v.dtype !== dtype && !(dtype === 'U8' && v.dtype === 'BOOL')) {
      const expected = dtype === 'U8' ? "'U8' or 'BOOL'" : `'${dtype}'`
      if (typeof v.dtype !== 'string') typeError(op, `${label}.dtype`, `${expected} (for ${describe(data)})`, describe(v.dtype))
      rangeError(op, `${label}.dtype`, `${expected} for ${(data as object).constructor.name} data`, describe(v.dtype))
    }
    if (v.dtype === 'BOOL') dtype = 'BOOL'
  }
  const shapeName = v.shape === undefined && v.dims !== undefined ? `${label}.dims` : `${label}.shape`
  const shape = shapeArg(op, shapeName, v.shape !== undefined ? v.shape : v.dims)
  const size = shapeSize(shape)
  const arr = data as Float32Array | IntegerArray
  if (arr.length !== size) rangeError(op, `${label}.data`, `${size} elements for shape ${fmtShape(shape)}`, `${arr.length}`)
  return { name, dtype, shape, data: arr, begin: 0, end: 0 }
}

function isPlainObjectLike (v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)
}

interface SavePlan { header: Uint8Array, order: Item[] }

function planSave (op: string, record: unknown, metadata: unknown, options: unknown): SavePlan {
  const o = optionsArg(op, options, ['dtype'])
  const fallback = floatDtypeArg(op, 'options.dtype', o.dtype) ?? 'F32'
  let pairs: Array<[unknown, unknown]>
  if (record instanceof Map) {
    pairs = [...(record as Map<unknown, unknown>).entries()]
  } else if (isPlainObjectLike(record)) {
    pairs = Object.keys(record as object).map((k) => [k, (record as Record<string, unknown>)[k]])
  } else {
    return typeError(op, 'record', 'an object (or Map) of tensors by name', describe(record))
  }
  const items: Item[] = []
  for (const [name, value] of pairs) {
    if (typeof name !== 'string') typeError(op, 'record', 'a Map with string keys', `a key ${describe(name)}`)
    if (name === '__metadata__') rangeError(op, 'record', "tensor names other than '__metadata__' (the header's metadata key)", "a tensor named '__metadata__'")
    items.push(itemOf(op, name, value, fallback))
  }

  const meta = new Map<string, string>([['format', 'pt']])
  if (metadata !== undefined && metadata !== null) {
    if (!isPlainObjectLike(metadata)) typeError(op, 'metadata', 'an object of strings', describe(metadata))
    for (const key of Object.keys(metadata as object)) {
      const value = (metadata as Record<string, unknown>)[key]
      if (typeof value !== 'string') typeError(op, `metadata[${q(key)}]`, 'a string', describe(value))
      meta.set(key, value)
    }
  }

  // Data by element size, largest first (stable), so each tensor is aligned to its size.
  const order = items.map((it, i) => [it, i] as const)
    .sort(([a, i], [b, j]) => DTYPES[b.dtype].size - DTYPES[a.dtype].size || i - j)
    .map(([it]) => it)
  let offset = 0
  for (const it of order) {
    it.begin = offset
    offset += it.data.length * DTYPES[it.dtype].size
    it.end = offset
  }
  if (offset > Number.MAX_SAFE_INTEGER) rangeError(op, 'record', 'at most 2^53 bytes of data', `${offset}`)

  // Written by hand rather than with JSON.stringify of an object, which would move
  // integer-like names ('0', '12') to the front and could not hold a key '__proto__'.
  const parts = [`"__metadata__":{${[...meta].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`]
  for (const it of items) {
    parts.push(`${JSON.stringify(it.name)}:{"dtype":"${it.dtype}","shape":[${it.shape.join(',')}],"data_offsets":[${it.begin},${it.end}]}`)
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8')
  const n = Math.ceil(json.length / 8) * 8  // spaces to the next multiple of 8: the data starts aligned
  if (n > MAX_HEADER_BYTES) rangeError(op, 'record', `a header of at most ${MAX_HEADER_BYTES} bytes (names, shapes and metadata)`, `${n} bytes`)
  const header = Buffer.alloc(8 + n, 0x20)
  header.writeBigUInt64LE(BigInt(n), 0)
  json.copy(header, 8)
  return { header, order }
}

function * saveSteps (plan: SavePlan): Generator<Step, void, void> {
  yield { op: 'write', from: plan.header }
  let scratch: Uint16Array | null = null
  for (const it of plan.order) {
    const data = it.data
    if (it.dtype === 'F16' || it.dtype === 'BF16') {
      const per = CHUNK_BYTES / 2
      for (let i = 0; i < data.length; i += per) {
        const m = Math.min(per, data.length - i)
        scratch ??= new Uint16Array(Math.min(per, data.length))
        if (scratch.length < m) scratch = new Uint16Array(m)
        const out = scratch.subarray(0, m)
        yield { op: 'narrow', half: it.dtype, src: (data as Float32Array).subarray(i, i + m), out }
        yield { op: 'write', from: new Uint8Array(out.buffer, out.byteOffset, out.byteLength) }
      }
    } else if (data.byteLength > 0) {
      yield { op: 'write', from: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }
    }
  }
}

function tempPath (file: string): string {
  return nodePath.join(nodePath.dirname(file), `.${nodePath.basename(file)}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`)
}

/**
 * Writes `record` (name → tensor) as a safetensors file. Float32Array tensors are stored
 * as F32, or F16/BF16 (rounded to nearest even) by their own `dtype` or `options.dtype`;
 * integer typed arrays as their dtype (a Uint8Array with dtype 'BOOL' as BOOL). The
 * header's `__metadata__` is { format: 'pt' } merged with `metadata` (string values).
 * The file appears complete or not at all: it is written beside `path` under a temporary
 * name, flushed to disk, then renamed over `path`.
 */
export function saveSafetensors (path: PathArg, record: Record<string, SaveEntry> | Map<string, SaveEntry>,
  metadata?: Record<string, string> | null, options?: SaveOptions): void {
  const op = 'saveSafetensors'
  littleEndianOnly(op)
  const file = pathArg(op, path)
  const plan = planSave(op, record, metadata, options)
  const tmp = tempPath(file)
  const fd = fs.openSync(tmp, 'wx')
  let renamed = false
  try {
    try {
      runSync(saveSteps(plan), fd, () => { throw new Error('unreachable') })
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, file)
    renamed = true
  } finally {
    if (!renamed) fs.rmSync(tmp, { force: true })
  }
}

/**
 * saveSafetensors() through fs.promises, with F16/BF16 rounding off the event loop. The
 * tensors are read while the promise is pending: do not write to them until it settles.
 */
export async function saveSafetensorsAsync (path: PathArg, record: Record<string, SaveEntry> | Map<string, SaveEntry>,
  metadata?: Record<string, string> | null, options?: SaveOptions): Promise<void> {
  const op = 'saveSafetensorsAsync'
  littleEndianOnly(op)
  const file = pathArg(op, path)
  const plan = planSave(op, record, metadata, options)
  const tmp = tempPath(file)
  const fh = await fsp.open(tmp, 'wx')
  let renamed = false
  try {
    try {
      await runAsync(saveSteps(plan), fh, () => { throw new Error('unreachable') })
      await fh.sync()
    } finally {
      await fh.close()
    }
    await fsp.rename(tmp, file)
    renamed = true
  } finally {
    if (!renamed) await fsp.rm(tmp, { force: true })
  }
}
