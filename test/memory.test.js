'use strict'
// Result memory (DESIGN.md, "Memory is part of speed"): results come back without the
// event loop, dispose()/tidy()/keep() and `using`, stale views of a reused block read
// length 0, Async ops keep what they use. Assertions are on the pool's own counters and
// on the arrays, never on time; RSS only with a generous bound.
const test = require('ava')
const { execFileSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const fv = require('./helpers/fv')
const { assertBitIdentical } = require('./helpers/check')

const root = path.join(__dirname, '..')

function filled (shape, v = 0.25) {
  return fv.tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v), shape)
}

// A script in a fresh process (so no other test's results or GC timing interfere); it
// prints one JSON line.
function child (script, args = [], env = {}) {
  const out = execFileSync(process.execPath, [...args, '-e', script], {
    cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 24
  })
  return JSON.parse(out.trim().split('\n').pop())
}

// The loop: 2,000 conv2d calls whose 4 MiB results are dropped, never yielding.
const convLoop = (iterations) => `
  const fv = require('.')
  const x = fv.tensor(new Float32Array(32 * 3 * 32 * 32).fill(0.1), [32, 3, 32, 32])
  const w = fv.tensor(new Float32Array(32 * 3 * 9).fill(0.01), [32, 3, 3, 3])
  const s0 = fv.poolStats()
  let maxOutstanding = 0, maxRss = 0
  for (let i = 0; i < ${iterations}; i++) {
    const y = fv.ops.conv2d(x, w, null, { padding: 1 })
    if (y.data[0] <= 0) throw new Error('wrong result')
    if (i % 50 === 0) {
      const r = fv.poolStats().results
      maxOutstanding = Math.max(maxOutstanding, r.outstandingBytes)
      maxRss = Math.max(maxRss, process.memoryUsage().rss)
    }
  }
  console.log(JSON.stringify({ s0, s1: fv.poolStats(), maxOutstanding, maxRss }))`

for (const gcFlag of [[], ['--expose-gc']]) {
  test(`a sync loop of 2,000 allocating conv2d calls gives its 4 MiB results back as it goes${gcFlag.length ? ' (--expose-gc)' : ''}`, (t) => {
    const r = child(convLoop(2000), gcFlag)
    const lent = r.s1.results.lent - r.s0.results.lent
    t.is(lent, 2000, 'every result was a lent pool block')
    t.true(r.s1.results.byGc - r.s0.results.byGc >= 1900, `collected results came back inside the loop (${r.s1.results.byGc})`)
    t.is(r.s1.results.byFinalizer, 0, 'without waiting for finalisers')
    const hits = r.s1.hits - r.s0.hits
    t.true(hits >= 1800, `and their blocks were reused (${hits} hits of 2000)`)
    t.true(r.maxOutstanding <= 512 * 2 ** 20, `bytes in flight stay bounded (${r.maxOutstanding / 2 ** 20} MiB)`)
    t.true(r.maxRss <= 2 * 2 ** 30, `RSS stays far below the 8 GiB the loop used to take (${(r.maxRss / 2 ** 20).toFixed(0)} MiB)`)
  })
}

test('an async loop whose awaits are all already settled gives memory back too', (t) => {
  const r = child(`
    const fv = require('.')
    const x = fv.tensor(new Float32Array(1 << 20).fill(-1), [1 << 20])
    ;(async () => {
      let maxOutstanding = 0
      for (let i = 0; i < 600; i++) {
        const y = await Promise.resolve(fv.ops.relu(x))
        if (y.data[1] !== 0) throw new Error('wrong')
        if (i % 25 === 0) maxOutstanding = Math.max(maxOutstanding, fv.poolStats().results.outstandingBytes)
      }
      console.log(JSON.stringify({ r: fv.poolStats().results, maxOutstanding }))
    })()`)
  t.true(r.r.byGc >= 500, `${r.r.byGc} results came back`)
  t.true(r.maxOutstanding <= 512 * 2 ** 20)
})

