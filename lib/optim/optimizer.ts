// The optimizers' common half: parameter groups (PyTorch's param_groups), per-parameter
// state allocated once and updated in place by fv.ops' fused updates, zeroGrad, and
// stateDict / loadStateDict. Built on fv.ops only.
import { Tensor, type TensorLike } from '../tensor'
import { describe, fmtShape, optionsArg, rangeError, sameShape, shapeSize, tensorArg, typeError } from '../validate'

/**
 * What an optimizer updates: fv.nn.Parameter, or any object with a `value` tensor and a
 * `grad` tensor of the same shape (null until a backward pass fills it). Parameters whose
 * grad is null or whose requiresGrad is false are skipped by step().
 */
export interface ParameterLike {
  value: TensorLike
  grad: TensorLike | null
  requiresGrad?: boolean
  name?: string
}

/** Keys the LR schedulers add to a group (PyTorch's initial_lr, max_lr, ...). */
export interface SchedulerGroupKeys {
  initialLr?: number
  maxLr?: number
  minLr?: number
  maxMomentum?: number
  baseMomentum?: number
}
const SCHEDULER_KEYS = ['initialLr', 'maxLr', 'minLr', 'maxMomentum', 'baseMomentum'] as const

/** A live parameter group: its parameters and hyperparameters (schedulers change `lr` here). */
export type ParamGroup<H> = H & SchedulerGroupKeys & { params: ParameterLike[] }

/** A group as given to a constructor or addParamGroup: params, and any hyperparameter to override. */
export type ParamGroupSpec<H> = Partial<H> & SchedulerGroupKeys & { params: Iterable<ParameterLike> }

/** Parameters, or parameter groups as in PyTorch: `[{ params: a, lr: 0.1 }, { params: b }]`. */
export type ParamsArg<H> = Iterable<ParameterLike> | Iterable<ParamGroupSpec<H>>

/** A snapshot of an optimizer (tensors copied): `state` keyed by parameter index across the groups, in order. */
export interface OptimizerStateDict {
  state: Record<number, Record<string, Tensor | number | null>>
  paramGroups: Array<Record<string, unknown> & { params: number[] }>
}

/** How a subclass reads, checks and writes its hyperparameters and per-parameter state. */
export interface OptimizerSpec<H, S> {
  /** The hyperparameter keys, in the order stateDict lists them. */
  keys: ReadonlyArray<keyof H & string>
  /** Reads options over `base` (checked; messages name `where` + the key). */
  hyper(o: Partial<Record<string, unknown>>, base: H, where: string): H
  /** The state entry of a parameter as plain values (tensors copied). */
  save(s: S): Record<string, Tensor | number | null>
  /** A state entry from a state dict, checked and copied, for a parameter of `shape`. */
  load(entry: Record<string, unknown>, shape: readonly number[], where: string): S
}

export abstract class Optimizer<H extends object = object, S = unknown> {
  /** The parameter groups; change a hyperparameter here (or through a scheduler) between steps. */
  readonly paramGroups: Array<ParamGroup<H>> = []
  /** The constructor's options over the defaults: what a new group gets for the keys it leaves out. */
  readonly defaults: Readonly<H>
  /** Per-parameter state, created on a parameter's first step. */
  protected readonly state = new Map<ParameterLike, S>()

  protected constructor (readonly name: string, params: ParamsArg<H>, defaults: H, options: unknown,
    protected readonly spec: OptimizerSpec<H, S>) {
    const o = optionsArg(name, options, spec.keys)
    this.defaults = Object.freeze(spec.hyper(o, defaults, ''))
    if (params === null || typeof params !== 'object' || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      typeError(name, 'params', 'an array of parameters or of parameter groups', describe(params))
    }
    const list = [...params as Iterable<unknown>]
    if (list.length === 0) rangeError(name, 'params', 'a non-empty list of parameters', 'an empty list')
    const isGroup = (v: unknown): boolean =>
      v !== null && typeof v === 'object' && 'params' in (v as object) && !('value' in (v as object))
    if (list.every(isGroup)) {
      for (const g of list) this.addParamGroup(g as ParamGroupSpec<H>)
    } else {
      this.addParamGroup({ params: list as ParameterLike[] } as unknown as ParamGroupSpec<H>)
    }
  }

