'use strict'
// The runtime around the ops: info(), the event loop during async ops, worker_threads,
// the result pool, and the ES module entry.
const test = require('ava')
const path = require('path')
const { Worker } = require('worker_threads')
const fv = require('./helpers/fv')
const { rand } = require('./helpers/random')
const { assertBitIdentical } = require('./helpers/check')

test('info() reports the version, binary, CPU features, ISA, threads, pool and CUDA status', (t) => {
  const i = fv.info()
  t.is(i.version, require('../package.json').version)
  t.true(['prebuilt', 'source'].includes(i.binary.origin))
  t.true(['node-gyp', 'cmake-js'].includes(i.binary.buildRoute))
  t.true(i.binary.path.endsWith('.node'))
  t.true(Array.isArray(i.cpu.features))
  t.true(i.isa.supported.includes('generic'))
  t.true(i.isa.supported.includes(i.isa.active))
  if (process.arch === 'x64') {
    // What the dispatcher may pick must agree with what cpuid reported.
    t.is(i.isa.supported.includes('avx2'), i.cpu.features.includes('avx2') && i.cpu.features.includes('fma'))
    t.is(i.isa.supported.includes('avx512'), i.cpu.features.includes('avx512f') && i.cpu.features.includes('avx512bw'))
  }
  const linear = i.kernels.find((k) => k.name === 'gemm')
  t.truthy(linear)
  t.true(linear.variants.includes(linear.active))
  t.true(i.threads.count >= 1)
  t.true(i.threads.default >= 1)
  t.deepEqual(i.backends.slice(0, 1), ['cpu'])
  t.is(typeof i.cuda.reason, 'string')
  if (!i.cuda.usable) t.true(i.cuda.reason.length > 0, 'an unusable CUDA backend says why')
  t.is(i.cuda.usable, i.backends.includes('cuda'))
})

test('FOVEAL_NUM_THREADS and FOVEAL_ISA set the defaults; bad values are ignored with a note', async (t) => {
  const { execFileSync } = require('child_process')
  const run = (env) => JSON.parse(execFileSync(process.execPath, ['-e',
    "const fv=require('.');const i=fv.info();console.log(JSON.stringify({n:i.threads.count,isa:i.isa.active,note:i.isa.note||''}))"],
  { cwd: path.join(__dirname, '..'), env: { ...process.env, ...env }, encoding: 'utf8' }))
  t.is(run({ FOVEAL_NUM_THREADS: '3' }).n, 3)
  t.is(run({ FOVEAL_ISA: 'generic' }).isa, 'generic')
  const bad = run({ FOVEAL_ISA: 'sse9' })
  t.is(bad.isa, fv.info().isa.best)
  t.true(bad.note.includes('sse9'))
})

// Serial: ava runs a file's other tests concurrently on the same event loop, and their
// synchronous work would be counted against this one.
test.serial('the event loop keeps turning while an async op runs', async (t) => {
  // Size one linear so that it takes ≥ 150 ms here, measured synchronously first.
  const K = 1024; const N = 1024
  const w = rand([N, K], 2)
  let M = 32; let x; let ms = 0
  while (ms < 150 && M < 16384) {
    M *= 2
    x = { data: new Float32Array(M * K).fill(0.5), shape: [M, K] }
    const t0 = performance.now()
    fv.ops.linear(x, w)
    ms = performance.now() - t0
  }
  let ticks = 0
  const timer = setInterval(() => { ticks++ }, 2)
  const t0 = performance.now()
  const ticksBefore = ticks
  const y = await fv.ops.linearAsync(x, w)
  const elapsed = performance.now() - t0
  clearInterval(timer)
  t.is(y.shape[0], M)
  // A blocking call would let no timer fire until it returned.
  t.true(ticks - ticksBefore >= 5, `only ${ticks - ticksBefore} timer ticks during a ${elapsed.toFixed(0)} ms async op`)
})

test.serial('a sync op on the JS thread does not wait behind a running async op', async (t) => {
  const K = 1024; const N = 1024
  const w = rand([N, K], 2)
  let M = 32; let x; let ms = 0
  while (ms < 200 && M < 16384) {
    M *= 2
    x = { data: new Float32Array(M * K).fill(0.25), shape: [M, K] }
    const t0 = performance.now()
    fv.ops.linear(x, w)
    ms = performance.now() - t0
  }
  const small = [rand([8, 16], 1), rand([4, 16], 2)]
  const expected = fv.ops.linear(...small)
  const pending = fv.ops.linearAsync(x, w)
  await new Promise((resolve) => setTimeout(resolve, 5)) // let the worker take the pool
  const t0 = performance.now()
  const y = fv.ops.linear(...small)
  const syncMs = performance.now() - t0
  const big = await pending
  assertBitIdentical(t, y.data, expected.data)
  t.is(big.shape[0], M)
  // Waiting behind the big op would take most of its ${ms} ms; running beside it, well under.
  t.true(syncMs < ms / 4, `the small sync op took ${syncMs.toFixed(1)} ms beside a ${ms.toFixed(0)} ms async op`)
})

