// Learning-rate schedulers: torch.optim.lr_scheduler's StepLR, CosineAnnealingLR and
// OneCycleLR, with PyTorch's formulas evaluated in the same order (recursive where
// PyTorch's get_lr is: StepLR and CosineAnnealingLR scale the group's current lr), so the
// rates match PyTorch's step for step. Call scheduler.step() after optimizer.step().
import { booleanArg, describe, integerArg, optionsArg, rangeError, typeError } from '../validate'
import { Optimizer, type ParamGroup } from './optimizer'

/** Any optimizer (SGD, Adam, AdamW): a scheduler reads and writes only lr and momentum of its groups. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- its group and state types vary with the optimizer
type AnyOptimizer = Optimizer<any, any>

type AnyGroup = ParamGroup<Record<string, unknown>> & { lr: number }

/** A scheduler's snapshot: its counters and settings (plain numbers, strings and arrays). */
export type SchedulerStateDict = Record<string, unknown>

export abstract class LRScheduler {
  /** The number of step() calls so far, minus one (the constructor's own step makes it 0). */
  lastEpoch = -1
  /** Each group's initialLr when the scheduler started. */
  baseLrs: number[] = []
  protected stepCount = 0
  protected lastLr: number[] = []

  protected constructor (readonly name: string, readonly optimizer: AnyOptimizer) {
    if (!(optimizer instanceof Optimizer)) {
      typeError(name, 'optimizer', 'an optimizer (fv.optim.SGD, Adam, AdamW)', describe(optimizer))
    }
  }

  protected get groups (): AnyGroup[] {
    return this.optimizer.paramGroups as AnyGroup[]
  }

  /**
   * PyTorch's _LRScheduler.__init__ tail, called by each subclass once its settings are in
   * place: each group's initialLr (set to its lr unless resuming), and the first step.
   */
  protected start (lastEpoch: number): void {
    if (lastEpoch === -1) {
      for (const g of this.groups) if (g.initialLr === undefined) g.initialLr = g.lr
    } else {
      this.groups.forEach((g, i) => {
        if (g.initialLr === undefined) rangeError(this.name, `optimizer.paramGroups[${i}].initialLr`, 'set when resuming (lastEpoch ≥ 0)', 'undefined')
      })
    }
    this.baseLrs = this.groups.map((g) => g.initialLr!)
    this.lastEpoch = lastEpoch
    this.stepCount = 0
    this.step()
  }

  /** The learning rates for the epoch this.lastEpoch (PyTorch's get_lr). */
  protected abstract computeLr (): number[]

  /** Advances one epoch (or batch, for OneCycleLR) and sets each group's lr. */
  step (): void {
    this.stepCount += 1
    this.lastEpoch += 1
    const lrs = this.computeLr()
    this.groups.forEach((g, i) => { g.lr = lrs[i]! })
    this.lastLr = this.groups.map((g) => g.lr)
  }

  /** The learning rate of each group as the last step() set it. */
  getLastLr (): number[] {
    return this.lastLr.slice()
  }

  /** The settings a subclass adds to its state dict. */
  protected abstract settings (): SchedulerStateDict

  stateDict (): SchedulerStateDict {
    return {
      lastEpoch: this.lastEpoch, stepCount: this.stepCount, baseLrs: this.baseLrs.slice(),
      lastLr: this.lastLr.slice(), ...structuredClone(this.settings())
    }
  }

  /** Restores a stateDict() of a scheduler of the same kind (the optimizer's lrs come from its own loadStateDict). */
  loadStateDict (sd: SchedulerStateDict): void {
    const op = `${this.name}.loadStateDict`
    if (sd === null || typeof sd !== 'object') typeError(op, 'stateDict', 'an object', describe(sd))
    const lastEpoch = integerArg(op, 'stateDict.lastEpoch', sd.lastEpoch, -1, Number.MAX_SAFE_INTEGER)
    const stepCount = integerArg(op, 'stateDict.stepCount', sd.stepCount, 0, Number.MAX_SAFE_INTEGER)
    const baseLrs = numbers(op, 'stateDict.baseLrs', sd.baseLrs, this.groups.length)
    const lastLr = numbers(op, 'stateDict.lastLr', sd.lastLr, this.groups.length)
    this.loadSettings(sd, op)
    Object.assign(this, { lastEpoch, stepCount, baseLrs, lastLr })
  }

  protected abstract loadSettings (sd: SchedulerStateDict, op: string): void
}

function numbers (op: string, name: string, v: unknown, n: number): number[] {
  if (!Array.isArray(v) || v.length !== n || v.some((x) => typeof x !== 'number')) {
    typeError(op, name, `an array of ${n} numbers (one per parameter group)`, describe(v))
  }
  return v.slice()
}

