'use strict'
// fv.io safetensors: the PyTorch reference file, the hostile corpus, odd-but-valid files,
// round trips, the byte layout written, atomic saves, and argument checks.
// Fixtures: scripts/fixtures/safetensors-torch.py (PyTorch) and
// scripts/fixtures/safetensors-corpus.js (hand-built bytes) write test/fixtures/safetensors/.
const test = require('ava')
const fs = require('fs')
const os = require('os')
const path = require('path')
const fv = require('./helpers/fv')
const ref = require('./reference/convert')
const { rng } = require('./helpers/random')

const FIX = path.join(__dirname, 'fixtures', 'safetensors')
const TORCH = JSON.parse(fs.readFileSync(path.join(FIX, 'torch-reference.json'), 'utf8'))
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'foveal-io-'))
test.after.always(() => fs.rmSync(TMP, { recursive: true, force: true }))

let counter = 0
const tmpFile = (name = 'ckpt') => path.join(TMP, `${name}-${counter++}.safetensors`)

const bitsOf = (f) => Array.from(new Uint32Array(f.buffer, f.byteOffset, f.length))
const floatsOfBits = (bits) => new Float32Array(Uint32Array.from(bits).buffer)

// Big arrays: the first differing element, rather than ava's diff of millions of them.
function assertSameBits (t, got, expected, label) {
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length)
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length)
  let i = a.length === b.length ? -1 : Math.min(a.length, b.length)
  for (let k = 0; i < 0 && k < a.length; k++) if (a[k] !== b[k]) i = k
  t.is(i, -1, `${label}: lengths ${a.length}/${b.length}, first difference at ${i}: got ${got[i]}, expected ${expected[i]}`)
}

/** The header of a file, parsed independently of fv.io: [N, the JSON text, the data bytes]. */
function rawParts (file) {
  const b = fs.readFileSync(file)
  const n = Number(b.readBigUInt64LE(0))
  return { n, text: b.subarray(8, 8 + n).toString('utf8'), data: b.subarray(8 + n) }
}

// ------------------------------------------------------------------ PyTorch reference file

for (const load of ['loadSafetensors', 'loadSafetensorsAsync']) {
  test(`${load}: the PyTorch-written reference file loads exactly (F32, F16, BF16, F64, I64, I32, U8, BOOL, [], [0,4])`, async (t) => {
    const sd = await fv.io[load](path.join(FIX, TORCH.file))
    t.deepEqual(Object.keys(sd).sort(), Object.keys(TORCH.tensors).sort())
    for (const [name, e] of Object.entries(TORCH.tensors)) {
      const got = sd[name]
      t.deepEqual(got.shape, e.shape, `${name} shape`)
      if (e.float32_bits) {
        t.true(got instanceof fv.Tensor, `${name} is a Tensor`)
        t.true(got.data instanceof Float32Array)
        t.deepEqual(bitsOf(got.data), e.float32_bits, `${name}: float32 bits as torch's .float() gives them`)
      } else {
        t.is(got.dtype, e.dtype, `${name} dtype`)
        t.deepEqual(Array.from(got.data, (v) => String(BigInt(v))), e.values, `${name} values`)
      }
    }
    t.true(sd['bn.num_batches_tracked'].data instanceof BigInt64Array)
    t.is(sd['bn.num_batches_tracked'].data[0], 12345n)
    t.true(sd.mask.data instanceof Uint8Array)
    t.true(sd.i32.data instanceof Int32Array)
  })
}

test('the PyTorch reference metadata reads back without the data', async (t) => {
  t.deepEqual(fv.io.readSafetensorsMetadata(path.join(FIX, TORCH.file)), TORCH.metadata)
  t.deepEqual(await fv.io.readSafetensorsMetadataAsync(path.join(FIX, TORCH.file)), TORCH.metadata)
})

test("f32ToF16 / f32ToBf16 round torch's float32 sources to torch's codes (NaN aside)", (t) => {
  for (const [name, op] of [['f16', 'f32ToF16'], ['bf16', 'f32ToBf16']]) {
    const e = TORCH.tensors[name]
    const src = floatsOfBits(e.source_float32_bits)
    const got = fv.ops[op](src)
    let compared = 0
    for (let i = 0; i < src.length; i++) {
      if (Number.isNaN(src[i])) continue
      t.is(got[i], e.codes[i], `${name}[${i}]: ${src[i]}`)
      compared++
    }
    t.true(compared >= src.length - 1)
  }
})

