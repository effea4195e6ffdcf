'use strict'
// Plain float64 references for add / mul with PyTorch broadcasting, by index arithmetic.

function broadcastShape (a, b) {
  const r = Math.max(a.length, b.length)
  const out = []
  for (let i = 0; i < r; i++) {
    const da = i - (r - a.length) >= 0 ? a[i - (r - a.length)] : 1
    const db = i - (r - b.length) >= 0 ? b[i - (r - b.length)] : 1
    if (da !== db && da !== 1 && db !== 1) throw new Error(`shapes [${a}] and [${b}] do not broadcast`)
    out.push(da === 1 ? db : da)
  }
  return out
}

// For each flat output index, the flat index into an operand of shape s.
function indexer (out, s) {
  const r = out.length
  const strides = new Array(r).fill(0)
  let st = 1
  for (let i = r - 1; i >= 0; i--) {
    const j = i - (r - s.length)
    const d = j >= 0 ? s[j] : 1
    strides[i] = d === 1 ? 0 : st
    st *= d
  }
  return (flat) => {
    let idx = 0
    for (let i = r - 1; i >= 0; i--) {
      const c = flat % out[i]; flat = Math.floor(flat / out[i])
      idx += c * strides[i]
    }
    return idx
  }
}

const size = (s) => s.reduce((p, d) => p * d, 1)

function binary (op, a, aShape, b, bShape) {
  const out = broadcastShape(aShape, bShape)
  const n = size(out)
  const ia = indexer(out, aShape); const ib = indexer(out, bShape)
  const y = new Float64Array(n)
  for (let f = 0; f < n; f++) y[f] = op === 'add' ? a[ia(f)] + b[ib(f)] : a[ia(f)] * b[ib(f)]
  return { y, shape: out }
}

/** { da, db }: dy summed onto each operand's shape (times the other operand for mul). */
function binaryBackward (op, dy, a, aShape, b, bShape) {
  const out = broadcastShape(aShape, bShape)
  const n = size(out)
  const ia = indexer(out, aShape); const ib = indexer(out, bShape)
  const da = new Float64Array(size(aShape)); const db = new Float64Array(size(bShape))
  for (let f = 0; f < n; f++) {
    da[ia(f)] += op === 'add' ? dy[f] : dy[f] * b[ib(f)]
    db[ib(f)] += op === 'add' ? dy[f] : dy[f] * a[ia(f)]
  }
  return { da, db }
}

module.exports = { broadcastShape, binary, binaryBackward, size }