  /** Adds a group of parameters, each hyperparameter it leaves out taken from `defaults`. */
  addParamGroup (group: ParamGroupSpec<H>): void {
    const where = `paramGroups[${this.paramGroups.length}]`
    const o = optionsArg(`${this.name} ${where}`, group, ['params', ...this.spec.keys, ...SCHEDULER_KEYS])
    const ps = o.params
    if (ps === null || typeof ps !== 'object' || typeof (ps as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      typeError(this.name, `${where}.params`, 'an array of parameters', describe(ps))
    }
    const params = [...ps as Iterable<unknown>]
    const seen = new Set<unknown>()
    for (const g of this.paramGroups) for (const p of g.params) seen.add(p)
    params.forEach((p, i) => {
      checkParameter(this.name, `${where}.params[${i}]`, p)
      if (seen.has(p)) rangeError(this.name, `${where}.params[${i}]`, 'a parameter in no other group (nor twice in one)', 'a repeat')
      seen.add(p)
    })
    const hyper = this.spec.hyper(o, this.defaults as H, `${where}.`)
    const live = { ...hyper, params: params as ParameterLike[] } as ParamGroup<H>
    for (const k of SCHEDULER_KEYS) if (o[k] !== undefined) (live as SchedulerGroupKeys)[k] = schedulerKey(this.name, where, k, o[k])
    this.paramGroups.push(live)
  }

  /** One update of every parameter whose grad is not null (and requiresGrad is not false). */
  abstract step (): void
  /** step() with every update computed off the event loop. */
  abstract stepAsync (): Promise<void>

  /** Zero every parameter's grad in place (its memory is kept), or set it to null with setToNone. */
  zeroGrad (opts: { setToNone?: boolean } = {}): void {
    const o = optionsArg(`${this.name}.zeroGrad`, opts, ['setToNone'])
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (p.grad === null) continue
        if (o.setToNone === true) p.grad = null
        else p.grad.data.fill(0)
      }
    }
  }

  /** Parameters to update now: a non-null grad of the value's shape, and requiresGrad not false. */
  protected * active (): Generator<[ParamGroup<H>, ParameterLike, TensorLike]> {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (p.grad === null || p.requiresGrad === false) continue
        yield [g, p, p.grad]
      }
    }
  }

  /**
   * A snapshot: every group's hyperparameters with its parameters as indices (counted
   * across the groups in order), and each stepped parameter's state with its tensors copied.
   */
  stateDict (): OptimizerStateDict {
    const state: OptimizerStateDict['state'] = {}
    const paramGroups: OptimizerStateDict['paramGroups'] = []
    let index = 0
    for (const g of this.paramGroups) {
      const entry: Record<string, unknown> = {}
      for (const k of this.spec.keys) entry[k] = copyValue(g[k])
      for (const k of SCHEDULER_KEYS) if (g[k] !== undefined) entry[k] = g[k]
      const ids: number[] = []
      for (const p of g.params) {
        const s = this.state.get(p)
        if (s !== undefined) state[index] = this.spec.save(s)
        ids.push(index++)
      }
      paramGroups.push({ ...entry, params: ids })
    }
    return { state, paramGroups }
  }

  /**
   * Restores a stateDict() snapshot taken from an optimizer of the same kind over
   * parameters of the same shapes in the same groups: the groups' hyperparameters and the
   * per-parameter state (copied in; the snapshot stays independent).
   */
  loadStateDict (sd: OptimizerStateDict): void {
    const op = `${this.name}.loadStateDict`
    if (sd === null || typeof sd !== 'object') typeError(op, 'stateDict', 'an object { state, paramGroups }', describe(sd))
    const { state, paramGroups } = sd as Partial<OptimizerStateDict>
    if (!Array.isArray(paramGroups)) typeError(op, 'stateDict.paramGroups', 'an array', describe(paramGroups))
    if (state === null || typeof state !== 'object') typeError(op, 'stateDict.state', 'an object', describe(state))
    if (paramGroups.length !== this.paramGroups.length) {
      rangeError(op, 'stateDict.paramGroups', `${this.paramGroups.length} groups (as this optimizer)`, String(paramGroups.length))
    }
    // Check everything before changing anything.
    const byIndex = new Map<number, ParameterLike>()
    const hypers = paramGroups.map((saved, gi) => {
      const where = `stateDict.paramGroups[${gi}]`
      if (saved === null || typeof saved !== 'object') typeError(op, where, 'an object', describe(saved))
      const ids = saved.params
      const live = this.paramGroups[gi]!.params
      if (!Array.isArray(ids) || ids.length !== live.length) {
        rangeError(op, `${where}.params`, `${live.length} parameter indices (the size of this optimizer's group)`, describe(ids))
      }
      ids.forEach((id, i) => {
        if (!Number.isInteger(id) || byIndex.has(id)) rangeError(op, `${where}.params[${i}]`, 'a distinct integer index', describe(id))
        byIndex.set(id, live[i]!)
      })
      const extra: SchedulerGroupKeys = {}
      for (const k of SCHEDULER_KEYS) if (saved[k] !== undefined) extra[k] = schedulerKey(op, where, k, saved[k])
      return { hyper: this.spec.hyper(saved, this.defaults as H, `${where}.`), extra }
    })
    const loaded = new Map<ParameterLike, S>()
    for (const key of Object.keys(state)) {
      const p = byIndex.get(Number(key))
      if (p === undefined) rangeError(op, `stateDict.state[${key}]`, 'the index of a parameter in paramGroups', key)
      const entry = (state as Record<string, unknown>)[key]
      if (entry === null || typeof entry !== 'object') typeError(op, `stateDict.state[${key}]`, 'an object', describe(entry))
      const shape = tensorArg(op, `parameter ${key}`, p.value).shape
      loaded.set(p, this.spec.load(entry as Record<string, unknown>, shape, `stateDict.state[${key}]`))
    }
    this.paramGroups.forEach((g, gi) => {
      const { hyper, extra } = hypers[gi]!
      Object.assign(g, hyper)
      for (const k of SCHEDULER_KEYS) delete g[k]
      Object.assign(g, extra)
    })
    this.state.clear()
    for (const [p, s] of loaded) this.state.set(p, s)
  }
}