// ------------------------------------------------------------------ hostile corpus

// Each file of test/fixtures/safetensors/hostile, and what the refusal must say.
const HOSTILE = {
  empty: [/0 bytes, fewer than the 8/],
  'shorter-than-8-bytes': [/5 bytes, fewer than the 8/],
  'header-length-past-end': [/header length is 1000 bytes, more than the 2 bytes after/],
  'header-length-5GB': [/header length is 5000000000 bytes, more than the 100000000 allowed/],
  'header-length-u64-max': [/header length is 18446744073709551615 bytes, more than the 100000000 allowed/],
  'header-length-90MB-claim-on-a-tiny-file': [/header length is 90000000 bytes, more than the 18 bytes/],
  'header-not-utf8': [/not valid UTF-8/],
  'header-not-json': [/not valid JSON/],
  'header-json-array': [/must be a JSON object starting with '\{', it starts with '\['/],
  'header-json-string': [/must be a JSON object/],
  'header-byte-order-mark': [/starts with U\+FEFF/],
  'header-nul-padding': [/not valid JSON/],
  'entry-not-object': [/entry must be an object/, 'w'],
  'dtype-not-string': [/dtype must be a string/, 'w'],
  'dtype-unknown': [/unknown dtype 'F17'/, 'w'],
  'dtype-unsupported-f8': [/dtype F8_E4M3 is not one foveal loads/, 'w'],
  'shape-missing': [/shape must be an array/, 'w'],
  'shape-negative': [/negative dimension/, 'w'],
  'shape-fractional': [/not an integer/, 'w'],
  'shape-string-dims': [/not an integer/, 'w'],
  'shape-product-over-2^53': [/more than 2\^53 elements/, 'w'],
  'shape-bytes-over-2^53': [/more than 2\^53 bytes/, 'w'],
  'shape-disagrees-with-span': [/needs 16 bytes, but data_offsets \[0,12\] span 12/, 'w'],
  'tensor-claims-1GiB-of-a-tiny-file': [/run past the end of the data \(8 bytes\)/, 'w'],
  'offsets-past-end': [/run past the end of the data/, 'w'],
  'offsets-reversed': [/reversed/, 'w'],
  'offsets-overlap': [/overlap those of 'a'/, 'b'],
  'offsets-hole': [/bytes \[8,16\) of the data belong to no tensor/, 'b'],
  'offsets-trailing-bytes': [/16 bytes but its tensors cover only the first 8/],
  'offsets-fractional': [/data_offsets must be \[begin, end\] with non-negative integers/, 'w'],
  'offsets-negative': [/data_offsets must be \[begin, end\]/, 'w'],
  'offsets-one-number': [/data_offsets must be \[begin, end\]/, 'w'],
  'offsets-beyond-2^53': [/data_offsets must be \[begin, end\]/, 'w'],
  'duplicate-tensor-name': [/names 'w' twice/],
  'duplicate-tensor-name-escaped': [/names 'w' twice/],
  'duplicate-after-escapes': [/names 'w\\"' twice/],
  'duplicate-key-in-entry': [/key 'dtype' twice in 'w'/],
  'duplicate-metadata-key': [/key 'k' twice in '__metadata__'/],
  'metadata-not-object': [/__metadata__ must be an object of strings/],
  'metadata-value-not-string': [/__metadata__\['epoch'\] must be a string, got 3/]
}

test('every file of the hostile corpus has an expectation here (and every expectation a file)', (t) => {
  const files = fs.readdirSync(path.join(FIX, 'hostile')).map((f) => f.replace(/\.safetensors$/, '')).sort()
  t.deepEqual(files, Object.keys(HOSTILE).sort())
})

function checkRefusal (t, err, file, [detail, tensor], label) {
  t.true(err instanceof Error, label)
  t.is(err.code, 'ERR_FOVEAL_SAFETENSORS', label)
  t.true(err.message.includes(JSON.stringify(file)), `${label}: names the file: ${err.message}`)
  t.regex(err.message, detail, label)
  t.is(err.tensor, tensor, `${label}: the tensor`)
  if (tensor !== undefined) t.true(err.message.includes(`tensor '${tensor}'`), `${label}: names the tensor`)
}

