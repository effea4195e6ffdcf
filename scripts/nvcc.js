#!/usr/bin/env node
'use strict'
// Tells binding.gyp (and CMakeLists.txt) how to build the CUDA library, or that it can't.
//
//   node scripts/nvcc.js            the nvcc to use, or an empty line when there is none
//   node scripts/nvcc.js --gencode  nvcc's -gencode flags for the target architectures
//
// nvcc is looked up in FOVEAL_NVCC, $CUDA_HOME/bin, then the PATH. FOVEAL_SKIP_CUDA=1
// skips the CUDA library. FOVEAL_CUDA_ARCHS ("75;80;90") overrides the architectures.
const fs = require('fs')
const path = require('path')

// Turing (T4) onwards: CUDA 13 dropped everything older. PTX for the newest listed one
// lets later GPUs JIT-compile the kernels.
const DEFAULT_ARCHS = ['75', '80', '86', '90']

function findNvcc () {
  if (process.env.FOVEAL_SKIP_CUDA === '1') return ''
  const candidates = []
  if (process.env.FOVEAL_NVCC) candidates.push(process.env.FOVEAL_NVCC)
  if (process.env.CUDA_HOME) candidates.push(path.join(process.env.CUDA_HOME, 'bin', 'nvcc'))
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (dir) candidates.push(path.join(dir, 'nvcc'))
  }
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK)
      return c
    } catch {}
  }
  return ''
}

function gencode () {
  const archs = (process.env.FOVEAL_CUDA_ARCHS || DEFAULT_ARCHS.join(';')).split(/[;, ]+/).filter(Boolean)
  const flags = archs.map((a) => `-gencode=arch=compute_${a},code=sm_${a}`)
  const last = archs[archs.length - 1]
  flags.push(`-gencode=arch=compute_${last},code=compute_${last}`)
  return flags
}

module.exports = { findNvcc, gencode }

if (require.main === module) {
  if (process.argv[2] === '--gencode') process.stdout.write(gencode().join(' ') + '\n')
  else process.stdout.write(findNvcc() + '\n')
}