test('with tidy() around each call, every result after the first reuses the block just freed', (t) => {
  const x = filled([8, 16, 32, 32])
  const w = filled([16, 16, 3, 3], 0.01)
  fv.tidy(() => { fv.ops.conv2d(x, w, null, { padding: 1 }) })
  const s0 = fv.poolStats()
  for (let i = 0; i < 200; i++) fv.tidy(() => { fv.ops.conv2d(x, w, null, { padding: 1 }) })
  const s1 = fv.poolStats()
  const hits = s1.hits - s0.hits
  const misses = s1.misses - s0.misses
  t.true(hits / (hits + misses) >= 0.99, `hit rate ${hits}/${hits + misses}`)
  t.is(s1.results.byDispose - s0.results.byDispose, 200)
})

test('dispose() detaches a result and its block is reused; a stale view reads length 0 and never sees the new owner', (t) => {
  const x = filled([1 << 16], -2) // 256 KiB results: pool blocks
  const a = fv.ops.relu(x)
  const stale = a.data
  const staleBytes = new Uint8Array(a.data.buffer)
  const s0 = fv.poolStats()
  a.dispose()
  t.true(a.isDisposed)
  t.is(stale.length, 0)
  t.is(staleBytes.length, 0, 'every view of the buffer is detached')
  const s1 = fv.poolStats()
  t.is(s1.results.byDispose, s0.results.byDispose + 1)
  const b = fv.ops.relu(x)
  t.is(fv.poolStats().hits, s1.hits + 1, 'the next result of that size reuses the block')
  b.data.fill(42)
  t.is(stale.length, 0)
  t.is(stale[0], undefined, 'the old view reads nothing of the new owner')
  t.is(b.data[0], 42)
  b.dispose()
  b.dispose() // a second dispose does nothing
  t.true(b.isDisposed)
})

test('a small result (V8 memory) is detached by dispose() too', (t) => {
  const y = fv.ops.relu(filled([16], -1))
  const view = y.data
  y.dispose()
  t.is(view.length, 0)
})

test('dispose() of a tensor foveal did not allocate leaves its array alone, and ops refuse the tensor', (t) => {
  const data = new Float32Array([1, -2, 3, -4])
  const mine = fv.tensor(data, [4])
  const s0 = fv.poolStats()
  mine.dispose()
  t.true(mine.isDisposed)
  t.is(data.length, 4)
  t.deepEqual(Array.from(data), [1, -2, 3, -4], 'the data is untouched')
  t.deepEqual(fv.poolStats().results, s0.results, 'and no foveal memory moved')
  const err = t.throws(() => fv.ops.relu(mine), { instanceOf: TypeError })
  t.true(err.message.startsWith('relu: x must be a live tensor, got a disposed Tensor'), err.message)
  // The same array in a new tensor is fine: the array was never foveal's.
  t.deepEqual(Array.from(fv.ops.relu(fv.tensor(data, [4])).data), [1, 0, 3, 0])
  // An `out` the caller passed is the caller's too.
  const out = fv.tensor(new Float32Array(4), [4])
  const r = fv.ops.relu(fv.tensor(data, [4]), { out })
  t.is(r, out)
  r.dispose()
  t.is(out.data.length, 4)
})

test('ops refuse a disposed tensor and a detached array with a TypeError naming the op and the argument', async (t) => {
  const y = fv.ops.relu(filled([4, 4], 1))
  const shape = y.shape
  y.dispose()
  let err = t.throws(() => fv.ops.linear(filled([2, 4]), y), { instanceOf: TypeError })
  t.true(err.message.startsWith('linear: w must be a live tensor'), err.message)
  err = t.throws(() => fv.ops.linear(filled([2, 4]), { data: y.data, shape }), { instanceOf: TypeError })
  t.true(err.message.startsWith('linear: w.data must be a Float32Array of 16 elements, got a detached Float32Array'), err.message)
  err = await t.throwsAsync(fv.ops.softmaxAsync(y), { instanceOf: TypeError })
  t.true(err.message.startsWith('softmax: x must be a live tensor'), err.message)
  t.throws(() => y.reshape([16]), { instanceOf: TypeError })
})