function finite (op: string, name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback
  if (typeof v !== 'number') typeError(op, name, 'a number', describe(v))
  if (!Number.isFinite(v)) rangeError(op, name, 'a finite number', describe(v))
  return v
}

function positive (op: string, name: string, v: unknown, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback
  if (typeof v !== 'number') typeError(op, name, 'a positive number', describe(v))
  if (!(v > 0 && v < Infinity)) rangeError(op, name, 'a positive number', describe(v))
  return v
}

const lastEpochArg = (op: string, v: unknown): number =>
  v === undefined ? -1 : integerArg(op, 'lastEpoch', v, -1, Number.MAX_SAFE_INTEGER)

export interface StepLROptions {
  /** The factor applied every stepSize epochs (default 0.1). */
  gamma?: number
  /** Resume from this epoch (default −1: start; the groups must then hold initialLr). */
  lastEpoch?: number
}

/** Multiplies each group's lr by gamma every stepSize epochs (torch.optim.lr_scheduler.StepLR). */
export class StepLR extends LRScheduler {
  stepSize: number
  gamma: number

  constructor (optimizer: AnyOptimizer, stepSize: number, opts: StepLROptions = {}) {
    super('StepLR', optimizer)
    const o = optionsArg('StepLR', opts, ['gamma', 'lastEpoch'])
    this.stepSize = integerArg('StepLR', 'stepSize', stepSize, 1, Number.MAX_SAFE_INTEGER)
    this.gamma = finite('StepLR', 'gamma', o.gamma, 0.1)
    this.start(lastEpochArg('StepLR', o.lastEpoch))
  }

  protected computeLr (): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.groups.map((g) => g.lr)
    return this.groups.map((g) => g.lr * this.gamma)
  }

  protected settings (): SchedulerStateDict { return { stepSize: this.stepSize, gamma: this.gamma } }
  protected loadSettings (sd: SchedulerStateDict, op: string): void {
    this.stepSize = integerArg(op, 'stateDict.stepSize', sd.stepSize, 1, Number.MAX_SAFE_INTEGER)
    this.gamma = finite(op, 'stateDict.gamma', sd.gamma, NaN)
  }
}

export interface CosineAnnealingLROptions {
  /** The lowest learning rate (default 0). */
  etaMin?: number
  /** Resume from this epoch (default −1: start; the groups must then hold initialLr). */
  lastEpoch?: number
}

/**
 * Cosine annealing from each group's initial lr down to etaMin over tMax epochs, and back
 * up over the next tMax (torch.optim.lr_scheduler.CosineAnnealingLR; SGDR without restarts).
 */
export class CosineAnnealingLR extends LRScheduler {
  tMax: number
  etaMin: number

  constructor (optimizer: AnyOptimizer, tMax: number, opts: CosineAnnealingLROptions = {}) {
    super('CosineAnnealingLR', optimizer)
    const o = optionsArg('CosineAnnealingLR', opts, ['etaMin', 'lastEpoch'])
    this.tMax = positive('CosineAnnealingLR', 'tMax', tMax)
    this.etaMin = finite('CosineAnnealingLR', 'etaMin', o.etaMin, 0)
    this.start(lastEpochArg('CosineAnnealingLR', o.lastEpoch))
  }

  // PyTorch's recursive (chainable) form, term for term.
  protected computeLr (): number[] {
    const { lastEpoch: e, tMax: T, etaMin: eta } = this
    if (e === 0) return this.groups.map((g) => g.lr)
    if (this.stepCount === 1 && e > 0) {
      return this.baseLrs.map((b) => eta + (b - eta) * (1 + Math.cos(e * Math.PI / T)) / 2)
    }
    if ((e - 1 - T) % (2 * T) === 0) {
      return this.groups.map((g, i) => g.lr + (this.baseLrs[i]! - eta) * (1 - Math.cos(Math.PI / T)) / 2)
    }
    return this.groups.map((g) =>
      (1 + Math.cos(Math.PI * e / T)) / (1 + Math.cos(Math.PI * (e - 1) / T)) * (g.lr - eta) + eta)
  }

  protected settings (): SchedulerStateDict { return { tMax: this.tMax, etaMin: this.etaMin } }
  protected loadSettings (sd: SchedulerStateDict, op: string): void {
    this.tMax = positive(op, 'stateDict.tMax', sd.tMax)
    this.etaMin = finite(op, 'stateDict.etaMin', sd.etaMin, NaN)
  }
}

