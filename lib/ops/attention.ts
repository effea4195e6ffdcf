// attention: fused scaled-dot-product attention softmax(q·kᵀ·scale + mask)·v, and its
// backward, in the FlashAttention-2 manner (online softmax over tiles, no Lq×Lk buffer
// unless the weights are asked for, the backward recomputing the probabilities from lse).
import { binding, type AttentionProblem, type RawAttention, type RawAttentionGrads } from '../native'
import { type Shape, type Tensor, type TensorLike } from '../tensor'
import {
  booleanArg, describe, fmtShape, oneOfArg, optionalTensorArg, optionsArg, outArg, outsArg, rangeError, sameShape,
  tensorArg, typeError, type Checked
} from '../validate'
import { dropoutArgs } from './args'
import { defineOp, resultTensor } from './define'

export interface AttentionOptions {
  /** Multiplies q·kᵀ before the mask is added (default 1/√D). Any finite number. */
  scale?: number
  /** Query i sees keys j ≤ i + Lk − Lq (bottom-right aligned, as FlashAttention). */
  causal?: boolean
  /**
   * Local attention: query i sees keys j in [i+Lk−Lq−left, i+Lk−Lq+right]; −1 leaves a
   * side unbounded. Intersects with causal.
   */
  window?: readonly [number, number]
  /**
   * Additive float mask broadcastable to [B,Hq,Lq,Lk] (e.g. [Lq,Lk], [B,1,Lq,Lk],
   * [B,Hq,Lq,Lk], [B,1,1,Lk]): added to the scaled scores, never scaled, never expanded.
   * −Infinity hides a key.
   */
  mask?: TensorLike | null
  /** Int32Array [B]: keys j ≥ keyLengths[b] are invisible (padded batches). */
  keyLengths?: Int32Array | null
  /**
   * Dropout probability p in [0, 1] on the normalised weights; kept weights are scaled by
   * 1/(1−p) (as PyTorch); p = 1 drops them all (out = 0, zero gradients). The mask comes
   * from a counter-based generator keyed by `seed` and (batch·Hq + head, query row,
   * key / 4), so attentionBackward with the same seed regenerates it on any thread count.
   * p is rounded to float32. The contract is fv.ops.dropout's (lib/ops/args.ts dropoutArgs).
   */
  dropout?: number
  /**
   * The dropout mask's key: a non-negative safe integer, required when dropout > 0 (in the
   * forward and the backward alike: pass the same one to attentionBackward). fv.nn modules
   * draw theirs from fv.manualSeed's stream.
   */
  seed?: number
  /**
   * Sparse attention: keep only the topK largest visible scores of each row (after every
   * mask; ties go to the lower key index) and softmax over those; 1 is hard attention.
   * The backward flows through the kept entries only. NaN scores are never kept.
   */
  topK?: number
  /**
   * Also return the probabilities [B,Hq,Lq,Lk] (an Lq×Lk buffer per head: for inspection
   * and visualisation). They are the softmax before dropout (with topK applied), i.e.
   * what dropout is applied to; PyTorch 1.13's nn.MultiheadAttention returns them after
   * dropout instead.
   */
  returnWeights?: boolean
  /**
   * 'cpu' (default). 'cuda' is part of the contract but has no attention kernels yet: it
   * throws an Error saying so (and why CUDA is unusable here when it is), never runs on
   * the CPU instead.
   */
  backend?: 'cpu' | 'cuda'
  /**
   * 'fp32' (default): exact float32 arithmetic. 'tf32' allows TensorFloat-32 products,
   * a GPU tensor-core format: the CPU has none and computes exact fp32, which satisfies
   * it. 'bf16' is not implemented on the CPU and throws a RangeError.
   */
  precision?: 'fp32' | 'tf32' | 'bf16'
  /** Tensors to write the results into (each optional; weights only with returnWeights). */
  out?: { out?: TensorLike, lse?: TensorLike, weights?: TensorLike }
}

export interface AttentionResult {
  /** [B,Hq,Lq,Dv]; 0 for a row with no visible key. */
  out: Tensor
  /** [B,Hq,Lq]: log Σ exp(score) over the row's visible keys; −Infinity for an empty row. */
  lse: Tensor
  /** [B,Hq,Lq,Lk] pre-dropout probabilities, only with returnWeights. */
  weights?: Tensor
  /** The dropout seed (the one given), only when dropout > 0: what attentionBackward needs. */
  seed?: number
}

export type AttentionBackwardOptions = Omit<AttentionOptions, 'out'> & {
  /** Tensors to write the gradients into (each optional). */
  out?: { dq?: TensorLike, dk?: TensorLike, dv?: TensorLike }
}

