// TransformerEncoderLayer and TransformerEncoder (PyTorch's nn.*), composed of the
// MultiheadAttention, Linear, Dropout and LayerNorm children PyTorch has, by the same
// names, with an explicit backward through the residual sums.
import { keep } from '../lifetime'
import * as ops from '../ops'
import { type Tensor, type TensorLike } from '../tensor'
import { describe, typeError } from '../validate'
import { type AttentionMask, MultiheadAttention } from './attention'
import { ModuleList } from './container'
import { Dropout } from './activation'
import { Linear } from './linear'
import { Module } from './module'
import { LayerNorm } from './norm'
import { backwardOf, forwardOf, runAsync, runSync, step, type Steps } from './steps'
import { boolArg, enumArg, intArg, noForward, numArg, options, release } from './util'

export interface TransformerEncoderLayerOptions {
  /** The feed-forward width (default 2048). */
  dimFeedforward?: number
  /** Dropout on the attention weights, after attention, inside and after the feed-forward block (default 0.1). */
  dropout?: number
  /** The feed-forward activation (default 'relu'). */
  activation?: 'relu' | 'gelu'
  /** [B, L, E] (true) or [L, B, E] (false, the default). */
  batchFirst?: boolean
  /** LayerNorm before each block (pre-norm) instead of after the residual sum (default false). */
  normFirst?: boolean
  /** LayerNorm's eps (default 1e-5). */
  layerNormEps?: number
  /** Biases in the projections, the feed-forward layers and the norms (default true). */
  bias?: boolean
}

export interface TransformerEncoderLayerForwardOptions {
  /** attnMask of the self-attention: additive floats or boolean (1 = not allowed), [L, L] or [B·nhead, L, L]. */
  srcMask?: AttentionMask | null
  /** keyPaddingMask of the self-attention, [B, L]: 1 = padding. */
  srcKeyPaddingMask?: AttentionMask | null
  /** The causal mask (position i attends to j ≤ i); intersects with srcMask. */
  isCausal?: boolean
}

const LAYER = 'TransformerEncoderLayer'

// What a layer's backward needs beyond what its children cache: the intermediates it made.
interface LayerCache {
  /** The activation's input (its backward reads it). */
  h: Tensor
  /** Intermediates the children hold by reference, released after backward. */
  held: Tensor[]
  src: TensorLike
}

/**
 * One transformer encoder block, PyTorch's nn.TransformerEncoderLayer:
 *   norm-last (default): x = norm1(x + sa(x)); x = norm2(x + ff(x))
 *   normFirst:           x = x + sa(norm1(x)); x = x + ff(norm2(x))
 * with sa(x) = dropout1(self_attn(x, x, x)) and ff(x) = dropout2(linear2(dropout(act(linear1(x))))).
 * Children (and so state-dict names): self_attn, linear1, dropout, linear2, norm1, norm2,
 * dropout1, dropout2. backward(dy) → dx.
 */
export class TransformerEncoderLayer extends Module {
  readonly dModel: number
  readonly nhead: number
  readonly dimFeedforward: number
  readonly dropoutP: number
  readonly activation: 'relu' | 'gelu'
  readonly batchFirst: boolean
  readonly normFirst: boolean
  readonly layerNormEps: number
  readonly bias: boolean
  self_attn: MultiheadAttention
  linear1: Linear
  dropout: Dropout
  linear2: Linear
  norm1: LayerNorm
  norm2: LayerNorm
  dropout1: Dropout
  dropout2: Dropout
  #cache: LayerCache | null = null

  constructor (dModel: number, nhead: number, opts: TransformerEncoderLayerOptions = {}) {
    super()
    const o = options(LAYER, opts, ['dimFeedforward', 'dropout', 'activation', 'batchFirst', 'normFirst', 'layerNormEps', 'bias'])
    this.dModel = intArg(LAYER, 'dModel', dModel)
    this.nhead = intArg(LAYER, 'nhead', nhead)
    this.dimFeedforward = o.dimFeedforward === undefined ? 2048 : intArg(LAYER, 'dimFeedforward', o.dimFeedforward)
    this.dropoutP = numArg(LAYER, 'dropout', o.dropout, 0.1, 0, 1)
    this.activation = enumArg(LAYER, 'activation', o.activation, ['relu', 'gelu'], 'relu')
    this.batchFirst = boolArg(LAYER, 'batchFirst', o.batchFirst, false)
    this.normFirst = boolArg(LAYER, 'normFirst', o.normFirst, false)
    this.layerNormEps = numArg(LAYER, 'layerNormEps', o.layerNormEps, 1e-5, 0, 1e30)
    this.bias = boolArg(LAYER, 'bias', o.bias, true)
    const bias = this.bias
    this.self_attn = new MultiheadAttention(this.dModel, this.nhead, { dropout: this.dropoutP, bias, batchFirst: this.batchFirst })
    this.linear1 = new Linear(this.dModel, this.dimFeedforward, { bias })
    this.dropout = new Dropout(this.dropoutP)
    this.linear2 = new Linear(this.dimFeedforward, this.dModel, { bias })
    this.norm1 = new LayerNorm(this.dModel, { eps: this.layerNormEps, bias })
    this.norm2 = new LayerNorm(this.dModel, { eps: this.layerNormEps, bias })
    this.dropout1 = new Dropout(this.dropoutP)
    this.dropout2 = new Dropout(this.dropoutP)
  }

