// Module: PyTorch's nn.Module, with an explicit backward. Parameters and child modules are
// found the way PyTorch finds them, by the properties they are assigned to, in assignment
// order; buffers (running statistics and the like) are registered by name.
import { keep } from '../lifetime'
import { Tensor, type Shape } from '../tensor'
import { describe, fmtShape, typeError } from '../validate'
import { Parameter } from './parameter'

/** A state-dict entry: a float tensor, or an integer one (BatchNorm's num_batches_tracked, as I64). */
export type StateTensor = Tensor | { data: BigInt64Array, shape: Shape }
export type StateDict = Record<string, StateTensor>

/**
 * The base of every layer and block. Subclasses (in TypeScript or plain JS) assign
 * Parameters and Modules to properties in their constructor and implement `forward` and
 * `backward`:
 *
 *   class Head extends fv.nn.Module {
 *     constructor () { super(); this.fc = new fv.nn.Linear(64, 10) }
 *     forward (x) { return this.fc.forward(x) }
 *     backward (dy) { return this.fc.backward(dy) }
 *   }
 *
 * forward caches what backward needs (in training mode, or after eval({ grad: true }):
 * see `cachesForBackward`); backward returns the gradient of the input, accumulates
 * parameter gradients into each Parameter's `grad` until zeroGrad(), and releases what
 * forward cached. The Async twins run the same computation with the ops' Async twins, off
 * the event loop; the defaults here run the sync methods, for modules that have none.
 *
 * Memory: a module never disposes a tensor it was given (forward's input, backward's dy)
 * or one it returned; it disposes what it computed for itself once backward has used it.
 * Containers dispose the activations and gradients they pass between their children.
 * What forward cached (its input, or its output for Sigmoid / Tanh / Softmax) must stay
 * alive and unchanged until backward.
 *
 * There is no autograd: backward goes back through the last forward, once. So a module
 * instance appears once per step (weight sharing needs the gradient of each use), and one
 * forward/backward of an instance is in flight at a time (forwardAsync / backwardAsync).
 */
export abstract class Module {
  /** Training mode (dropout active, batch statistics used and updated); see train()/eval(). */
  training = true
  /**
   * In eval mode, whether forward still caches what backward needs (eval({ grad: true }):
   * gradients of an eval-mode model, for saliency maps or fine-tuning past frozen
   * BatchNorm statistics). Plain eval() inference caches nothing.
   */
  gradInEval = false
  // Not enumerable, so the property walk that finds parameters and children skips them.
  declare private readonly _buffers: Map<string, StateTensor>

  constructor () {
    Object.defineProperty(this, '_buffers', { value: new Map(), enumerable: false })
  }

  // Each module narrows these to its own arguments and results (Linear: Tensor → Tensor,
  // MultiheadAttention: three inputs → { out, weights }); `any` lets the overrides do so.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  abstract forward (...args: any[]): any
  abstract backward (...args: any[]): any

  /** forward() off the event loop (subclasses built on the ops' Async twins override this). */
  async forwardAsync (...args: any[]): Promise<any> { return this.forward(...args) }
  /** backward() off the event loop (subclasses built on the ops' Async twins override this). */
  async backwardAsync (...args: any[]): Promise<any> { return this.backward(...args) }
  /* eslint-enable @typescript-eslint/no-explicit-any */

  /** Registers a buffer: state that is saved and loaded but not trained (null: a slot left empty). */
  registerBuffer (name: string, value: StateTensor | null): void {
    if (typeof name !== 'string' || name === '' || name.includes('.')) {
      typeError('registerBuffer', 'name', 'a non-empty string without dots', describe(name))
    }
    if (value === null) {
      this._buffers.delete(name)
      return
    }
    if (value instanceof Tensor) keep(value)
    this._buffers.set(name, value)
  }

  /** A registered buffer. */
  getBuffer (name: string): StateTensor | undefined { return this._buffers.get(name) }

