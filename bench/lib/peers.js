'use strict'
// The peers foveal is measured against, each loaded lazily and reported as missing (with
// the reason) rather than failing the bench: onnxruntime-node, tfjs-core with the wasm
// backend, and PyTorch from Debian's python3-torch (run as a subprocess).
const { execFileSync, spawnSync } = require('child_process')
const path = require('path')

function tryRequire (name) {
  try {
    return { mod: require(name) }
  } catch (err) {
    return { error: `${name} not installed (run \`npm run bench:setup\`): ${err.message.split('\n')[0]}` }
  }
}

let ortCache
/** onnxruntime-node, or { error }. session(modelBytes) → { run(feeds) → Promise<outputs> }. */
function ort (threads) {
  if (ortCache) return ortCache
  const r = tryRequire('onnxruntime-node')
  if (r.error) return (ortCache = { error: r.error })
  const ortMod = r.mod
  const version = require('onnxruntime-node/package.json').version
  ortCache = {
    name: 'onnxruntime-node',
    version,
    Tensor: ortMod.Tensor,
    async session (bytes, opts = {}) {
      const s = await ortMod.InferenceSession.create(bytes, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        ...opts
      })
      return s
    },
    feed (data, dims) { return new ortMod.Tensor('float32', data, dims) }
  }
  return ortCache
}

let tfCache
/** tfjs-core on the wasm backend (one thread in Node), or { error }. */
async function tfjs () {
  if (tfCache) return tfCache
  const core = tryRequire('@tensorflow/tfjs-core')
  if (core.error) return (tfCache = { error: core.error })
  const wasm = tryRequire('@tensorflow/tfjs-backend-wasm')
  if (wasm.error) return (tfCache = { error: wasm.error })
  const tf = core.mod
  const origWarn = console.warn
  console.warn = () => {}
  try {
    await tf.setBackend('wasm')
    await tf.ready()
  } catch (err) {
    return (tfCache = { error: `tfjs-wasm failed to start: ${err.message}` })
  } finally {
    console.warn = origWarn
  }
  tfCache = { name: 'tfjs-wasm', version: require('@tensorflow/tfjs-core/package.json').version, tf }
  return tfCache
}

// Debian's python3 (not the pyenv python3 first on the PATH) holds python3-torch.
const PYTHON = process.env.FOVEAL_BENCH_PYTHON || '/usr/bin/python3'

let torchCache
/** Whether PyTorch can be run, as { version } or { error }. */
function torchInfo () {
  if (torchCache) return torchCache
  try {
    const out = execFileSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    torchCache = { name: 'pytorch', version: out.trim() }
  } catch (err) {
    torchCache = { error: `PyTorch not found for ${PYTHON} (Debian: apt-get install python3-torch libopenblas0-pthread)` }
  }
  return torchCache
}

/**
 * Runs cases in PyTorch (bench/peers/torch_bench.py) and returns, for each, { ms } or
 * { error }. A case is { op, ...shape fields } that the script knows.
 */
function torch (cases, threads) {
  const info = torchInfo()
  if (info.error) return cases.map(() => ({ error: info.error }))
  const r = spawnSync(PYTHON, [path.join(__dirname, '..', 'peers', 'torch_bench.py')], {
    input: JSON.stringify({ threads, cases }),
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: {
      ...process.env,
      // The fair peer is Debian's OpenBLAS on its AVX-512 kernels, on the same threads.
      OPENBLAS_CORETYPE: process.env.OPENBLAS_CORETYPE || 'SkylakeX',
      OPENBLAS_NUM_THREADS: String(threads),
      OMP_NUM_THREADS: String(threads)
    }
  })
  if (r.status !== 0) return cases.map(() => ({ error: `torch_bench.py failed: ${(r.stderr || '').trim().split('\n').pop()}` }))
  return JSON.parse(r.stdout).results
}

module.exports = { ort, tfjs, torch, torchInfo }
