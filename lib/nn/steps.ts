// One body for a block's sync and Async passes. A block that chains many ops writes its
// forward (or backward) once, as a generator that yields each op call with both twins;
// `runSync` answers every yield with the sync op, `runAsync` awaits the Async twin (so no
// kernel runs on the event loop). The two passes cannot drift apart, and what the body
// does between ops (bookkeeping, disposing) is the same code in both.
//
//   * body (x) {
//     const h = yield * step(ops.relu, ops.reluAsync, x)
//     return yield * step(ops.sigmoid, ops.sigmoidAsync, h)
//   }
//   forward (x) { return runSync(this.body(x)) }
//   forwardAsync (x) { return runAsync(this.body(x)) }
import { Tensor } from '../tensor'
import { type Module } from './module'

/** One op call, with its sync and Async twins and the arguments for either. */
export interface Step {
  // Any op's pair: their parameter lists differ, and args is checked against them where a Step is made.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly sync: (...args: any[]) => unknown
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly async: (...args: any[]) => Promise<unknown>
  readonly args: unknown[]
}

export type Steps<R> = Generator<Step, R, unknown>

/** Yields one op call and returns its result, typed by the sync twin. */
export function * step<A extends unknown[], R> (sync: (...args: A) => R, async: (...args: A) => Promise<R>,
  ...args: A): Steps<R> {
  return (yield { sync: sync as Step['sync'], async: async as Step['async'], args }) as R
}

/** A child module's forward (forwardAsync in the Async pass). */
export function * forwardOf<R = Tensor> (m: Module, ...args: unknown[]): Steps<R> {
  return (yield { sync: (...a: unknown[]) => m.forward(...a), async: (...a: unknown[]) => m.forwardAsync(...a), args }) as R
}

/** A child module's backward (backwardAsync in the Async pass). */
export function * backwardOf<R = Tensor> (m: Module, ...args: unknown[]): Steps<R> {
  return (yield { sync: (...a: unknown[]) => m.backward(...a), async: (...a: unknown[]) => m.backwardAsync(...a), args }) as R
}

/** Runs a body with the sync ops. An op's error is thrown into the body (its finally blocks run). */
export function runSync<R> (body: Steps<R>): R {
  let r = body.next()
  while (r.done !== true) {
    const s = r.value
    let value: unknown
    try {
      value = s.sync(...s.args)
    } catch (err) {
      r = body.throw(err)
      continue
    }
    r = body.next(value)
  }
  return r.value
}

/** Runs a body with the Async twins, awaiting each op off the event loop. */
export async function runAsync<R> (body: Steps<R>): Promise<R> {
  let r = body.next()
  while (r.done !== true) {
    const s = r.value
    let value: unknown
    try {
      value = await s.async(...s.args)
    } catch (err) {
      r = body.throw(err)
      continue
    }
    r = body.next(value)
  }
  return r.value
}