for (const [name, expect] of Object.entries(HOSTILE)) {
  test(`hostile file '${name}' is refused by load, loadAsync and readSafetensorsMetadata, naming the file`, async (t) => {
    const file = path.join(FIX, 'hostile', `${name}.safetensors`)
    checkRefusal(t, t.throws(() => fv.io.loadSafetensors(file)), file, expect, 'loadSafetensors')
    checkRefusal(t, await t.throwsAsync(fv.io.loadSafetensorsAsync(file)), file, expect, 'loadSafetensorsAsync')
    checkRefusal(t, t.throws(() => fv.io.readSafetensorsMetadata(file)), file, expect, 'readSafetensorsMetadata')
  })
}

test.serial('a file that claims 1 GiB (tensor) or 90 MB (header) is refused without allocating it', (t) => {
  for (const name of ['tensor-claims-1GiB-of-a-tiny-file', 'header-length-90MB-claim-on-a-tiny-file']) {
    const file = path.join(FIX, 'hostile', `${name}.safetensors`)
    const before = process.memoryUsage().arrayBuffers
    t.throws(() => fv.io.loadSafetensors(file))
    // An ArrayBuffer allocated and dropped stays counted until a GC, which cannot run
    // within this synchronous call: anything over a few MB here was allocated.
    t.true(process.memoryUsage().arrayBuffers - before < 4e6, name)
  }
})

test('a directory, or a missing file, is refused with an error naming it', (t) => {
  const dirErr = t.throws(() => fv.io.loadSafetensors(TMP))
  t.is(dirErr.code, 'ERR_FOVEAL_SAFETENSORS')
  t.regex(dirErr.message, /not a regular file/)
  t.true(dirErr.message.includes(JSON.stringify(TMP)))
  const missing = path.join(TMP, 'nope.safetensors')
  const err = t.throws(() => fv.io.loadSafetensors(missing))
  t.is(err.code, 'ENOENT')
  t.true(err.message.includes(missing))
})

// ------------------------------------------------------------------ unusual but valid files

test('a file whose tensors all sit at unaligned offsets loads every dtype, F32 as an aligned view', async (t) => {
  const file = path.join(FIX, 'unusual', 'unaligned.safetensors')
  for (const sd of [fv.io.loadSafetensors(file), await fv.io.loadSafetensorsAsync(file)]) {
    t.deepEqual(Array.from(sd.h.data), [1])
    t.deepEqual(Array.from(sd.f.data), [1.5, -2.25, Math.fround(3e-42)])
    t.is(sd.f.data.byteOffset % 4, 0)
    t.deepEqual(sd.n, { dtype: 'I64', data: BigInt64Array.from([-9007199254740993n]), shape: [] })
    t.deepEqual(Array.from(sd.b.data), [1, -3, Infinity])
    t.deepEqual(Array.from(sd.d.data), [Math.fround(0.1)])
    t.deepEqual(sd.u, { dtype: 'U8', data: Uint8Array.from([200]), shape: [1] })
    t.deepEqual(sd.i, { dtype: 'I32', data: Int32Array.from([-123456]), shape: [1] })
    t.deepEqual(fv.io.readSafetensorsMetadata(file), {})
  }
})

test('tensors out of offset order, zero-size tensors and long space padding load', (t) => {
  const sd = fv.io.loadSafetensors(path.join(FIX, 'unusual', 'unordered-with-empty-tensors.safetensors'))
  t.deepEqual(Object.keys(sd), ['z', 'e0', 'a', 'e1'])
  t.deepEqual(Array.from(sd.a.data), [1, 2])
  t.deepEqual(Array.from(sd.z.data), [3, 4])
  t.deepEqual(sd.e0.shape, [0, 3])
  t.is(sd.e0.data.length, 0)
  t.deepEqual(sd.e1, { dtype: 'I64', data: new BigInt64Array(0), shape: [5, 0] })
})

