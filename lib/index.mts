// The ES module entry: the same objects as the CommonJS entry (one instance of the addon).
import fv from './index.js'

export const {
  Tensor, tensor, shapeSize, ops, info, version, setNumThreads, getNumThreads, setIsa,
  poolStats, setPoolLimit, trimPool, tidy, keep, dispose, nn, manualSeed, initialSeed
} = fv
export type { Shape, TensorLike, Info, IsaName, PoolStats } from './index.js'
export default fv