export interface AttentionGrads {
  /** ∂loss/∂q, [B,Hq,Lq,D]. */
  dq: Tensor
  /** ∂loss/∂k, [B,Hkv,Lk,D] (summed over the query heads that share each kv head). */
  dk: Tensor
  /** ∂loss/∂v, [B,Hkv,Lk,Dv]. */
  dv: Tensor
}

const OPTION_KEYS = ['scale', 'causal', 'window', 'mask', 'keyLengths', 'dropout', 'seed', 'topK',
  'returnWeights', 'backend', 'precision', 'out'] as const
const MAX_WINDOW = Number.MAX_SAFE_INTEGER

interface Dims { B: number, Hq: number, Hkv: number, Lq: number, Lk: number, D: number, Dv: number }

function dims (op: string, Q: Checked, K: Checked, V: Checked): Dims {
  if (Q.shape.length !== 4) rangeError(op, 'q', '[B,Hq,Lq,D] (rank 4)', fmtShape(Q.shape))
  const [B, Hq, Lq, D] = Q.shape as [number, number, number, number]
  if (Hq < 1) rangeError(op, 'q', '[B,Hq,Lq,D] with Hq ≥ 1', fmtShape(Q.shape))
  if (D < 1) rangeError(op, 'q', '[B,Hq,Lq,D] with D ≥ 1', fmtShape(Q.shape))
  if (K.shape.length !== 4 || K.shape[0] !== B || K.shape[3] !== D) {
    rangeError(op, 'k', `[B,Hkv,Lk,D] with B=${B} and D=${D} as q`, fmtShape(K.shape))
  }
  const [, Hkv, Lk] = K.shape as [number, number, number, number]
  if (Hkv < 1 || Hq % Hkv !== 0) {
    rangeError(op, 'k', `[B,Hkv,Lk,D] with Hkv ≥ 1 dividing Hq=${Hq}`, fmtShape(K.shape))
  }
  if (V.shape.length !== 4 || V.shape[0] !== B || V.shape[1] !== Hkv || V.shape[2] !== Lk) {
    rangeError(op, 'v', `[B,Hkv,Lk,Dv] with B=${B}, Hkv=${Hkv}, Lk=${Lk} as k`, fmtShape(V.shape))
  }
  return { B, Hq, Hkv, Lq, Lk, D, Dv: V.shape[3]! }
}

/** The options both directions share, checked. */
interface Parsed {
  scale: number
  causal: boolean
  window: [number, number]
  mask: Checked | null
  strides: [number, number, number, number]
  keyLengths: Int32Array | null
  dropout: number
  seed: number
  topK: number
  returnWeights: boolean
}

function parseOptions (op: string, o: Partial<Record<(typeof OPTION_KEYS)[number], unknown>>, d: Dims): Parsed {
  const backend = oneOfArg(op, 'backend', o.backend, ['cpu', 'cuda'] as const, 'cpu')
  if (backend === 'cuda') {
    const cuda = binding.info().cuda
    throw new Error(`${op}: backend 'cuda' has no attention kernels yet; use backend 'cpu'` +
      (cuda.usable ? '' : ` (CUDA is not usable on this host: ${cuda.reason})`))
  }
  const precision = oneOfArg(op, 'precision', o.precision, ['fp32', 'tf32', 'bf16'] as const, 'fp32')
  if (precision === 'bf16') {
    rangeError(op, 'precision', "'fp32' or 'tf32' on the cpu backend (bf16 is not implemented there)", describe(precision))
  }

  let scale = 1 / Math.sqrt(d.D)
  if (o.scale !== undefined) {
    if (typeof o.scale !== 'number') typeError(op, 'scale', 'a finite number', describe(o.scale))
    if (!Number.isFinite(o.scale) || !Number.isFinite(Math.fround(o.scale))) {
      rangeError(op, 'scale', 'a finite number', describe(o.scale))
    }
    scale = o.scale
  }
  const causal = booleanArg(op, 'causal', o.causal, false)

  let window: [number, number] = [-1, -1]
  if (o.window !== undefined && o.window !== null) {
    const w = o.window
    if (!Array.isArray(w) || w.length !== 2 || typeof w[0] !== 'number' || typeof w[1] !== 'number') {
      typeError(op, 'window', 'an array [left, right] of two integers', describe(w))
    }
    for (const v of w as number[]) {
      if (!Number.isInteger(v) || v < -1 || v > MAX_WINDOW) {
        rangeError(op, 'window', '[left, right] of integers ≥ 0, or −1 for unbounded', describe(w))
      }
    }
    window = [w[0] as number, w[1] as number]
  }

  const M = optionalTensorArg(op, 'mask', o.mask)
  let strides: [number, number, number, number] = [0, 0, 0, 0]
  if (M !== null) {
    const target = [d.B, d.Hq, d.Lq, d.Lk]
    const r = M.shape.length
    const ok = r <= 4 && M.shape.every((n, i) => n === 1 || n === target[4 - r + i])
    if (!ok) rangeError(op, 'mask', `broadcastable to [B,Hq,Lq,Lk]=${fmtShape(target)}`, fmtShape(M.shape))
    const m4 = [...Array(4 - r).fill(1), ...M.shape] as number[]
    let s = 1
    for (let a = 3; a >= 0; a--) {
      strides[a] = m4[a] === 1 ? 0 : s
      s *= m4[a]!
    }
    strides = [strides[0], strides[1], strides[2], strides[3]]
  }

  let keyLengths: Int32Array | null = null
  if (o.keyLengths !== undefined && o.keyLengths !== null) {
    if (!(o.keyLengths instanceof Int32Array)) typeError(op, 'keyLengths', 'an Int32Array [B]', describe(o.keyLengths))
    keyLengths = o.keyLengths
    if (keyLengths.length !== d.B) rangeError(op, 'keyLengths', `an Int32Array of B=${d.B} lengths`, describe(keyLengths))
    // B numbers, not a big tensor: checked here so the message can name the bad entry.
    for (let b = 0; b < keyLengths.length; b++) {
      const n = keyLengths[b]!
      if (n < 0 || n > d.Lk) rangeError(op, `keyLengths[${b}]`, `from 0 to Lk=${d.Lk}`, String(n))
    }
  }

  const { p: dropout, seed } = dropoutArgs(op, 'dropout', o.dropout, o.seed)

  let topK = 0
  if (o.topK !== undefined) {
    if (typeof o.topK !== 'number') typeError(op, 'topK', `an integer from 1 to Lk=${d.Lk}`, describe(o.topK))
    if (!Number.isInteger(o.topK) || o.topK < 1 || o.topK > d.Lk) {
      rangeError(op, 'topK', `an integer from 1 to Lk=${d.Lk}`, describe(o.topK))
    }
    topK = o.topK
  }
  const returnWeights = booleanArg(op, 'returnWeights', o.returnWeights, false)
  return { scale, causal, window, mask: M, strides, keyLengths, dropout, seed, topK, returnWeights }
}

