// The models `foveal train --model <name>` builds. The architectures plug in here with
// registerModel once the fv.nn modules they are built from exist; until then
// createModel says which modules this build lacks.
import * as nn from '../nn'
import { buildModel } from './architectures'
import { type ModelFactory, type ModelSpec, type TrainModel } from './types'

export const MODEL_NAMES = ['cnn', 'gate', 'se', 'cbam', 'nonlocal', 'mha', 'pool'] as const
export type ModelName = typeof MODEL_NAMES[number]

/** What each model is, and the fv.nn classes it is built from. */
export const MODEL_INFO: Record<ModelName, { about: string, needs: readonly string[] }> = {
  cnn: { about: 'plain CNN: convs, ReLU, pooling, linear', needs: ['Conv2d', 'Linear'] },
  gate: { about: 'CNN with a sigmoid spatial gate between the conv stages', needs: ['Conv2d', 'Linear', 'SpatialGate'] },
  se: { about: 'CNN with squeeze-and-excitation (channel attention)', needs: ['Conv2d', 'Linear', 'SqueezeExcitation'] },
  cbam: { about: 'CNN with CBAM (channel then spatial attention)', needs: ['Conv2d', 'Linear', 'CBAM'] },
  nonlocal: { about: 'CNN with a non-local block (self-attention across pixels)', needs: ['Conv2d', 'Linear', 'NonLocal2d'] },
  mha: { about: 'CNN with multi-head self-attention over the feature map positions', needs: ['Conv2d', 'Linear', 'MultiheadAttention'] },
  pool: { about: 'CNN with additive attention pooling instead of global pooling', needs: ['Conv2d', 'Linear', 'AttentionPool'] }
}

const registry = new Map<string, ModelFactory>()

/** Makes `name` buildable by createModel (and so by `foveal train --model name`). */
export function registerModel (name: string, factory: ModelFactory): void {
  registry.set(name, factory)
}

export function isModelName (name: string): name is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(name)
}

/** Thrown when a model cannot be built by this build of foveal; the message says why. */
export class ModelUnavailableError extends Error {
  override name = 'ModelUnavailableError'
}

/**
 * Builds a registered model. A known name without a factory gets a ModelUnavailableError
 * naming the fv.nn modules this build lacks (or, when they all exist, that the
 * architecture is not defined yet); an unknown name gets a RangeError listing the names.
 */
export function createModel (name: string, spec: ModelSpec): TrainModel {
  const factory = registry.get(name)
  if (factory !== undefined) return factory(spec)
  if (!isModelName(name)) {
    throw new RangeError(`model must be one of ${MODEL_NAMES.join(', ')}, got '${name}'`)
  }
  throw new ModelUnavailableError(unavailableReason(name))
}

/** Why a known model cannot be built yet, or null when it can. */
export function modelAvailability (name: ModelName): string | null {
  return registry.has(name) ? null : unavailableReason(name)
}

function unavailableReason (name: ModelName): string {
  const have = nn as unknown as Record<string, unknown>
  const missing = MODEL_INFO[name].needs.filter((m) => typeof have[m] !== 'function')
  if (missing.length > 0) {
    return `model '${name}' is not available yet: it is built from ${MODEL_INFO[name].needs.map((m) => 'fv.nn.' + m).join(', ')}, ` +
      `and this build of foveal has no ${missing.map((m) => 'fv.nn.' + m).join(', ')} (the modules are being written)`
  }
  return `model '${name}' is not available yet: its architecture is not defined (lib/train/models.ts registers it)`
}

// The architectures (lib/train/architectures.ts).
for (const name of MODEL_NAMES) registerModel(name, (spec) => buildModel(name, spec))
