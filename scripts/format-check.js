#!/usr/bin/env node
'use strict'
// Compares native/ with .clang-format: lists the files whose formatting differs, with the
// number of lines that would change, and exits 1 if any does.
//
//   npm run format:check            report (exit 1 when something differs)
//   npm run format:check -- --fix   rewrite the files in place
//   npm run format:check -- FILE…   only these files
//
// .ci/run runs it: native/ is kept formatted.
const { execFileSync, spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')

const root = path.join(__dirname, '..')
const args = process.argv.slice(2)
const fix = args.includes('--fix')
const named = args.filter((a) => a !== '--fix')
const bin = process.env.CLANG_FORMAT || 'clang-format'

const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' })
if (probe.error || probe.status !== 0) {
  console.error(`format:check: ${bin} not found; install clang-format (apt-get install clang-format, brew install ` +
    'clang-format) or point CLANG_FORMAT at one')
  process.exit(2)
}

const files = named.length
  ? named
  : execFileSync('git', ['ls-files', 'native/*.h', 'native/*.cpp', 'native/*.inc', 'native/*.cu'], { cwd: root, encoding: 'utf8' })
    .split('\n').filter(Boolean)

let differing = 0
for (const file of files) {
  const abs = path.resolve(root, file)
  const before = fs.readFileSync(abs, 'utf8')
  const after = execFileSync(bin, ['--style=file', `--assume-filename=${abs.replace(/\.(inc|cu)$/, '.cpp')}`], {
    cwd: root, input: before, encoding: 'utf8', maxBuffer: 64 << 20
  })
  if (after === before) continue
  differing++
  const a = before.split('\n'); const b = after.split('\n')
  let changed = 0
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) changed++
  if (fix) fs.writeFileSync(abs, after)
  console.log(`${fix ? 'formatted' : 'differs'}  ${file}  (~${changed} lines)`)
}
console.log(`${probe.stdout.trim()}: ${differing} of ${files.length} files ${fix ? 'rewritten' : 'differ from .clang-format'}`)
process.exit(!fix && differing > 0 ? 1 : 0)
