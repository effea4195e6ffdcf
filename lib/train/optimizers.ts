// The optimizers `foveal train --optimizer <name>` builds: fv.optim's, at the settings the
// CLI offers (only the learning rate; SGD with momentum 0.9).
import { Adam, AdamW, SGD } from '../optim'
import { type OptimizerFactory, type OptimizerSpec, type ParameterLike, type TrainOptimizer } from './types'

export const OPTIMIZER_NAMES = ['adam', 'adamw', 'sgd'] as const
export type OptimizerName = typeof OPTIMIZER_NAMES[number]

/** A factory for fv.optim's Adam / AdamW / SGD (SGD with momentum 0.9). */
export function optimizerFactory (name: OptimizerName): OptimizerFactory {
  return (params: ParameterLike[], spec: OptimizerSpec): TrainOptimizer => {
    // fv.nn Parameters are what the loop hands over; the seam's type is looser than fv.optim's.
    const p = params as ConstructorParameters<typeof Adam>[0]
    switch (name) {
      case 'adam': return new Adam(p, { lr: spec.lr })
      case 'adamw': return new AdamW(p, { lr: spec.lr })
      case 'sgd': return new SGD(p, { lr: spec.lr, momentum: 0.9 })
    }
  }
}