test("names like '__proto__', 'constructor' and '10' are plain keys of the record", (t) => {
  const sd = fv.io.loadSafetensors(path.join(FIX, 'unusual', 'awkward-names.safetensors'))
  t.is(Object.getPrototypeOf(sd), Object.prototype)
  t.true(Object.prototype.hasOwnProperty.call(sd, '__proto__'))
  t.deepEqual(Array.from(sd['__proto__'].data), [1]) // eslint-disable-line no-proto -- the key under test
  t.deepEqual(Array.from(sd.constructor.data), [2])
  t.deepEqual(Array.from(sd['10'].data), [3])
  t.deepEqual(Array.from(sd['2'].data), [4])
  t.deepEqual(Array.from(sd['weight with spaces/and.dots'].data), [5])
  t.deepEqual(Array.from(sd['π'].data), [6])
  // and they survive a save and a load
  const file = tmpFile()
  fv.io.saveSafetensors(file, sd)
  const back = fv.io.loadSafetensors(file)
  t.deepEqual(Object.keys(back).sort(), Object.keys(sd).sort())
  t.deepEqual(Array.from(back['__proto__'].data), [1]) // eslint-disable-line no-proto -- the key under test
})

test('strings full of quotes, escapes and brackets are read as strings, not as keys', (t) => {
  const file = path.join(FIX, 'unusual', 'tricky-strings.safetensors')
  const sd = fv.io.loadSafetensors(file)
  t.deepEqual(Object.keys(sd), ['w"', 'w\\', 'w'])
  t.deepEqual([sd['w"'], sd['w\\'], sd.w].map((x) => x.data[0]), [1, 2, 3])
  t.deepEqual(fv.io.readSafetensorsMetadata(file), { note: 'a,"b":{[}] \\', w: 'w' })
})

test('a file with only metadata loads as {} and its metadata reads back', (t) => {
  const file = path.join(FIX, 'unusual', 'metadata-only.safetensors')
  t.deepEqual(fv.io.loadSafetensors(file), {})
  t.deepEqual(fv.io.readSafetensorsMetadata(file), { format: 'pt', note: 'nothing else' })
})

// ------------------------------------------------------------------ round trips

function randomBitsF32 (n, seed) {
  const r = rng(seed)
  return new Float32Array(Uint32Array.from({ length: n }, () => Math.floor(r() * 2 ** 32)).buffer)
}

for (const [save, load] of [['saveSafetensors', 'loadSafetensors'], ['saveSafetensorsAsync', 'loadSafetensorsAsync']]) {
  test(`${save} → ${load}: F32 bit-exact (NaN payloads, ±0, ±Inf, subnormals), I64, every integer dtype, [] and empty shapes`, async (t) => {
    const w = randomBitsF32(6 * 7, 11)
    const specials = Float32Array.from([NaN, -0, 0, Infinity, -Infinity, 1e-45, -3e-39, 3.4028234663852886e38])
    new Uint32Array(specials.buffer)[0] = 0x7FA12345  // a signalling NaN with a payload
    const record = {
      'conv.weight': fv.tensor(w, [6, 7]),
      specials: { data: specials, dims: [2, 4] },
      scalar: fv.tensor(new Float32Array([7.25]), []),
      empty: fv.tensor(new Float32Array(0), [3, 0]),
      'bn.num_batches_tracked': { data: BigInt64Array.from([9007199254740993n]), shape: [] },
      i64: { data: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n]), shape: [2] },
      u64: { data: BigUint64Array.from([2n ** 64n - 1n]), shape: [1] },
      i32: { data: Int32Array.from([-(2 ** 31), 5]), shape: [1, 2] },
      u32: { data: Uint32Array.from([2 ** 32 - 1]), shape: [1] },
      i16: { data: Int16Array.from([-32768, 3]), shape: [2] },
      u16: { data: Uint16Array.from([65535]), shape: [1] },
      i8: { data: Int8Array.from([-128, 127, 0]), shape: [3] },
      u8: { data: Uint8Array.from([255]), shape: [1] },
      mask: { data: Uint8Array.from([1, 0, 1]), shape: [3], dtype: 'BOOL' },
      emptyInts: { data: new BigInt64Array(0), shape: [0] }
    }
    const file = tmpFile()
    await fv.io[save](file, record)
    const sd = await fv.io[load](file)
    t.deepEqual(Object.keys(sd), Object.keys(record), 'the record order is kept')
    t.true(sd['conv.weight'] instanceof fv.Tensor)
    t.deepEqual(bitsOf(sd['conv.weight'].data), bitsOf(w))
    t.deepEqual(sd['conv.weight'].shape, [6, 7])
    t.deepEqual(bitsOf(sd.specials.data), bitsOf(specials))
    t.deepEqual(sd.specials.shape, [2, 4])
    t.deepEqual(sd.scalar.shape, [])
    t.deepEqual(Array.from(sd.scalar.data), [7.25])
    t.deepEqual(sd.empty.shape, [3, 0])
    t.is(sd.empty.data.length, 0)
    const dtypes = { 'bn.num_batches_tracked': 'I64', i64: 'I64', u64: 'U64', i32: 'I32', u32: 'U32', i16: 'I16', u16: 'U16', i8: 'I8', u8: 'U8', mask: 'BOOL', emptyInts: 'I64' }
    for (const [name, dtype] of Object.entries(dtypes)) {
      t.deepEqual(sd[name], { dtype, data: record[name].data, shape: record[name].shape }, name)
    }
  })
}

