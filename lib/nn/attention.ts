// MultiheadAttention (PyTorch's nn.MultiheadAttention) on the fused kernel: the Q/K/V
// projections are fv.ops.linear, the heads are split and merged by fv.ops.permute, and
// softmax(q·kᵀ/√D + mask)·v runs in fv.ops.attention / attentionBackward, which keep no
// Lq×Lk buffer unless the weights are asked for (needWeights).
import { keep } from '../lifetime'
import * as ops from '../ops'
import { nextSeed } from '../seed'
import { Tensor, type Shape, type TensorLike } from '../tensor'
import { describe, fmtShape, rangeError, tensorArg, typeError, type Checked } from '../validate'
import { xavierUniform_, zeros_ } from './init'
import { Linear } from './linear'
import { Module } from './module'
import { Parameter } from './parameter'
import { boolArg, gradOf, intArg, noForward, numArg, options, zeros } from './util'
import { runAsync, runSync, step, backwardOf, forwardOf, type Steps } from './steps'

export interface MultiheadAttentionOptions {
  /** Inputs and output are [B, L, E] (true) or [L, B, E] (false, the default, as PyTorch). */
  batchFirst?: boolean
  /** Biases on the input and output projections (default true). */
  bias?: boolean
  /** Features of key (default embedDim). */
  kdim?: number
  /** Features of value (default embedDim). */
  vdim?: number
  /** Dropout probability on the attention weights in training (default 0), in [0, 1]. */
  dropout?: number
  /**
   * Key/value heads (default numHeads): fewer than numHeads is grouped-query attention,
   * query head h reading kv head ⌊h/(numHeads/numKvHeads)⌋; 1 is multi-query attention.
   * The k and v projections then have numKvHeads·headDim rows (see the class's docs).
   */
  numKvHeads?: number
}

/**
 * A mask that is either additive floats (a TensorLike) or boolean: a Uint8Array, or
 * `{ data: Uint8Array, shape }`, where 1 (true) means "not allowed", as PyTorch's bool masks.
 */
export type AttentionMask = TensorLike | Uint8Array | { readonly data: Uint8Array, readonly shape: Shape }

export interface MultiheadAttentionForwardOptions {
  /**
   * [B, Lk] ([Lk] unbatched): a Uint8Array (or { data: Uint8Array, shape }) where 1 ignores
   * that key, as PyTorch's bool key_padding_mask; or additive floats [B, Lk]. A mask whose
   * rows are 0…0 1…1 (padding at the end) costs nothing: it becomes the kernel's keyLengths.
   */
  keyPaddingMask?: AttentionMask | null
  /**
   * [Lq, Lk] or [B·numHeads, Lq, Lk]: additive floats (−Infinity hides a key), or a
   * boolean mask (1 = not allowed), as PyTorch's attn_mask. A boolean mask is turned into
   * floats on every forward (a loop over its elements); pass floats to a hot loop.
   */
  attnMask?: AttentionMask | null
  /**
   * The causal mask: query i sees keys j ≤ i (PyTorch's is_causal / a tril mask, top-left
   * aligned). Intersects with attnMask when both are given.
   */
  isCausal?: boolean
  /** Also return the attention weights (default true, as PyTorch; an Lq×Lk buffer per head). */
  needWeights?: boolean
  /** The weights averaged over heads [B, Lq, Lk] (default) or per head [B, H, Lq, Lk]. */
  averageAttnWeights?: boolean
}

export interface MultiheadAttentionResult {
  /** [L, B, E] or [B, L, E] (batchFirst); [L, E] unbatched. */
  out: Tensor
  /** [B, Lq, Lk] averaged or [B, H, Lq, Lk] per head ([Lq, Lk] / [H, Lq, Lk] unbatched), or null. */
  weights: Tensor | null
}

export interface MultiheadAttentionGrads {
  /** Gradient of query, shaped like it. */
  dq: Tensor
  /** Gradient of key. */
  dk: Tensor
  /** Gradient of value. For self-attention (one tensor as query, key and value) its gradient is dq + dk + dv. */
  dv: Tensor
}

