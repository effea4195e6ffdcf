// Containers (PyTorch's nn.Sequential, nn.ModuleList, nn.ModuleDict). Sequential chains
// forward and backward through its children and owns the activations and gradients it
// passes between them: it disposes each once nothing needs it any more (DESIGN.md, "Memory
// is part of speed"), never the input it was given, the output it returned, the dy it was
// given or the dx it returns, nor anything sharing their memory (a Flatten's view).
import { Tensor, type TensorLike } from '../tensor'
import { describe, rangeError, typeError } from '../validate'
import { Module } from './module'
import { release } from './util'

function moduleArg (cls: string, name: string, m: unknown): Module {
  if (!(m instanceof Module)) typeError(cls, name, 'a Module', describe(m))
  return m
}

/**
 * A module list whose children are the properties "0", "1", … (so state-dict names are
 * "0.weight", …, as PyTorch's): the base of Sequential and ModuleList.
 */
abstract class Indexed extends Module implements Iterable<Module> {
  [index: number]: Module
  #length = 0

  /** The number of children. */
  get length (): number { return this.#length }

  /** The child at index i (negative counts from the end), or undefined. */
  at (i: number): Module | undefined {
    if (typeof i !== 'number' || !Number.isInteger(i)) return undefined
    const k = i < 0 ? i + this.#length : i
    return k >= 0 && k < this.#length ? this[k] : undefined
  }

  /** Appends a module as child String(length). Returns this. */
  push (...modules: Module[]): this {
    for (const m of modules) {
      this[this.#length] = moduleArg(this.constructor.name, `module ${this.#length}`, m)
      this.#length++
    }
    return this
  }

  /** PyTorch's name for push(m). */
  append (m: Module): this { return this.push(m) }

  /** Appends every module of an iterable. Returns this. */
  extend (modules: Iterable<Module>): this {
    if (modules === null || typeof (modules as Iterable<Module>)[Symbol.iterator] !== 'function') {
      typeError(this.constructor.name, 'modules', 'an iterable of Modules', describe(modules))
    }
    return this.push(...modules)
  }

  * [Symbol.iterator] (): Iterator<Module> {
    for (let i = 0; i < this.#length; i++) yield this[i]!
  }

  // Children in index order, whatever else was assigned to the object.
  override * namedChildren (): Generator<[string, Module]> {
    for (let i = 0; i < this.#length; i++) yield [String(i), this[i]!]
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Module && !/^(0|[1-9]\d*)$/.test(key)) yield [key, value]
    }
  }
}

/**
 * Children applied in order: forward(x) runs each on the previous one's output and returns
 * the last; backward(dy) runs their backwards in reverse and returns dx. The activations
 * and gradients between children are the container's: each is disposed as soon as the
 * backward pass (or, with nothing cached, the forward pass) is past it.
 */
export class Sequential extends Indexed {
  // The activations of the last forward that cached: [x, a1, …, y].
  #acts: TensorLike[] | null = null

  constructor (...modules: Module[]) {
    super()
    modules.forEach((m, i) => moduleArg('Sequential', `module ${i}`, m))
    this.push(...modules)
  }

  #begin (x: TensorLike): void {
    this.#drop()
    if (x === null || typeof x !== 'object') typeError('Sequential', 'x', 'a tensor', describe(x))
  }

  // A forward that was never gone back through: its intermediates are the container's.
  #drop (): void {
    const acts = this.#acts
    if (acts === null) return
    this.#acts = null
    const x = acts[0]; const y = acts[acts.length - 1]
    // Later activations that share an earlier one's memory go with it (released last to first).
    for (let i = acts.length - 2; i >= 1; i--) release(acts[i], x, y, acts[i - 1])
  }

  forward (x: TensorLike): Tensor {
    this.#begin(x)
    const caching = this.cachesForBackward
    const acts: TensorLike[] = [x]
    let a: TensorLike = x
    for (let i = 0; i < this.length; i++) {
      const next = this[i]!.forward(a) as TensorLike
      if (caching) acts.push(next)
      else if (a !== x) release(a, x, next)
      a = next
    }
    if (caching) this.#acts = acts
    return a as Tensor
  }

  override async forwardAsync (x: TensorLike): Promise<Tensor> {
    this.#begin(x)
    const caching = this.cachesForBackward
    const acts: TensorLike[] = [x]
    let a: TensorLike = x
    for (let i = 0; i < this.length; i++) {
      const next = await this[i]!.forwardAsync(a) as TensorLike
      if (caching) acts.push(next)
      else if (a !== x) release(a, x, next)
      a = next
    }
    if (caching) this.#acts = acts
    return a as Tensor
  }

