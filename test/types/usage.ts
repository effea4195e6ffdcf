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

export { dx, p }
