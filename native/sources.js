#!/usr/bin/env node
'use strict'
// The one list of native sources, read by both build routes (binding.gyp through
// `<!@(node native/sources.js addon)`, CMakeLists.txt through execute_process), so a new
// kernel file is picked up by both without editing either. Paths are relative to the
// package root and sorted, so builds are reproducible.
//
//   node native/sources.js addon          the CPU addon: core/, cpu/, binding/ (*.cpp)
//   node native/sources.js cuda           the CUDA library: cuda/ (*.cu, *.cpp)
//   node native/sources.js <set> --cmake  the same, ';'-separated for CMake
const fs = require('fs')
const path = require('path')

const root = path.join(__dirname, '..')
const SETS = {
  addon: { dirs: ['native/core', 'native/cpu', 'native/binding'], ext: ['.cpp'] },
  cuda: { dirs: ['native/cuda'], ext: ['.cu', '.cpp'], skip: ['native/cuda/check'] }
}

function walk (dir, set, out) {
  for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = dir + '/' + entry.name
    if (entry.isDirectory()) {
      if (!(set.skip || []).includes(rel)) walk(rel, set, out)
    } else if (set.ext.includes(path.extname(entry.name))) {
      out.push(rel)
    }
  }
  return out
}

function list (name) {
  const set = SETS[name]
  if (!set) throw new Error(`native/sources.js: unknown set '${name}', expected one of ${Object.keys(SETS).join(', ')}`)
  const out = []
  for (const dir of set.dirs) walk(dir, set, out)
  return out.sort()
}

module.exports = { list }

if (require.main === module) {
  const [name, flag] = process.argv.slice(2)
  process.stdout.write(list(name || 'addon').join(flag === '--cmake' ? ';' : ' ') + '\n')
}
