'use strict'
// The measured memory bandwidth (bench/peak/bandwidth.cpp), built on first use: the
// denominator of "% of bandwidth" for memory-bound ops (bench/suites/optim.js).
const { execFileSync } = require('child_process')
const fs = require('fs')
const path = require('path')

const dir = path.join(__dirname, '..', 'peak')

/** { copy, triad, adamPattern: { best, median } } in GB/s over arrays of n floats on `threads` threads. */
function bandwidth (threads, n, reps = 15) {
  const exe = path.join(dir, 'bandwidth')
  const src = path.join(dir, 'bandwidth.cpp')
  if (!fs.existsSync(exe) || fs.statSync(exe).mtimeMs < fs.statSync(src).mtimeMs) {
    execFileSync(process.env.CXX || 'c++', ['-O3', '-march=native', '-fno-tree-loop-distribute-patterns', '-std=c++17',
      '-pthread', '-o', exe, src], { stdio: 'inherit' })
  }
  return JSON.parse(execFileSync(exe, [String(threads), String(n), String(reps)], { encoding: 'utf8' }))
}

module.exports = { bandwidth }
