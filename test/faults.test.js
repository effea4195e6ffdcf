'use strict'
// Faults around Async ops: a worker terminated (or exiting) while its ops run, the process
// exiting with ops in flight, an exception thrown in a .then of an Async result. Each
// scenario that could take the process down runs in a child process, so an abort is a
// failed assertion on its exit status rather than a dead test runner.
const test = require('ava')
const path = require('path')
const { spawnSync } = require('child_process')
const fv = require('./helpers/fv')
const { assertClose } = require('./helpers/check')
const { rand } = require('./helpers/random')
const sref = require('./reference/softmax')

const ROOT = path.join(__dirname, '..')

/** Runs `script` in a fresh node (cwd = the package); returns { status, signal, stdout, stderr, json }. */
function child (script, { timeout = 60000 } = {}) {
  const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout })
  let json = null
  const last = r.stdout.trim().split('\n').pop()
  try { json = JSON.parse(last) } catch { }
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, json }
}

/** Asserts the child ended by itself with `code`, without a signal, an abort or a C++ message. */
function endedWith (t, r, code, label) {
  t.is(r.signal, null, `${label}: killed by ${r.signal}; stderr: ${r.stderr}`)
  t.is(r.status, code, `${label}: exit status; stderr: ${r.stderr}`)
  t.false(/terminate called|Aborted|Segmentation|FATAL ERROR|Assertion/.test(r.stderr), `${label}: stderr: ${r.stderr}`)
}

// Work that keeps the libuv threads busy for tens of milliseconds: conv2d and attention,
// forward and backward, queued without waiting.
const QUEUE_WORK = `
  const fv = require('.')
  const T = (s, v) => fv.tensor(Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, (_, i) => v * Math.sin(i)), s)
  const x = T([4, 32, 64, 64], 1), w = T([32, 32, 3, 3], 0.05), q = T([2, 4, 200, 32], 0.5)
  function queue (n) {
    const ps = []
    for (let i = 0; i < n; i++) {
      ps.push(fv.ops.conv2dAsync(x, w, null, { padding: 1 }))
      ps.push(fv.ops.attentionAsync(q, q, q, { causal: true }).then((r) => fv.ops.attentionBackwardAsync(q, q, q, q, r.out, r.lse, { causal: true })))
      ps.push(fv.ops.softmaxAsync(x, 1))
    }
    return ps
  }
`

test('a worker terminated (or exiting) while its Async ops run: the process survives, no pool block leaks, and the main thread keeps working', (t) => {
  const r = child(`${QUEUE_WORK}
    const { Worker } = require('worker_threads')
    const src = ${JSON.stringify(QUEUE_WORK)} + \`
      const { parentPort, workerData } = require('worker_threads')
      queue(3)
      fv.ops.softmaxAsync({ data: [1], shape: [1] }).catch(() => {})  // a rejected op in flight too
      parentPort.postMessage('started')
      if (workerData.exit) setTimeout(() => process.exit(3), workerData.delay)
      // Busy: calls into the addon without yielding, so terminate() lands inside one.
      const small = fv.tensor([1, 2, 3, 4], [2, 2])
      if (workerData.busy) for (;;) { fv.ops.softmax(small); fv.ops.softmaxAsync(small); try { fv.ops.softmax(small, 5) } catch {} }
    \`
    async function round (i) {
      const exit = i % 3 === 2; const busy = i % 3 === 1
      const wk = new Worker(src, { eval: true, workerData: { exit, busy, delay: i % 7 } })
      const ended = new Promise((resolve) => wk.once('exit', resolve))
      await new Promise((resolve, reject) => { wk.once('message', resolve); wk.once('error', reject) })
      if (exit) return ['exit', await ended]
      await new Promise((resolve) => setTimeout(resolve, i % 7))
      return ['terminate', await wk.terminate()]
    }
    ;(async () => {
      const codes = []
      for (let i = 0; i < 6; i++) codes.push(await round(i))  // warm-up: scratch and caches settle
      const live0 = fv.info().pool.liveBytes
      for (let i = 6; i < 30; i++) codes.push(await round(i))
      const live1 = fv.info().pool.liveBytes
      // The main thread still computes, sync and Async, and its own queue completes.
      const y = fv.ops.softmax(x, 1)
      const ya = await fv.ops.softmaxAsync(x, 1)
      const all = await Promise.all(queue(2))
      console.log(JSON.stringify({ codes, live0, live1, same: y.data.every((v, i) => v === ya.data[i]), n: all.length, y: Array.from(y.data.subarray(0, 64 * 64 * 2)) }))
    })()`)
  endedWith(t, r, 0, 'main process')
  t.truthy(r.json, r.stdout)
  if (!r.json) return
  // terminate() gives 1, or 0 / undefined when the worker had finished by itself first.
  for (const [how, code] of r.json.codes) t.true(how === 'exit' ? code === 3 : [1, 0, null].includes(code), `a worker ended by ${how}: ${code}`)
  // A leaked result would be a 2 MiB block per killed worker; per-thread scratch may still
  // grow a little when a libuv thread first runs some op.
  t.true(r.json.live1 - r.json.live0 < 1 << 20, `pool bytes in use grew from ${r.json.live0} to ${r.json.live1} over 24 killed workers`)
  t.true(r.json.same, 'sync and Async agree after the faults')
  t.is(r.json.n, 6)
  // softmax over channels of x [4,32,64,64]: the first two channel planes of image 0 hold
  // the first 2·64·64 outputs; check them against the reference.
  const x = Float32Array.from({ length: 4 * 32 * 64 * 64 }, (_, i) => Math.sin(i))
  const e = sref.softmax(x, 4, 32, 64 * 64).subarray(0, 64 * 64 * 2)
  assertClose(t, Float32Array.from(r.json.y), e, { label: 'softmax on the main thread after the faults' })
})