/** The binding's description of the problem (everything but the arrays). */
function problemOf (d: Dims, p: Parsed): AttentionProblem {
  return {
    B: d.B,
    Hq: d.Hq,
    Hkv: d.Hkv,
    Lq: d.Lq,
    Lk: d.Lk,
    D: d.D,
    Dv: d.Dv,
    scale: p.scale,
    causal: p.causal,
    windowLeft: p.window[0],
    windowRight: p.window[1],
    maskStrideB: p.strides[0],
    maskStrideH: p.strides[1],
    maskStrideQ: p.strides[2],
    maskStrideK: p.strides[3],
    dropout: p.dropout,
    seed: p.seed,
    topK: p.topK
  }
}

function planAttention (q: TensorLike, k: TensorLike, v: TensorLike, opts?: AttentionOptions) {
  const op = 'attention'
  const Q = tensorArg(op, 'q', q)
  const K = tensorArg(op, 'k', k)
  const V = tensorArg(op, 'v', v)
  const o = optionsArg(op, opts, OPTION_KEYS)
  const d = dims(op, Q, K, V)
  const p = parseOptions(op, o, d)
  const outs = outsArg(op, o.out, ['out', 'lse', 'weights'])
  const inputs = [['q', Q], ['k', K], ['v', V], ['mask', p.mask]] as const
  const oShape: Shape = Object.freeze([d.B, d.Hq, d.Lq, d.Dv])
  const lShape: Shape = Object.freeze([d.B, d.Hq, d.Lq])
  const wShape: Shape = Object.freeze([d.B, d.Hq, d.Lq, d.Lk])
  const oOut = outArg(op, 'out.out', outs.out, oShape, inputs)
  const lOut = outArg(op, 'out.lse', outs.lse, lShape, inputs)
  if (outs.weights !== undefined && !p.returnWeights) {
    rangeError(op, 'out.weights', 'absent unless returnWeights is true', 'a tensor')
  }
  const wOut = p.returnWeights ? outArg(op, 'out.weights', outs.weights, wShape, inputs) : null
  const args: Parameters<typeof binding.attention> = [Q.data, K.data, V.data, p.mask?.data ?? null, p.keyLengths,
    oOut?.data ?? null, lOut?.data ?? null, wOut?.data ?? null, { ...problemOf(d, p), returnWeights: p.returnWeights }]
  return {
    args,
    finish: (r: RawAttention): AttentionResult => {
      const res: AttentionResult = {
        out: resultTensor(outs.out, oOut, r.out, oShape),
        lse: resultTensor(outs.lse, lOut, r.lse, lShape)
      }
      if (p.returnWeights) res.weights = resultTensor(outs.weights, wOut, r.weights!, wShape)
      if (p.dropout > 0) res.seed = p.seed
      return res
    }
  }
}