  /** A deep copy: the same configuration, a copy of every parameter and the training mode. */
  clone (): TransformerEncoderLayer {
    const c = new TransformerEncoderLayer(this.dModel, this.nhead, {
      dimFeedforward: this.dimFeedforward, dropout: this.dropoutP, activation: this.activation, batchFirst: this.batchFirst,
      normFirst: this.normFirst, layerNormEps: this.layerNormEps, bias: this.bias
    })
    c.loadStateDict(this.stateDict())
    const src = [...this.modules()]
    ;[...c.modules()].forEach((m, i) => { m.training = src[i]!.training; m.gradInEval = src[i]!.gradInEval })
    return c
  }

  forward (src: TensorLike, opts?: TransformerEncoderLayerForwardOptions): Tensor {
    return runSync(this.#forward(src, opts))
  }

  override forwardAsync (src: TensorLike, opts?: TransformerEncoderLayerForwardOptions): Promise<Tensor> {
    try {
      return runAsync(this.#forward(src, opts))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  backward (dy: TensorLike): Tensor { return runSync(this.#backward(dy)) }
  override backwardAsync (dy: TensorLike): Promise<Tensor> { return runAsync(this.#backward(dy)) }

  #drop (): void {
    const c = this.#cache
    if (c === null) return
    this.#cache = null
    for (const t of [c.h, ...c.held]) release(t, c.src)
  }

  // sa(x) = dropout1(self_attn(x, x, x)): the attention's own output is not needed afterwards.
  * #sa (x: TensorLike, o: Partial<Record<'srcMask' | 'srcKeyPaddingMask' | 'isCausal', unknown>>): Steps<Tensor> {
    const r = yield * forwardOf<{ out: Tensor }>(this.self_attn, x, x, x, {
      attnMask: o.srcMask as AttentionMask | null | undefined,
      keyPaddingMask: o.srcKeyPaddingMask as AttentionMask | null | undefined,
      isCausal: o.isCausal as boolean | undefined,
      needWeights: false
    })
    const a = yield * forwardOf<Tensor>(this.dropout1, r.out)
    if (a.data.buffer !== r.out.data.buffer) r.out.dispose()
    return a
  }

  // ff(x) = dropout2(linear2(dropout(act(linear1(x))))). Returns the result and what backward needs.
  * #ff (x: TensorLike, caching: boolean): Steps<{ y: Tensor, h: Tensor, held: Tensor[] }> {
    const h = yield * forwardOf<Tensor>(this.linear1, x)
    const act = this.activation === 'relu'
      ? yield * step(ops.relu, ops.reluAsync, h)
      : yield * step(ops.gelu, ops.geluAsync, h)
    const h3 = yield * forwardOf<Tensor>(this.dropout, act)
    if (h3.data.buffer !== act.data.buffer) act.dispose()
    const f = yield * forwardOf<Tensor>(this.linear2, h3)
    const y = yield * forwardOf<Tensor>(this.dropout2, f)
    if (y.data.buffer !== f.data.buffer) f.dispose()
    if (!caching) {
      h.dispose()
      release(h3)
      return { y, h, held: [] }
    }
    // linear2 holds h3; in eval({ grad: true }) it is a view of act, whose memory it shares.
    return { y, h, held: h3 === act || h3.data.buffer !== act.data.buffer ? [h3] : [h3, act] }
  }

  * #forward (src: TensorLike, opts?: TransformerEncoderLayerForwardOptions): Steps<Tensor> {
    if (src === null || typeof src !== 'object') typeError(LAYER, 'src', 'a tensor [L, B, E] or [B, L, E]', describe(src))
    const o = options(LAYER, opts, ['srcMask', 'srcKeyPaddingMask', 'isCausal'])
    this.#drop()
    const caching = this.cachesForBackward
    const held: Tensor[] = []
    let y: Tensor
    let ff: { y: Tensor, h: Tensor, held: Tensor[] }
    if (this.normFirst) {
      const n1 = yield * forwardOf<Tensor>(this.norm1, src)
      const a = yield * this.#sa(n1, o)
      const s1 = yield * step(ops.add, ops.addAsync, src, a)
      a.dispose()
      const n2 = yield * forwardOf<Tensor>(this.norm2, s1)
      ff = yield * this.#ff(n2, caching)
      y = yield * step(ops.add, ops.addAsync, s1, ff.y)
      ff.y.dispose()
      // norm1 keeps src (the caller's); self_attn keeps n1, norm2 keeps s1, linear1 keeps n2.
      if (caching) held.push(n1, s1, n2)
      else for (const t of [n1, s1, n2]) t.dispose()
    } else {
      const a = yield * this.#sa(src, o)
      const s1 = yield * step(ops.add, ops.addAsync, src, a)
      a.dispose()
      const x1 = yield * forwardOf<Tensor>(this.norm1, s1)
      ff = yield * this.#ff(x1, caching)
      const s2 = yield * step(ops.add, ops.addAsync, x1, ff.y)
      ff.y.dispose()
      y = yield * forwardOf<Tensor>(this.norm2, s2)
      // norm1 keeps s1, linear1 keeps x1, norm2 keeps s2.
      if (caching) held.push(s1, x1, s2)
      else for (const t of [s1, x1, s2]) t.dispose()
    }
    // Kept: a forward inside tidy() followed by a backward outside it still finds them.
    if (caching) this.#cache = { h: keep(ff.h), held: [...held, ...ff.held].map((t) => keep(t)), src }
    return y
  }

  // The feed-forward block's backward: d(ff input) from d(ff output).
  * #ffBackward (dy: TensorLike, h: Tensor): Steps<Tensor> {
    const df = yield * backwardOf<Tensor>(this.dropout2, dy)
    const dh3 = yield * backwardOf<Tensor>(this.linear2, df)
    release(df, dy)
    const dAct = yield * backwardOf<Tensor>(this.dropout, dh3)
    release(dh3, dAct)
    const dh = this.activation === 'relu'
      ? yield * step(ops.reluBackward, ops.reluBackwardAsync, dAct, h)
      : yield * step(ops.geluBackward, ops.geluBackwardAsync, dAct, h)
    dAct.dispose()
    const dx = yield * backwardOf<Tensor>(this.linear1, dh)
    dh.dispose()
    return dx
  }

  * #backward (dy: TensorLike): Steps<Tensor> {
    const c = this.#cache
    if (c === null) noForward(LAYER)
    this.#cache = null
    try {
      if (this.normFirst) {
        // y = s1 + ff(norm2(s1)); s1 = src + sa(norm1(src))
        const dn2 = yield * this.#ffBackward(dy, c.h)
        const ds1b = yield * backwardOf<Tensor>(this.norm2, dn2)
        dn2.dispose()
        const ds1 = yield * step(ops.add, ops.addAsync, dy, ds1b)
        ds1b.dispose()
        const da = yield * backwardOf<Tensor>(this.dropout1, ds1)
        const dn1 = yield * step((d: TensorLike) => this.self_attn.backwardSelf(d), (d: TensorLike) => this.self_attn.backwardSelfAsync(d), da)
        release(da, ds1)
        const dxb = yield * backwardOf<Tensor>(this.norm1, dn1)
        dn1.dispose()
        const dx = yield * step(ops.add, ops.addAsync, ds1, dxb)
        ds1.dispose()
        dxb.dispose()
        return dx
      }
      // y = norm2(s2), s2 = x1 + ff(x1); x1 = norm1(s1), s1 = src + sa(src)
      const ds2 = yield * backwardOf<Tensor>(this.norm2, dy)
      const dx1b = yield * this.#ffBackward(ds2, c.h)
      const dx1 = yield * step(ops.add, ops.addAsync, ds2, dx1b)
      ds2.dispose()
      dx1b.dispose()
      const ds1 = yield * backwardOf<Tensor>(this.norm1, dx1)
      dx1.dispose()
      const da = yield * backwardOf<Tensor>(this.dropout1, ds1)
      const dsrc = yield * step((d: TensorLike) => this.self_attn.backwardSelf(d), (d: TensorLike) => this.self_attn.backwardSelfAsync(d), da)
      release(da, ds1)
      const dx = yield * step(ops.add, ops.addAsync, ds1, dsrc)
      ds1.dispose()
      dsrc.dispose()
      return dx
    } finally {
      for (const t of [c.h, ...c.held]) release(t, c.src)
    }
  }
}