test('several async ops in flight at once all complete and agree with sync results', async (t) => {
  const x = rand([200, 96], 1); const w = rand([48, 96], 2)
  const expected = fv.ops.linear(x, w)
  const results = await Promise.all(Array.from({ length: 8 }, () => fv.ops.linearAsync(x, w)))
  for (const r of results) assertBitIdentical(t, r.data, expected.data)
})

test('a native rejection gets the caller\'s stack re-attached', async (t) => {
  const { defineOp } = require('../dist/ops/define')
  // A stand-in for a native async function: it rejects from a timer, as an AsyncWorker
  // does from the event loop, with an error that has no JS frames of the caller's.
  const nativeAsync = () => new Promise((resolve, reject) => setTimeout(() => {
    const e = new RangeError('fake: kernel refused')
    e.stack = 'RangeError: fake: kernel refused'
    reject(e)
  }, 1))
  const op = defineOp((v) => ({ args: [v], finish: (r) => r }), (v) => v, nativeAsync)
  async function someCallerFunction () { return op.async(1) }
  const err = await t.throwsAsync(someCallerFunction(), { instanceOf: RangeError, message: 'fake: kernel refused' })
  t.true(err.stack.includes('someCallerFunction'), err.stack)
  t.true(err.stack.includes('runtime.test.js'))
})

test('four worker_threads each load foveal and compute the same result', async (t) => {
  const x = rand([64, 40], 11); const w = rand([24, 40], 12)
  const expected = fv.ops.linear(x, w).data
  const code = `
    const { parentPort, workerData } = require('worker_threads')
    const fv = require(${JSON.stringify(path.join(__dirname, '..'))})
    const { x, w } = workerData
    const y = fv.ops.linear(x, w)
    fv.ops.linearAsync(x, w).then((ya) => parentPort.postMessage({ y: y.data, ya: ya.data, threads: fv.info().threads.count }))
  `
  const outs = await Promise.all(Array.from({ length: 4 }, () => new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { x, w } })
    worker.once('message', resolve)
    worker.once('error', reject)
    worker.once('exit', (c) => { if (c !== 0) reject(new Error(`worker exited ${c}`)) })
  })))
  for (const o of outs) {
    assertBitIdentical(t, o.y, expected, 'sync in worker')
    assertBitIdentical(t, o.ya, expected, 'async in worker')
  }
})

test('results come from the pool: a collected result\'s block is reused by the next op', (t) => {
  const { execFileSync } = require('child_process')
  // In a child with --expose-gc, so collection happens when the test says so.
  const script = `
    const fv = require('.')
    const x = fv.tensor(new Float32Array(256 * 64).fill(1), [256, 64])
    const w = fv.tensor(new Float32Array(128 * 64).fill(1), [128, 64])
    const s0 = fv.poolStats()
    let y = fv.ops.linear(x, w)
    const s1 = fv.poolStats()
    y = null
    gc()
    setImmediate(() => {
      gc()
      setImmediate(() => {
        const s2 = fv.poolStats()
        const y2 = fv.ops.linear(x, w)
        const s3 = fv.poolStats()
        console.log(JSON.stringify({ s0, s1, s2, s3, ok: y2.data[0] === 64 }))
      })
    })`
  const r = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8' }))
  const bytes = 256 * 128 * 4
  t.true(r.ok)
  t.is(r.s1.misses, r.s0.misses + 1, 'the first result needed fresh memory')
  t.true(r.s1.liveBytes >= r.s0.liveBytes + bytes, 'and is live while JS holds it')
  t.true(r.s2.cachedBytes >= bytes, 'once collected, its block is cached')
  t.true(r.s2.liveBytes < r.s1.liveBytes)
  t.is(r.s3.hits, r.s2.hits + 1, 'the next result of that size reuses it')
  t.is(r.s3.misses, r.s2.misses)
})

