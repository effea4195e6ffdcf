// The one place that loads the native addon, and the hand-written type of what it exports.
// Every other module imports `binding` from here; nothing else requires a .node file.
import * as path from 'node:path'
import type { ConvGeometry } from './ops/spatial'

/** The runtime's settings and statistics: plain functions, no Async twins. */
export interface NativeRuntime {
  info(): NativeInfo
  setNumThreads(n: number): void
  getNumThreads(): number
  setIsa(isa: string): void
  poolStats(): PoolStats
  setPoolLimit(bytes: number): void
  trimPool(): void
  /** Detaches a result's ArrayBuffer and takes its memory back; true if it was a pool block. */
  dispose(data: Float32Array): boolean
  /** Whether the array's ArrayBuffer has been detached (Node 20 has no ArrayBuffer.prototype.detached). */
  isDetached(data: ArrayBufferView): boolean
  /**
   * Test hook: provokes the two nested scratch-slot reuses core/memory.h's debug check
   * catches, and returns its messages; null in builds without the check (the default).
   */
  scratchCheckProbe(): string[] | null
}

/**
 * The ops, each written once as its sync signature (the binding's `Define<Op>` exports the
 * Async twin beside it). Raw per-op functions take Float32Arrays and sizes; lib/ops/* is
 * the typed, validated API over them.
 */
export interface NativeOps {
  linear(x: Float32Array, w: Float32Array, bias: Float32Array | null, out: Float32Array | null,
    M: number, K: number, N: number): Float32Array
  linearBackward(dy: Float32Array, x: Float32Array, w: Float32Array, outDx: Float32Array | null,
    outDw: Float32Array | null, outDb: Float32Array | null, M: number, K: number, N: number,
    accumulate: boolean): RawLinearGrads

  conv2d(x: Float32Array, w: Float32Array, bias: Float32Array | null, out: Float32Array | null,
    geom: ConvGeometry, relu: boolean): Float32Array
  conv2dBackward(dy: Float32Array, x: Float32Array, w: Float32Array, outDx: Float32Array | null,
    outDw: Float32Array | null, outDb: Float32Array | null, geom: ConvGeometry, accumulate: boolean): RawConvGrads
  conv2dTranspose(x: Float32Array, w: Float32Array, bias: Float32Array | null, out: Float32Array | null,
    geom: ConvGeometry, relu: boolean): Float32Array
  conv2dTransposeBackward(dy: Float32Array, x: Float32Array, w: Float32Array, outDx: Float32Array | null,
    outDw: Float32Array | null, outDb: Float32Array | null, geom: ConvGeometry, accumulate: boolean): RawConvGrads

  maxPool2d(x: Float32Array, out: Float32Array | null, geom: number[], ceilMode: boolean): Float32Array
  maxPool2dBackward(dy: Float32Array, x: Float32Array, out: Float32Array | null, geom: number[], ceilMode: boolean,
    accumulate: boolean): Float32Array
  avgPool2d(x: Float32Array, out: Float32Array | null, geom: number[], ceilMode: boolean,
    countIncludePad: boolean): Float32Array
  avgPool2dBackward(dy: Float32Array, out: Float32Array | null, geom: number[], ceilMode: boolean,
    countIncludePad: boolean, accumulate: boolean): Float32Array
  adaptiveAvgPool2d(x: Float32Array, out: Float32Array | null, sizes: number[]): Float32Array
  adaptiveAvgPool2dBackward(dy: Float32Array, out: Float32Array | null, sizes: number[],
    accumulate: boolean): Float32Array
  matmul(a: Float32Array, b: Float32Array, out: Float32Array | null, M: number, K: number, N: number,
    batch: number[], aBatch: number[], bBatch: number[]): Float32Array
  matmulBackward(dy: Float32Array, a: Float32Array, b: Float32Array, outDa: Float32Array | null,
    outDb: Float32Array | null, M: number, K: number, N: number, batch: number[], aBatch: number[],
    bBatch: number[]): RawMatmulGrads
  gemm(a: Float32Array, b: Float32Array, c: Float32Array | null, out: Float32Array | null,
    biasRow: Float32Array | null, biasCol: Float32Array | null, problem: GemmProblem): Float32Array
  /** Test hook (not part of fv.ops): one product through gemm.h's packed-operand API, as conv and attention call it. */
  gemmPacked(a: Float32Array, b: Float32Array, out: Float32Array | null, biasRow: Float32Array | null,
    biasCol: Float32Array | null, problem: GemmPackedProblem): Float32Array