export interface OneCycleLROptions {
  /** The number of steps in the cycle; or give epochs and stepsPerEpoch. */
  totalSteps?: number
  epochs?: number
  stepsPerEpoch?: number
  /** The share of the cycle spent raising the lr (default 0.3). */
  pctStart?: number
  /** 'cos' (default) or 'linear'. */
  annealStrategy?: 'cos' | 'linear'
  /** Cycle momentum (SGD's momentum, Adam's beta1) inversely to the lr (default true). */
  cycleMomentum?: boolean
  /** The momentum at the lr's peak (default 0.85), one number or one per group. */
  baseMomentum?: number | readonly number[]
  /** The momentum at the cycle's ends (default 0.95), one number or one per group. */
  maxMomentum?: number | readonly number[]
  /** initialLr = maxLr / divFactor (default 25). */
  divFactor?: number
  /** minLr = initialLr / finalDivFactor (default 1e4). */
  finalDivFactor?: number
  /** Three phases (up, down to initialLr, then down to minLr) instead of two (default false). */
  threePhase?: boolean
  /** Resume from this step (default −1: start; the groups must then hold initialLr, maxLr, ...). */
  lastEpoch?: number
}

interface Phase {
  endStep: number
  startLr: 'initialLr' | 'maxLr' | 'minLr'
  endLr: 'initialLr' | 'maxLr' | 'minLr'
  startMomentum: 'maxMomentum' | 'baseMomentum'
  endMomentum: 'maxMomentum' | 'baseMomentum'
}

/**
 * The 1cycle policy (torch.optim.lr_scheduler.OneCycleLR): the lr rises from maxLr/divFactor
 * to maxLr over pctStart of totalSteps, then anneals to initialLr/finalDivFactor; momentum
 * moves the other way. Step it after every batch; stepping past totalSteps is a RangeError.
 */
export class OneCycleLR extends LRScheduler {
  totalSteps: number
  annealStrategy: 'cos' | 'linear'
  cycleMomentum: boolean
  useBeta1: boolean
  phases: Phase[]

