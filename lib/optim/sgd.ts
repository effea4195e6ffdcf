// SGD with momentum, dampening, Nesterov momentum, weight decay and maximize: PyTorch's
// torch.optim.SGD (single-tensor update), one fused native pass per parameter.
import { type SgdStepOptions, sgdStep, sgdStepAsync } from '../ops/optim'
import { type Tensor } from '../tensor'
import { booleanArg, describe, rangeError, tensorArg, typeError } from '../validate'
import { nonNegativeArg } from '../ops/args'
import {
  Optimizer, type OptimizerSpec, type ParameterLike, type ParamsArg, copyTensor, loadTensor, zeros
} from './optimizer'
import { settleAll } from './settle'

/** The step's options without initBuffer, which the optimizer sets from each buffer's state. */
export type SGDOptions = Omit<SgdStepOptions, 'initBuffer'>

export type SGDHyper = Required<SGDOptions>

/** Per parameter: the momentum buffer, null until a step with momentum ≠ 0. */
export interface SGDState { momentumBuffer: Tensor | null }

const KEYS = ['lr', 'momentum', 'dampening', 'nesterov', 'weightDecay', 'maximize'] as const
const DEFAULTS: SGDHyper = { lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false }

function spec (name: string): OptimizerSpec<SGDHyper, SGDState> {
  return {
    keys: KEYS,
    hyper (o, base, where) {
      const lr = nonNegativeArg(name, `${where}lr`, o.lr, base.lr)
      const momentum = nonNegativeArg(name, `${where}momentum`, o.momentum, base.momentum)
      const d = o.dampening ?? base.dampening
      if (typeof d !== 'number') typeError(name, `${where}dampening`, 'a number', describe(d))
      if (!Number.isFinite(d)) rangeError(name, `${where}dampening`, 'a finite number', describe(d))
      const nesterov = booleanArg(name, `${where}nesterov`, o.nesterov, base.nesterov)
      if (nesterov && (momentum <= 0 || d !== 0)) {
        rangeError(name, `${where}nesterov`, 'used with momentum > 0 and dampening = 0', `momentum=${momentum}, dampening=${d}`)
      }
      return {
        lr, momentum, dampening: d, nesterov,
        weightDecay: nonNegativeArg(name, `${where}weightDecay`, o.weightDecay, base.weightDecay),
        maximize: booleanArg(name, `${where}maximize`, o.maximize, base.maximize)
      }
    },
    save: (s) => ({ momentumBuffer: s.momentumBuffer === null ? null : copyTensor(s.momentumBuffer) }),
    load (entry, shape, where) {
      const b = entry.momentumBuffer
      return { momentumBuffer: b === null || b === undefined ? null : loadTensor(`${name}.loadStateDict`, `${where}.momentumBuffer`, b, shape) }
    }
  }
}

/**
 * Stochastic gradient descent, as torch.optim.SGD:
 * `new fv.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true })`.
 * The momentum buffer starts as the first step's gradient, as in PyTorch.
 */
export class SGD extends Optimizer<SGDHyper, SGDState> {
  constructor (params: ParamsArg<SGDHyper>, options: SGDOptions = {}) {
    super('SGD', params, DEFAULTS, options, spec('SGD'))
  }

  step (): void {
    for (const [g, p, grad] of this.active()) {
      const { s, buf, init } = this.prepare(g.momentum, p)
      sgdStep(p.value, grad, buf, {
        lr: g.lr, momentum: g.momentum, dampening: g.dampening, nesterov: g.nesterov,
        weightDecay: g.weightDecay, maximize: g.maximize, initBuffer: init
      })
      s.momentumBuffer = buf ?? s.momentumBuffer
    }
  }

  async stepAsync (): Promise<void> {
    const pending: Array<Promise<void>> = []
    for (const [g, p, grad] of this.active()) {
      const { s, buf, init } = this.prepare(g.momentum, p)
      pending.push(sgdStepAsync(p.value, grad, buf, {
        lr: g.lr, momentum: g.momentum, dampening: g.dampening, nesterov: g.nesterov,
        weightDecay: g.weightDecay, maximize: g.maximize, initBuffer: init
      }).then(() => { s.momentumBuffer = buf ?? s.momentumBuffer }))
    }
    await settleAll(pending)
  }

  // The buffer a step with this momentum uses: none without momentum; a new one
  // (allocated once, kept in the state only once the step succeeds) on first use.
  private prepare (momentum: number, p: ParameterLike) {
    let s = this.state.get(p)
    if (s === undefined) {
      s = { momentumBuffer: null }
      this.state.set(p, s)
    }
    if (momentum === 0) return { s, buf: null, init: false }
    if (s.momentumBuffer !== null) return { s, buf: s.momentumBuffer, init: false }
    return { s, buf: zeros(tensorArg(this.name, 'parameter value', p.value).shape), init: true }
  }
}
