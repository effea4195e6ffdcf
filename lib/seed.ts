// The global seed stream of fv.nn: parameter initialisation (fv.nn.init, the layers'
// default schemes) and each Dropout forward draw their seed from it, so fv.manualSeed(n)
// makes a model's initial weights and its dropout masks reproducible.
//
// The stream is splitmix64 over a 64-bit state; each draw is a 53-bit seed (a safe
// integer) for the counter-based kernels (fv.ops.uniform_, normal_, dropout). Like
// PyTorch's default generator it starts from a fixed seed (67280421310721), so a program
// that never calls manualSeed still runs the same way twice. The numbers themselves are
// not PyTorch's stream.
import { describe, rangeError, typeError } from './validate'

const MASK64 = (1n << 64n) - 1n
const DEFAULT_SEED = 67280421310721n

let seed = DEFAULT_SEED
let state = DEFAULT_SEED

/**
 * Seeds the stream that initialisation and dropout draw from (PyTorch's torch.manual_seed):
 * an integer (a safe integer, negative ones taken modulo 2⁶⁴) or a bigint in [−2⁶³, 2⁶⁴).
 */
export function manualSeed (value: number | bigint): void {
  let s: bigint
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) rangeError('manualSeed', 'seed', 'a safe integer', describe(value))
    s = BigInt(value)
  } else if (typeof value === 'bigint') {
    if (value < -(1n << 63n) || value > MASK64) rangeError('manualSeed', 'seed', 'a bigint in [-2^63, 2^64)', describe(value))
    s = value
  } else {
    typeError('manualSeed', 'seed', 'an integer or a bigint', describe(value))
  }
  seed = BigInt.asUintN(64, s)
  state = seed
}

/** The seed the stream last started from (manualSeed's, or the default 67280421310721), as a bigint. */
export function initialSeed (): bigint { return seed }

/** The next seed of the stream: a non-negative safe integer (internal: fv.nn.init and Dropout). */
export function nextSeed (): number {
  state = (state + 0x9E3779B97F4A7C15n) & MASK64
  let z = state
  z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & MASK64
  z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & MASK64
  z ^= z >> 31n
  return Number(z >> 11n)
}
