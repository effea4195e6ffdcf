'use strict'
// The README's examples run as written: each ```js block in a fresh node process, with
// `require('foveal')` resolving to this package (the package's self-reference), so a
// renamed option or a changed result shape breaks this test before it breaks a reader.
const test = require('ava')
const fs = require('fs')
const path = require('path')
const { execFileSync } = require('child_process')

const root = path.join(__dirname, '..')
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])

test('the README has a JavaScript example', (t) => {
  t.true(blocks.length >= 1)
})

blocks.forEach((code, i) => {
  test(`README example ${i + 1} runs and prints what it promises`, (t) => {
    const out = execFileSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8', timeout: 60000 })
    t.notRegex(out, /NaN|undefined/)
    if (i === 0) {
      // linear: 784 inputs of 0.5 times weights of 0.01, no bias → 3.92 in float32.
      t.regex(out, /\[ 8, 10 \] 3\.92\d* \[ 10, 784 \] (avx512|avx2|generic|neon)/)
      t.regex(out, /\[ 2, 4, 128, 64 \] \[ 2, 4, 128 \]/)
    }
  })
})
