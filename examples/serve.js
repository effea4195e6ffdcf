#!/usr/bin/env node
'use strict'
// Serving while training, in one process: a plain node:http server answers
// `POST /predict` (a PNG in the body → JSON) from the latest weights, while the same process
// trains the model on MNIST. Every kernel, the trainer's and the server's, runs through
// foveal's Async twins on libuv's threads, so the event loop stays free for requests.
//
//   node examples/serve.js [--port 8080] [--steps 0 (= until stopped)] [--snapshot-every 50]
//   curl --data-binary @digit.png http://localhost:8080/predict
//
// GET /status reports the training step, the last loss, and the served snapshot's step.
const http = require('node:http')
const { parseArgs } = require('node:util')
const fv = require('..')
const { buildModel } = require('../dist/train/architectures')
const { loadData, parseDataSpec } = require('../dist/train/datasets')
const { Batcher } = require('../dist/data/batcher')

function start ({ port = 8080, steps = 0, snapshotEvery = 50, model: name = 'gate', limit, log = console.log } = {}) {
  const { train } = loadData(parseDataSpec('mnist'), { limit })
  const spec = { input: [1, 28, 28], numClasses: 10, seed: 0 }
  const model = buildModel(name, spec) // trained
  const served = buildModel(name, spec).eval() // answers requests: a copy of the weights at the last snapshot
  const optimizer = new fv.optim.Adam(model.parameters(), { lr: 1e-3 })
  const state = { step: 0, loss: NaN, servedStep: 0, stopping: false, done: null }
  const { mean, std } = train.normalization

  const snapshot = () => {
    served.loadStateDict(model.stateDict())
    state.servedStep = state.step
  }
  snapshot()

  // The trainer: every op Async, so each kernel runs off the event loop.
  state.done = (async () => {
    const batcher = new Batcher(train, { batchSize: 64, seed: 0, shuffle: true })
    const x = fv.tensor(batcher.x, [64, 1, 28, 28])
    while (!state.stopping && (steps === 0 || state.step < steps)) { // eslint-disable-line no-unmodified-loop-condition -- state.step changes
      for (const batch of batcher.epoch()) {
        if (state.stopping || (steps !== 0 && state.step >= steps)) break
        if (batch.size !== 64) continue
        optimizer.zeroGrad()
        const logits = await model.forwardAsync(x)
        const loss = await fv.ops.crossEntropyAsync(logits, batch.y)
        const dlogits = await fv.ops.crossEntropyBackwardAsync(1, logits, batch.y)
        const dx = await model.backwardAsync(dlogits)
        await optimizer.stepAsync()
        state.loss = loss.data[0]
        fv.dispose([logits, loss, dlogits, dx])
        state.step++
        if (state.step % snapshotEvery === 0) snapshot()
      }
    }
  })()

  const server = http.createServer((req, res) => {
    const reply = (code, body) => {
      res.writeHead(code, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (req.method === 'GET' && req.url === '/status') return reply(200, { step: state.step, loss: state.loss, servedStep: state.servedStep })
    if (req.method !== 'POST' || req.url !== '/predict') return reply(404, { error: 'POST a PNG to /predict, or GET /status' })
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', async () => {
      try {
        const img = fv.viz.decodePng(Buffer.concat(chunks), 'the request body')
        const digit = fv.viz.toDigit(img, { size: 28 })
        const input = new Float32Array(784)
        for (let i = 0; i < 784; i++) input[i] = (digit[i] - mean[0]) / std[0]
        const logits = await served.forwardAsync(fv.tensor(input, [1, 1, 28, 28]))
        const p = await fv.ops.softmaxAsync(logits)
        const probabilities = Array.from(p.data)
        fv.dispose([logits, p])
        const best = probabilities.indexOf(Math.max(...probabilities))
        reply(200, { class: best, probability: probabilities[best], probabilities, servedStep: state.servedStep })
      } catch (err) {
        reply(400, { error: err.message })
      }
    })
  })
  return new Promise((resolve) => server.listen(port, () => {
    log(`serving ${name} on http://localhost:${server.address().port}/predict while it trains`)
    resolve({
      server,
      state,
      port: server.address().port,
      async stop () {
        state.stopping = true
        await state.done
        await new Promise((resolve) => server.close(resolve))
      }
    })
  }))
}

module.exports = { start }

if (require.main === module) {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '8080' }, steps: { type: 'string', default: '0' }, 'snapshot-every': { type: 'string', default: '50' } }
  })
  start({ port: Number(values.port), steps: Number(values.steps), snapshotEvery: Number(values['snapshot-every']) })
    .catch((err) => { console.error(err.message); process.exit(1) })
}
