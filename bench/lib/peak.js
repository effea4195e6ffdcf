'use strict'
// The measured fp32 FMA peak (bench/peak/peak.cpp), built on first use and measured once
// per bench run: the denominator of every "% of peak".
const { execFileSync } = require('child_process')
const fs = require('fs')
const path = require('path')

const dir = path.join(__dirname, '..', 'peak')

function peak (threads) {
  const exe = path.join(dir, 'peak')
  const src = path.join(dir, 'peak.cpp')
  if (!fs.existsSync(exe) || fs.statSync(exe).mtimeMs < fs.statSync(src).mtimeMs) {
    execFileSync(process.env.CXX || 'c++', ['-O2', '-std=c++17', '-pthread', '-o', exe, src], { stdio: 'inherit' })
  }
  return JSON.parse(execFileSync(exe, [String(threads)], { encoding: 'utf8' }))
}

module.exports = { peak }
