// The models `foveal train --model <name>` builds (lib/train/architectures.ts), and a
// registry where code of one's own plugs in more (createModel builds either).
import { buildModel } from './architectures'
import { type ModelFactory, type ModelSpec, type TrainModel } from './types'

export const MODEL_NAMES = ['cnn', 'gate', 'se', 'cbam', 'nonlocal', 'mha', 'pool'] as const
export type ModelName = typeof MODEL_NAMES[number]

/** What each model is (for --help). */
export const MODEL_INFO: Record<ModelName, { about: string }> = {
  cnn: { about: 'plain CNN: convs, ReLU, pooling, linear' },
  gate: { about: 'CNN with a sigmoid spatial gate between the conv stages' },
  se: { about: 'CNN with squeeze-and-excitation (channel attention)' },
  cbam: { about: 'CNN with CBAM (channel then spatial attention)' },
  nonlocal: { about: 'CNN with a non-local block (self-attention across pixels)' },
  mha: { about: 'CNN with multi-head self-attention over the feature map positions' },
  pool: { about: 'CNN with additive attention pooling instead of global pooling' }
}

const registry = new Map<string, ModelFactory>()

/** Makes `name` buildable by createModel (and so loadable by `foveal predict` from a checkpoint naming it). */
export function registerModel (name: string, factory: ModelFactory): void {
  registry.set(name, factory)
}

export function isModelName (name: string): name is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(name)
}

/** Builds a registered model; an unknown name is a RangeError listing the built-in ones. */
export function createModel (name: string, spec: ModelSpec): TrainModel {
  const factory = registry.get(name)
  if (factory === undefined) throw new RangeError(`model must be one of ${MODEL_NAMES.join(', ')}, got '${name}'`)
  return factory(spec)
}

for (const name of MODEL_NAMES) registerModel(name, (spec) => buildModel(name, spec))