const CLS = 'MultiheadAttention'
/** The kernel options both directions share (no out). */
type KernelOptions = Omit<ops.AttentionOptions, 'out' | 'returnWeights'>
const FORWARD_KEYS = ['keyPaddingMask', 'attnMask', 'isCausal', 'needWeights', 'averageAttnWeights'] as const

interface Geometry {
  B: number
  Lq: number
  Lk: number
  /** Inputs laid out [L, B, ·] (false also for unbatched and batchFirst inputs). */
  seqFirst: boolean
  unbatched: boolean
}

/** What the forward keeps for its backward. */
interface Cache {
  g: Geometry
  xq: TensorLike
  xk: TensorLike
  xv: TensorLike
  /** The shapes of query, key and value. */
  shapes: Shape[]
  q: Tensor
  k: Tensor
  v: Tensor
  attnOut: Tensor
  lse: Tensor
  /** The merged heads, out_proj's input (out_proj keeps it by reference). */
  merged: Tensor
  opts: KernelOptions
  /** Masks the module made (converted or combined): disposed with the cache. */
  owned: Tensor[]
}

function isUint8Mask (m: unknown): m is Uint8Array | { data: Uint8Array, shape: Shape } {
  return m instanceof Uint8Array || (m !== null && typeof m === 'object' && (m as { data?: unknown }).data instanceof Uint8Array)
}

/**
 * Multi-head attention, PyTorch's nn.MultiheadAttention: `new MultiheadAttention(64, 4,
 * { batchFirst: true })`, `forward(query, key, value, opts)` → `{ out, weights }`,
 * `backward(dOut)` → `{ dq, dk, dv }`.
 *
 * Parameters (PyTorch's names, shapes and initialisation; headDim D = embedDim/numHeads,
 * kvDim = numKvHeads·D, which is embedDim unless numKvHeads is given):
 * - kdim = vdim = embedDim: `in_proj_weight` [embedDim + 2·kvDim, embedDim] (rows: q, then
 *   k, then v; Xavier-uniform over the whole matrix, as PyTorch);
 * - otherwise `q_proj_weight` [embedDim, embedDim], `k_proj_weight` [kvDim, kdim],
 *   `v_proj_weight` [kvDim, vdim] (each Xavier-uniform);
 * - `in_proj_bias` [embedDim + 2·kvDim] (zeros), with bias;
 * - `out_proj.weight` [embedDim, embedDim], `out_proj.bias` [embedDim] (zeros): a Linear.
 * With numKvHeads = numHeads (the default) these are exactly PyTorch's shapes ([3E, E]);
 * grouped-query attention, which PyTorch's module does not have, shrinks the k and v rows.
 *
 * Memory: the projected q, k, v, the kernel's out and lse and the merged heads are cached
 * for backward (in training, or after eval({ grad: true })) and disposed once backward has
 * used them; a plain eval() forward disposes them before returning. No Lq×Lk buffer
 * exists unless needWeights is true.
 */
export class MultiheadAttention extends Module {
  readonly embedDim: number
  readonly numHeads: number
  readonly numKvHeads: number
  readonly headDim: number
  readonly kdim: number
  readonly vdim: number
  readonly batchFirst: boolean
  readonly dropout: number
  /** kdim and vdim equal embedDim: one in_proj_weight (PyTorch's _qkv_same_embed_dim). */
  readonly qkvSameEmbedDim: boolean
  // Declared in PyTorch's registration order, so the state dict lists them in its order.
  in_proj_weight: Parameter | null
  q_proj_weight: Parameter | null
  k_proj_weight: Parameter | null
  v_proj_weight: Parameter | null
  in_proj_bias: Parameter | null
  out_proj: Linear
  #cache: Cache | null = null