  #take (): TensorLike[] {
    const acts = this.#acts
    if (acts === null) {
      throw new Error('Sequential: backward needs a forward first, in training mode or after eval({ grad: true }) ' +
        '(each forward is gone back through once)')
    }
    this.#acts = null
    return acts
  }

  backward (dy: TensorLike): Tensor {
    const b = new BackwardPass(this.#take(), this.length, dy)
    for (let i = this.length - 1; i >= 0; i--) b.after(i, this[i]!.backward(b.g) as TensorLike)
    return b.g as Tensor
  }

  override async backwardAsync (dy: TensorLike): Promise<Tensor> {
    const b = new BackwardPass(this.#take(), this.length, dy)
    for (let i = this.length - 1; i >= 0; i--) b.after(i, await this[i]!.backwardAsync(b.g) as TensorLike)
    return b.g as Tensor
  }
}

/**
 * The bookkeeping of one Sequential backward. After child i's backward, g (child i+1's
 * gradient) and a_{i+1} (child i's output) are needed no more: each is disposed unless its
 * memory is shared with something that is (the caller's x, y, dy, the new gradient, or
 * a_i, which a view a_{i+1} then goes with). Each tensor's buffer is read once.
 */
class BackwardPass {
  g: TensorLike
  #gBuffer: ArrayBufferLike
  readonly #acts: TensorLike[]
  readonly #n: number
  readonly #x: ArrayBufferLike
  readonly #y: ArrayBufferLike
  readonly #dy: ArrayBufferLike
  #next: ArrayBufferLike  // a_{i+1}'s buffer

  constructor (acts: TensorLike[], n: number, dy: TensorLike) {
    this.#acts = acts
    this.#n = n
    this.g = dy
    this.#dy = this.#gBuffer = dy.data.buffer
    this.#x = acts[0]!.data.buffer
    this.#y = acts[n]!.data.buffer
    this.#next = this.#y
  }

  after (i: number, gi: TensorLike): void {
    const giBuffer = gi.data.buffer
    const ai = this.#acts[i]!
    const aiBuffer = ai.data.buffer
    const x = this.#x; const y = this.#y; const dy = this.#dy
    const gb = this.#gBuffer
    if (gb !== dy && gb !== giBuffer && gb !== x && gb !== y) drop(this.g)
    if (i + 1 < this.#n) {
      const nb = this.#next
      if (nb !== x && nb !== y && nb !== dy && nb !== giBuffer && nb !== aiBuffer) drop(this.#acts[i + 1]!)
    }
    this.g = gi
    this.#gBuffer = giBuffer
    this.#next = aiBuffer
  }
}

function drop (t: TensorLike): void {
  if (t instanceof Tensor && !t.isDisposed) t.dispose()
}

/** A list of modules, registered as children "0", "1", … (no forward of its own). */
export class ModuleList extends Indexed {
  constructor (modules: Iterable<Module> = []) {
    super()
    this.extend(modules)
  }

  forward (): never { throw new Error('ModuleList: has no forward of its own; call its modules') }
  backward (): never { throw new Error('ModuleList: has no backward of its own; call its modules') }
}

/**
 * Modules by name, in insertion order (state-dict names "<key>.weight", …). Keys are
 * non-empty strings without dots.
 */
export class ModuleDict extends Module implements Iterable<string> {
  readonly #map = new Map<string, Module>()

  constructor (modules: Record<string, Module> | Iterable<[string, Module]> = {}) {
    super()
    this.update(modules)
  }

  /** The module under key, or undefined. */
  get (key: string): Module | undefined { return this.#map.get(key) }

  /** Adds or replaces the module under key. Returns this. */
  set (key: string, module: Module): this {
    if (typeof key !== 'string') typeError('ModuleDict', 'key', 'a string', describe(key))
    if (key === '' || key.includes('.')) rangeError('ModuleDict', 'key', 'a non-empty string without dots', describe(key))
    this.#map.set(key, moduleArg('ModuleDict', `module '${key}'`, module))
    return this
  }

  has (key: string): boolean { return this.#map.has(key) }

  /** Removes and returns the module under key (PyTorch's pop). */
  delete (key: string): Module | undefined {
    const m = this.#map.get(key)
    this.#map.delete(key)
    return m
  }

  get size (): number { return this.#map.size }
  keys (): IterableIterator<string> { return this.#map.keys() }
  values (): IterableIterator<Module> { return this.#map.values() }
  entries (): IterableIterator<[string, Module]> { return this.#map.entries() }
  [Symbol.iterator] (): Iterator<string> { return this.#map.keys() }

  /** Adds the entries of an object or of an iterable of [key, module] pairs. Returns this. */
  update (modules: Record<string, Module> | Iterable<[string, Module]>): this {
    if (modules === null || typeof modules !== 'object') {
      typeError('ModuleDict', 'modules', 'an object or an iterable of [key, Module] pairs', describe(modules))
    }
    const it = typeof (modules as Iterable<[string, Module]>)[Symbol.iterator] === 'function'
      ? modules as Iterable<[string, Module]>
      : Object.entries(modules)
    for (const [k, m] of it) this.set(k, m)
    return this
  }

  override * namedChildren (): Generator<[string, Module]> {
    yield * this.#map.entries()
    for (const [key, value] of Object.entries(this)) if (value instanceof Module) yield [key, value]
  }

  forward (): never { throw new Error('ModuleDict: has no forward of its own; call its modules') }
  backward (): never { throw new Error('ModuleDict: has no backward of its own; call its modules') }
}