export interface TransformerEncoderOptions {
  /** A final normalisation (PyTorch's `norm`), applied after the last layer. */
  norm?: Module | null
}

export interface TransformerEncoderForwardOptions {
  /** Each layer's srcMask. */
  mask?: AttentionMask | null
  /** Each layer's srcKeyPaddingMask. */
  srcKeyPaddingMask?: AttentionMask | null
  /** Each layer's isCausal. */
  isCausal?: boolean
}

const ENCODER = 'TransformerEncoder'

/**
 * A stack of numLayers deep copies of encoderLayer (PyTorch's _get_clones: children
 * layers.0, layers.1, …, independent of the layer passed in), then the optional norm.
 * forward(src, { mask, srcKeyPaddingMask, isCausal }), backward(dy) → dx.
 */
export class TransformerEncoder extends Module {
  readonly numLayers: number
  layers: ModuleList
  norm: Module | null
  // The inputs of layers 1… and of the norm: the encoder's own, released after backward.
  #acts: Tensor[] | null = null
  #src: TensorLike | null = null

  constructor (encoderLayer: TransformerEncoderLayer, numLayers: number, opts: TransformerEncoderOptions = {}) {
    super()
    if (!(encoderLayer instanceof TransformerEncoderLayer)) {
      typeError(ENCODER, 'encoderLayer', 'a TransformerEncoderLayer', describe(encoderLayer))
    }
    this.numLayers = intArg(ENCODER, 'numLayers', numLayers)
    const o = options(ENCODER, opts, ['norm'])
    if (o.norm !== undefined && o.norm !== null && !(o.norm instanceof Module)) {
      typeError(ENCODER, 'norm', 'a Module (a LayerNorm) or null', describe(o.norm))
    }
    this.layers = new ModuleList()
    for (let i = 0; i < this.numLayers; i++) this.layers.push(encoderLayer.clone())
    this.norm = (o.norm as Module | undefined) ?? null
  }