  constructor (embedDim: number, numHeads: number, opts: MultiheadAttentionOptions = {}) {
    super()
    const o = options(CLS, opts, ['batchFirst', 'bias', 'kdim', 'vdim', 'dropout', 'numKvHeads'])
    this.embedDim = intArg(CLS, 'embedDim', embedDim)
    this.numHeads = intArg(CLS, 'numHeads', numHeads)
    if (this.embedDim % this.numHeads !== 0) {
      rangeError(CLS, 'numHeads', `a divisor of embedDim=${this.embedDim}`, String(numHeads))
    }
    this.headDim = this.embedDim / this.numHeads
    this.numKvHeads = o.numKvHeads === undefined ? this.numHeads : intArg(CLS, 'numKvHeads', o.numKvHeads)
    if (this.numHeads % this.numKvHeads !== 0) {
      rangeError(CLS, 'numKvHeads', `a divisor of numHeads=${this.numHeads}`, String(o.numKvHeads))
    }
    this.kdim = o.kdim === undefined ? this.embedDim : intArg(CLS, 'kdim', o.kdim)
    this.vdim = o.vdim === undefined ? this.embedDim : intArg(CLS, 'vdim', o.vdim)
    this.batchFirst = boolArg(CLS, 'batchFirst', o.batchFirst, false)
    this.dropout = numArg(CLS, 'dropout', o.dropout, 0, 0, 1)
    const bias = boolArg(CLS, 'bias', o.bias, true)
    this.qkvSameEmbedDim = this.kdim === this.embedDim && this.vdim === this.embedDim
    const E = this.embedDim
    const kv = this.numKvHeads * this.headDim
    this.in_proj_weight = this.qkvSameEmbedDim ? new Parameter(zeros([E + 2 * kv, E])) : null
    this.q_proj_weight = this.qkvSameEmbedDim ? null : new Parameter(zeros([E, E]))
    this.k_proj_weight = this.qkvSameEmbedDim ? null : new Parameter(zeros([kv, this.kdim]))
    this.v_proj_weight = this.qkvSameEmbedDim ? null : new Parameter(zeros([kv, this.vdim]))
    this.in_proj_bias = bias ? new Parameter(zeros([E + 2 * kv])) : null
    this.out_proj = new Linear(E, E, { bias })
    this.resetParameters()
  }

  /** PyTorch's _reset_parameters: Xavier-uniform projections, zero biases (out_proj.weight keeps Linear's init). */
  resetParameters (): void {
    if (this.in_proj_weight !== null) xavierUniform_(this.in_proj_weight)
    for (const p of [this.q_proj_weight, this.k_proj_weight, this.v_proj_weight]) if (p !== null) xavierUniform_(p)
    if (this.in_proj_bias !== null) zeros_(this.in_proj_bias)
    if (this.out_proj.bias !== null) zeros_(this.out_proj.bias)
  }

