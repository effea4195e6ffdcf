// dropout with a counter-based RNG (Philox4x32-10, native/core/rng.h): the mask depends
// only on (seed, element index), so the same seed gives the same mask on any thread count
// and ISA, and dropoutBackward regenerates it instead of storing it.
//
// Element i uses word i % 4 of philox4x32_10(counter = (lo32(i/4), hi32(i/4), 0,
// "drop"), key = seed) and is kept iff its top 24 bits, as an integer, are ≥ ⌈p·2²⁴⌉
// (probability 1 − p); kept values are scaled by 1/(1 − p). The seed, a non-negative safe
// integer, is the 64-bit key itself: key word 0 = seed mod 2³², word 1 = ⌊seed / 2³²⌋.
import { binding } from '../native'
import { type Tensor, type TensorLike } from '../tensor'
import { booleanArg, optionsArg, outArg, tensorArg } from '../validate'
import { dropoutArgs } from './args'
import { defineOp, resultTensor } from './define'

export interface DropoutOptions {
  /** Drop probability in [0, 1] (default 0.5). */
  p?: number
  /** The mask's key: a non-negative safe integer, required when anything is dropped (p > 0 and training). */
  seed?: number
  /** When false, dropout is the identity (a copy; no seed needed). Default true. */
  training?: boolean
  /** A tensor of x's shape to write into. */
  out?: TensorLike
}

type Raw = [Float32Array, Float32Array | null, number, number]

function plan (op: string, inName: string) {
  return (x: TensorLike, opts?: DropoutOptions) => {
    const X = tensorArg(op, inName, x)
    const o = optionsArg(op, opts, ['p', 'seed', 'training', 'out'])
    const training = booleanArg(op, 'training', o.training, true)
    // The contract attention shares (args.ts); only the default p differs (0.5, as PyTorch's).
    const { p, seed } = dropoutArgs(op, 'p', o.p === undefined ? 0.5 : o.p, o.seed, training)
    const out = outArg(op, 'out', o.out, X.shape, [[inName, X]])
    return {
      args: [X.data, out?.data ?? null, training ? p : 0, seed] as Raw,
      finish: (y: Float32Array): Tensor => resultTensor(o.out, out, y, X.shape)
    }
  }
}

const dropoutOp = defineOp(plan('dropout', 'x'), binding.dropout, binding.dropoutAsync)
const dropoutBackwardOp = defineOp(plan('dropoutBackward', 'dy'), binding.dropoutBackward, binding.dropoutBackwardAsync)

/** x·m/(1 − p) with m ∈ {0, 1} drawn from `seed` (a NaN stays NaN, as in PyTorch). */
export function dropout (x: TensorLike, opts?: DropoutOptions): Tensor { return dropoutOp.sync(x, opts) }
/** dropout() computed off the event loop. */
export function dropoutAsync (x: TensorLike, opts?: DropoutOptions): Promise<Tensor> { return dropoutOp.async(x, opts) }
/** dx = dy·m/(1 − p), regenerating the forward's mask from the same p and seed. */
export function dropoutBackward (dy: TensorLike, opts?: DropoutOptions): Tensor { return dropoutBackwardOp.sync(dy, opts) }
/** dropoutBackward() computed off the event loop. */
export function dropoutBackwardAsync (dy: TensorLike, opts?: DropoutOptions): Promise<Tensor> {
  return dropoutBackwardOp.async(dy, opts)
}