  // activation (lib/ops/activation.ts): y = f(x); dx = dy·f'(x or y)
  relu(x: Float32Array, out: Float32Array | null): Float32Array
  sigmoid(x: Float32Array, out: Float32Array | null): Float32Array
  tanh(x: Float32Array, out: Float32Array | null): Float32Array
  gelu(x: Float32Array, out: Float32Array | null, approximateTanh: boolean): Float32Array
  reluBackward(dy: Float32Array, x: Float32Array, out: Float32Array | null): Float32Array
  sigmoidBackward(dy: Float32Array, y: Float32Array, out: Float32Array | null): Float32Array
  tanhBackward(dy: Float32Array, y: Float32Array, out: Float32Array | null): Float32Array
  geluBackward(dy: Float32Array, x: Float32Array, out: Float32Array | null, approximateTanh: boolean): Float32Array

  // softmax (lib/ops/softmax.ts): the axis as an [outer, len, inner] view
  softmax(x: Float32Array, out: Float32Array | null, outer: number, len: number, inner: number): Float32Array
  logSoftmax(x: Float32Array, out: Float32Array | null, outer: number, len: number, inner: number): Float32Array
  softmaxBackward(dy: Float32Array, y: Float32Array, out: Float32Array | null, outer: number, len: number,
    inner: number): Float32Array
  logSoftmaxBackward(dy: Float32Array, y: Float32Array, out: Float32Array | null, outer: number, len: number,
    inner: number): Float32Array

  // elementwise (lib/ops/elementwise.ts): PyTorch broadcasting, shapes as arrays
  add(a: Float32Array, aShape: readonly number[], b: Float32Array, bShape: readonly number[],
    out: Float32Array | null): Float32Array
  mul(a: Float32Array, aShape: readonly number[], b: Float32Array, bShape: readonly number[],
    out: Float32Array | null): Float32Array
  addBackward(dy: Float32Array, aShape: readonly number[], bShape: readonly number[], outDa: Float32Array | null,
    outDb: Float32Array | null): RawBinaryGrads
  mulBackward(dy: Float32Array, a: Float32Array, aShape: readonly number[], b: Float32Array, bShape: readonly number[],
    outDa: Float32Array | null, outDb: Float32Array | null): RawBinaryGrads

  // norm (lib/ops/norm.ts); batchNorm2d updates runningMean / runningVar in place in training
  layerNorm(x: F32, weight: F32 | null, bias: F32 | null, out: F32 | null, rows: number, D: number, eps: number): F32
  layerNormBackward(dy: F32, x: F32, weight: F32 | null, outDx: F32 | null, outDweight: F32 | null,
    outDbias: F32 | null, rows: number, D: number, eps: number, accumulate: boolean): RawNormGrads
  batchNorm2d(x: F32, runningMean: F32 | null, runningVar: F32 | null, weight: F32 | null, bias: F32 | null,
    out: F32 | null, N: number, C: number, S: number, training: boolean, momentum: number, eps: number): F32
  batchNorm2dBackward(dy: F32, x: F32, runningMean: F32 | null, runningVar: F32 | null, weight: F32 | null,
    outDx: F32 | null, outDweight: F32 | null, outDbias: F32 | null, N: number, C: number, S: number,
    training: boolean, eps: number, accumulate: boolean): RawNormGrads
  groupNorm(x: F32, weight: F32 | null, bias: F32 | null, out: F32 | null, N: number, C: number, S: number,
    G: number, eps: number): F32
  groupNormBackward(dy: F32, x: F32, weight: F32 | null, outDx: F32 | null, outDweight: F32 | null,
    outDbias: F32 | null, N: number, C: number, S: number, G: number, eps: number, accumulate: boolean): RawNormGrads

