// Gradient clipping by the total norm: torch.nn.utils.clip_grad_norm_. The norm of each
// gradient comes from a native reduction (double accumulation over fixed blocks, so the
// same bits on any thread count); the per-tensor norms are combined here in parameter
// order, and the gradients scaled in place natively.
import { scaleInPlace, vectorNorm } from '../ops/optim'
import { type TensorLike } from '../tensor'
import { booleanArg, describe, optionsArg, rangeError, typeError } from '../validate'
import { type ParameterLike } from './optimizer'

export interface ClipGradNormOptions {
  /** Throw instead of scaling when the total norm is NaN or ±Infinity (default false: scale anyway, as PyTorch). */
  errorIfNonfinite?: boolean
}

/**
 * Scales the gradients of `params` in place so that their total `normType`-norm (over all of
 * them, as one vector) is at most `maxNorm`, and returns that total norm before clipping.
 * Parameters whose grad is null are left out. As PyTorch: the factor is
 * maxNorm / (total + 1e-6), clamped to at most 1, in float32; a non-finite total still
 * scales (by NaN or 0) unless errorIfNonfinite is set. normType: any number, Infinity for
 * the largest |g|.
 */
export function clipGradNorm (params: ParameterLike | Iterable<ParameterLike>, maxNorm: number, normType = 2,
  opts: ClipGradNormOptions = {}): number {
  const op = 'clipGradNorm'
  if (typeof maxNorm !== 'number') typeError(op, 'maxNorm', 'a number', describe(maxNorm))
  if (Number.isNaN(maxNorm)) rangeError(op, 'maxNorm', 'a number', 'NaN')
  if (typeof normType !== 'number') typeError(op, 'normType', 'a number (Infinity for the max norm)', describe(normType))
  if (Number.isNaN(normType)) rangeError(op, 'normType', 'a number (Infinity for the max norm)', 'NaN')
  const o = optionsArg(op, opts, ['errorIfNonfinite'])
  const errorIfNonfinite = booleanArg(op, 'errorIfNonfinite', o.errorIfNonfinite, false)
  const grads = gradsOf(op, params)
  if (grads.length === 0) return 0

  // torch.norm(torch.stack([torch.norm(g, p) for g in grads]), p), in double.
  const norms = grads.map((g) => vectorNorm(g, normType))
  const total = combine(norms, normType)
  if (errorIfNonfinite && !Number.isFinite(total)) {
    throw new RangeError(`${op}: the total norm of order ${normType} of the gradients is ${total}, so it cannot be ` +
      'clipped; pass errorIfNonfinite: false to scale them by it anyway')
  }
  // PyTorch's float32 tensor arithmetic on the total: max_norm / (total + 1e-6), clamped to 1.
  const f = Math.fround
  const coef = f(f(maxNorm) / f(f(total) + f(1e-6)))
  const clamped = coef > 1 ? 1 : coef  // NaN stays NaN, as torch.clamp
  if (clamped !== 1) for (const g of grads) scaleInPlace(g, clamped)
  return total
}

function gradsOf (op: string, params: unknown): TensorLike[] {
  if (params === null || typeof params !== 'object') {
    typeError(op, 'params', 'a parameter or an iterable of parameters', describe(params))
  }
  const list: unknown[] = Symbol.iterator in params ? [...params as Iterable<unknown>] : [params]
  const grads: TensorLike[] = []
  list.forEach((p, i) => {
    if (p === null || typeof p !== 'object' || !('grad' in p)) {
      typeError(op, `params[${i}]`, 'a parameter { value, grad } (fv.nn.Parameter)', describe(p))
    }
    const g = (p as ParameterLike).grad
    if (g !== null && g !== undefined) grads.push(g)
  })
  return grads
}

// The norm of the per-tensor norms (torch.linalg.vector_norm of their stack).
function combine (norms: number[], p: number): number {
  if (p === Infinity || p === -Infinity) {
    let m = norms[0]!
    for (const n of norms) if (Number.isNaN(n) || (p > 0 ? n > m : n < m)) m = n
    for (const n of norms) if (Number.isNaN(n)) return NaN
    return m
  }
  if (p === 0) return norms.reduce((c, n) => c + (n !== 0 ? 1 : 0), 0)  // a NaN norm counts, as in PyTorch
  let s = 0
  for (const n of norms) s += p === 2 ? n * n : p === 1 ? Math.abs(n) : Math.abs(n) ** p
  return p === 2 ? Math.sqrt(s) : p === 1 ? s : s ** (1 / p)
}
