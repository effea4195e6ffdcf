// Adam and AdamW (with amsgrad and maximize): PyTorch's torch.optim.Adam / AdamW
// (single-tensor updates), one fused native pass per parameter over its value, grad and
// the moment buffers, which are allocated once and updated in place.
import { adamStep, adamStepAsync } from '../ops/optim'
import { type Tensor } from '../tensor'
import { booleanArg, describe, integerArg, tensorArg, typeError } from '../validate'
import { nonNegativeArg, unitArg } from '../ops/args'
import {
  Optimizer, type OptimizerSpec, type ParamGroup, type ParameterLike, type ParamsArg, copyTensor, loadTensor, zeros
} from './optimizer'
import { settleAll } from './settle'

export interface AdamOptions {
  /** Learning rate, ≥ 0 (default 1e-3). */
  lr?: number
  /** Decay rates of the first and second moments, each in [0, 1) (default [0.9, 0.999]). */
  betas?: readonly [number, number]
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps?: number
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay rate (default 1e-2). */
  weightDecay?: number
  /** The AMSGrad variant: normalise by the running maximum of the second moment (default false). */
  amsgrad?: boolean
  /** Ascend the objective instead of descending it (default false). */
  maximize?: boolean
}

export interface AdamHyper {
  lr: number
  betas: [number, number]
  eps: number
  weightDecay: number
  amsgrad: boolean
  maximize: boolean
}

/** Per parameter: the step count and the moment buffers (maxExpAvgSq with amsgrad). */
export interface AdamState {
  step: number
  expAvg: Tensor
  expAvgSq: Tensor
  maxExpAvgSq: Tensor | null
}

const KEYS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize'] as const

function spec (name: string): OptimizerSpec<AdamHyper, AdamState> {
  const op = `${name}.loadStateDict`
  return {
    keys: KEYS,
    hyper (o, base, where) {
      let betas = base.betas
      if (o.betas !== undefined) {
        const b = o.betas
        if (!Array.isArray(b) || b.length !== 2 || typeof b[0] !== 'number' || typeof b[1] !== 'number') {
          typeError(name, `${where}betas`, 'an array [beta1, beta2] of two numbers', describe(b))
        }
        betas = [unitArg(name, `${where}betas[0]`, b[0], 0), unitArg(name, `${where}betas[1]`, b[1], 0)]
      }
      return {
        lr: nonNegativeArg(name, `${where}lr`, o.lr, base.lr),
        betas: [betas[0], betas[1]],
        eps: nonNegativeArg(name, `${where}eps`, o.eps, base.eps),
        weightDecay: nonNegativeArg(name, `${where}weightDecay`, o.weightDecay, base.weightDecay),
        amsgrad: booleanArg(name, `${where}amsgrad`, o.amsgrad, base.amsgrad),
        maximize: booleanArg(name, `${where}maximize`, o.maximize, base.maximize)
      }
    },
    save: (s) => ({
      step: s.step,
      expAvg: copyTensor(s.expAvg),
      expAvgSq: copyTensor(s.expAvgSq),
      ...(s.maxExpAvgSq !== null ? { maxExpAvgSq: copyTensor(s.maxExpAvgSq) } : {})
    }),
    load (entry, shape, where) {
      const v = entry.maxExpAvgSq
      return {
        step: integerArg(op, `${where}.step`, entry.step, 0, Number.MAX_SAFE_INTEGER),
        expAvg: loadTensor(op, `${where}.expAvg`, entry.expAvg, shape),
        expAvgSq: loadTensor(op, `${where}.expAvgSq`, entry.expAvgSq, shape),
        maxExpAvgSq: v === null || v === undefined ? null : loadTensor(op, `${where}.maxExpAvgSq`, v, shape)
      }
    }
  }
}

class AdamBase extends Optimizer<AdamHyper, AdamState> {
  protected constructor (name: string, params: ParamsArg<AdamHyper>, options: AdamOptions,
    private readonly decoupled: boolean) {
    const defaults: AdamHyper = {
      lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: decoupled ? 1e-2 : 0, amsgrad: false, maximize: false
    }
    super(name, params, defaults, options, spec(name))
  }

  step (): void {
    for (const [g, p, grad] of this.active()) {
      const s = this.prepare(g, p)
      adamStep(p.value, grad, s.expAvg, s.expAvgSq, g.amsgrad ? s.maxExpAvgSq : null, this.stepOptions(g, s))
      s.step += 1
    }
  }

  async stepAsync (): Promise<void> {
    const pending: Array<Promise<void>> = []
    for (const [g, p, grad] of this.active()) {
      const s = this.prepare(g, p)
      pending.push(adamStepAsync(p.value, grad, s.expAvg, s.expAvgSq, g.amsgrad ? s.maxExpAvgSq : null, this.stepOptions(g, s))
        .then(() => { s.step += 1 }))
    }
    await settleAll(pending)
  }

  private stepOptions (g: ParamGroup<AdamHyper>, s: AdamState) {
    return {
      lr: g.lr, beta1: g.betas[0], beta2: g.betas[1], eps: g.eps, weightDecay: g.weightDecay,
      step: s.step + 1, amsgrad: g.amsgrad, decoupled: this.decoupled, maximize: g.maximize
    }
  }

  // The state, created (zeros) on the parameter's first step; maxExpAvgSq once amsgrad is on.
  private prepare (g: ParamGroup<AdamHyper>, p: ParameterLike): AdamState {
    let s = this.state.get(p)
    if (s === undefined) {
      const shape = tensorArg(this.name, 'parameter value', p.value).shape
      s = { step: 0, expAvg: zeros(shape), expAvgSq: zeros(shape), maxExpAvgSq: g.amsgrad ? zeros(shape) : null }
      this.state.set(p, s)
    } else if (g.amsgrad && s.maxExpAvgSq === null) {
      s.maxExpAvgSq = zeros(s.expAvg.shape)
    }
    return s
  }
}

/**
 * Adam, as torch.optim.Adam: `new fv.optim.Adam(model.parameters(), { lr: 1e-3 })`.
 * weightDecay is an L2 penalty added to the gradient.
 */
export class Adam extends AdamBase {
  constructor (params: ParamsArg<AdamHyper>, options: AdamOptions = {}) {
    super('Adam', params, options, false)
  }
}

/**
 * AdamW, as torch.optim.AdamW: Adam with decoupled weight decay (the parameter is scaled by
 * 1 − lr·weightDecay before the update; default weightDecay 1e-2).
 */
export class AdamW extends AdamBase {
  constructor (params: ParamsArg<AdamHyper>, options: AdamOptions = {}) {
    super('AdamW', params, options, true)
  }
}