  constructor (optimizer: AnyOptimizer, maxLr: number | readonly number[], opts: OneCycleLROptions = {}) {
    const op = 'OneCycleLR'
    super(op, optimizer)
    const o = optionsArg(op, opts, ['totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'annealStrategy',
      'cycleMomentum', 'baseMomentum', 'maxMomentum', 'divFactor', 'finalDivFactor', 'threePhase', 'lastEpoch'])
    const big = Number.MAX_SAFE_INTEGER
    if (o.totalSteps !== undefined) {
      this.totalSteps = integerArg(op, 'totalSteps', o.totalSteps, 1, big)
    } else if (o.epochs !== undefined || o.stepsPerEpoch !== undefined) {
      this.totalSteps = integerArg(op, 'epochs', o.epochs, 1, big) * integerArg(op, 'stepsPerEpoch', o.stepsPerEpoch, 1, big)
    } else {
      typeError(op, 'options', 'an object with totalSteps, or epochs and stepsPerEpoch', describe(opts))
    }
    const pct = o.pctStart === undefined ? 0.3 : finite(op, 'pctStart', o.pctStart, 0.3)
    if (!(pct >= 0 && pct <= 1)) rangeError(op, 'pctStart', 'a number from 0 to 1', describe(pct))
    const strategy = o.annealStrategy ?? 'cos'
    if (strategy !== 'cos' && strategy !== 'linear') {
      (typeof strategy === 'string' ? rangeError : typeError)(op, 'annealStrategy', "'cos' or 'linear'", describe(strategy))
    }
    this.annealStrategy = strategy as 'cos' | 'linear'
    const threePhase = booleanArg(op, 'threePhase', o.threePhase, false)
    const T = this.totalSteps
    this.phases = threePhase
      ? [
          { endStep: pct * T - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: 2 * pct * T - 2, startLr: 'maxLr', endLr: 'initialLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
          { endStep: T - 1, startLr: 'initialLr', endLr: 'minLr', startMomentum: 'maxMomentum', endMomentum: 'maxMomentum' }
        ]
      : [
          { endStep: pct * T - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: T - 1, startLr: 'maxLr', endLr: 'minLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' }
        ]
    const divFactor = positive(op, 'divFactor', o.divFactor, 25)
    const finalDivFactor = positive(op, 'finalDivFactor', o.finalDivFactor, 1e4)
    const lastEpoch = lastEpochArg(op, o.lastEpoch)
    const maxLrs = this.perGroup('maxLr', maxLr)
    if (lastEpoch === -1) {
      this.groups.forEach((g, i) => {
        g.initialLr = maxLrs[i]! / divFactor
        g.maxLr = maxLrs[i]!
        g.minLr = g.initialLr / finalDivFactor
      })
    }
    this.cycleMomentum = booleanArg(op, 'cycleMomentum', o.cycleMomentum, true)
    this.useBeta1 = 'betas' in optimizer.defaults
    if (this.cycleMomentum) {
      if (!this.useBeta1 && !('momentum' in optimizer.defaults)) {
        rangeError(op, 'optimizer', 'an optimizer with momentum or betas when cycleMomentum is true', optimizer.name)
      }
      const maxM = this.perGroup('maxMomentum', o.maxMomentum ?? 0.95)
      const baseM = this.perGroup('baseMomentum', o.baseMomentum ?? 0.85)
      if (lastEpoch === -1) {
        this.groups.forEach((g, i) => {
          this.setMomentum(g, maxM[i]!)
          g.maxMomentum = maxM[i]!
          g.baseMomentum = baseM[i]!
        })
      }
    }
    this.start(lastEpoch)
  }

  private perGroup (name: string, v: unknown): number[] {
    const n = this.groups.length
    if (Array.isArray(v)) {
      if (v.length !== n) rangeError(this.name, name, `${n} numbers (one per parameter group)`, describe(v))
      return v.map((x, i) => finite(this.name, `${name}[${i}]`, x, NaN))
    }
    if (typeof v !== 'number') typeError(this.name, name, 'a number or an array of numbers (one per group)', describe(v))
    return new Array<number>(n).fill(finite(this.name, name, v, NaN))
  }

  private setMomentum (g: AnyGroup, m: number): void {
    if (this.useBeta1) {
      const betas = g.betas as [number, number]
      g.betas = [m, betas[1]]
    } else {
      g.momentum = m
    }
  }

  private anneal (start: number, end: number, pct: number): number {
    if (this.annealStrategy === 'cos') {
      const cosOut = Math.cos(Math.PI * pct) + 1
      return end + (start - end) / 2.0 * cosOut
    }
    return (end - start) * pct + start
  }

  protected computeLr (): number[] {
    const stepNum = this.lastEpoch
    if (stepNum > this.totalSteps) {
      rangeError(this.name, 'step', `called at most totalSteps=${this.totalSteps} times`, `step ${stepNum + 1}`)
    }
    return this.groups.map((g) => {
      let startStep = 0
      for (let i = 0; i < this.phases.length; i++) {
        const phase = this.phases[i]!
        const endStep = phase.endStep
        if (stepNum <= endStep || i === this.phases.length - 1) {
          const pct = (stepNum - startStep) / (endStep - startStep)
          const lr = this.anneal(g[phase.startLr]!, g[phase.endLr]!, pct)
          if (this.cycleMomentum) this.setMomentum(g, this.anneal(g[phase.startMomentum]!, g[phase.endMomentum]!, pct))
          return lr
        }
        startStep = phase.endStep
      }
      return g.lr  // unreachable: the last phase always matches
    })
  }

  protected settings (): SchedulerStateDict {
    return {
      totalSteps: this.totalSteps, annealStrategy: this.annealStrategy, cycleMomentum: this.cycleMomentum,
      useBeta1: this.useBeta1, phases: this.phases
    }
  }

  protected loadSettings (sd: SchedulerStateDict, op: string): void {
    this.totalSteps = integerArg(op, 'stateDict.totalSteps', sd.totalSteps, 1, Number.MAX_SAFE_INTEGER)
    if (sd.annealStrategy !== 'cos' && sd.annealStrategy !== 'linear') {
      rangeError(op, 'stateDict.annealStrategy', "'cos' or 'linear'", describe(sd.annealStrategy))
    }
    this.annealStrategy = sd.annealStrategy
    this.cycleMomentum = booleanArg(op, 'stateDict.cycleMomentum', sd.cycleMomentum, this.cycleMomentum)
    this.useBeta1 = booleanArg(op, 'stateDict.useBeta1', sd.useBeta1, this.useBeta1)
    if (!Array.isArray(sd.phases) || (sd.phases.length !== 2 && sd.phases.length !== 3)) {
      typeError(op, 'stateDict.phases', 'an array of 2 or 3 phases', describe(sd.phases))
    }
    this.phases = (sd.phases as Phase[]).map((p, i) => {
      if (p === null || typeof p !== 'object' || typeof p.endStep !== 'number') {
        typeError(op, `stateDict.phases[${i}]`, 'a phase { endStep, startLr, endLr, startMomentum, endMomentum }', describe(p))
      }
      const lrKeys = ['initialLr', 'maxLr', 'minLr']; const mKeys = ['maxMomentum', 'baseMomentum']
      if (!lrKeys.includes(p.startLr) || !lrKeys.includes(p.endLr) || !mKeys.includes(p.startMomentum) || !mKeys.includes(p.endMomentum)) {
        rangeError(op, `stateDict.phases[${i}]`, 'a phase naming initialLr / maxLr / minLr and maxMomentum / baseMomentum', describe(p))
      }
      return { ...p }
    })
  }
}
