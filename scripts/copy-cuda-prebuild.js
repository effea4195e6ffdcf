#!/usr/bin/env node
'use strict'
// After prebuildify: put the CUDA library (built beside the addon by node-gyp when nvcc
// was found) next to the prebuilt addon, where the loader looks for it.
const fs = require('fs')
const path = require('path')

const root = path.join(__dirname, '..')
const lib = path.join(root, 'build', 'Release', 'libfoveal_cuda.so')
const dest = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`)
if (fs.existsSync(lib) && fs.existsSync(dest)) {
  fs.copyFileSync(lib, path.join(dest, 'libfoveal_cuda.so'))
  console.log(`prebuild: copied libfoveal_cuda.so into ${path.relative(root, dest)}/`)
} else {
  console.log('prebuild: no CUDA library was built (no nvcc at build time); the prebuild is CPU-only')
}
