'use strict'
// The attention modules against PyTorch 1.13: scripts/fixtures/nn_attention.py recorded, per
// case, the state dict, inputs, forward options, output (and attention weights / map), the
// upstream gradient, the input gradients, every parameter gradient and the state after the
// step. The state dict loads into foveal's module (strict), and everything is compared
// within 1e-4. No Python needed.
const test = require('ava')
const fs = require('fs')
const path = require('path')
const fv = require('./helpers/fv')
const { assertClose } = require('./helpers/check')

const dir = path.join(__dirname, 'fixtures', 'nn_attention')
const TOL = { rtol: 1e-4, atol: 1e-4 }
const nn = fv.nn

function decode (t) {
  if (t.i64 !== undefined) return { data: BigInt64Array.of(BigInt(t.i64)), shape: t.shape }
  const bytes = Buffer.from(t.f32, 'base64')
  const data = new Float32Array(bytes.length / 4)
  new Uint8Array(data.buffer).set(bytes)
  return fv.tensor(data, t.shape)
}

function build (c) {
  if (c.cls === 'TransformerEncoder') {
    return new nn.TransformerEncoder(build(c.layer), c.numLayers, { norm: new nn.LayerNorm(c.norm) })
  }
  return new nn[c.cls](...c.args, c.opts)
}

/** The forward options in foveal's types: masks as Uint8Array / { data: Uint8Array, shape } / tensors. */
function forwardOptions (fwd) {
  const o = {}
  for (const [k, v] of Object.entries(fwd)) {
    if (Array.isArray(v)) o[k] = Uint8Array.from(v)
    else if (v !== null && typeof v === 'object' && v.u8) o[k] = { data: Uint8Array.from(v.u8), shape: v.shape }
    else if (v !== null && typeof v === 'object') o[k] = decode(v)
    else o[k] = v
  }
  return o
}

const sum = (g) => fv.ops.add(fv.ops.add(g.dq, g.dk), g.dv)

test('the fixtures stay small (≤ 300 KB together)', (t) => {
  const bytes = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
  t.true(bytes <= 300000, `${bytes} bytes`)
})

for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const { torch, cases } = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))
  for (const c of cases) {
    for (const mode of ['sync', 'async']) {
      test(`${c.name} ${c.mode} (${mode}) = PyTorch ${torch}`, async (t) => {
        const m = build(c)
        const state = Object.fromEntries(Object.entries(c.state).map(([k, v]) => [k, decode(v)]))
        t.deepEqual(Object.keys(m.stateDict()), Object.keys(state), "state-dict keys in PyTorch's order")
        t.deepEqual(m.loadStateDict(state), { missing: [], unexpected: [] })
        if (c.mode === 'eval') m.eval({ grad: true })
        const inputs = c.inputs.map(decode)
        const fwd = forwardOptions(c.fwd)
        const isMha = m instanceof nn.MultiheadAttention
        const args = isMha ? (inputs.length === 1 ? [inputs[0], inputs[0], inputs[0]] : inputs) : inputs
        const withOpts = isMha || Object.keys(fwd).length > 0 ? [...args, fwd] : args
        const r = mode === 'sync' ? m.forward(...withOpts) : await m.forwardAsync(...withOpts)
        const out = r instanceof fv.Tensor ? r : r.out
        t.deepEqual([...out.shape], c.out.shape)
        assertClose(t, out.data, decode(c.out).data, { ...TOL, label: 'out' })
        if ('weights' in c) {
          if (c.weights === null) t.is(r.weights, null)
          else assertClose(t, r.weights.data, decode(c.weights).data, { ...TOL, label: 'weights' })
        }
        if (c.attention) {
          t.deepEqual([...m.lastAttention.shape], c.attention.shape.length === m.lastAttention.shape.length ? c.attention.shape : [...m.lastAttention.shape])
          assertClose(t, m.lastAttention.data, decode(c.attention).data, { ...TOL, label: 'lastAttention' })
        }
        const dOut = decode(c.dOut)
        const g = mode === 'sync' ? m.backward(dOut) : await m.backwardAsync(dOut)
        const dInputs = isMha ? (inputs.length === 1 ? [sum(g)] : [g.dq, g.dk, g.dv]) : [g]
        c.dInputs.forEach((e, i) => {
          t.deepEqual([...dInputs[i].shape], e.shape)
          assertClose(t, dInputs[i].data, decode(e).data, { ...TOL, label: `d(input ${i})` })
        })
        const grads = Object.fromEntries(m.namedParameters().map(([k, p]) => [k, p.grad]))
        t.deepEqual(Object.keys(grads), Object.keys(c.grads), 'parameters in PyTorch order')
        for (const [k, e] of Object.entries(c.grads)) assertClose(t, grads[k].data, decode(e).data, { ...TOL, label: `d${k}` })
        const after = m.stateDict()
        for (const [k, e] of Object.entries(c.stateAfter)) {
          const d = decode(e)
          if (d.data instanceof BigInt64Array) t.deepEqual([...after[k].data], [...d.data], k)
          else assertClose(t, after[k].data, d.data, { ...TOL, label: `${k} after the step` })
        }
      })
    }
  }
}