  // loss (lib/ops/loss.ts); reduction: 0 none, 1 mean, 2 sum
  crossEntropy(logits: F32, labels: Int32Array, out: F32 | null, N: number, C: number, reduction: number,
    smoothing: number, ignoreIndex: number, weight: F32 | null): F32
  crossEntropyBackward(dy: F32, logits: F32, labels: Int32Array, out: F32 | null, N: number, C: number,
    reduction: number, smoothing: number, ignoreIndex: number, weight: F32 | null): F32
  mse(pred: F32, target: F32, out: F32 | null, reduction: number): F32
  mseBackward(dy: F32, pred: F32, target: F32, out: F32 | null, reduction: number): F32
  bceWithLogits(logits: F32, target: F32, weight: F32 | null, posWeight: F32 | null, out: F32 | null,
    shape: readonly number[], weightShape: readonly number[] | null, posWeightShape: readonly number[] | null,
    reduction: number): F32
  bceWithLogitsBackward(dy: F32, logits: F32, target: F32, weight: F32 | null, posWeight: F32 | null,
    out: F32 | null, shape: readonly number[], weightShape: readonly number[] | null,
    posWeightShape: readonly number[] | null, reduction: number): F32

  // embedding (lib/ops/embedding.ts); paddingIdx −1 for none
  embedding(indices: Int32Array, weight: F32, out: F32 | null, n: number, num: number, dim: number): F32
  embeddingBackward(dy: F32, indices: Int32Array, out: F32 | null, n: number, num: number, dim: number,
    paddingIdx: number, accumulate: boolean): F32

  // gate (lib/ops/gate.ts): x as [N, C, HW]
  spatialGate(x: F32, wa: F32, ba: F32, wb: F32, bb: F32, outOut: F32 | null, outGate: F32 | null, N: number,
    C: number, HW: number): { out: F32, gate: F32 }
  spatialGateBackward(dOut: F32, x: F32, wa: F32, ba: F32, wb: F32, bb: F32, gate: F32 | null, outDx: F32 | null,
    outDwa: F32 | null, outDba: F32 | null, outDwb: F32 | null, outDbb: F32 | null, N: number, C: number, HW: number,
    accumulate: boolean): { dx: F32, dwa: F32, dba: F32, dwb: F32, dbb: F32 }
  channelPool(x: F32, out: F32 | null, N: number, C: number, HW: number): F32
  channelPoolBackward(dy: F32, x: F32, out: F32 | null, N: number, C: number, HW: number, accumulate: boolean): F32

  // layout (lib/ops/layout.ts): y's dim d is x's dim perm[d]
  permute(x: F32, out: F32 | null, shape: readonly number[], perm: readonly number[]): F32

  // dropout (lib/ops/dropout.ts): seed is the 64-bit Philox key (a safe integer)
  dropout(x: F32, out: F32 | null, p: number, seed: number): F32
  dropoutBackward(dy: F32, out: F32 | null, p: number, seed: number): F32

  // convert (lib/ops/convert.ts): 16-bit float bits ↔ float32, round-to-nearest-even down
  f16ToF32(src: Uint16Array, out: Float32Array | null): Float32Array
  bf16ToF32(src: Uint16Array, out: Float32Array | null): Float32Array
  f32ToF16(src: Float32Array, out: Uint16Array | null): Uint16Array
  f32ToBf16(src: Float32Array, out: Uint16Array | null): Uint16Array

  // random (lib/ops/random.ts): fill t in place and return it; seed is the 64-bit Philox key
  uniform_(t: F32, lo: number, hi: number, seed: number): F32
  normal_(t: F32, mean: number, std: number, seed: number): F32

  // optim (lib/ops/optim.ts): the updates write param and its state in place
  adamStep(param: F32, grad: F32, expAvg: F32, expAvgSq: F32, maxExpAvgSq: F32 | null, hyper: AdamHyper): void
  sgdStep(param: F32, grad: F32, momentumBuffer: F32 | null, hyper: SgdHyper): void
  /** A vector norm's reduction before its root (Σ|x|^ord, max|x|, ...; native/cpu/optim/optim.h). */
  normReduce(x: F32, ord: number): number
  scaleInPlace(x: F32, scale: number): void

