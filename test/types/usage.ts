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

// @ts-expect-error shape must be numbers
fv.tensor(new Float32Array(2), ['2'])
// @ts-expect-error unknown option
fv.ops.linear(x, w, null, { outt: x })
// @ts-expect-error not an ISA name
fv.setIsa('sse9')

// fv.optim: parameters are { value, grad } (fv.nn.Parameter), or groups of them.
const params: fv.optim.ParameterLike[] = [{ value: x, grad: null }]
const adam = new fv.optim.Adam(params, { lr: 1e-3, betas: [0.9, 0.999], amsgrad: true })
const sgd = new fv.optim.SGD([{ params, lr: 0.1 }], { momentum: 0.9, nesterov: true })
const sched = new fv.optim.OneCycleLR(adam, 0.01, { totalSteps: 100, annealStrategy: 'linear' })
new fv.optim.StepLR(sgd, 10, { gamma: 0.5 }).step()
const lrs: number[] = sched.getLastLr()
const total: number = fv.optim.clipGradNorm(params, 1, Infinity)
const stepped: Promise<void> = adam.stepAsync()
const sd: fv.optim.OptimizerStateDict = adam.stateDict()
adam.loadStateDict(sd)
fv.ops.adamStep(x, x, x, x, null, { step: 1, lr: 1e-3, decoupled: true })
const norm: Promise<number> = fv.ops.vectorNormAsync(x, 2)
// @ts-expect-error unknown option
new fv.optim.Adam(params, { learningRate: 0.1 })
// @ts-expect-error annealStrategy is 'cos' | 'linear'
new fv.optim.OneCycleLR(adam, 0.01, { totalSteps: 100, annealStrategy: 'exp' })
// @ts-expect-error adamStep needs the step number
fv.ops.adamStep(x, x, x, x, null, { lr: 1e-3 })

export { dx, p, lrs, total, stepped, norm }
