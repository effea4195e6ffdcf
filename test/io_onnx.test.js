'use strict'
// fv.io.loadOnnxWeights (ONNX initializers, PyTorch's export and hand-built files of every
// storage form) and the interop with onnxruntime and tfjs tensors.
const test = require('ava')
const fs = require('fs')
const os = require('os')
const path = require('path')
const protobuf = require('protobufjs')
const fv = require('./helpers/fv')
const { throwsLike, rejectsLike } = require('./helpers/errors')

const fixtures = path.join(__dirname, 'fixtures', 'onnx')

test('the initializers of PyTorch\'s torch.onnx.export load exactly, named as its state dict', async (t) => {
  const ref = JSON.parse(fs.readFileSync(path.join(fixtures, 'cnn.json'), 'utf8'))
  for (const load of [fv.io.loadOnnxWeights, fv.io.loadOnnxWeightsAsync]) {
    const w = await load(path.join(fixtures, 'cnn.onnx'))
    t.deepEqual(Object.keys(w).sort(), Object.keys(ref.state).sort())
    for (const [name, { shape, values }] of Object.entries(ref.state)) {
      t.true(w[name] instanceof fv.Tensor, name)
      t.deepEqual([...w[name].shape], shape, name)
      t.deepEqual(Array.from(w[name].data), values.map(Math.fround), name)
    }
  }
})

// A writer for hand-made models, from the field numbers of onnx/onnx's onnx.proto.
const writer = protobuf.parse(`
syntax = "proto2";
message KV { optional string key = 1; optional string value = 2; }
message T {
  repeated int64 dims = 1; optional int32 data_type = 2; repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true]; repeated int64 int64_data = 7 [packed = true];
  optional string name = 8; optional bytes raw_data = 9; repeated double double_data = 10 [packed = true];
  repeated KV external_data = 13; optional int32 data_location = 14;
}
message G { repeated T initializer = 5; optional string name = 2; }
message M { optional int64 ir_version = 1; optional G graph = 7; }`, { keepCase: true }).root
const M = writer.lookupType('M')

function modelFile (dir, initializers, name = 'm.onnx') {
  const file = path.join(dir, name)
  fs.writeFileSync(file, M.encode(M.fromObject({ ir_version: 8, graph: { name: 'g', initializer: initializers } })).finish())
  return file
}

const bytesOf = (typed) => new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength)

test('every storage form: raw_data and the typed fields, FLOAT16/BFLOAT16/DOUBLE as float32, integers as typed arrays, external data', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'foveal-onnx-'))
  try {
    const f16 = Uint16Array.of(0x3c00, 0xc000, 0x7c00, 0x0001) // 1, -2, +Inf, the smallest subnormal
    const bf16 = [0x3f80, 0x4049, 0xff80] // 1, 3.140625, -Inf
    const ext = Float32Array.of(9, 8, 7, 6, 5)
    fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat([Buffer.alloc(8), Buffer.from(bytesOf(ext))]))
    const file = modelFile(dir, [
      { name: 'raw', dims: [2, 2], data_type: 1, raw_data: bytesOf(Float32Array.of(1.5, -2, 3, 4)) },
      { name: 'fields', dims: [3], data_type: 1, float_data: [0.1, 0.2, 0.3] },
      { name: 'half', dims: [4], data_type: 10, raw_data: bytesOf(f16) },
      { name: 'bhalf', dims: [3], data_type: 16, int32_data: bf16 },
      { name: 'double', dims: [2], data_type: 11, double_data: [1 / 3, 1e300] },
      { name: 'i64raw', dims: [], data_type: 7, raw_data: bytesOf(BigInt64Array.of(2n ** 40n + 7n)) },
      { name: 'i64', dims: [2], data_type: 7, int64_data: [5, -3] },
      { name: 'i32', dims: [2], data_type: 6, int32_data: [-7, 8] },
      { name: 'flag', dims: [2], data_type: 9, raw_data: Uint8Array.of(1, 0) },
      { name: 'outside', dims: [5], data_type: 1, data_location: 1, external_data: [{ key: 'location', value: 'weights.bin' }, { key: 'offset', value: '8' }, { key: 'length', value: '20' }] }
    ])
    const w = fv.io.loadOnnxWeights(file)
    t.deepEqual(Array.from(w.raw.data), [1.5, -2, 3, 4])
    t.deepEqual([...w.raw.shape], [2, 2])
    t.deepEqual(Array.from(w.fields.data), [0.1, 0.2, 0.3].map(Math.fround))
    t.deepEqual(Array.from(w.half.data), [1, -2, Infinity, 2 ** -24])
    t.deepEqual(Array.from(w.bhalf.data), [1, 3.140625, -Infinity])
    t.deepEqual(Array.from(w.double.data), [Math.fround(1 / 3), Infinity])
    t.is(w.i64raw.dtype, 'I64')
    t.deepEqual([...w.i64raw.shape], [])
    t.is(w.i64raw.data[0], 2n ** 40n + 7n)
    t.deepEqual(Array.from(w.i64.data), [5n, -3n])
    t.true(w.i32.data instanceof Int32Array)
    t.deepEqual(Array.from(w.i32.data), [-7, 8])
    t.is(w.flag.dtype, 'BOOL')
    t.deepEqual(Array.from(w.flag.data), [1, 0])
    t.deepEqual(Array.from(w.outside.data), [9, 8, 7, 6, 5])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('a malformed model is refused with an error naming the file and the initializer', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'foveal-onnx-'))
  try {
    const bad = (inits, re, name) => {
      const file = modelFile(dir, inits, name)
      const err = throwsLike(t, () => fv.io.loadOnnxWeights(file), Error, file, re)
      t.is(err.code, 'ERR_FOVEAL_ONNX')
      return file
    }
    bad([{ name: 'w', dims: [3], data_type: 1, raw_data: new Uint8Array(8) }], /initializer 'w' holds 8 bytes, its dims \[3\] need 12/, 'short.onnx')
    bad([{ name: 'w', dims: [2], data_type: 1, float_data: [1] }], /'w' holds 1 values, its dims need 2/, 'fields.onnx')
    bad([{ name: 's', dims: [1], data_type: 8 }], /'s' has data type STRING/, 'string.onnx')
    bad([{ name: 'w', dims: [1], data_type: 1, float_data: [1] }, { name: 'w', dims: [1], data_type: 1, float_data: [2] }], /two initializers are named 'w'/, 'dup.onnx')
    bad([{ name: 'w', dims: [-1], data_type: 1 }], /'w' has bad dims/, 'dims.onnx')
    bad([{ name: 'e', dims: [1], data_type: 1, data_location: 1, external_data: [{ key: 'location', value: '../../etc/passwd' }] }], /points outside the model's folder/, 'escape.onnx')
    bad([{ name: 'e', dims: [4], data_type: 1, data_location: 1, external_data: [{ key: 'location', value: 'none.bin' }] }], /ENOENT/, 'missing-ext.onnx')
    const garbage = path.join(dir, 'garbage.onnx')
    fs.writeFileSync(garbage, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]))
    throwsLike(t, () => fv.io.loadOnnxWeights(garbage), Error, garbage, 'not an ONNX model')
    await rejectsLike(t, fv.io.loadOnnxWeightsAsync(path.join(dir, 'nope.onnx')), Error, 'nope.onnx', 'ENOENT')
    throwsLike(t, () => fv.io.loadOnnxWeights(42), TypeError, 'loadOnnxWeights: path must be a string, URL or Buffer, got 42')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('onnxruntime tensors go in as they are, and toOrt wraps a result without a copy', (t) => {
  const ort = require('onnxruntime-common')
  const x = new ort.Tensor('float32', Float32Array.of(-1, 2, -3, 4), [2, 2])
  const y = fv.ops.relu(x)
  t.deepEqual(Array.from(y.data), [0, 2, 0, 4])
  t.deepEqual([...y.shape], [2, 2])
  const back = fv.io.toOrt(y, ort)
  t.true(back instanceof ort.Tensor)
  t.is(back.data, y.data, 'the same Float32Array')
  t.deepEqual(back.dims, [2, 2])
  t.is(back.type, 'float32')
  throwsLike(t, () => fv.ops.relu(new ort.Tensor('int64', BigInt64Array.of(1n), [1])), TypeError,
    "relu: x must be a float32 tensor, got a tensor of type 'int64'")
  throwsLike(t, () => fv.io.toOrt(y, {}), TypeError, 'toOrt: ort must be the onnxruntime module')
})