test('no result block leaks: after many sync, async and failing calls every block is back in the pool', (t) => {
  const { execFileSync } = require('child_process')
  const script = `
    const fv = require('.')
    const T = (s, v = 0.25) => fv.tensor(new Float32Array(s.reduce((a, b) => a * b, 1)).fill(v), s)
    const q = T([1, 2, 40, 16]), x = T([2, 3, 9, 9]), w = T([4, 3, 3, 3]), dy = T([2, 4, 9, 9])
    // results of 64 KiB and more are pool blocks lent to JS (smaller ones V8 allocates)
    const xl = T([4, 3, 32, 32]), wl = T([8, 3, 3, 3]), dyl = T([4, 8, 32, 32])
    const calls = [
      () => { const f = fv.ops.attention(q, q, q, { causal: true }); return fv.ops.attentionBackward(q, q, q, q, f.out, f.lse, { causal: true }) },
      () => fv.ops.conv2dBackward(dy, x, w, { padding: 1 }),
      () => fv.ops.conv2d(x, w, null, { padding: 1 }),
      () => fv.ops.conv2d(xl, wl, null, { padding: 1 }),
      () => fv.ops.conv2dBackwardAsync(dyl, xl, wl, { padding: 1 }),
      () => fv.ops.softmax(x),
      () => fv.ops.linearBackward(T([5, 4]), T([5, 3]), T([4, 3])),
      () => fv.ops.attentionAsync(q, q, q, { topK: 3, returnWeights: true }),
      () => fv.ops.conv2dBackwardAsync(dy, x, w, { padding: 1 }),
      // fail after the results were planned: the native layer refuses an out that aliases an input
      () => { try { fv.ops.relu(x, { out: x }) } catch (e) {} },
      () => fv.ops.attentionAsync(q, q, q, { topK: 99 }).catch(() => {})
    ]
    const turn = () => new Promise(setImmediate)
    ;(async () => {
      // Rounds first: each thread's scratch (pool blocks too, but kept across calls, not
      // results) reaches its size. One kernel thread and one libuv thread, so which
      // thread runs which piece of work, and so how large its scratch grows, never varies.
      for (let i = 0; i < 10; i++) for (const c of calls) await c()
      for (let i = 0; i < 4; i++) { gc(); await turn() }
      const s0 = fv.poolStats()
      for (let i = 0; i < 60; i++) for (const c of calls) await c()
      for (let i = 0; i < 4; i++) { gc(); await turn() }
      const s1 = fv.poolStats()
      console.log(JSON.stringify({ s0, s1 }))
    })()`
  const env = { ...process.env, UV_THREADPOOL_SIZE: '1', FOVEAL_NUM_THREADS: '1' }
  const r = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8', env }))
  t.true(r.s1.results.lent >= r.s0.results.lent + 60, 'the calls took result blocks')
  t.true(r.s1.results.v8 > r.s0.results.v8 + 400, 'and V8 allocated the small results')
  t.is(r.s1.liveBytes, r.s0.liveBytes, 'every block came back')
  t.is(r.s1.results.outstanding, 0)
})

// Serial: the pool is the process's, and a concurrent test's worker_threads give their
// results back to it whenever they exit (four 128 KiB blocks landed between trimPool and
// poolStats in a sanitizer run, where threads end slowly).
test.serial('trimPool() returns the cached blocks to the OS', (t) => {
  fv.trimPool()
  t.is(fv.poolStats().cachedBytes, 0)
})

test('the ES module entry exports the same objects as the CommonJS entry', async (t) => {
  const esm = await import('foveal')
  const cjs = require('..')
  t.is(esm.default, cjs)
  for (const key of Object.keys(cjs)) t.is(esm[key], cjs[key], `export ${key}`)
  t.is(typeof esm.ops.linear, 'function')
})

test('a missing binary fails to load with a message that says what was tried and how to fix it', (t) => {
  const { execFileSync } = require('child_process')
  const fs = require('fs')
  const os = require('os')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'foveal-nobin-'))
  try {
    const root = path.join(__dirname, '..')
    fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true })
    fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'))
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
    const err = t.throws(() => execFileSync(process.execPath, ['-e', "require('./dist')"], { cwd: dir, encoding: 'utf8', stdio: 'pipe' }))
    const msg = err.stderr
    t.true(msg.includes('foveal: could not load its native addon'), msg)
    t.true(msg.includes(path.join('build', 'Release')) && msg.includes('prebuilds'), 'names the places it looked')
    t.true(msg.includes('npm rebuild foveal'), 'and how to fix it')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
