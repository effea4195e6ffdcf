'use strict'
// eslint (flat config). The code is written in `standard` style (no semicolons, two
// spaces, single quotes): neostandard is that style for eslint 9, with typescript-eslint's
// parser. On top, eslint's and typescript-eslint's recommended rules, which find real
// problems (unused bindings, unsafe declaration merging, …). `npm run lint`; .ci/run runs it
// before the tests.
const js = require('@eslint/js')
const neostandard = require('neostandard')
const tseslint = require('typescript-eslint')

module.exports = [
  ...neostandard({
    ts: true,
    noJsx: true,
    ignores: ['dist/**', 'build/**', 'prebuilds/**', 'bench/node_modules/**', 'bench/results/**', 'runs/**', '.whl/**']
  }),
  { files: ['**/*.js', '**/*.mjs', '**/*.ts', '**/*.mts'], ...js.configs.recommended },
  ...tseslint.configs.recommended.map((c) => ({ files: ['**/*.ts', '**/*.mts'], ...c })),
  {
    rules: {
      // Objects are wrapped by line length, not one property per line: requiring either
      // all-on-one-line or one-per-line would rewrap hundreds of literals for nothing.
      '@stylistic/object-property-newline': 'off',
      '@stylistic/object-curly-newline': 'off'
    }
  },
  {
    // Compiled by test/types.test.js, never run: its statements exist to be type-checked
    // (`void x` uses a binding, `new X(bad)` under @ts-expect-error is the point).
    files: ['test/types/**'],
    rules: { 'no-void': 'off', 'no-new': 'off' }
  }
]
