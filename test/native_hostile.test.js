'use strict'
// The native binding called directly, past every TypeScript check, with the hostile
// arguments the property fuzzer (test/fuzz/native.js) found it mishandling: each case is
// one native re-check proven on its own, and fails without it.
const test = require('ava')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const fv = require('..')
const { binding } = require('../dist/native')
const { throwsLike, rejectsLike } = require('./helpers/errors')

const detach = (a) => structuredClone(a.buffer, { transfer: [a.buffer] })

// A shape whose element getter detaches `victim`: reading the shape runs JS after the
// victim's data pointer was taken.
function detachingShape (shape, victim) {
  const s = shape.slice()
  const v = s[0]
  Object.defineProperty(s, 0, { get () { detach(victim); return v } })
  return s
}

test('an array detached by a getter of a later argument is refused, not read (sync and Async)', async (t) => {
  const a = new Float32Array(6).fill(1)
  throwsLike(t, () => binding.add(a, detachingShape([2, 3], a), new Float32Array(6), [2, 3], null), TypeError,
    /^add: a was detached while the arguments were read/)
  const b = new Float32Array(6).fill(1)
  await rejectsLike(t, binding.addAsync(new Float32Array(6), [2, 3], b, detachingShape([2, 3], b), null), TypeError,
    /^add: b was detached while the arguments were read/)
  // permute reads x, the shape and the perm: x detached by the perm's getter.
  const x = new Float32Array(4)
  const perm2 = [1, 0]
  Object.defineProperty(perm2, 1, { get () { detach(x); return 0 } })
  throwsLike(t, () => binding.permute(x, null, [2, 2], perm2), TypeError, /^permute: x was detached/)
})

test('an empty caller `out` is the result itself, whatever its data pointer', async (t) => {
  for (const out of [new Float32Array(0), new Float32Array(new ArrayBuffer(0)), new Float32Array(new ArrayBuffer(8), 8, 0)]) {
    t.is(binding.relu(new Float32Array(0), out), out)
    t.is(await binding.reluAsync(new Float32Array(0), out), out)
    const r = fv.ops.relu({ data: new Float32Array(0), shape: [0, 3] }, { out: { data: out, shape: [0, 3] } })
    t.is(r.data, out)
  }
  for (const out of [new Uint16Array(0), new Uint16Array(new ArrayBuffer(0))]) {
    t.is(binding.f32ToF16(new Float32Array(0), out), out)
    t.is(await binding.f32ToBf16Async(new Float32Array(0), out), out)
  }
})

test('`out` sharing memory with labels, indices or class weights is refused', async (t) => {
  // embedding: the kernel would overwrite the indices it reads (and then read any index).
  const buf = new ArrayBuffer(64)
  const indices = new Int32Array(buf, 0, 2)
  const out = new Float32Array(buf, 0, 8)
  throwsLike(t, () => binding.embedding(indices, new Float32Array(12), out, 2, 3, 4), RangeError,
    'embedding: out must not share memory with indices')
  await rejectsLike(t, binding.embeddingBackwardAsync(new Float32Array(8), indices, new Float32Array(buf, 4, 12), 2, 3, 4, -1, true),
    RangeError, 'embeddingBackward: out must not share memory with indices')
  // crossEntropy: labels and the class weights.
  const lb = new ArrayBuffer(16)
  const labels = new Int32Array(lb, 0, 2)
  throwsLike(t, () => binding.crossEntropy(new Float32Array(6), labels, new Float32Array(lb, 4, 2), 2, 3, 0, 0, -100, null),
    RangeError, 'crossEntropy: out must not share memory with labels')
  const wb = new Float32Array(8)
  throwsLike(t, () => binding.crossEntropyBackward(new Float32Array(1), new Float32Array(6), new Int32Array(2),
    wb.subarray(2, 8), 2, 3, 1, 0, -100, wb.subarray(0, 3)), RangeError, 'crossEntropyBackward: out must not share memory with weight')
  // and the public op says so before the binding does
  const w = new Float32Array(4).fill(1)
  throwsLike(t, () => fv.ops.crossEntropy({ data: new Float32Array(8), shape: [2, 4] }, new Int32Array([0, 1]),
    { reduction: 'none', weight: { data: w, shape: [4] }, out: { data: w.subarray(0, 2), shape: [2] } }), RangeError, 'crossEntropy', 'weight')
})

test('dispose of a view over a SharedArrayBuffer leaves it alone', (t) => {
  const s = new Float32Array(new SharedArrayBuffer(16))
  t.false(binding.dispose(s))
  s[0] = 1
  t.is(s[0], 1)
})

test('gemm with beta and an empty c', (t) => {
  const problem = { batch: 1, M: 0, K: 2, N: 3, transA: false, transB: false, alpha: 1, beta: 0.5, aBatched: true, bBatched: true, cBatched: true, relu: false }
  t.is(binding.gemm(new Float32Array(0), new Float32Array(6), new Float32Array(0), null, null, null, problem).length, 0)
  const r = fv.ops.gemm({ data: new Float32Array(0), shape: [0, 2] }, { data: new Float32Array(6), shape: [2, 3] },
    { c: { data: new Float32Array(0), shape: [0, 3] }, beta: 0.5 })
  t.deepEqual(r.shape, [0, 3])
})

