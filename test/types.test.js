'use strict'
// The published type declarations: a TypeScript user's code compiles against them, and
// misuse marked @ts-expect-error in test/types/usage.ts is rejected.
const test = require('ava')
const { execFileSync } = require('child_process')
const path = require('path')

test('the .d.ts types accept correct use and reject misuse', (t) => {
  t.timeout(120e3)
  const tsc = require.resolve('typescript/bin/tsc')
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(__dirname, 'types', 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' })
    t.pass()
  } catch (err) {
    t.fail(err.stdout + err.stderr)
  }
})