  // attention (lib/ops/attention.ts): the arrays, then what to compute as one object
  attention(q: F32, k: F32, v: F32, mask: F32 | null, keyLengths: Int32Array | null, outO: F32 | null,
    outLse: F32 | null, outW: F32 | null, problem: AttentionForwardProblem): RawAttention
  attentionBackward(dOut: F32, q: F32, k: F32, v: F32, out: F32, lse: F32, mask: F32 | null,
    keyLengths: Int32Array | null, outDq: F32 | null, outDk: F32 | null, outDv: F32 | null,
    problem: AttentionProblem): RawAttentionGrads
}

/** Every op's Async twin: the same arguments, its result through a Promise (run on a libuv thread). */
export type AsyncTwins<T> = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- matches any function: the key filter of a mapped type
  [K in keyof T as T[K] extends (...args: any[]) => any ? `${K & string}Async` : never]:
  T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never
}

/** The addon: the runtime functions, and each op with its Async twin derived from its signature. */
export type NativeBinding = NativeRuntime & NativeOps & AsyncTwins<NativeOps>

export interface RawConvGrads { dx: Float32Array, dw: Float32Array, db: Float32Array }

// A binding that would take more than six sizes and flags after its arrays takes them as
// one plain object instead (its "problem"), read by key in C++ (binding/common.h Fields):
// each is declared once here, and the binding re-checks every key.

/** What attention and attentionBackward compute (native/binding/attention.cpp). */
export interface AttentionProblem {
  B: number
  Hq: number
  Hkv: number
  Lq: number
  Lk: number
  D: number
  Dv: number
  /** Multiplies q·kᵀ before the mask is added. */
  scale: number
  /** Bottom-right aligned. */
  causal: boolean
  /** −1: unbounded. */
  windowLeft: number
  windowRight: number
  /** The mask element of (b, h, i, j) is at b·B + h·H + i·Q + j·K; 0 broadcasts. */
  maskStrideB: number
  maskStrideH: number
  maskStrideQ: number
  maskStrideK: number
  /** Drop probability in [0, 1]; 0: none. */
  dropout: number
  /** The dropout mask's key (a non-negative safe integer). */
  seed: number
  /** 0: off. */
  topK: number
}
export interface AttentionForwardProblem extends AttentionProblem {
  returnWeights: boolean
}
/** gemm's sizes and epilogue (native/binding/linear.cpp). */
export interface GemmProblem {
  batch: number
  M: number
  K: number
  N: number
  transA: boolean
  transB: boolean
  alpha: number
  beta: number
  /** Whether a, b and c hold `batch` matrices (else one serves every item). */
  aBatched: boolean
  bBatched: boolean
  cBatched: boolean
  relu: boolean
}
export interface GemmPackedProblem {
  M: number
  K: number
  N: number
  transA: boolean
  transB: boolean
  alpha: number
  relu: boolean
  /** Pack a as well as b. */
  packA: boolean
}
/** adamStep's hyperparameters (native/binding/optim.cpp). */
export interface AdamHyper {
  lr: number
  beta1: number
  beta2: number
  eps: number
  weightDecay: number
  /** 1 for the first step. */
  step: number
  amsgrad: boolean
  /** AdamW's decoupled weight decay. */
  decoupled: boolean
  maximize: boolean
}
/** sgdStep's hyperparameters. */
export interface SgdHyper {
  lr: number
  momentum: number
  dampening: number
  weightDecay: number
  nesterov: boolean
  maximize: boolean
  /** Copy the gradient into the momentum buffer (the first step) instead of updating it. */
  initBuffer: boolean
}
export interface RawAttention { out: Float32Array, lse: Float32Array, weights?: Float32Array }
export interface RawAttentionGrads { dq: Float32Array, dk: Float32Array, dv: Float32Array }

export interface RawLinearGrads { dx: Float32Array, dw: Float32Array, db: Float32Array }
export interface RawMatmulGrads { da: Float32Array, db: Float32Array }

export interface RawBinaryGrads { da: Float32Array, db: Float32Array }

export interface RawNormGrads { dx: Float32Array, dweight: Float32Array, dbias: Float32Array }

type F32 = Float32Array

