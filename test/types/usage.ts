// Compiled (never run) by test/types.test.js: the published .d.ts must let a TypeScript
// user write this without casts, and must reject the misuse marked below.
import * as fv from 'foveal'
import fvDefault from 'foveal'

const x: fv.Tensor = fv.tensor(new Float32Array(6), [2, 3])
const w: fv.TensorLike = { data: new Float32Array(12), dims: [4, 3] }
const y: fv.Tensor = fv.ops.linear(x, w, null, { out: fv.tensor(new Float32Array(8), [2, 4]) })
const g = fv.ops.linearBackward(y, x, w)
const dx: Float32Array = g.dx.data
const p: Promise<fv.Tensor> = fv.ops.linearAsync(x, w)
const info: fv.Info = fvDefault.info()
const threads: number = info.threads.count
fv.setIsa('avx2')
fv.setNumThreads(threads)

// Datasets, batches and pictures.
const ds: fv.data.Dataset = fv.data.loadMnist('test', { limit: 10, normalize: true })
const batcher = new fv.data.Batcher(ds, { batchSize: 4, seed: 1, shift: 2 })
for (const b of batcher.epoch()) {
  const images: Float32Array = b.x
  const labels: Int32Array = b.y
  void images; void labels
}
const picture: fv.viz.RgbaImage = fv.viz.heatmap({ width: 28, height: 28, data: ds.images.subarray(0, 784) },
  new Float32Array(49), [7, 7], { colormap: 'viridis', scale: 3 })
const png: Buffer = fv.viz.encodePng(fv.viz.grid([{ image: picture, correct: true, label: '7' }]))
const digit: Float32Array = fv.viz.toDigit(fv.viz.decodePng(png), { fit: 'mnist' })
const curves: string = fv.viz.curvesSvg([{ epoch: 1, trainLoss: 0.3, testAccuracy: 0.97 }])
void digit; void curves

// @ts-expect-error no such split
fv.data.loadMnist('validation')
// @ts-expect-error not a colour map
fv.viz.colormap('rainbow', 0.5)
// @ts-expect-error shape must be numbers
fv.tensor(new Float32Array(2), ['2'])
// @ts-expect-error unknown option
fv.ops.linear(x, w, null, { outt: x })
// @ts-expect-error not an ISA name
fv.setIsa('sse9')

// fv.nn: modules, losses, init, seeding
fv.manualSeed(1)
const seed: bigint = fv.initialSeed()
const net = new fv.nn.Sequential(new fv.nn.Conv2d(1, 8, 3, { padding: 1 }), new fv.nn.ReLU(), new fv.nn.Flatten(),
  new fv.nn.Linear(8 * 4 * 4, 2))
const logits: fv.Tensor = net.forward(fv.tensor(new Float32Array(16), [1, 1, 4, 4]))
const ce = new fv.nn.CrossEntropyLoss({ labelSmoothing: 0.1 })
const lossValue: fv.Tensor = ce.forward(logits, Int32Array.of(1))
const dIn: Promise<fv.Tensor> = net.backwardAsync(ce.backward())
const params: fv.nn.Parameter[] = net.parameters()
fv.nn.init.kaimingUniform_(params[0]!, { a: Math.sqrt(5) })
const tracked: bigint = new fv.nn.BatchNorm2d(3, { momentum: null }).numBatchesTracked
const filled: fv.Tensor = fv.ops.normal_(fv.tensor(new Float32Array(4), [4]), 0, 1, 7)
// @ts-expect-error unknown option
new fv.nn.Linear(3, 2, { bais: false })
// @ts-expect-error a kernel size is a number or [h, w]
new fv.nn.Conv2d(1, 2, '3')