for (const delay of [0, 3, 25]) {
  test(`process.exit(7) ${delay} ms after queueing Async ops exits with 7, cleanly`, (t) => {
    const r = child(`${QUEUE_WORK}
      queue(6)
      setTimeout(() => process.exit(7), ${delay})`)
    endedWith(t, r, 7, `exit after ${delay} ms`)
    t.is(r.stderr, '')
  })
}

test('the main thread exiting while a worker\'s Async ops run exits with its code, cleanly', (t) => {
  const r = child(`
    const { Worker } = require('worker_threads')
    const wk = new Worker(${JSON.stringify(QUEUE_WORK)} + "queue(4); require('worker_threads').parentPort.postMessage('started')", { eval: true })
    wk.once('message', () => process.exit(9))`)
  endedWith(t, r, 9, 'main exit with a busy worker')
  t.is(r.stderr, '')
})

test('a process whose loop ends with process.exitCode set waits for its Async ops and exits with that code', (t) => {
  const r = child(`${QUEUE_WORK}
    let settled = 0
    for (const p of queue(2)) p.then(() => settled++)
    process.exitCode = 5
    process.on('exit', () => console.log(JSON.stringify({ settled })))`)
  endedWith(t, r, 5, 'exitCode')
  t.deepEqual(r.json, { settled: 6 })
})

test('an exception thrown in a .then of an Async result rejects that chain with the same error; the addon stays usable', async (t) => {
  const x = rand([3, 17], 1, -4, 4)
  const boom = new TypeError('boom in then')
  const err = await t.throwsAsync(fv.ops.softmaxAsync(x).then(() => { throw boom }))
  t.is(err, boom)
  const err2 = await t.throwsAsync(fv.ops.attentionAsync(rand([1, 1, 4, 8], 2), rand([1, 1, 4, 8], 3), rand([1, 1, 4, 8], 4))
    .then((r) => { r.out.data[0] = 1; throw new RangeError('second') }))
  t.is(err2.constructor, RangeError)
  t.is(err2.message, 'second')
  const e = sref.softmax(x.data, 3, 17, 1)
  assertClose(t, (await fv.ops.softmaxAsync(x)).data, e, { label: 'Async after' })
  assertClose(t, fv.ops.softmax(x).data, e, { label: 'sync after' })
})

test('an exception thrown in a .then of an Async result and left unhandled reaches unhandledRejection as that error; the addon keeps working there', (t) => {
  const handled = child(`
    const fv = require('.')
    const boom = new TypeError('boom in then')
    process.on('unhandledRejection', async (e) => {
      const y = await fv.ops.softmaxAsync(fv.tensor([0, 0], [2]))
      const z = fv.ops.softmax(fv.tensor([0, 0], [2]))
      console.log(JSON.stringify({ same: e === boom, name: e.constructor.name, y: Array.from(y.data), z: Array.from(z.data) }))
    })
    fv.ops.softmaxAsync(fv.tensor([1, 2, 3], [3])).then(() => { throw boom })`)
  endedWith(t, handled, 0, 'with a handler')
  t.deepEqual(handled.json, { same: true, name: 'TypeError', y: [0.5, 0.5], z: [0.5, 0.5] })
  // Without a handler Node's default applies: the error is printed and the exit code is 1.
  const unhandled = child(`
    const fv = require('.')
    fv.ops.conv2dAsync(fv.tensor(new Float32Array(16), [1, 1, 4, 4]), fv.tensor(new Float32Array(9), [1, 1, 3, 3])).then(() => { throw new RangeError('boom unhandled') })`)
  t.is(unhandled.signal, null)
  t.is(unhandled.status, 1)
  t.regex(unhandled.stderr, /RangeError: boom unhandled/)
  t.false(/terminate called|Aborted|Segmentation/.test(unhandled.stderr))
})