test('tfjs tensors go in as they are (no copy on the CPU backend), and toTfjs hands one back', async (t) => {
  const tf = require('@tensorflow/tfjs-core')
  require('@tensorflow/tfjs-backend-cpu')
  await tf.setBackend('cpu')
  const a = tf.tensor2d([[1, -2], [3, -4]])
  const y = fv.ops.relu(a)
  t.deepEqual(Array.from(y.data), [1, 0, 3, 0])
  const s = fv.ops.softmax(a, 1)
  t.true(Math.abs(s.data[0] + s.data[1] - 1) < 1e-6)
  const back = fv.io.toTfjs(y, tf)
  t.deepEqual(back.shape, [2, 2])
  t.deepEqual(Array.from(back.dataSync()), [1, 0, 3, 0])
  t.deepEqual(Array.from(fv.io.fromTensor(back).data), [1, 0, 3, 0])
  throwsLike(t, () => fv.ops.relu(tf.tensor1d([1, 2], 'int32')), TypeError, "relu: x must be a float32 tensor, got a tfjs tensor of dtype 'int32'")
  const gone = tf.tensor1d([1])
  gone.dispose()
  throwsLike(t, () => fv.ops.relu(gone), TypeError, 'relu: x must be a live tensor, got a disposed tfjs tensor')
  throwsLike(t, () => fv.io.toTfjs(y, null), TypeError, 'toTfjs: tf must be the tfjs module')
})

test('weights from PyTorch\'s ONNX export load into the same model written with fv.nn and give PyTorch\'s outputs', (t) => {
  const ref = JSON.parse(fs.readFileSync(path.join(fixtures, 'cnn.json'), 'utf8'))
  const { nn } = fv
  const model = new nn.Sequential(new nn.Conv2d(1, 4, 3), new nn.ReLU(), new nn.BatchNorm2d(4), new nn.Flatten(), new nn.Linear(64, 3))
  const weights = fv.io.loadOnnxWeights(path.join(fixtures, 'cnn.onnx'))
  // The export leaves out num_batches_tracked (unused in eval): load the rest, strict off.
  const { missing, unexpected } = model.loadStateDict(weights, { strict: false })
  t.deepEqual(missing, ['2.num_batches_tracked'])
  t.deepEqual(unexpected, [])
  model.eval()
  const y = model.forward(fv.tensor(Float32Array.from(ref.x), [2, 1, 6, 6]))
  t.deepEqual([...y.shape], [2, 3])
  for (let i = 0; i < ref.y.length; i++) t.true(Math.abs(y.data[i] - ref.y[i]) <= 1e-5 + 1e-4 * Math.abs(ref.y[i]), `y[${i}] ${y.data[i]} vs ${ref.y[i]}`)
})