export interface PoolStats {
  /** Bytes of pool blocks handed out (results held by JS, kernel scratch), by size class. */
  liveBytes: number
  /** Bytes kept for reuse. */
  cachedBytes: number
  /** The cap on cachedBytes (setPoolLimit, FOVEAL_POOL_LIMIT). */
  cacheLimit: number
  /** Memory the pool holds from the OS: live, cached, and huge-page arena space not yet carved (untouched). */
  mappedBytes: number
  /** Of the pool's memory, the bytes the OS backs with transparent huge pages now (Linux; 0 elsewhere). */
  hugePageBytes: number
  /** Blocks served from the cache. */
  hits: number
  /** Blocks that needed fresh memory. */
  misses: number
  /** The results of this thread's JS environment (the main thread or one worker). */
  results: {
    /** Results lent to JS from the pool (64 KiB and larger). */
    lent: number
    /** Of those, how many came back through dispose() / tidy(). */
    byDispose: number
    /** ... once V8 had collected them (also inside a loop that never yields). */
    byGc: number
    /** ... from the finaliser, when the event loop turned. */
    byFinalizer: number
    /** Lent and not back yet: held by JS, or dropped and not collected yet. */
    outstanding: number
    outstandingBytes: number
    /** Results V8 allocated itself (under 64 KiB; or past the budget where reclaimOnGc is false). */
    v8: number
    /**
     * Whether a collected result's block is reused at once. False on runtimes whose
     * ArrayBuffer.prototype.transfer moves external memory without a copy (a collected
     * buffer then proves nothing); there blocks come back through dispose() and the
     * finaliser only.
     */
    reclaimOnGc: boolean
  }
}

export interface NativeInfo {
  buildRoute: string
  napiVersion: number
  compiler?: string
  cpu: { vendor: string, brand: string, features: string[] }
  isa: { best: string, active: string, supported: string[], note?: string }
  kernels: Array<{ name: string, variants: string[], active: string }>
  threads: { count: number, default: number }
  pool: PoolStats
  cuda: {
    library: string
    built: boolean
    loaded: boolean
    usable: boolean
    runtimeVersion?: string
    reason: string
    devices: Array<{ index: number, name: string, computeCapability: string, totalMemory: number }>
  }
}

/** The package root (dist/.. or lib/..). */
export const packageRoot = path.join(__dirname, '..')

function load (): { binding: NativeBinding, file: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild: { resolve(dir: string): string } = require('node-gyp-build')
  let file: string | undefined
  try {
    file = nodeGypBuild.resolve(packageRoot)
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return { binding: require(file) as NativeBinding, file }
  } catch (err) {
    throw new Error(loadFailure(file, err), { cause: err })
  }
}

// Says what was tried and what to do, as sharp does: the most common causes are an install
// with --ignore-scripts, a platform without a prebuilt binary and no compiler, and a
// binary built for another platform copied along with node_modules.
function loadFailure (file: string | undefined, err: unknown): string {
  const platform = `${process.platform}-${process.arch}`
  const cause = err instanceof Error ? err.message.trim() : String(err)
  return [
    `foveal: could not load its native addon on ${platform} (Node ${process.versions.node}, N-API ${process.versions.napi}).`,
    file
      ? `Found ${file}, but loading it failed: ${cause}`
      : `Looked for ${path.join(packageRoot, 'build', 'Release', '*.node')} (a build from source) and ` +
        `${path.join(packageRoot, 'prebuilds', platform, '*.node')} (a prebuilt binary); neither is there.`,
    'Possible fixes:',
    '- The install step builds from source where no prebuilt binary fits, but npm ≥ 11 runs a dependency\'s',
    '  install script only when it is approved: `npm install-scripts approve foveal`, then `npm rebuild foveal`',
    '  (or run `npm rebuild foveal` after an install with --ignore-scripts).',
    '- Building from source needs python3, make and a C++17 compiler (g++ ≥ 9 or clang ≥ 10): then run `npm rebuild foveal`.',
    '- If node_modules was copied from another platform or architecture, run `npm rebuild foveal` on this one.',
    '- To use binaries from another folder, set FOVEAL_PREBUILD to the folder that holds prebuilds/.',
  ].join('\n')
}

const loaded = load()

/** The loaded addon. */
export const binding: NativeBinding = loaded.binding
/** The .node file that was loaded. */
export const bindingPath: string = loaded.file