// fv.nn attention: MultiheadAttention's { out, weights } and { dq, dk, dv }, the CNN blocks' maps
const mha = new fv.nn.MultiheadAttention(16, 4, { batchFirst: true, numKvHeads: 2 })
const q16 = fv.tensor(new Float32Array(2 * 3 * 16), [2, 3, 16])
const att: fv.nn.MultiheadAttentionResult = mha.forward(q16, q16, q16, { keyPaddingMask: new Uint8Array(6), isCausal: true })
const attW: fv.Tensor | null = att.weights
const attG: Promise<fv.nn.MultiheadAttentionGrads> = mha.backwardAsync(att.out)
const gateMap: fv.Tensor | null = new fv.nn.CBAM(16, { kernel: 3 }).lastAttention
const pooled: fv.nn.AttentionPoolResult = new fv.nn.AttentionPool(16).forward(q16)
// @ts-expect-error attention options are camelCase
mha.forward(q16, q16, q16, { need_weights: false })

// fv.io: loaded records narrow to Tensor or an integer tensor by dtype
const sd = fv.io.loadSafetensors('model.safetensors')
const w0 = sd['w']
const wdata: Float32Array | undefined = w0 instanceof fv.Tensor ? w0.data : undefined
const steps = sd['bn.num_batches_tracked']
const count: BigInt64Array | undefined = steps !== undefined && !(steps instanceof fv.Tensor) && steps.dtype === 'I64' ? steps.data : undefined
fv.io.saveSafetensors('model.safetensors', {
  w: x,
  h: { data: new Float32Array(2), shape: [2], dtype: 'F16' },
  n: { data: new BigInt64Array(1), shape: [] },
  m: { data: new Uint8Array(2), shape: [2], dtype: 'BOOL' }
}, { epoch: '1' })
const saved: Promise<void> = fv.io.saveSafetensorsAsync('model.safetensors', new Map([['w', x]]), null, { dtype: 'BF16' })
const meta: Promise<Record<string, string>> = fv.io.readSafetensorsMetadataAsync('model.safetensors')
const half: Uint16Array = fv.ops.f32ToF16(new Float32Array(4))
// @ts-expect-error a Float64Array is not a tensor to save
fv.io.saveSafetensors('model.safetensors', { w: { data: new Float64Array(2), shape: [2] } })
// @ts-expect-error not a float dtype
fv.io.saveSafetensors('model.safetensors', { w: x }, null, { dtype: 'I64' })
// @ts-expect-error metadata values are strings
fv.io.saveSafetensors('model.safetensors', { w: x }, { epoch: 1 })

// fv.optim: parameters are { value, grad } (fv.nn.Parameter), or groups of them.
const plain: fv.optim.ParameterLike[] = [{ value: x, grad: null }]
const adam = new fv.optim.Adam(net.parameters(), { lr: 1e-3, betas: [0.9, 0.999], amsgrad: true })
const sgd = new fv.optim.SGD([{ params: plain, lr: 0.1 }, { params: [params[1]!] }], { momentum: 0.9, nesterov: true })
const sched = new fv.optim.OneCycleLR(adam, 0.01, { totalSteps: 100, annealStrategy: 'linear' })
new fv.optim.StepLR(sgd, 10, { gamma: 0.5 }).step()
const lrs: number[] = sched.getLastLr()
const total: number = fv.optim.clipGradNorm(net.parameters(), 1, Infinity)
const stepped: Promise<void> = adam.stepAsync()
const optState: fv.optim.OptimizerStateDict = adam.stateDict()
adam.loadStateDict(optState)
fv.ops.adamStep(x, x, x, x, null, { step: 1, lr: 1e-3, decoupled: true })
const norm: Promise<number> = fv.ops.vectorNormAsync(x, 2)
// @ts-expect-error unknown option
new fv.optim.Adam(plain, { learningRate: 0.1 })
// @ts-expect-error annealStrategy is 'cos' | 'linear'
new fv.optim.OneCycleLR(adam, 0.01, { totalSteps: 100, annealStrategy: 'exp' })
// @ts-expect-error adamStep needs the step number
fv.ops.adamStep(x, x, x, x, null, { lr: 1e-3 })

export { dx, p, wdata, count, saved, meta, half, seed, lossValue, dIn, tracked, filled, lrs, total, stepped, norm, attW, attG, gateMap, pooled }
