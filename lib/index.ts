// foveal: fused attention and convolution kernels for Node.js.
//   const fv = require('foveal')      or      import * as fv from 'foveal'
export { Tensor, tensor, shapeSize } from './tensor'
export type { Shape, TensorLike } from './tensor'
export * as ops from './ops'
export * as io from './io'
export * as nn from './nn'
export { tidy, keep, dispose } from './lifetime'
export { manualSeed, initialSeed } from './seed'
export {
  info, version, setNumThreads, getNumThreads, setIsa, poolStats, setPoolLimit, trimPool
} from './info'
export type { Info, IsaName } from './info'
export type { PoolStats } from './native'