test('F16 and BF16 (per tensor, or the save option) round to nearest even and load as their float32 values', async (t) => {
  const x = Float32Array.from([0, -0, 1, 1 / 3, -2 / 3, 65504, 65519, 65520, 1e5, 2 ** -25, 3 * 2 ** -25, 1e-8, 6e-8,
    1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.4e38, 1e-40, Infinity, -Infinity, NaN, 0.1, 2049, 2051])
  const expectF16 = Array.from(x, (v) => ref.f16ToF32Bits(ref.f32ToF16(v)))
  const expectBF16 = Array.from(x, (v) => ref.bf16ToF32Bits(ref.f32ToBf16(v)))
  const a = tmpFile()
  fv.io.saveSafetensors(a, { h: { data: x, shape: [x.length], dtype: 'F16' }, b: { data: x, shape: [x.length], dtype: 'BF16' }, f: { data: x, shape: [x.length] } })
  const b = tmpFile()
  await fv.io.saveSafetensorsAsync(b, { h: { data: x, shape: [x.length] }, f: { data: x, shape: [x.length], dtype: 'F32' } }, null, { dtype: 'F16' })
  const c = tmpFile()
  fv.io.saveSafetensors(c, { b: fv.tensor(x) }, undefined, { dtype: 'BF16' })
  for (const [file, name, expected] of [[a, 'h', expectF16], [a, 'b', expectBF16], [b, 'h', expectF16], [c, 'b', expectBF16]]) {
    const sd = fv.io.loadSafetensors(file)
    t.deepEqual(bitsOf(sd[name].data), expected, `${path.basename(file)} ${name}`)
    t.deepEqual(JSON.parse(rawParts(file).text)[name].dtype, name === 'h' ? 'F16' : 'BF16')
  }
  t.deepEqual(bitsOf(fv.io.loadSafetensors(a).f.data), bitsOf(x), 'no dtype: F32')
  t.deepEqual(bitsOf(fv.io.loadSafetensors(b).f.data), bitsOf(x), "a tensor's own F32 beats the option")
})

test('the F16 bytes written are the reference codes, little-endian', (t) => {
  const x = Float32Array.from([1, -2, 1 / 3, 65520, 2 ** -24])
  const file = tmpFile()
  fv.io.saveSafetensors(file, { h: { data: x, shape: [5], dtype: 'F16' } })
  const { data } = rawParts(file)
  t.deepEqual(Array.from({ length: 5 }, (_, i) => data.readUInt16LE(2 * i)), Array.from(x, ref.f32ToF16))
})