function planAttentionBackward (dOut: TensorLike, q: TensorLike, k: TensorLike, v: TensorLike, out: TensorLike,
  lse: TensorLike, opts?: AttentionBackwardOptions) {
  const op = 'attentionBackward'
  const DO = tensorArg(op, 'dOut', dOut)
  const Q = tensorArg(op, 'q', q)
  const K = tensorArg(op, 'k', k)
  const V = tensorArg(op, 'v', v)
  const O = tensorArg(op, 'out', out)
  const L = tensorArg(op, 'lse', lse)
  const o = optionsArg(op, opts, OPTION_KEYS)
  const d = dims(op, Q, K, V)
  const oShape = [d.B, d.Hq, d.Lq, d.Dv]
  if (!sameShape(DO.shape, oShape)) rangeError(op, 'dOut', `${fmtShape(oShape)} (the shape of attention's out)`, fmtShape(DO.shape))
  if (!sameShape(O.shape, oShape)) rangeError(op, 'out', `${fmtShape(oShape)} (attention's out)`, fmtShape(O.shape))
  const lShape = [d.B, d.Hq, d.Lq]
  if (!sameShape(L.shape, lShape)) rangeError(op, 'lse', `${fmtShape(lShape)} (attention's lse)`, fmtShape(L.shape))
  const p = parseOptions(op, o, d)
  const outs = outsArg(op, o.out, ['dq', 'dk', 'dv'])
  const inputs = [['dOut', DO], ['q', Q], ['k', K], ['v', V], ['out', O], ['lse', L], ['mask', p.mask]] as const
  const dqOut = outArg(op, 'out.dq', outs.dq, Q.shape, inputs)
  const dkOut = outArg(op, 'out.dk', outs.dk, K.shape, inputs)
  const dvOut = outArg(op, 'out.dv', outs.dv, V.shape, inputs)
  const args: Parameters<typeof binding.attentionBackward> = [DO.data, Q.data, K.data, V.data, O.data, L.data,
    p.mask?.data ?? null, p.keyLengths, dqOut?.data ?? null, dkOut?.data ?? null, dvOut?.data ?? null, problemOf(d, p)]
  return {
    args,
    finish: (g: RawAttentionGrads): AttentionGrads => ({
      dq: resultTensor(outs.dq, dqOut, g.dq, Q.shape),
      dk: resultTensor(outs.dk, dkOut, g.dk, K.shape),
      dv: resultTensor(outs.dv, dvOut, g.dv, V.shape)
    })
  }
}

const attentionOp = defineOp(planAttention, binding.attention, binding.attentionAsync)
const attentionBackwardOp = defineOp(planAttentionBackward, binding.attentionBackward, binding.attentionBackwardAsync)

/**
 * Fused scaled-dot-product attention: out = softmax(q·kᵀ·scale + mask)·v over the visible
 * keys of each query row. q [B,Hq,Lq,D], k [B,Hkv,Lk,D], v [B,Hkv,Lk,Dv] with Hq a
 * multiple of Hkv (query head h reads kv head ⌊h/(Hq/Hkv)⌋, as PyTorch's enable_gqa).
 * Returns { out [B,Hq,Lq,Dv], lse [B,Hq,Lq], weights? }. All restrictions (causal,
 * window, mask, keyLengths, topK) intersect; a row with no visible key gives out = 0 and
 * lse = −Infinity, never NaN. Memory beyond the results is O(L) per thread.
 */
export function attention (q: TensorLike, k: TensorLike, v: TensorLike, opts?: AttentionOptions): AttentionResult {
  return attentionOp.sync(q, k, v, opts)
}

/** attention() computed off the event loop. */
export function attentionAsync (q: TensorLike, k: TensorLike, v: TensorLike, opts?: AttentionOptions): Promise<AttentionResult> {
  return attentionOp.async(q, k, v, opts)
}

/**
 * Gradients of attention(q, k, v, opts) given dOut = ∂loss/∂out and the forward's out and
 * lse, with the same options (the same seed when dropout > 0). The probabilities are
 * recomputed tile by tile; deterministic (bit-identical across runs and thread counts).
 * Rows with no visible key get zero gradients.
 */
export function attentionBackward (dOut: TensorLike, q: TensorLike, k: TensorLike, v: TensorLike, out: TensorLike,
  lse: TensorLike, opts?: AttentionBackwardOptions): AttentionGrads {
  return attentionBackwardOp.sync(dOut, q, k, v, out, lse, opts)
}

/** attentionBackward() computed off the event loop. */
export function attentionBackwardAsync (dOut: TensorLike, q: TensorLike, k: TensorLike, v: TensorLike,
  out: TensorLike, lse: TensorLike, opts?: AttentionBackwardOptions): Promise<AttentionGrads> {
  return attentionBackwardOp.async(dOut, q, k, v, out, lse, opts)
}
