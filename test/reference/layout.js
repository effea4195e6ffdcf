'use strict'
// Reference for permute: x.permute(perm).contiguous() by index arithmetic alone.

/** y[i] = x[offset of i's permuted index], by index arithmetic alone; y is an array of x's kind. */
function permute (x, shape, perm) {
  const ys = perm.map((a) => shape[a])
  const xs = []
  let acc = 1
  for (let d = shape.length - 1; d >= 0; d--) { xs[d] = acc; acc *= shape[d] }
  const y = new x.constructor(x.length)
  for (let i = 0; i < y.length; i++) {
    let r = i; let off = 0
    for (let d = ys.length - 1; d >= 0; d--) {
      const id = r % ys[d]
      r = Math.floor(r / ys[d])
      off += id * xs[perm[d]]
    }
    y[i] = x[off]
  }
  return y
}

module.exports = { permute }
