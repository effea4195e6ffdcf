// Explicit lifetime for the tightest loops, as tfjs users know it: tidy(), keep(),
// dispose(). Without them a result's memory still comes back once JS can no longer reach
// it (native/binding/results.h); with them it comes back at a known moment, still warm in
// the cache, for the next op to reuse.
// tensor.ts imports this module too; the cycle is safe because neither uses the other's
// exports while loading.
import { Tensor, kept as isKept, markKeep } from './tensor'
import { describe, typeError } from './validate'

// The tensors created inside each tidy() now running, innermost last.
const scopes: Tensor[][] = []

/** Records a new Tensor in the innermost tidy() (internal: the Tensor constructor calls it). */
export function track (t: Tensor): void {
  if (scopes.length > 0) scopes[scopes.length - 1]!.push(t)
}

/**
 * Runs `fn` and disposes every tensor created while it runs, except the ones it returns
 * (a Tensor, or Tensors inside the arrays and plain objects it returns) and those passed
 * to keep(). Tidies nest: what an inner one returns belongs to the outer one. If `fn`
 * throws, everything it created is disposed and the error passes through.
 *
 * `fn` must be synchronous: tensors created after an `await` cannot be told apart from
 * those of other code running meanwhile, so a Promise-returning `fn` is refused with a
 * TypeError (after disposing what it created before its first await). In async code, call
 * tidy() around the synchronous stretches, or dispose() results yourself.
 */
export function tidy<T> (fn: () => T): T {
  if (typeof fn !== 'function') typeError('tidy', 'fn', 'a function', describe(fn))
  const scope: Tensor[] = []
  scopes.push(scope)
  let result: T
  try {
    result = fn()
  } catch (err) {
    end(scope, undefined)
    throw err
  }
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    end(scope, undefined)
    typeError('tidy', 'fn', 'a synchronous function (tidy cannot follow tensors across an await: ' +
      'call tidy inside the async function, around its synchronous parts, or dispose() results)',
    'a function that returned a Promise')
  }
  end(scope, result)
  return result
}

function end (scope: Tensor[], result: unknown): void {
  scopes.pop()
  const returned = new Set<Tensor>()
  collect(result, returned, new Set(), 0)
  // A tensor that shares memory with a returned one (a reshape, say) must not take that
  // memory with it.
  const keptBuffers = new Set<ArrayBufferLike>()
  for (const t of returned) keptBuffers.add(t.data.buffer)
  const parent = scopes.length > 0 ? scopes[scopes.length - 1]! : null
  for (const t of scope) {
    if (isKept(t)) continue
    if (returned.has(t) || keptBuffers.has(t.data.buffer)) {
      parent?.push(t)
      continue
    }
    t.dispose()
  }
}

/** The Tensors in a tidy() result: itself, or inside arrays, plain objects, Maps and Sets. */
function collect (value: unknown, into: Set<Tensor>, seen: Set<object>, depth: number): void {
  if (value === null || typeof value !== 'object' || depth > 8 || seen.has(value)) return
  seen.add(value)
  if (isTensor(value)) {
    into.add(value)
    return
  }
  if (ArrayBuffer.isView(value)) return
  if (Array.isArray(value) || value instanceof Set) {
    for (const v of value) collect(v, into, seen, depth + 1)
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, into, seen, depth + 1)
  } else {
    for (const v of Object.values(value)) collect(v, into, seen, depth + 1)
  }
}

/**
 * Exempts a tensor from every tidy() (now and later), as tfjs's keep(): for a tensor made
 * inside a tidy that must outlive it without being returned (a module's parameter, a
 * cache). Returns it.
 */
export function keep<T extends Tensor> (t: T): T {
  if (!isTensor(t)) typeError('keep', 't', 'a Tensor', describe(t))
  markKeep(t)
  return t
}

/**
 * Disposes a Tensor, or every Tensor in an array, a plain object (an op's `{ out, lse }`),
 * a Map or a Set. Anything else is ignored.
 */
export function dispose (value: unknown): void {
  const found = new Set<Tensor>()
  collect(value, found, new Set(), 0)
  for (const t of found) t.dispose()
}

function isTensor (v: unknown): v is Tensor { return v instanceof Tensor }