  forward (query: TensorLike, key: TensorLike, value: TensorLike,
    opts?: MultiheadAttentionForwardOptions): MultiheadAttentionResult {
    return runSync(this.#forward(query, key, value, opts))
  }

  override forwardAsync (query: TensorLike, key: TensorLike, value: TensorLike,
    opts?: MultiheadAttentionForwardOptions): Promise<MultiheadAttentionResult> {
    try {
      return runAsync(this.#forward(query, key, value, opts))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  backward (dOut: TensorLike): MultiheadAttentionGrads {
    const [dq, dk, dv] = runSync(this.#backward(dOut, false))
    return { dq: dq!, dk: dk!, dv: dv! }
  }

  override async backwardAsync (dOut: TensorLike): Promise<MultiheadAttentionGrads> {
    const [dq, dk, dv] = await runAsync(this.#backward(dOut, false))
    return { dq: dq!, dk: dk!, dv: dv! }
  }

  /**
   * For self-attention (one tensor passed as query, key and value): its whole gradient
   * dq + dk + dv as one tensor, the three input projections' gradients accumulated into
   * it as they are computed (no separate sums). Parameter gradients as backward().
   */
  backwardSelf (dOut: TensorLike): Tensor {
    return this.#selfGrad(runSync(this.#backward(dOut, true)))
  }

  /** backwardSelf() off the event loop. */
  async backwardSelfAsync (dOut: TensorLike): Promise<Tensor> {
    return this.#selfGrad(await runAsync(this.#backward(dOut, true)))
  }

  #selfGrad (dx: Tensor[]): Tensor { return dx[0]! }

  // The projection of input i (0 q, 1 k, 2 v): its weight and bias as views of the parameters.
  #projection (i: 0 | 1 | 2): { w: Parameter, wOffset: number, wShape: [number, number], b: Parameter | null, bOffset: number } {
    const E = this.embedDim
    const kv = this.numKvHeads * this.headDim
    const rows = i === 0 ? E : kv
    const start = i === 0 ? 0 : i === 1 ? E : E + kv
    const inDim = i === 0 ? E : i === 1 ? this.kdim : this.vdim
    if (this.in_proj_weight !== null) {
      return { w: this.in_proj_weight, wOffset: start * E, wShape: [rows, E], b: this.in_proj_bias, bOffset: start }
    }
    const w = [this.q_proj_weight, this.k_proj_weight, this.v_proj_weight][i]!
    return { w, wOffset: 0, wShape: [rows, inDim], b: this.in_proj_bias, bOffset: start }
  }

  #geometry (q: Checked, k: Checked, v: Checked): Geometry {
    const E = this.embedDim
    const r = q.shape.length
    const layout = this.batchFirst ? '[B, L, E]' : '[L, B, E]'
    if (r !== 2 && r !== 3) rangeError(CLS, 'query', `${layout} (or [L, E] unbatched) with E=${E}`, fmtShape(q.shape))
    if (q.shape[r - 1] !== E) rangeError(CLS, 'query', `${r === 3 ? layout : '[L, E]'} with E=${E}`, fmtShape(q.shape))
    const unbatched = r === 2
    const B = unbatched ? 1 : this.batchFirst ? q.shape[0]! : q.shape[1]!
    const Lq = unbatched ? q.shape[0]! : this.batchFirst ? q.shape[1]! : q.shape[0]!
    const kvShape = (name: string, t: Checked, d: number): number => {
      const what = unbatched ? `[Lk, ${d}] (unbatched, as query)` : this.batchFirst ? `[B, Lk, ${d}] with B=${B}` : `[Lk, B, ${d}] with B=${B}`
      if (t.shape.length !== r || t.shape[r - 1] !== d) rangeError(CLS, name, what, fmtShape(t.shape))
      if (!unbatched && (this.batchFirst ? t.shape[0] : t.shape[1]) !== B) rangeError(CLS, name, what, fmtShape(t.shape))
      return unbatched || !this.batchFirst ? t.shape[0]! : t.shape[1]!
    }
    const Lk = kvShape('key', k, this.kdim)
    const Lv = kvShape('value', v, this.vdim)
    if (Lv !== Lk) rangeError(CLS, 'value', `Lk=${Lk} positions as key`, fmtShape(v.shape))
    return { B, Lq, Lk, seqFirst: !unbatched && !this.batchFirst, unbatched }
  }

  // keyPaddingMask, attnMask and isCausal → the kernel's options (and the masks made here).
  #masks (g: Geometry, o: Partial<Record<(typeof FORWARD_KEYS)[number], unknown>>): { opts: KernelOptions, owned: Tensor[], parts: Array<{ t: TensorLike, owned: boolean }> } {
    const { B, Lq, Lk } = g
    const H = this.numHeads
    const opts: KernelOptions = {}
    const owned: Tensor[] = []
    const parts: Array<{ t: TensorLike, owned: boolean }> = []

    if (o.keyPaddingMask !== undefined && o.keyPaddingMask !== null) {
      const m = o.keyPaddingMask
      const expect = g.unbatched ? `[${Lk}] (Lk)` : `[${B}, ${Lk}] ([B, Lk])`
      const want = g.unbatched ? [Lk] : [B, Lk]
      if (isUint8Mask(m)) {
        const data = m instanceof Uint8Array ? m : m.data
        const shape = m instanceof Uint8Array ? null : m.shape
        if (shape !== null && !(Array.isArray(shape) && shape.length === want.length && shape.every((d, i) => d === want[i]))) {
          rangeError(CLS, 'keyPaddingMask', `a boolean mask ${expect}`, describe(shape))
        }
        if (data.length !== B * Lk) rangeError(CLS, 'keyPaddingMask', `a Uint8Array of ${B * Lk} elements ${expect}`, `${data.length} elements`)
        // Padding at the end of each row (the usual case) is the kernel's keyLengths: no mask at all.
        const lengths = new Int32Array(B)
        let suffix = true
        for (let b = 0; b < B && suffix; b++) {
          let n = Lk
          for (let j = 0; j < Lk; j++) {
            if (data[b * Lk + j] !== 0) { if (n === Lk) n = j } else if (n !== Lk) { suffix = false; break }
          }
          lengths[b] = n
        }
        if (suffix) {
          opts.keyLengths = lengths
        } else {
          const f = new Float32Array(B * Lk)
          for (let i = 0; i < f.length; i++) f[i] = data[i] !== 0 ? -Infinity : 0
          const t = keep(new Tensor(f, [B, 1, 1, Lk]))
          owned.push(t)
          parts.push({ t, owned: true })
        }
      } else {
        const t = tensorArg(CLS, 'keyPaddingMask', m)
        if (t.size !== B * Lk || !(t.shape.length === want.length && t.shape.every((d, i) => d === want[i]))) {
          rangeError(CLS, 'keyPaddingMask', `additive floats ${expect}`, fmtShape(t.shape))
        }
        parts.push({ t: { data: t.data, shape: [B, 1, 1, Lk] }, owned: false })
      }
    }

    if (o.attnMask !== undefined && o.attnMask !== null) {
      const m = o.attnMask
      const expect = `[${Lq}, ${Lk}] ([Lq, Lk]) or [${B * H}, ${Lq}, ${Lk}] ([B·numHeads, Lq, Lk])`
      const fits = (shape: Shape): boolean => (shape.length === 2 && shape[0] === Lq && shape[1] === Lk) ||
        (shape.length === 3 && shape[0] === B * H && shape[1] === Lq && shape[2] === Lk)
      const as4 = (n: number): number[] => n === Lq * Lk ? [1, 1, Lq, Lk] : [B, H, Lq, Lk]
      if (isUint8Mask(m)) {
        const data = m instanceof Uint8Array ? m : m.data
        if (!(m instanceof Uint8Array) && !(Array.isArray(m.shape) && fits(m.shape))) {
          rangeError(CLS, 'attnMask', `a boolean mask ${expect}`, describe(m.shape))
        }
        if (data.length !== Lq * Lk && data.length !== B * H * Lq * Lk) {
          rangeError(CLS, 'attnMask', `a boolean mask of ${Lq * Lk} or ${B * H * Lq * Lk} elements, ${expect}`, `${data.length} elements`)
        }
        const f = new Float32Array(data.length)
        for (let i = 0; i < f.length; i++) f[i] = data[i] !== 0 ? -Infinity : 0
        const t = keep(new Tensor(f, as4(data.length)))
        owned.push(t)
        parts.push({ t, owned: true })
      } else {
        const t = tensorArg(CLS, 'attnMask', m)
        if (!fits(t.shape)) rangeError(CLS, 'attnMask', `additive floats ${expect}`, fmtShape(t.shape))
        parts.push({ t: { data: t.data, shape: as4(t.size) }, owned: false })
      }
    }

    if (o.isCausal === true) {
      // Top-left aligned (key j visible to query i iff j ≤ i), as PyTorch's tril mask. The
      // kernel's causal is bottom-right aligned: the same when Lq = Lk, a window when Lq > Lk.
      if (Lq === Lk) {
        opts.causal = true
      } else if (Lq > Lk) {
        opts.window = [-1, Lq - Lk]
      } else {
        const f = new Float32Array(Lq * Lk)
        for (let i = 0; i < Lq; i++) f.fill(-Infinity, i * Lk + i + 1, (i + 1) * Lk)
        const t = keep(new Tensor(f, [1, 1, Lq, Lk]))
        owned.push(t)
        parts.push({ t, owned: true })
      }
    } else if (o.isCausal !== undefined && o.isCausal !== false) {
      typeError(CLS, 'isCausal', 'a boolean', describe(o.isCausal))
    }
    return { opts, owned, parts }
  }

  * #forward (query: TensorLike, key: TensorLike, value: TensorLike,
    opts?: MultiheadAttentionForwardOptions): Steps<MultiheadAttentionResult> {
    const Q = tensorArg(CLS, 'query', query)
    const K = tensorArg(CLS, 'key', key)
    const V = tensorArg(CLS, 'value', value)
    const o = options(CLS, opts, FORWARD_KEYS)
    const needWeights = boolArg(CLS, 'needWeights', o.needWeights, true)
    const average = boolArg(CLS, 'averageAttnWeights', o.averageAttnWeights, true)
    const g = this.#geometry(Q, K, V)
    const { opts: attnOpts, owned, parts } = this.#masks(g, o)
    this.#drop()
    const { B, Lq, Lk } = g
    const H = this.numHeads; const Hkv = this.numKvHeads; const D = this.headDim; const E = this.embedDim
    const caching = this.cachesForBackward

    // Several masks: one additive mask for the kernel (broadcast [B or 1, H or 1, Lq, Lk]).
    if (parts.length === 1) {
      attnOpts.mask = parts[0]!.t
    } else if (parts.length > 1) {
      let acc = parts[0]!.t
      for (let i = 1; i < parts.length; i++) {
        const sum: Tensor = yield * step(ops.add, ops.addAsync, acc, parts[i]!.t)
        if (i > 1) (acc as Tensor).dispose()  // an intermediate sum
        acc = sum
      }
      // The converted masks are summed into one: only the sum is needed from here on.
      for (const t of owned) t.dispose()
      owned.length = 0
      owned.push(keep(acc as Tensor))
      attnOpts.mask = acc
    }
    if (this.training && this.dropout > 0) {
      attnOpts.dropout = this.dropout
      attnOpts.seed = nextSeed()
    }

    // Projections, then the heads: [B, L, h, D] or [L, B, h, D] → [B, h, L, D].
    const toHeads = g.seqFirst ? [1, 2, 0, 3] : [0, 2, 1, 3]
    const heads: Tensor[] = []
    const inputs = [Q, K, V]
    for (const i of [0, 1, 2] as const) {
      const p = this.#projection(i)
      const w = new Tensor(p.w.value.data.subarray(p.wOffset, p.wOffset + p.wShape[0] * p.wShape[1]), p.wShape)
      const b = p.b === null ? null : new Tensor(p.b.value.data.subarray(p.bOffset, p.bOffset + p.wShape[0]), [p.wShape[0]])
      const x = inputs[i]!
      const lin = yield * step(ops.linear, ops.linearAsync, x, w, b)
      const L = i === 0 ? Lq : Lk
      const h = i === 0 ? H : Hkv
      const split = g.seqFirst ? [L, B, h, D] : [B, L, h, D]
      const t = yield * step(ops.permute, ops.permuteAsync, { data: lin.data, shape: split }, toHeads)
      lin.dispose()
      heads.push(t)
    }
    const [q, k, v] = heads as [Tensor, Tensor, Tensor]

    const r = yield * step(ops.attention, ops.attentionAsync, q, k, v, { ...attnOpts, returnWeights: needWeights })
    // [B, H, Lq, D] → [B, Lq, H, D] or [Lq, B, H, D]: the merged heads, [.., E].
    const merged = yield * step(ops.permute, ops.permuteAsync, r.out, g.seqFirst ? [2, 0, 1, 3] : [0, 2, 1, 3])
    const mergedShape = g.unbatched ? [Lq, E] : g.seqFirst ? [Lq, B, E] : [B, Lq, E]
    const m = { data: merged.data, shape: mergedShape }
    const out = yield * forwardOf<Tensor>(this.out_proj, m)

    let weights: Tensor | null = null
    if (needWeights) {
      const w = r.weights!
      if (average) {
        // The mean over heads as one product: (1/H)·ones[1, H] · w[b] viewed [H, Lq·Lk].
        const ones = new Tensor(new Float32Array(H).fill(1), [1, H])
        const avg = yield * step(ops.gemm, ops.gemmAsync, ones, { data: w.data, shape: [B, H, Lq * Lk] }, { alpha: 1 / H })
        w.dispose()
        weights = avg.reshape(g.unbatched ? [Lq, Lk] : [B, Lq, Lk])
      } else {
        weights = g.unbatched ? w.reshape([H, Lq, Lk]) : w
      }
    }

    if (caching) {
      this.#cache = {
        g, xq: query, xk: key, xv: value, shapes: [Q.shape, K.shape, V.shape], q: keep(q), k: keep(k), v: keep(v), attnOut: keep(r.out), lse: keep(r.lse),
        merged: keep(merged), opts: attnOpts, owned
      }
    } else {
      for (const t of [q, k, v, r.out, r.lse, merged, ...owned]) t.dispose()
    }
    return { out, weights }
  }