function checkParameter (op: string, where: string, p: unknown): void {
  if (p === null || typeof p !== 'object' || !('value' in p) || !('grad' in p)) {
    typeError(op, where, 'a parameter { value: Tensor, grad: Tensor | null } (fv.nn.Parameter)', describe(p))
  }
  tensorArg(op, `${where}.value`, (p as ParameterLike).value)
}

function schedulerKey (op: string, where: string, k: string, v: unknown): number {
  if (typeof v !== 'number') typeError(op, `${where}.${k}`, 'a number', describe(v))
  return v
}

function copyValue (v: unknown): unknown {
  return Array.isArray(v) ? v.slice() : v
}

/** A fresh zero-filled Tensor of `shape`: optimizer state is allocated once per parameter. */
export function zeros (shape: readonly number[]): Tensor {
  return new Tensor(new Float32Array(shapeSize(shape)), shape)
}

/** A copy of a Tensor (for snapshots). */
export function copyTensor (t: Tensor): Tensor {
  return new Tensor(t.data.slice(), t.shape)
}

/** A state tensor from a state dict: a TensorLike of `shape`, copied. */
export function loadTensor (op: string, where: string, value: unknown, shape: readonly number[]): Tensor {
  const t = tensorArg(op, where, value)
  if (!sameShape(t.shape, shape)) rangeError(op, where, `${fmtShape(shape)} (the shape of its parameter)`, fmtShape(t.shape))
  return new Tensor(t.data.slice(), shape)
}
