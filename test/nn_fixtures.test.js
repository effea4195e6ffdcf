'use strict'
// fv.nn against PyTorch 1.13: scripts/fixtures/nn.py recorded, for each module, its state
// dict, a fixed input and upstream gradient, the output, dx, every parameter gradient and
// the state after the forward (BatchNorm's running statistics). Here the state dict loads
// into foveal's module (loadStateDict, strict) and everything is compared within
// rtol = 1e-4, atol = 1e-5. No Python needed.
const test = require('ava')
const fs = require('fs')
const path = require('path')
const fv = require('./helpers/fv')
const { assertClose } = require('./helpers/check')

const dir = path.join(__dirname, 'fixtures', 'nn')
const TOL = { rtol: 1e-4, atol: 1e-5 }

function decode (t) {
  if (t.i64 !== undefined) return { data: BigInt64Array.of(BigInt(t.i64)), shape: t.shape }
  const bytes = Buffer.from(t.f32, 'base64')
  const data = new Float32Array(bytes.length / 4)
  new Uint8Array(data.buffer).set(bytes)
  return fv.tensor(data, t.shape)
}

function build (spec) {
  if (spec.cls === 'Sequential') return new fv.nn.Sequential(...spec.children.map(build))
  const Cls = fv.nn[spec.cls]
  if (typeof Cls !== 'function') throw new Error(`no fv.nn.${spec.cls}`)
  return new Cls(...spec.args, spec.opts)
}

function decodeAll (record) {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, decode(v)]))
}

function compareState (t, actual, expected, label) {
  t.deepEqual(Object.keys(actual), Object.keys(expected), `${label}: state-dict keys in PyTorch's order`)
  for (const [k, e] of Object.entries(expected)) {
    const a = actual[k]
    t.deepEqual([...a.shape], [...e.shape], `${label}: ${k} shape`)
    if (e.data instanceof BigInt64Array) t.deepEqual([...a.data], [...e.data], `${label}: ${k}`)
    else assertClose(t, a.data, e.data, { ...TOL, label: `${label}: ${k}` })
  }
}

for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const { torch, cases } = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))
  for (const c of cases) {
    for (const mode of ['sync', 'async']) {
      test(`${c.name} ${c.mode} (${mode}) = PyTorch ${torch}`, async (t) => {
        const m = build(c.spec)
        const { missing, unexpected } = m.loadStateDict(decodeAll(c.state))
        t.deepEqual([missing, unexpected], [[], []])
        if (c.mode === 'eval') m.eval({ grad: true })
        const x = decode(c.x)
        const y = mode === 'sync' ? m.forward(x) : await m.forwardAsync(x)
        t.deepEqual([...y.shape], c.y.shape)
        assertClose(t, y.data, decode(c.y).data, { ...TOL, label: 'y' })
        let dy = decode(c.dy)
        if (c.loss) {
          const crit = build(c.loss.spec)
          const labels = Int32Array.from(c.loss.labels)
          const loss = mode === 'sync' ? crit.forward(y, labels) : await crit.forwardAsync(y, labels)
          t.deepEqual([...loss.shape], [])
          assertClose(t, loss.data, decode(c.loss.value).data, { ...TOL, label: 'loss' })
          const g = mode === 'sync' ? crit.backward() : await crit.backwardAsync()
          assertClose(t, g.data, dy.data, { ...TOL, label: 'dLoss/dy' })
          dy = g
        }
        const dx = mode === 'sync' ? m.backward(dy) : await m.backwardAsync(dy)
        t.deepEqual([...dx.shape], c.dx.shape)
        assertClose(t, dx.data, decode(c.dx).data, { ...TOL, label: 'dx' })
        const grads = Object.fromEntries(m.namedParameters().map(([k, p]) => [k, p.grad]))
        t.deepEqual(Object.keys(grads), Object.keys(c.grads), 'parameters in PyTorch order')
        for (const [k, g] of Object.entries(c.grads)) assertClose(t, grads[k].data, decode(g).data, { ...TOL, label: `d${k}` })
        compareState(t, m.stateDict(), decodeAll(c.stateAfter), 'state after')
      })
    }
  }
}

test('the fixtures stay small (≤ 300 KB together)', (t) => {
  const total = fs.readdirSync(dir).reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0)
  t.true(total <= 300e3, `${total} bytes`)
})