test('tidy() disposes what it created and keeps what it returns; tidies nest', (t) => {
  const x = filled([64, 64], 0.5)
  let inner, innerKept, outerTmp, view
  const result = fv.tidy(() => {
    outerTmp = fv.ops.relu(x)
    const kept = fv.tidy(() => {
      inner = fv.ops.sigmoid(x)
      innerKept = fv.ops.tanh(x)
      return { innerKept }
    })
    t.true(inner.isDisposed, 'the inner tidy disposed what it did not return')
    t.false(kept.innerKept.isDisposed)
    const y = fv.ops.add(outerTmp, kept.innerKept)
    view = y.reshape([4096])
    return [view]
  })
  t.true(outerTmp.isDisposed)
  t.is(outerTmp.data.length, 0)
  t.true(innerKept.isDisposed, 'what the inner tidy returned belonged to the outer one')
  t.false(x.isDisposed, 'tensors made outside are left alone')
  t.is(result[0], view)
  t.is(view.data.length, 4096, 'the returned view keeps its memory (the tensor it views was not disposed)')
  t.true(Math.abs(view.data[0] - (0.5 + Math.tanh(0.5))) < 1e-6)
})

test('tidy(): keep() exempts a tensor; an exception disposes everything and passes through', (t) => {
  let kept, lost
  fv.tidy(() => {
    kept = fv.keep(fv.ops.relu(filled([8])))
    fv.ops.relu(filled([8]))
  })
  t.false(kept.isDisposed)
  const err = t.throws(() => fv.tidy(() => {
    lost = fv.ops.relu(filled([8]))
    throw new Error('boom')
  }))
  t.is(err.message, 'boom')
  t.true(lost.isDisposed)
  t.throws(() => fv.tidy('not a function'), { instanceOf: TypeError, message: /^tidy: fn must be a function/ })
  t.throws(() => fv.keep({ data: new Float32Array(1), shape: [1] }), { instanceOf: TypeError, message: /^keep: t must be a Tensor/ })
})

test('tidy() refuses an async function with a clear TypeError, after disposing what it made before its first await', async (t) => {
  let made
  const err = t.throws(() => fv.tidy(async () => {
    made = fv.ops.relu(filled([8]))
    await null
  }), { instanceOf: TypeError })
  t.true(err.message.startsWith('tidy: fn must be a synchronous function'), err.message)
  t.true(err.message.includes('returned a Promise'))
  t.true(made.isDisposed)
})

test('fv.dispose() disposes every tensor in an op result object', (t) => {
  const q = filled([1, 1, 8, 4])
  const r = fv.ops.attention(q, q, q)
  fv.dispose(r)
  t.true(r.out.isDisposed && r.lse.isDisposed)
  fv.dispose([1, 'a', null, undefined]) // anything else is ignored
})

