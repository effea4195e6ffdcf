// layout: permute, x.permute(dims).contiguous() in PyTorch — the data movement between
// the layouts the modules take ([L, B, E], [N, C, H, W]) and the ones the fused kernels
// read ([B, H, L, D], positions × features). Its gradient is the inverse permutation:
// permute(dy, inversePermutation(dims)).
import { binding } from '../native'
import { type Shape, type Tensor, type TensorLike } from '../tensor'
import { describe, fmtShape, optionsArg, outArg, rangeError, tensorArg, typeError } from '../validate'
import { defineOp, resultTensor } from './define'

export interface PermuteOptions {
  /** A tensor of the permuted shape to write into. */
  out?: TensorLike
}

const MAX_PERMUTE_RANK = 8

function dimsArg (op: string, dims: unknown, rank: number): number[] {
  const what = `a permutation of 0 to ${rank - 1} (${rank} dims, negative ones counted from the end)`
  if (!Array.isArray(dims) || dims.some((d) => typeof d !== 'number')) typeError(op, 'dims', what, describe(dims))
  if (dims.length !== rank) rangeError(op, 'dims', what, describe(dims))
  const seen = new Array<boolean>(rank).fill(false)
  const out: number[] = []
  for (const d of dims as number[]) {
    const a = d < 0 ? d + rank : d
    if (!Number.isInteger(d) || a < 0 || a >= rank || seen[a]) rangeError(op, 'dims', what, describe(dims))
    seen[a] = true
    out.push(a)
  }
  return out
}

function planPermute (x: TensorLike, dims: readonly number[], opts?: PermuteOptions) {
  const op = 'permute'
  const X = tensorArg(op, 'x', x)
  if (X.shape.length > MAX_PERMUTE_RANK) {
    rangeError(op, 'x', `a tensor of rank ≤ ${MAX_PERMUTE_RANK}`, fmtShape(X.shape))
  }
  const perm = dimsArg(op, dims, X.shape.length)
  const o = optionsArg(op, opts, ['out'])
  const yShape: Shape = Object.freeze(perm.map((a) => X.shape[a]!))
  const out = outArg(op, 'out', o.out, yShape, [['x', X]])
  return {
    args: [X.data, out?.data ?? null, X.shape, perm] as [Float32Array, Float32Array | null, Shape, number[]],
    finish: (y: Float32Array): Tensor => resultTensor(o.out, out, y, yShape)
  }
}

const permuteOp = defineOp(planPermute, binding.permute, binding.permuteAsync)

/**
 * x with its dims reordered: result dim d is x's dim dims[d] (negative dims count from the
 * end), laid out contiguously — PyTorch's x.permute(dims).contiguous(). Exact (a copy).
 * The gradient of y = permute(x, dims) is permute(dy, inversePermutation(dims)).
 */
export function permute (x: TensorLike, dims: readonly number[], opts?: PermuteOptions): Tensor {
  return permuteOp.sync(x, dims, opts)
}

/** permute() computed off the event loop. */
export function permuteAsync (x: TensorLike, dims: readonly number[], opts?: PermuteOptions): Promise<Tensor> {
  return permuteOp.async(x, dims, opts)
}

/** The permutation that undoes dims: permute(permute(x, dims), inversePermutation(dims)) is x. */
export function inversePermutation (dims: readonly number[]): number[] {
  const rank = Array.isArray(dims) ? dims.length : 0  // not an array: dimsArg's TypeError
  const perm = dimsArg('inversePermutation', dims, rank)
  const inv = new Array<number>(rank)
  perm.forEach((a, d) => { inv[a] = d })
  return inv
}