test.serial('tensors larger than the conversion chunk (F16, BF16, F64) save and load intact, sync and Async', async (t) => {
  t.timeout(120e3)
  const n = (4 << 20) + 12345  // past the 8 MiB (4M-element) scratch chunk
  const x = new Float32Array(n)
  for (let i = 0; i < n; i++) x[i] = (i % 4099) - 2049.5 + i * 2 ** -10
  const file = tmpFile('big')
  await fv.io.saveSafetensorsAsync(file, { b: { data: x, shape: [n], dtype: 'BF16' }, h: { data: x, shape: [n], dtype: 'F16' } })
  const expectB = new Float32Array(n)
  for (let i = 0; i < n; i++) expectB[i] = ref.floatOf(ref.bf16ToF32Bits(ref.f32ToBf16(x[i])))
  // F16 through the ops (checked against the reference in convert.test.js): the point
  // here is that every chunk lands in its place.
  const expectH = fv.ops.f16ToF32(fv.ops.f32ToF16(x))
  for (const sd of [fv.io.loadSafetensors(file), await fv.io.loadSafetensorsAsync(file)]) {
    assertSameBits(t, sd.b.data, expectB, 'BF16')
    assertSameBits(t, sd.h.data, expectH, 'F16')
  }
  // F64: no writer in fv.io, so build the file by hand; 1M doubles fill one chunk.
  const m = (1 << 20) + 3
  const d = new Float64Array(m)
  for (let i = 0; i < m; i++) d[i] = i / 3 + 1e-9 * i
  const header = Buffer.from(JSON.stringify({ d: { dtype: 'F64', shape: [m], data_offsets: [0, 8 * m] } }))
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(header.length))
  const f64file = tmpFile('f64')
  fs.writeFileSync(f64file, Buffer.concat([len, header, Buffer.from(d.buffer)]))
  const expectD = Float32Array.from(d)  // Math.fround per element: round to nearest
  for (const sd of [fv.io.loadSafetensors(f64file), await fv.io.loadSafetensorsAsync(f64file)]) {
    assertSameBits(t, sd.d.data, expectD, 'F64')
  }
})

test('loaded F32 tensors stored side by side are views on one buffer holding only what they need', (t) => {
  const file = tmpFile()
  fv.io.saveSafetensors(file, {
    a: fv.tensor(new Float32Array([1, 2, 3]), [3]),
    h: { data: new Float32Array(1000), shape: [1000], dtype: 'F16' },
    b: fv.tensor(new Float32Array([4, 5]), [2]),
    n: { data: BigInt64Array.from([1n]), shape: [] }
  })
  const sd = fv.io.loadSafetensors(file)
  t.is(sd.a.data.buffer, sd.b.data.buffer)
  t.is(sd.a.data.buffer, sd.n.data.buffer)
  // 8 (I64) + 12 + 8 (F32): the 2000 bytes of F16 are not kept once widened.
  t.is(sd.a.data.buffer.byteLength, 28)
  t.not(sd.h.data.buffer, sd.a.data.buffer)
})

// ------------------------------------------------------------------ the bytes written

test('the written file: padded header, { format: pt } metadata first, data by element size, each tensor aligned, no holes', (t) => {
  const file = tmpFile()
  fv.io.saveSafetensors(file, {
    odd16: { data: new Float32Array(3), shape: [3], dtype: 'F16' },
    byte: { data: new Uint8Array(5), shape: [5] },
    w: fv.tensor(new Float32Array(5), [5]),
    steps: { data: new BigInt64Array(1), shape: [] }
  }, { epoch: '7' })
  const { n, text, data } = rawParts(file)
  t.is(n % 8, 0, 'the data starts at a multiple of 8')
  t.regex(text, /^\{"__metadata__":\{"format":"pt","epoch":"7"\},"odd16":/)
  t.is(text.trimEnd().length + (n - Buffer.byteLength(text.trimEnd())), n)
  t.regex(text, /\} *$/)
  const header = JSON.parse(text)
  t.deepEqual(Object.keys(header), ['__metadata__', 'odd16', 'byte', 'w', 'steps'])
  const sizes = { F16: 2, U8: 1, F32: 4, I64: 8 }
  const spans = Object.entries(header).filter(([k]) => k !== '__metadata__')
    .map(([name, e]) => ({ name, ...e })).sort((a, b) => a.data_offsets[0] - b.data_offsets[0])
  t.deepEqual(spans.map((s) => s.name), ['steps', 'w', 'odd16', 'byte'], 'widest elements first')
  let at = 0
  for (const s of spans) {
    t.is(s.data_offsets[0], at, `${s.name} follows the previous tensor`)
    t.is(s.data_offsets[0] % sizes[s.dtype], 0, `${s.name} is aligned`)
    at = s.data_offsets[1]
  }
  t.is(at, data.length, 'the tensors cover the data exactly')
})

