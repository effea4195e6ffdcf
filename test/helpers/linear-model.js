'use strict'
// A model of the test's own that the training loop drives through its seams: softmax regression
// (one linear layer over the pixels) on fv.ops.linear, with a plain SGD optimizer. Its
// "attention" is the input's 4×4-pooled absolute value, so attention.png has maps to draw.
const fv = require('./fv')

function linearModel (spec, opts = {}) {
  const [c, h, w] = spec.input
  const inputs = c * h * w
  const k = spec.numClasses
  // Small weights from a seeded LCG, so a run is reproducible from spec.seed.
  let s = (spec.seed + 1) >>> 0
  const weight = new Float32Array(k * inputs).map(() => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return (s / 2 ** 32 - 0.5) * 0.01 })
  const params = [
    { name: 'fc.weight', value: fv.tensor(weight, [k, inputs]), grad: fv.tensor(new Float32Array(k * inputs), [k, inputs]) },
    { name: 'fc.bias', value: fv.tensor(new Float32Array(k), [k]), grad: fv.tensor(new Float32Array(k), [k]) }
  ]
  let x2 = null
  let lastInput = null
  const mode = { training: true, calls: { train: 0, eval: 0 } }
  return {
    mode,
    params,
    forward (x) {
      lastInput = x
      x2 = x.reshape([x.shape[0], inputs])
      return fv.ops.linear(x2, params[0].value, params[1].value)
    },
    backward (dy) {
      const { dx, dw, db } = fv.ops.linearBackward(dy, x2, params[0].value)
      for (let i = 0; i < dw.data.length; i++) params[0].grad.data[i] += dw.data[i]
      for (let i = 0; i < db.data.length; i++) params[1].grad.data[i] += db.data[i]
      fv.dispose([dw, db])
      return dx
    },
    parameters () { return params },
    train () { mode.training = true; mode.calls.train++ },
    eval () { mode.training = false; mode.calls.eval++ },
    stateDict () { return { 'fc.weight': params[0].value, 'fc.bias': params[1].value } },
    attentionMap: opts.noAttention
      ? undefined
      : () => {
          const n = lastInput.shape[0]
          const mh = Math.floor(h / 4); const mw = Math.floor(w / 4)
          const map = new Float32Array(n * mh * mw)
          for (let b = 0; b < n; b++) for (let y = 0; y < mh * 4; y++) for (let xx = 0; xx < mw * 4; xx++) map[(b * mh + (y >> 2)) * mw + (xx >> 2)] += Math.abs(lastInput.data[b * inputs + y * w + xx])
          return { data: map, shape: [n, mh, mw] }
        }
  }
}

function sgd (params, { lr }) {
  return {
    steps: 0,
    step () {
      this.steps++
      for (const p of params) for (let i = 0; i < p.value.data.length; i++) p.value.data[i] -= lr * p.grad.data[i]
    },
    zeroGrad () { for (const p of params) p.grad.data.fill(0) }
  }
}

module.exports = { linearModel, sgd }
