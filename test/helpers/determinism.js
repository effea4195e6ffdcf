'use strict'
// The determinism and ISA checks every op's tests share.
const fv = require('./fv')
const { assertBitIdentical } = require('./check')

/**
 * Asserts `run()` (which returns an array of results: tensors or Float32Arrays) gives the
 * same bits twice in a row and on each thread count in `counts`; restores the thread
 * count afterwards, whatever happens.
 */
function assertDeterministic (t, run, counts = [1, 3]) {
  const before = fv.getNumThreads()
  try {
    const a = run()
    run().forEach((r, i) => assertBitIdentical(t, r, a[i], `two runs, result ${i}`))
    for (const n of counts) {
      fv.setNumThreads(n)
      run().forEach((r, i) => assertBitIdentical(t, r, a[i], `${n} thread(s), result ${i}`))
    }
  } finally {
    fv.setNumThreads(before)
  }
}

/** Runs fn(isa) under every ISA level this CPU supports (fv.setIsa), then restores 'auto'. */
function forEachIsa (fn) {
  try {
    for (const isa of fv.info().isa.supported) {
      fv.setIsa(isa)
      fn(isa)
    }
  } finally {
    fv.setIsa('auto')
  }
}

module.exports = { assertDeterministic, forEachIsa }