test('spatialGateBackward with no channels does not loop over N·HW pixels of nothing', (t) => {
  const e = () => new Float32Array(0)
  const t0 = Date.now()
  const r = binding.spatialGateBackward(e(), e(), e(), new Float32Array([0.5]), e(), new Float32Array([2]), null,
    null, null, null, null, null, 2 ** 24, 0, 2 ** 24, false)
  t.true(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`)
  t.deepEqual([r.dx.length, r.dwa.length, Object.is(r.dba[0], 0), Object.is(r.dbb[0], 0)], [0, 0, true, true])
  const nan = binding.spatialGateBackward(e(), e(), e(), new Float32Array([NaN]), e(), new Float32Array([2]), null,
    null, null, null, null, null, 3, 0, 5, false)
  t.true(Number.isNaN(nan.dba[0]) && Number.isNaN(nan.dbb[0]))
  const none = binding.spatialGateBackward(e(), e(), e(), new Float32Array([NaN]), e(), new Float32Array([2]), null,
    null, null, null, null, null, 0, 0, 5, false)
  t.deepEqual([none.dba[0], none.dbb[0]], [0, 0])
})

test('attention: a NaN score makes its row NaN, never a silent zero row', (t) => {
  const q = new Float32Array([NaN, 1, 1, 1])  // [1, 1, 2, 2]: the first query is NaN
  const k = new Float32Array([1, 0, 0, 1])
  const v = new Float32Array([1, 2, 3, 4])
  for (const isa of fv.info().isa.supported) {
    fv.setIsa(isa)
    try {
      const r = fv.ops.attention({ data: q, shape: [1, 1, 2, 2] }, { data: k, shape: [1, 1, 2, 2] }, { data: v, shape: [1, 1, 2, 2] })
      t.true(Number.isNaN(r.out.data[0]) && Number.isNaN(r.out.data[1]), `${isa}: out row 0 ${r.out.data.slice(0, 2)}`)
      t.true(Number.isNaN(r.lse.data[0]), `${isa}: lse ${r.lse.data[0]}`)
      t.true(Number.isFinite(r.out.data[2]) && Number.isFinite(r.lse.data[1]), isa)
      // topK too: the NaN is not one of the k, but it is not dropped silently either
      // (the row had no other key to keep: it was a row of zeros).
      for (const topK of [1, 2]) {
        const rk = fv.ops.attention({ data: q, shape: [1, 1, 2, 2] }, { data: k, shape: [1, 1, 2, 2] }, { data: v, shape: [1, 1, 2, 2] }, { topK })
        t.true(Number.isNaN(rk.out.data[0]) && Number.isNaN(rk.lse.data[0]), `${isa} topK ${topK}: ${rk.out.data.slice(0, 2)}`)
        const g = fv.ops.attentionBackward({ data: new Float32Array(4).fill(1), shape: [1, 1, 2, 2] }, { data: q, shape: [1, 1, 2, 2] },
          { data: k, shape: [1, 1, 2, 2] }, { data: v, shape: [1, 1, 2, 2] }, rk.out, rk.lse, { topK })
        t.true(Number.isNaN(g.dq.data[0]), `${isa} topK ${topK}: dq ${g.dq.data[0]}`)
      }
    } finally {
      fv.setIsa('auto')
    }
  }
})

test('a result V8 cannot allocate is the op\'s out-of-memory error, not the end of the process', (t) => {
  // 16 GiB of dw from empty inputs, in a process limited to 6 GB of address space.
  const script = `
    const { binding } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'native'))})
    try { binding.embeddingBackward(new Float32Array(0), new Int32Array(0), null, 0, 2 ** 16, 2 ** 16 - 1, -1, false); console.log('allocated') }
    catch (e) { console.log(JSON.stringify([e.constructor.name, e.code, e.message])) }`
  const r = spawnSync('bash', ['-c', 'ulimit -v 6000000 && exec "$0" -e "$1"', process.execPath, script], { encoding: 'utf8', timeout: 60e3 })
  if (r.stdout.trim() === 'allocated') return t.pass()  // (no address-space limit here)
  t.is(r.status, 0, r.stderr.slice(-500))
  const [name, code, message] = JSON.parse(r.stdout)
  t.deepEqual([name, code], ['Error', 'ERR_FOVEAL_OUT_OF_MEMORY'])
  t.regex(message, /^embeddingBackward: out of memory/)
})

test('a scratch allocation that fails lets go of its slot: the next op on the thread still runs', (t) => {
  // groupNormBackward's per-(n, c) partials for N·C = 2^32 with S = 0 (every array empty):
  // 32 GiB of scratch, refused in a process limited to 6 GB of address space.
  const script = `
    const { binding } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'native'))})
    const e = () => new Float32Array(0)
    const out = []
    try { binding.groupNormBackward(e(), e(), null, null, null, null, 2 ** 20, 2 ** 12, 0, 1, 1e-5, false); out.push('allocated') }
    catch (err) { out.push(err.code || err.message) }
    try { const r = binding.groupNormBackward(new Float32Array(4), new Float32Array([1, 2, 3, 4]), null, null, null, null, 1, 2, 2, 1, 1e-5, false); out.push(r.dx.length) }
    catch (err) { out.push(err.message) }
    console.log(JSON.stringify(out))`
  const r = spawnSync('bash', ['-c', 'ulimit -v 6000000 && exec "$0" -e "$1"', process.execPath, script], { encoding: 'utf8', timeout: 60e3 })
  t.is(r.status, 0, r.stderr.slice(-500))
  const [first, second] = JSON.parse(r.stdout)
  if (first !== 'allocated') t.is(first, 'ERR_FOVEAL_OUT_OF_MEMORY')
  t.is(second, 4)
})
