// The ES module entry: the same objects as the CommonJS entry (one instance of the addon).
import fv from './index.js'

export const {
  Tensor, tensor, shapeSize, ops, io, nn, info, version, setNumThreads, getNumThreads, setIsa,
  poolStats, setPoolLimit, trimPool, tidy, keep, dispose, manualSeed, initialSeed
} = fv
export type { Shape, TensorLike, Info, IsaName, PoolStats } from './index.js'
export default fv