test("metadata: the user's entries merged after format: 'pt', which they may override; kept by a save/load", async (t) => {
  const a = tmpFile()
  const own = (o, key, value) => Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true })
  fv.io.saveSafetensors(a, { w: fv.tensor([1], [1]) }, own({ epoch: '12', 'lr schedule': 'cosine' }, '__proto__', 'x'))
  const meta = fv.io.readSafetensorsMetadata(a)
  t.deepEqual(meta, own({ format: 'pt', epoch: '12', 'lr schedule': 'cosine' }, '__proto__', 'x'))
  t.deepEqual(Object.keys(meta), ['format', 'epoch', 'lr schedule', '__proto__'])
  const b = tmpFile()
  await fv.io.saveSafetensorsAsync(b, {}, { format: 'np' })
  t.deepEqual(await fv.io.readSafetensorsMetadataAsync(b), { format: 'np' })
  t.deepEqual(fv.io.loadSafetensors(b), {})
})

test('a Map record saves in its order', (t) => {
  const file = tmpFile()
  fv.io.saveSafetensors(file, new Map([['z', fv.tensor([1], [1])], ['a', fv.tensor([2, 3], [2])]]))
  const sd = fv.io.loadSafetensors(file)
  t.deepEqual(Object.keys(sd), ['z', 'a'])
  t.deepEqual(Array.from(sd.a.data), [2, 3])
})

// ------------------------------------------------------------------ atomic saves

test('a save replaces the file only when complete, and leaves no temporary file behind', async (t) => {
  const dir = fs.mkdtempSync(path.join(TMP, 'atomic-'))
  const file = path.join(dir, 'model.safetensors')
  fv.io.saveSafetensors(file, { w: fv.tensor([1, 2], [2]) })
  const before = fs.readFileSync(file)
  // A bad argument: refused before anything is written.
  t.throws(() => fv.io.saveSafetensors(file, { w: { data: new Float32Array(3), shape: [2] } }), { instanceOf: RangeError })
  await t.throwsAsync(fv.io.saveSafetensorsAsync(file, { w: 5 }), { instanceOf: TypeError })
  t.deepEqual(fs.readFileSync(file), before)
  // A failure after the data is written (the target is a directory, so the rename fails):
  // the directory is untouched and the temporary file is removed.
  const target = path.join(dir, 'is-a-dir.safetensors')
  fs.mkdirSync(target)
  fs.writeFileSync(path.join(target, 'keep'), 'x')
  t.throws(() => fv.io.saveSafetensors(target, { w: fv.tensor([1], [1]) }))
  await t.throwsAsync(fv.io.saveSafetensorsAsync(target, { w: fv.tensor([1], [1]) }))
  t.deepEqual(fs.readdirSync(target), ['keep'])
  t.deepEqual(fs.readdirSync(dir).sort(), ['is-a-dir.safetensors', 'model.safetensors'])
  // A successful save over the old file.
  await fv.io.saveSafetensorsAsync(file, { w: fv.tensor([3, 4, 5], [3]) })
  t.deepEqual(Array.from(fv.io.loadSafetensors(file).w.data), [3, 4, 5])
  t.deepEqual(fs.readdirSync(dir).sort(), ['is-a-dir.safetensors', 'model.safetensors'])
})

test('paths: a file URL and a Buffer work as well as a string', async (t) => {
  const file = tmpFile()
  fv.io.saveSafetensors(new URL(`file://${file}`), { w: fv.tensor([1], [1]) })
  t.deepEqual(Array.from(fv.io.loadSafetensors(Buffer.from(file)).w.data), [1])
  t.deepEqual(Array.from((await fv.io.loadSafetensorsAsync(new URL(`file://${file}`))).w.data), [1])
})

// ------------------------------------------------------------------ bad arguments

