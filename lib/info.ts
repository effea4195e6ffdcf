// fv.info() and the runtime settings: threads, ISA level, the result pool.
import * as path from 'node:path'
import { binding, bindingPath, packageRoot, type NativeInfo, type PoolStats } from './native'
import { describe, integerArg, typeError } from './validate'

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const version: string = (require(path.join(packageRoot, 'package.json')) as { version: string }).version

export interface Info {
  version: string
  /** Compute backends usable in this process: always 'cpu', plus 'cuda' when a GPU answered. */
  backends: string[]
  binary: {
    /** The .node file loaded. */
    path: string
    /** 'prebuilt' (from prebuilds/, shipped in the package) or 'source' (built on this host). */
    origin: 'prebuilt' | 'source'
    /** The build route that produced it: 'node-gyp' or 'cmake-js'. */
    buildRoute: string
    napiVersion: number
    compiler?: string
  }
  cpu: NativeInfo['cpu']
  /** ISA levels: the best the CPU supports, the one in use (FOVEAL_ISA / setIsa can lower it). */
  isa: NativeInfo['isa']
  /** Each registered kernel: the ISA variants built into this binary and the one calls use now. */
  kernels: NativeInfo['kernels']
  threads: NativeInfo['threads']
  pool: PoolStats
  cuda: NativeInfo['cuda']
}

/** Everything about this foveal: version, binary, CPU features and ISA in use, threads, memory pool, CUDA. */
export function info (): Info {
  const n = binding.info()
  const origin = bindingPath.split(path.sep).includes('prebuilds') ? 'prebuilt' : 'source'
  return {
    version,
    backends: n.cuda.usable ? ['cpu', 'cuda'] : ['cpu'],
    binary: {
      path: bindingPath,
      origin,
      buildRoute: n.buildRoute,
      napiVersion: n.napiVersion,
      compiler: n.compiler
    },
    cpu: n.cpu,
    isa: n.isa,
    kernels: n.kernels,
    threads: n.threads,
    pool: n.pool,
    cuda: n.cuda
  }
}

/**
 * Sets the number of threads kernels use (1 to 1024; default: the CPUs this process may
 * run on, or FOVEAL_NUM_THREADS). Async ops run one at a time on this pool, so it also
 * bounds the cores foveal uses while several ops are in flight.
 */
export function setNumThreads (n: number): void {
  binding.setNumThreads(integerArg('setNumThreads', 'n', n, 1, 1024))
}

export function getNumThreads (): number {
  return binding.getNumThreads()
}

export type IsaName = 'auto' | 'generic' | 'neon' | 'avx2' | 'avx512'

/**
 * Caps the instruction set kernels may use ('auto' = the best this CPU supports). The same
 * as starting with FOVEAL_ISA set. Results may differ in the last bits between levels
 * (fused multiply-add rounds once), never between runs at one level.
 */
export function setIsa (isa: IsaName): void {
  if (typeof isa !== 'string') typeError('setIsa', 'isa', 'a string', describe(isa))
  binding.setIsa(isa)
}

/** Statistics of the pool that op results are allocated from. */
export function poolStats (): PoolStats {
  return binding.poolStats()
}

/** Caps the bytes of freed results kept for reuse (default: 1 GiB or 1/8 of RAM; FOVEAL_POOL_LIMIT). */
export function setPoolLimit (bytes: number): void {
  binding.setPoolLimit(integerArg('setPoolLimit', 'bytes', bytes, 0, Number.MAX_SAFE_INTEGER))
}

/** Returns every cached block of the result pool to the OS. */
export function trimPool (): void {
  binding.trimPool()
}