test('`using` (TypeScript) disposes a result at the end of its block', (t) => {
  t.timeout(120e3)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'foveal-using-'))
  try {
    fs.writeFileSync(path.join(dir, 'using.ts'), `
      import * as fv from ${JSON.stringify(root)}
      const x = fv.tensor(new Float32Array(4).fill(-1), [4])
      let view: Float32Array
      {
        using y = fv.ops.relu(x)
        view = y.data
        if (view.length !== 4) throw new Error('not computed')
      }
      console.log(JSON.stringify({ length: view.length }))
    `)
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'commonjs', lib: ['ES2022', 'ESNext.Disposable'], strict: true, types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')], outDir: dir, skipLibCheck: true },
      files: ['using.ts']
    }))
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', dir], { encoding: 'utf8', stdio: 'pipe' })
    const out = JSON.parse(execFileSync(process.execPath, [path.join(dir, 'using.js')], { encoding: 'utf8' }))
    t.is(out.length, 0, 'the result was disposed when its block ended')
  } catch (err) {
    t.fail(String(err.stdout ?? '') + String(err.stderr ?? '') + err.message)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test.serial('disposing an input while an Async op reads it: the op still sees it, and it is freed when the op settles', async (t) => {
  const a = fv.ops.relu(filled([256, 512], 0.5)) // 512 KiB: a pool block
  const b = fv.ops.relu(filled([512, 256], 0.25))
  const expected = fv.ops.matmul(a, b)
  const view = a.data
  const s0 = fv.poolStats()
  const pending = fv.ops.matmulAsync(a, b)
  a.dispose() // the op has it pinned
  t.true(a.isDisposed)
  const y = await pending
  assertBitIdentical(t, y.data, expected.data, 'the result as if nothing happened')
  t.is(view.length, 0, 'detached once the op settled')
  t.is(fv.poolStats().results.byDispose, s0.results.byDispose + 1)
  // And the same with the `out` an Async op writes into.
  const c = fv.ops.relu(filled([256, 512], 0.5))
  const out = fv.ops.relu(filled([256, 256], 1))
  const outView = out.data
  const p2 = fv.ops.matmulAsync(c, b, { out })
  out.dispose()
  t.is(await p2, out, 'settles with the tensor it was given')
  t.is(outView.length, 0)
})

test('a dropped Async result comes back once collected', (t) => {
  const r = child(`
    const fv = require('.')
    const x = fv.tensor(new Float32Array(1 << 18).fill(1), [1 << 18])
    ;(async () => {
      await fv.ops.reluAsync(x) // settled, result dropped
      fv.ops.reluAsync(x)        // never awaited
      await new Promise((resolve) => setTimeout(resolve, 50))
      gc()
      const r = fv.poolStats().results
      console.log(JSON.stringify(r))
    })()`, ['--expose-gc'])
  t.is(r.lent, 2)
  t.is(r.outstanding, 0, 'both came back')
  t.is(r.byGc + r.byFinalizer, 2)
})

test('poolStats() reports mapped and huge-page bytes and how results came back', (t) => {
  const y = fv.ops.relu(filled([1 << 20], 1)) // 4 MiB
  const s = fv.poolStats()
  for (const k of ['liveBytes', 'cachedBytes', 'cacheLimit', 'mappedBytes', 'hugePageBytes', 'hits', 'misses']) {
    t.true(Number.isSafeInteger(s[k]) && s[k] >= 0, k)
  }
  t.true(s.mappedBytes >= 4 << 20)
  t.true(s.hugePageBytes <= s.mappedBytes)
  t.log(`mapped ${(s.mappedBytes / 2 ** 20).toFixed(1)} MiB, in huge pages ${(s.hugePageBytes / 2 ** 20).toFixed(1)} MiB`)
  for (const k of ['lent', 'byDispose', 'byGc', 'byFinalizer', 'outstanding', 'outstandingBytes', 'v8']) {
    t.true(Number.isSafeInteger(s.results[k]) && s.results[k] >= 0, `results.${k}`)
  }
  t.is(s.results.reclaimOnGc, typeof ArrayBuffer.prototype.transfer !== 'function' || s.results.reclaimOnGc)
  t.true(s.results.outstanding >= 1)
  y.dispose()
})

test('a worker_thread keeps its own book of results, and dispose works there', async (t) => {
  const { Worker } = require('worker_threads')
  const w = new Worker(`
    const { parentPort } = require('worker_threads')
    const fv = require(${JSON.stringify(root)})
    const y = fv.ops.relu(fv.tensor(new Float32Array(1 << 18).fill(-1), [1 << 18]))
    const view = y.data
    y.dispose()
    parentPort.postMessage({ length: view.length, byDispose: fv.poolStats().results.byDispose })
  `, { eval: true })
  const msg = await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject) })
  t.deepEqual(msg, { length: 0, byDispose: 1 })
  await w.terminate()
})

test('scratch slots: a kernel asking for a slot its thread already holds gets an error naming both owners', (t) => {
  const { binding } = require('../dist/native')
  const said = binding.scratchCheckProbe()
  t.is(said.length, 1, said.join('\n'))
  t.regex(said[0], /^foveal: scratch slot 5 asked for by the scratch check's self-test .* while the scratch check's self-test .* still holds it/)
})
