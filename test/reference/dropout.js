'use strict'
// Reference for dropout: y = x·m·scale with the Philox mask of test/reference/random.js
// and scale = 1/(1 − p) rounded to float32 (0 for p = 1), all in float32 arithmetic, so a
// correct kernel matches it bit for bit.
const { dropoutMask } = require('./random')

function dropout (x, p, seed) {
  const keep = dropoutMask(x.length, p, seed)
  const scale = p >= 1 ? 0 : Math.fround(1 / (1 - p))
  const y = new Float32Array(x.length)
  for (let i = 0; i < x.length; i++) y[i] = x[i] * (keep[i] ? scale : 0)
  return y
}

module.exports = { dropout }