  // A forward that was never gone back through: its cache is the module's to release.
  #drop (): void {
    const c = this.#cache
    if (c === null) return
    this.#cache = null
    for (const t of [c.q, c.k, c.v, c.attnOut, c.lse, c.merged, ...c.owned]) t.dispose()
  }

  // The input gradients dq, dk, dv; with sum, one tensor: all three accumulated into dq.
  * #backward (dOut: TensorLike, sum: boolean): Steps<Tensor[]> {
    const c = this.#cache
    if (c === null) noForward(CLS)
    if (sum && !(c.shapes[0]!.length === c.shapes[1]!.length && c.shapes.every((s) => s.every((d, i) => d === c.shapes[0]![i])) &&
      this.kdim === this.embedDim && this.vdim === this.embedDim && this.numKvHeads === this.numHeads)) {
      rangeError(CLS, 'backwardSelf', 'a forward whose query, key and value had one shape (self-attention)', 'other shapes')
    }
    this.#cache = null
    const { g } = c
    const { B, Lq } = g
    const H = this.numHeads; const Hkv = this.numKvHeads; const D = this.headDim
    const toHeads = g.seqFirst ? [1, 2, 0, 3] : [0, 2, 1, 3]
    const fromHeads = g.seqFirst ? [2, 0, 1, 3] : [0, 2, 1, 3]

    let dMerged: Tensor
    try {
      dMerged = yield * backwardOf<Tensor>(this.out_proj, dOut)
    } finally {
      c.merged.dispose()
    }
    const dHeads = yield * step(ops.permute, ops.permuteAsync,
      { data: dMerged.data, shape: g.seqFirst ? [Lq, B, H, D] : [B, Lq, H, D] }, toHeads)
    dMerged.dispose()
    let grads: ops.AttentionGrads
    try {
      grads = yield * step(ops.attentionBackward, ops.attentionBackwardAsync, dHeads, c.q, c.k, c.v, c.attnOut, c.lse, c.opts)
    } finally {
      for (const t of [dHeads, c.q, c.k, c.v, c.attnOut, c.lse, ...c.owned]) t.dispose()
    }

    const xs = [c.xq, c.xk, c.xv]
    const dh = [grads.dq, grads.dk, grads.dv]
    const dx: Tensor[] = []
    for (const i of [0, 1, 2] as const) {
      const p = this.#projection(i)
      const h = i === 0 ? H : Hkv
      const d = yield * step(ops.permute, ops.permuteAsync, dh[i]!, fromHeads)
      dh[i]!.dispose()
      const rows = p.wShape[0]
      const w = new Tensor(p.w.value.data.subarray(p.wOffset, p.wOffset + rows * p.wShape[1]), p.wShape)
      const wg = gradOf(p.w)
      const bg = gradOf(p.b)
      const dw = wg === undefined ? undefined : new Tensor(wg.data.subarray(p.wOffset, p.wOffset + rows * p.wShape[1]), p.wShape)
      const db = bg === undefined ? undefined : new Tensor(bg.data.subarray(p.bOffset, p.bOffset + rows), [rows])
      const x = xs[i]!
      const dy = { data: d.data, shape: [...c.shapes[i]!.slice(0, -1), h * D] }
      const into = sum && i > 0 ? dx[0] : undefined
      const lg = yield * step(ops.linearBackward, ops.linearBackwardAsync, dy, x, w,
        { out: { dx: into, dw, db }, accumulate: into !== undefined || dw !== undefined || db !== undefined })
      d.dispose()
      if (lg.dw !== dw) lg.dw.dispose()
      if (lg.db !== db) lg.db.dispose()
      if (into === undefined) dx.push(lg.dx)
    }
    return dx
  }
}