test('saveSafetensors: bad arguments are a TypeError or RangeError naming the function and the argument', async (t) => {
  const f = tmpFile()
  const ok = fv.tensor([1, 2], [2])
  const cases = [
    [() => fv.io.saveSafetensors(f, { w: 5 }), TypeError, /^saveSafetensors: record\['w'\] must be a Tensor or \{ data, shape \}, got 5$/],
    [() => fv.io.saveSafetensors(f, { w: new Float32Array(2) }), TypeError, /^saveSafetensors: record\['w'\] must be a Tensor or \{ data, shape \}, got Float32Array\(2\)/],
    [() => fv.io.saveSafetensors(f, { w: { data: new Float64Array(2), shape: [2] } }), TypeError, /^saveSafetensors: record\['w'\]\.data must be a Float32Array or an integer typed array.*got Float64Array\(2\)/],
    [() => fv.io.saveSafetensors(f, { w: { data: new Float32Array(5), shape: [2, 3] } }), RangeError, /^saveSafetensors: record\['w'\]\.data must be 6 elements for shape \[2,3\], got 5/],
    [() => fv.io.saveSafetensors(f, { w: { data: new Float32Array(2) } }), TypeError, /^saveSafetensors: record\['w'\]\.shape must be an array of integers, got undefined/],
    [() => fv.io.saveSafetensors(f, { w: { data: new Float32Array(2), shape: [-2] } }), RangeError, /^saveSafetensors: record\['w'\]\.shape must be non-negative/],
    [() => fv.io.saveSafetensors(f, { w: { data: new Float32Array(2), shape: [2], dtype: 'I64' } }), RangeError, /^saveSafetensors: record\['w'\]\.dtype must be 'F32', 'F16' or 'BF16' for Float32Array data, got a string "I64"/],
    [() => fv.io.saveSafetensors(f, { w: { data: new Float32Array(2), shape: [2], dtype: 16 } }), TypeError, /^saveSafetensors: record\['w'\]\.dtype must be/],
    [() => fv.io.saveSafetensors(f, { w: { data: new Int32Array(2), shape: [2], dtype: 'I64' } }), RangeError, /^saveSafetensors: record\['w'\]\.dtype must be 'I32' for Int32Array data/],
    [() => fv.io.saveSafetensors(f, { w: { data: new Int8Array(2), shape: [2], dtype: 'BOOL' } }), RangeError, /^saveSafetensors: record\['w'\]\.dtype must be 'I8'/],
    [() => fv.io.saveSafetensors(f, { __metadata__: ok }), RangeError, /^saveSafetensors: record must be tensor names other than '__metadata__'/],
    [() => fv.io.saveSafetensors(f, [ok]), TypeError, /^saveSafetensors: record must be an object \(or Map\) of tensors by name, got an Array/],
    [() => fv.io.saveSafetensors(f, null), TypeError, /^saveSafetensors: record must be/],
    [() => fv.io.saveSafetensors(f, new Map([[1, ok]])), TypeError, /^saveSafetensors: record must be a Map with string keys, got a key 1/],
    [() => fv.io.saveSafetensors(f, { w: ok }, { epoch: 3 }), TypeError, /^saveSafetensors: metadata\['epoch'\] must be a string, got 3/],
    [() => fv.io.saveSafetensors(f, { w: ok }, 'pt'), TypeError, /^saveSafetensors: metadata must be an object of strings, got a string/],
    [() => fv.io.saveSafetensors(f, { w: ok }, null, { dtype: 'F8' }), RangeError, /^saveSafetensors: options\.dtype must be 'F32', 'F16' or 'BF16'/],
    [() => fv.io.saveSafetensors(f, { w: ok }, null, { dtyp: 'F16' }), TypeError, /^saveSafetensors: options must be an object with keys among dtype, got unknown key 'dtyp'/],
    [() => fv.io.saveSafetensors(42, { w: ok }), TypeError, /^saveSafetensors: path must be a string, Buffer or file URL, got 42/]
  ]
  for (const [fn, type, message] of cases) t.throws(fn, { instanceOf: type, message })
  t.false(fs.existsSync(f), 'nothing was written')
  await t.throwsAsync(fv.io.saveSafetensorsAsync(f, { w: 5 }), { instanceOf: TypeError, message: /^saveSafetensorsAsync: record\['w'\] must be a Tensor/ })
  t.throws(() => fv.io.loadSafetensors({}), { instanceOf: TypeError, message: /^loadSafetensors: path must be a string, Buffer or file URL, got an object/ })
  await t.throwsAsync(fv.io.loadSafetensorsAsync(undefined), { instanceOf: TypeError, message: /^loadSafetensorsAsync: path must be/ })
})

test('the Async functions return promises and reject rather than throw', (t) => {
  const p = fv.io.saveSafetensorsAsync(tmpFile(), { w: 5 })
  t.true(p instanceof Promise)
  const q = fv.io.loadSafetensorsAsync(path.join(FIX, 'hostile', 'empty.safetensors'))
  t.true(q instanceof Promise)
  return Promise.all([t.throwsAsync(p), t.throwsAsync(q, { code: 'ERR_FOVEAL_SAFETENSORS' })])
})