  /** The direct child modules with their property names, in assignment order. */
  * namedChildren (): Generator<[string, Module]> {
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Module) yield [key, value]
    }
  }

  * children (): Generator<Module> {
    for (const [, m] of this.namedChildren()) yield m
  }

  /** This module and every descendant, with dotted names ('' for this one). */
  * namedModules (prefix = ''): Generator<[string, Module]> {
    yield [prefix, this]
    for (const [name, child] of this.namedChildren()) yield * child.namedModules(prefix ? `${prefix}.${name}` : name)
  }

  * modules (): Generator<Module> {
    for (const [, m] of this.namedModules()) yield m
  }

  /** This module's own parameters (not its children's), by property name. */
  * ownParameters (): Generator<[string, Parameter]> {
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Parameter) yield [key, value]
    }
  }

  /** Every parameter with its dotted name ('0.weight', 'out_proj.bias'), each once. */
  namedParameters (prefix = ''): Array<[string, Parameter]> {
    const out: Array<[string, Parameter]> = []
    const seen = new Set<Parameter>()
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [key, p] of m.ownParameters()) {
        if (seen.has(p)) continue
        seen.add(p)
        const name = path ? `${path}.${key}` : key
        if (p.name === '') p.name = name
        out.push([name, p])
      }
    }
    return out
  }

  parameters (): Parameter[] {
    return this.namedParameters().map(([, p]) => p)
  }

  /** Every buffer with its dotted name. */
  namedBuffers (prefix = ''): Array<[string, StateTensor]> {
    const out: Array<[string, StateTensor]> = []
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [key, b] of m._buffers) out.push([path ? `${path}.${key}` : key, b])
    }
    return out
  }

  /**
   * Parameters and buffers by their PyTorch names. The tensors are the module's own (no
   * copy): save them, or copy them before training on.
   */
  stateDict (): StateDict {
    // PyTorch's order: module by module, each one's parameters, then its buffers.
    const sd: StateDict = {}
    const seen = new Set<Parameter>()
    for (const [path, m] of this.namedModules()) {
      const at = (key: string): string => path ? `${path}.${key}` : key
      for (const [key, p] of m.ownParameters()) {
        if (seen.has(p)) continue
        seen.add(p)
        sd[at(key)] = p.value
      }
      for (const [key, b] of m._buffers) sd[at(key)] = b
    }
    return sd
  }

  /**
   * Copies values into the parameters and buffers of the same names. Strict (the default):
   * every missing, unexpected and shape-mismatched key is reported in one RangeError, and
   * nothing is loaded. Not strict: matching keys load; shape mismatches still throw.
   * Returns the missing and unexpected keys.
   */
  loadStateDict (sd: Record<string, unknown>, opts: { strict?: boolean } = {}): { missing: string[], unexpected: string[] } {
    if (sd === null || typeof sd !== 'object') typeError('loadStateDict', 'sd', 'an object of tensors', describe(sd))
    const strict = opts.strict ?? true
    const targets = new Map<string, { shape: Shape, assign: (src: { data: ArrayLike<number | bigint> }) => void }>()
    for (const [name, p] of this.namedParameters()) {
      targets.set(name, { shape: p.value.shape, assign: (src) => p.value.data.set(src.data as ArrayLike<number>) })
    }
    for (const [path, m] of this.namedModules()) {
      for (const [key, b] of m._buffers) {
        const name = path ? `${path}.${key}` : key
        targets.set(name, {
          shape: b.shape,
          assign: (src) => {
            if (b.data instanceof BigInt64Array) {
              const s = src.data
              for (let i = 0; i < b.data.length; i++) b.data[i] = typeof s[i] === 'bigint' ? s[i] as bigint : BigInt(Math.round(Number(s[i])))
            } else {
              const s = src.data
              if (s instanceof BigInt64Array) for (let i = 0; i < b.data.length; i++) b.data[i] = Number(s[i])
              else b.data.set(s as ArrayLike<number>)
            }
          }
        })
      }
    }
    const missing = [...targets.keys()].filter((k) => !(k in sd))
    const unexpected = Object.keys(sd).filter((k) => !targets.has(k))
    const mismatched: string[] = []
    const bad: string[] = []
    for (const [name, target] of targets) {
      if (!(name in sd)) continue
      const src = sd[name] as { data?: unknown, shape?: unknown, dims?: unknown }
      const data = src?.data
      const shape = (src?.shape ?? src?.dims) as Shape | undefined
      if (!(data instanceof Float32Array || data instanceof BigInt64Array || data instanceof Float64Array) || !Array.isArray(shape)) {
        bad.push(`${name} (got ${describe(src)})`)
        continue
      }
      if (shape.length !== target.shape.length || shape.some((d, i) => d !== target.shape[i])) {
        mismatched.push(`${name}: expected ${fmtShape(target.shape)}, got ${fmtShape(shape)}`)
      }
    }
    const problems: string[] = []
    if (bad.length > 0) problems.push(`not tensors: ${bad.join(', ')}`)
    if (mismatched.length > 0) problems.push(`shape mismatches: ${mismatched.join('; ')}`)
    if (strict && missing.length > 0) problems.push(`missing keys: ${missing.join(', ')}`)
    if (strict && unexpected.length > 0) problems.push(`unexpected keys: ${unexpected.join(', ')}`)
    if (problems.length > 0) {
      throw new RangeError(`loadStateDict: the state dict does not fit ${this.constructor.name}: ${problems.join('; ')}`)
    }
    for (const [name, target] of targets) {
      if (name in sd) target.assign(sd[name] as { data: ArrayLike<number | bigint> })
    }
    return { missing, unexpected }
  }

  /** Sets training mode on this module and every descendant. Returns this. */
  train (mode = true): this {
    if (typeof mode !== 'boolean') typeError('train', 'mode', 'a boolean', describe(mode))
    for (const m of this.modules()) m.training = mode
    return this
  }

  /**
   * Evaluation mode: train(false). With { grad: true } forward still caches what backward
   * needs (see gradInEval); without it, eval-mode forwards cache nothing and backward throws.
   */
  eval (opts: { grad?: boolean } = {}): this {
    if (opts === null || typeof opts !== 'object') typeError('eval', 'options', 'an object', describe(opts))
    const grad = opts.grad ?? false
    if (typeof grad !== 'boolean') typeError('eval', 'grad', 'a boolean', describe(grad))
    for (const m of this.modules()) m.gradInEval = grad
    return this.train(false)
  }

  /** Whether forward should cache what backward needs now: in training mode, or in eval({ grad: true }). */
  get cachesForBackward (): boolean { return this.training || this.gradInEval }

  /** Zeroes every parameter's gradient (keeping its memory). */
  zeroGrad (): void {
    for (const p of this.parameters()) p.zeroGrad()
  }

  /** Calls fn on every module (children first, as PyTorch). Returns this. */
  apply (fn: (m: Module) => void): this {
    for (const child of this.children()) child.apply(fn)
    fn(this)
    return this
  }

  /** The number of trainable elements. */
  numParameters (): number {
    let n = 0
    for (const p of this.parameters()) n += p.value.size
    return n
  }
}
