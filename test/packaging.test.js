'use strict'
// Packaging, as a user meets it: `npm run prebuild` then `npm pack`, the tarball installed
// offline into an empty project, and require('foveal') there loads the prebuilt binary
// without compiling anything.
//
// The build happens in a copy of the tracked files (sharing node_modules through a link),
// so rebuilding never disturbs the addon the other test files are using.
const test = require('ava')
const { execFileSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')

const root = path.join(__dirname, '..')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

function sh (cmd, args, cwd, env = {}) {
  return execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, JOBS: 'max', npm_config_update_notifier: 'false', ...env }
  })
}

// The empty project's lockfile: foveal from the tarball, and its runtime dependencies pinned to
// the versions and integrities of foveal's own package-lock.json. `npm ci` has just put exactly
// those tarballs in the npm cache, but not the registry's metadata documents, so on a fresh
// machine an offline install that had to resolve `^8.9.2` by itself would fail (ENOTCACHED);
// with the versions pinned it needs nothing but the cached tarballs.
function appLockfile (spec) {
  // The registry npm ci fetched from (the npm cache is keyed by its URLs).
  const registry = sh(npm, ['config', 'get', 'registry'], root).trim().replace(/\/+$/, '')
  const ours = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'))
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  const packages = {
    '': { name: 'app', dependencies: { foveal: spec } },
    'node_modules/foveal': { version: pkg.version, resolved: spec, hasInstallScript: true, dependencies: pkg.dependencies }
  }
  for (const [where, entry] of Object.entries(ours.packages)) {
    if (!where.startsWith('node_modules/') || entry.dev || entry.devOptional || entry.link) continue
    const name = where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length)
    const base = name.startsWith('@') ? name.split('/')[1] : name
    packages[where] = { ...entry, resolved: entry.resolved ?? `${registry}/${name}/-/${base}-${entry.version}.tgz` }
  }
  return { name: 'app', lockfileVersion: 3, requires: true, packages }
}

test('npm run prebuild + npm pack: the tarball installs offline and loads its prebuilt binary without a build', (t) => {
  t.timeout(15 * 60e3)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'foveal-pack-'))
  try {
    // 1. A clean copy of the package's tracked files.
    const src = path.join(work, 'src')
    const files = sh('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], root).split('\0').filter(Boolean)
    for (const f of files) {
      if (!fs.existsSync(path.join(root, f))) continue
      fs.mkdirSync(path.dirname(path.join(src, f)), { recursive: true })
      fs.copyFileSync(path.join(root, f), path.join(src, f))
    }
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(src, 'node_modules'), 'dir')

    // 2. The prebuild and the tarball.
    sh(npm, ['run', 'prebuild'], src)
    const prebuildDir = path.join(src, 'prebuilds', `${process.platform}-${process.arch}`)
    const binaries = fs.readdirSync(prebuildDir).filter((f) => f.endsWith('.node'))
    t.is(binaries.length, 1, `one prebuilt addon in ${prebuildDir}`)
    const size = fs.statSync(path.join(prebuildDir, binaries[0])).size
    t.log(`prebuilt ${binaries[0]}: ${(size / 1024).toFixed(0)} KiB`)
    const packed = JSON.parse(sh(npm, ['pack', '--json', '--pack-destination', work], src))
    const tarball = path.join(work, packed[0].filename)
    const inTarball = packed[0].files.map((f) => f.path)
    t.true(inTarball.includes(`prebuilds/${process.platform}-${process.arch}/${binaries[0]}`), 'the tarball ships the prebuild')
    t.true(inTarball.includes('dist/index.js') && inTarball.includes('dist/index.d.ts') && inTarball.includes('dist/index.mjs'))
    t.true(inTarball.includes('binding.gyp') && inTarball.includes('native/sources.js'), 'and what a source build needs')
    t.false(inTarball.some((f) => f.startsWith('build/') || f.startsWith('test/') || f.startsWith('bench/')))

    // 3. An empty project installs it offline, with foveal's install script allowed to run:
    //    node-gyp-build must find the prebuilt binary and build nothing.
    const app = path.join(work, 'app')
    fs.mkdirSync(app)
    const spec = `file:${path.relative(app, tarball)}`
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, dependencies: { foveal: spec }, allowScripts: { foveal: true } }))
    fs.writeFileSync(path.join(app, 'package-lock.json'), JSON.stringify(appLockfile(spec)))
    const log = sh(npm, ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts'], app)
    t.true(log.includes('node-gyp-build'), `foveal's install script ran\n${log}`)
    const installed = path.join(app, 'node_modules', 'foveal')
    t.false(fs.existsSync(path.join(installed, 'build')), `no build directory: nothing was compiled\n${log}`)
    t.false(/gyp info|CXX\(target\)|nvcc/.test(log), 'the install log shows no compiler')

    // 4. It loads, says it is the prebuilt binary, and computes.
    const probe = `
      const fv = require('foveal')
      const y = fv.ops.linear(fv.tensor([1, 2, 3, 4], [2, 2]), fv.tensor([1, 0, 0, 1], [2, 2]), fv.tensor([10, 20], [2]))
      import('foveal').then((esm) => console.log(JSON.stringify({ info: fv.info(), y: Array.from(y.data), esm: typeof esm.ops.linear })))`
    const r = JSON.parse(sh(process.execPath, ['-e', probe], app))
    t.is(r.info.binary.origin, 'prebuilt')
    t.true(r.info.binary.path.startsWith(path.join(installed, 'prebuilds')))
    t.deepEqual(r.y, [11, 22, 13, 24])
    t.is(r.esm, 'function')
    const cli = sh(process.execPath, [path.join(installed, 'dist', 'cli.js'), 'info'], app)
    t.true(cli.includes('prebuilt'))
    // Where nvcc built the CUDA library, it ships beside the addon and is found there.
    if (fs.existsSync(path.join(prebuildDir, 'libfoveal_cuda.so'))) {
      t.true(r.info.cuda.built)
      t.is(r.info.cuda.library, path.join(installed, 'prebuilds', `${process.platform}-${process.arch}`, 'libfoveal_cuda.so'))
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
})
