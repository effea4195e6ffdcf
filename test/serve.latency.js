'use strict'
// examples/serve.js: the server answers while the same process trains (every kernel
// through the Async twins), within 50 ms at the 99th percentile, and its event loop stays
// free (perf_hooks.monitorEventLoopDelay). Runs in a child process of its own, so no other
// test's work lands on its event loop; and after the rest of the suite (package.json's test
// script runs it through ava.latency.config.mjs), so no other test file's work shares the cores.
const test = require('ava')
const { execFileSync } = require('child_process')
const path = require('path')

const root = path.join(__dirname, '..')

test('examples/serve.js answers POST /predict within 50 ms p99 while a model trains in the same process', (t) => {
  t.timeout(180e3)
  const script = `
    const http = require('node:http')
    const { monitorEventLoopDelay } = require('node:perf_hooks')
    const fv = require('.')
    const { start } = require('./examples/serve.js')
    const { loadMnist } = require('./dist/data/mnist')
    const post = (port, body) => new Promise((resolve, reject) => {
      const t0 = performance.now()
      const req = http.request({ port, path: '/predict', method: 'POST' }, (res) => {
        let s = ''
        res.on('data', (c) => { s += c })
        res.on('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode, body: JSON.parse(s) }))
      })
      req.on('error', reject)
      req.end(body)
    })
    ;(async () => {
      const test = loadMnist('test', { limit: 50 })
      const pngs = []
      for (let i = 0; i < 20; i++) {
        const grey = test.images.subarray(i * 784, (i + 1) * 784)
        pngs.push({ label: test.labels[i], png: fv.viz.encodePng(fv.viz.greyToRgba(Array.from(grey, (v) => v * 255), 28, 28)) })
      }
      const s = await start({ port: 0, steps: 0, snapshotEvery: 20, limit: 6400, log: () => {} })
      while (s.state.step < 30) await new Promise((r) => setTimeout(r, 20)) // training is under way
      const lag = monitorEventLoopDelay({ resolution: 5 })
      lag.enable()
      const times = []
      let correct = 0
      const stepBefore = s.state.step
      for (let i = 0; i < 150; i++) {
        const { png, label } = pngs[i % pngs.length]
        const r = await post(s.port, png)
        if (r.status !== 200) throw new Error('status ' + r.status + ' ' + JSON.stringify(r.body))
        times.push(r.ms)
        if (i >= 100 && r.body.class === label) correct++
        await new Promise((r) => setTimeout(r, 10))
      }
      lag.disable()
      const bad = await post(s.port, Buffer.from('not a png'))
      const stepAfter = s.state.step
      await s.stop()
      times.sort((a, b) => a - b)
      console.log(JSON.stringify({
        p50: times[Math.floor(times.length * 0.5)], p99: times[Math.floor(times.length * 0.99)],
        lagP99: lag.percentile(99) / 1e6, trainedDuring: stepAfter - stepBefore, correct, badStatus: bad.status, badError: bad.body.error
      }))
    })().catch((e) => { console.error(e); process.exit(1) })`
  const r = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 20 }).trim().split('\n').pop())
  t.log(`request p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms; event-loop delay p99 ${r.lagP99.toFixed(1)} ms; ${r.trainedDuring} training steps meanwhile`)
  t.true(r.trainedDuring > 20, 'the model kept training while requests were served')
  t.true(r.p99 < 50, `p99 ${r.p99} ms`)
  t.true(r.lagP99 < 50, `event-loop delay p99 ${r.lagP99} ms`)
  t.true(r.correct >= 40, `the served snapshots learn: ${r.correct}/50 of the late requests right`)
  t.is(r.badStatus, 400)
  t.true(r.badError.includes('the request body'), r.badError)
})