  forward (src: TensorLike, opts?: TransformerEncoderForwardOptions): Tensor { return runSync(this.#forward(src, opts)) }
  override forwardAsync (src: TensorLike, opts?: TransformerEncoderForwardOptions): Promise<Tensor> {
    try {
      return runAsync(this.#forward(src, opts))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  backward (dy: TensorLike): Tensor { return runSync(this.#backward(dy)) }
  override backwardAsync (dy: TensorLike): Promise<Tensor> { return runAsync(this.#backward(dy)) }

  #drop (): void {
    const acts = this.#acts
    this.#acts = null
    if (acts !== null) for (const t of acts) release(t, this.#src)
    this.#src = null
  }

  * #forward (src: TensorLike, opts?: TransformerEncoderForwardOptions): Steps<Tensor> {
    const o = options(ENCODER, opts, ['mask', 'srcKeyPaddingMask', 'isCausal'])
    this.#drop()
    const layerOpts = { srcMask: o.mask, srcKeyPaddingMask: o.srcKeyPaddingMask, isCausal: o.isCausal }
    const caching = this.cachesForBackward
    const acts: Tensor[] = []
    let x: TensorLike = src
    for (const layer of this.layers) {
      const y = yield * forwardOf<Tensor>(layer, x, layerOpts)
      if (x !== src) {
        if (caching) acts.push(x as Tensor)
        else release(x, src, y)
      }
      x = y
    }
    if (this.norm !== null) {
      const y = yield * forwardOf<Tensor>(this.norm, x)
      if (x !== src) {
        if (caching) acts.push(x as Tensor)
        else release(x, src, y)
      }
      x = y
    }
    if (caching) {
      this.#acts = acts.map((t) => keep(t))
      this.#src = src
    }
    return x as Tensor
  }

  * #backward (dy: TensorLike): Steps<Tensor> {
    const acts = this.#acts
    const src = this.#src
    if (acts === null) noForward(ENCODER)
    this.#acts = null
    this.#src = null
    try {
      let d: TensorLike = dy
      const stack: Module[] = [...this.layers]
      if (this.norm !== null) stack.push(this.norm)
      for (let i = stack.length - 1; i >= 0; i--) {
        const next = yield * backwardOf<Tensor>(stack[i]!, d)
        if (d !== dy) release(d, dy, next)
        d = next
      }
      return d as Tensor
    } finally {
      for (const t of acts) release(t, src)
    }
  }
}
