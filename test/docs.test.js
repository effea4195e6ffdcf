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

// docs/ARCHITECTURE.md names files and folders as it explains them: each must exist, so
// a rename that forgets the document fails here.
test('docs/ARCHITECTURE.md names only files and folders that exist', (t) => {
  const doc = fs.readFileSync(path.join(root, 'docs', 'ARCHITECTURE.md'), 'utf8')
  const named = new Set()
  for (const m of doc.matchAll(/`([\w./-]+\.(?:h|cpp|inc|ts|js|md|sh)|[\w.-]+(?:\/[\w.-]+)*\/)`/g)) named.add(m[1])
  for (const m of doc.matchAll(/^ {2}(\w[\w./-]*\/?) /gm)) if (/\//.test(m[1])) named.add(m[1])
  const bases = ['', 'native', 'lib', 'lib/ops', 'native/cpu']
  // The worked example's new files (foo) are to be written, not found.
  const missing = [...named].filter((p) => !/(^|\/)foo[_./]/.test(p) && !bases.some((b) => fs.existsSync(path.join(root, b, p))))
  t.true(named.size >= 20, `only ${named.size} paths found`)
  t.deepEqual(missing, [])
})
