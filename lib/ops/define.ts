// The calling convention shared by every op: validate and plan in TypeScript, call the
// native function, wrap the result. The sync and Async twins come from one plan, so they
// cannot drift apart.
import { Tensor, resultOf } from '../tensor'
import type { Checked } from '../validate'
import type { Shape } from '../tensor'

/** What an op's plan hands to the native call, and how to turn the raw result into the public one. */
export interface Plan<NA extends unknown[], NR, R> {
  readonly args: NA
  finish(raw: NR): R
}

export interface OpPair<A extends unknown[], R> {
  sync(...args: A): R
  async(...args: A): Promise<R>
}

/**
 * Builds an op's sync function and its Async twin. The Async twin validates first (a bad
 * argument rejects the promise, it never throws synchronously), then runs the kernel on
 * a libuv worker thread; a native rejection gets the caller's stack re-attached, since a
 * native error is created on the event loop with no JS frames of its own.
 */
export function defineOp<A extends unknown[], NA extends unknown[], NR, R> (
  plan: (...args: A) => Plan<NA, NR, R>,
  sync: (...args: NA) => NR,
  async: (...args: NA) => Promise<NR>
): OpPair<A, R> {
  return {
    sync (...args: A): R {
      const p = plan(...args)
      return p.finish(sync(...p.args))
    },
    async async (...args: A): Promise<R> {
      const callSite: { stack?: string } = {}
      Error.captureStackTrace(callSite)
      const p = plan(...args)
      let raw: NR
      try {
        raw = await async(...p.args)
      } catch (err) {
        throw withCallSite(err, callSite.stack)
      }
      return p.finish(raw)
    }
  }
}

function withCallSite (err: unknown, stack: string | undefined): unknown {
  if (err instanceof Error && stack) {
    const frames = stack.split('\n').slice(1).join('\n')
    err.stack = `${err.name}: ${err.message}\n${frames}`
  }
  return err
}

/**
 * The Tensor to return for an output: the caller's `out` itself when it is a Tensor, a
 * Tensor over its data when it is a plain TensorLike, else a new Tensor over `data`, the
 * memory foveal allocated for the result (which dispose() may then detach and reuse).
 */
export function resultTensor (outValue: unknown, out: Checked | null, data: Float32Array, shape: Shape): Tensor {
  if (out !== null) return outValue instanceof Tensor ? outValue : new Tensor(out.data, shape)
  return resultOf(data, shape)
}
