// The optimizer `foveal train` uses, found at run time: fv.optim is written beside this
// code, and the CLI must build and run (and say what is missing) without it.
import { type OptimizerFactory, type OptimizerSpec, type ParameterLike, type TrainOptimizer } from './types'

export const OPTIMIZER_NAMES = ['adam', 'adamw', 'sgd'] as const
export type OptimizerName = typeof OPTIMIZER_NAMES[number]
const CLASS: Record<OptimizerName, string> = { adam: 'Adam', adamw: 'AdamW', sgd: 'SGD' }

/** A sibling module of this build (fv.optim, fv.io…), or null when this build has none. */
export function optionalModule (name: 'optim' | 'io'): Record<string, unknown> | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional, resolved at run time
    return require(`../${name}`) as Record<string, unknown>
  } catch (err) {
    if ((err as { code?: string }).code === 'MODULE_NOT_FOUND') return null
    throw err
  }
}

/** Why `name` cannot be used in this build, or null when it can. */
export function optimizerAvailability (name: OptimizerName): string | null {
  const optim = optionalModule('optim')
  if (optim === null || typeof optim[CLASS[name]] !== 'function') {
    return `optimizer fv.optim.${CLASS[name]} is not available yet in this build of foveal`
  }
  return null
}

/** A factory for fv.optim's Adam / AdamW / SGD (SGD with momentum 0.9). */
export function optimizerFactory (name: OptimizerName): OptimizerFactory {
  return (params: ParameterLike[], spec: OptimizerSpec): TrainOptimizer => {
    const why = optimizerAvailability(name)
    if (why !== null) throw new Error(why)
    const Ctor = (optionalModule('optim') as Record<string, new (p: ParameterLike[], o: object) => TrainOptimizer>)[CLASS[name]]
    return new Ctor(params, name === 'sgd' ? { lr: spec.lr, momentum: 0.9 } : { lr: spec.lr })
  }
}
