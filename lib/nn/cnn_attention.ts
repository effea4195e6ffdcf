// Attention inside CNNs (DESIGN.md, "What it covers"): the sigmoid spatial gate,
// squeeze-and-excitation, ECA, CBAM, the non-local block and additive attention pooling,
// each a module with a backward that keeps its last attention map in `lastAttention`.
// Memory-bound steps run through the fused ops (spatialGate, channelPool, the attention
// kernel); parameter gradients accumulate into Parameter.grad through views of it.
import { keep } from '../lifetime'
import * as ops from '../ops'
import { Tensor, type Shape, type TensorLike } from '../tensor'
import { describe, fmtShape, rangeError, tensorArg, typeError, type Checked } from '../validate'
import { BatchNorm2d } from './norm'
import { constant_, zeros_ } from './init'
import { Conv1d, Conv2d } from './conv'
import { Linear } from './linear'
import { Module } from './module'
import { type Parameter } from './parameter'
import { Sequential } from './container'
import { backwardOf, forwardOf, runAsync, runSync, step, type Steps } from './steps'
import { boolArg, gradOf, intArg, noForward, options } from './util'

/** x as [N, C, H, W] with C = channels (a RangeError naming the class and x otherwise). */
function input4d (cls: string, x: unknown, channels: number): Checked & { N: number, C: number, H: number, W: number } {
  const X = tensorArg(cls, 'x', x)
  if (X.shape.length !== 4 || X.shape[1] !== channels) {
    rangeError(cls, 'x', `[N, C, H, W] with C=${channels}`, fmtShape(X.shape))
  }
  const [N, C, H, W] = X.shape as [number, number, number, number]
  return { ...X, N, C, H, W }
}

/**
 * PyTorch-style trailing arguments: the optional positional values, where an options object
 * may stand in for the first one left out and may also name them (new CBAM(64, { kernel: 3 })).
 * Returns the values (undefined where not given) and the options.
 */
function trailing<K extends string> (cls: string, given: unknown[], names: readonly K[], extra: readonly string[]): {
  values: Partial<Record<K, unknown>>, opts: Record<string, unknown>
} {
  const values: Partial<Record<K, unknown>> = {}
  let opts: unknown
  let i = 0
  for (; i < names.length; i++) {
    const v = given[i]
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) { opts = v; break }
    values[names[i]!] = v
  }
  if (i === names.length) opts = given[names.length]
  else if (given.slice(i + 1).some((v) => v !== undefined)) {
    typeError(cls, 'options', `the last argument (after ${names.slice(0, i).join(', ') || 'channels'})`, 'more arguments after it')
  }
  const o = options(cls, opts, [...names, ...extra]) as Record<string, unknown>
  for (const k of names) {
    if (o[k] !== undefined) {
      if (values[k] !== undefined) typeError(cls, k, 'given once (as an argument or an option)', 'both')
      values[k] = o[k]
    }
  }
  return { values, opts: o }
}

/** A parameter's value seen with another shape (no copy; a view over memory foveal did not allocate). */
function as (p: Parameter, shape: Shape): Tensor { return new Tensor(p.value.data, shape) }

/** The gradient a backward accumulates p's into, seen with another shape; undefined for a frozen p. */
function gradAs (p: Parameter | null, shape: Shape): Tensor | undefined {
  const g = gradOf(p)
  return g === undefined ? undefined : new Tensor(g.data, shape)
}

/** Adds a small gradient (a few numbers per channel) into p.grad and disposes it. */
function addInto (p: Parameter | null, g: Tensor): void {
  const target = gradOf(p)
  if (target !== undefined) {
    const t = target.data; const s = g.data
    for (let i = 0; i < t.length; i++) t[i]! += s[i]!
  }
  g.dispose()
}

/**
 * y = x·Wᵀ (+ b) backwards through a parameter seen as a matrix: the weight (and bias)
 * gradients accumulate into the parameters' grads; dx is returned (accumulated into `into`
 * when given).
 */
function * linearBack (dy: TensorLike, x: TensorLike, w: Parameter, wShape: Shape, b: Parameter | null,
  into?: Tensor): Steps<Tensor> {
  const dw = gradAs(w, wShape)
  const db = b === null ? undefined : gradAs(b, [wShape[0]!])
  const g = yield * step(ops.linearBackward, ops.linearBackwardAsync, dy, x, as(w, wShape),
    { out: { dx: into, dw, db }, accumulate: into !== undefined || dw !== undefined || db !== undefined })
  if (g.dw !== dw) g.dw.dispose()
  if (g.db !== db) g.db.dispose()
  return g.dx
}

/**
 * The base of the CNN attention blocks: `lastAttention`, the map the last forward computed,
 * kept (exempt from tidy) until the next forward replaces it.
 */
export abstract class AttentionBlock extends Module {
  #last: Tensor | null = null
  #lastOwned = false

  /** The attention map of the last forward (see each block for its shape), or null. */
  get lastAttention (): Tensor | null { return this.#last }

  /**
   * Replaces lastAttention, disposing the previous map if this block made it for itself
   * (a map that forward also returned belongs to the caller and is left alone).
   */
  protected setLastAttention (t: Tensor | null, owned: boolean): void {
    const old = this.#last
    if (old !== null && old !== t && this.#lastOwned) old.dispose()
    this.#last = t === null ? null : keep(t)
    this.#lastOwned = owned
  }
}

// ---------------------------------------------------------------------------------------

/**
 * The sigmoid spatial gate `x · σ(conv_a(x) ⊙ conv_b(x))`, conv_a and conv_b each a 1×1
 * Conv2d(channels, 1) with bias (state dict: conv_a.weight [1, C, 1, 1], conv_a.bias [1],
 * conv_b.weight, conv_b.bias), in one native pass (fv.ops.spatialGate). lastAttention:
 * the gate [N, 1, H, W].
 */
export class SpatialGate extends AttentionBlock {
  readonly channels: number
  conv_a: Conv2d
  conv_b: Conv2d
  #x: TensorLike | null = null
  #gate: Tensor | null = null

  constructor (channels: number, opts?: Record<string, never>) {
    super()
    options('SpatialGate', opts, [])
    this.channels = intArg('SpatialGate', 'channels', channels)
    this.conv_a = new Conv2d(this.channels, 1, 1)
    this.conv_b = new Conv2d(this.channels, 1, 1)
  }

  #params (): [Tensor, Tensor, Tensor, Tensor] {
    return [this.conv_a.weight.value, this.conv_a.bias!.value, this.conv_b.weight.value, this.conv_b.bias!.value]
  }

  forward (x: TensorLike): Tensor { return runSync(this.#forward(x)) }
  override forwardAsync (x: TensorLike): Promise<Tensor> {
    try { return runAsync(this.#forward(x)) } catch (err) { return Promise.reject(err) }
  }

  backward (dOut: TensorLike): Tensor { return runSync(this.#backward(dOut)) }
  override backwardAsync (dOut: TensorLike): Promise<Tensor> { return runAsync(this.#backward(dOut)) }

  * #forward (x: TensorLike): Steps<Tensor> {
    input4d('SpatialGate', x, this.channels)
    const r = yield * step(ops.spatialGate, ops.spatialGateAsync, x, ...this.#params())
    this.setLastAttention(r.gate, true)
    const caching = this.cachesForBackward
    this.#x = caching ? x : null
    this.#gate = caching ? r.gate : null
    return r.out
  }

  * #backward (dOut: TensorLike): Steps<Tensor> {
    const x = this.#x
    if (x === null) noForward('SpatialGate')
    // The gate saves recomputing σ, unless it was disposed (lastAttention is the caller's to look at).
    const gate = this.#gate !== null && !this.#gate.isDisposed ? this.#gate : null
    this.#x = null
    this.#gate = null
    const g = yield * step(ops.spatialGateBackward, ops.spatialGateBackwardAsync, dOut, x, ...this.#params(), gate)
    addInto(this.conv_a.weight, g.dwa)
    addInto(this.conv_a.bias, g.dba)
    addInto(this.conv_b.weight, g.dwb)
    addInto(this.conv_b.bias, g.dbb)
    return g.dx
  }
}

// ---------------------------------------------------------------------------------------

// A squeeze MLP C → S → C (fc1, ReLU, fc2; 1×1 convolutions applied to [N, C] rows), and its backward.
interface MlpCache { z: Tensor, h: Tensor }

function * mlpForward (fc1: Conv2d, fc2: Conv2d, v: TensorLike, C: number, S: number): Steps<{ y: Tensor, c: MlpCache }> {
  const z = yield * step(ops.linear, ops.linearAsync, v, as(fc1.weight, [S, C]), fc1.bias?.value)
  const h = yield * step(ops.relu, ops.reluAsync, z)
  const y = yield * step(ops.linear, ops.linearAsync, h, as(fc2.weight, [C, S]), fc2.bias?.value)
  return { y, c: { z, h } }
}

function * mlpBackward (fc1: Conv2d, fc2: Conv2d, dy: TensorLike, v: TensorLike, c: MlpCache, C: number,
  S: number): Steps<Tensor> {
  const dh = yield * linearBack(dy, c.h, fc2.weight, [C, S], fc2.bias)
  const dz = yield * step(ops.reluBackward, ops.reluBackwardAsync, dh, c.z)
  dh.dispose()
  const dv = yield * linearBack(dz, v, fc1.weight, [S, C], fc1.bias)
  dz.dispose()
  c.z.dispose()
  c.h.dispose()
  return dv
}

export interface SqueezeExcitationOptions {
  /** Channel reduction (default 16), also the second argument. */
  reduction?: number
  /** The squeeze width (default max(1, ⌊channels / reduction⌋)), torchvision's squeeze_channels. */
  squeezeChannels?: number
}

/**
 * Squeeze-and-excitation (Hu et al.): `x · σ(fc2(relu(fc1(avgpool(x)))))` with fc1 a 1×1
 * Conv2d(channels, squeeze) and fc2 a 1×1 Conv2d(squeeze, channels), both with bias —
 * torchvision.ops.SqueezeExcitation's names and layout (fc1.weight [S, C, 1, 1], …), with
 * squeeze = max(1, ⌊channels / reduction⌋). lastAttention: the channel weights [N, C, 1, 1].
 */
export class SqueezeExcitation extends AttentionBlock {
  readonly channels: number
  readonly squeezeChannels: number
  fc1: Conv2d
  fc2: Conv2d
  #c: { x: TensorLike, p: Tensor, mlp: MlpCache, g: Tensor } | null = null

  constructor (channels: number, reduction?: number | SqueezeExcitationOptions, opts?: SqueezeExcitationOptions) {
    super()
    const cls = 'SqueezeExcitation'
    const { values, opts: o } = trailing(cls, [reduction, opts], ['reduction'], ['squeezeChannels'])
    this.channels = intArg(cls, 'channels', channels)
    const r = values.reduction === undefined ? 16 : intArg(cls, 'reduction', values.reduction)
    this.squeezeChannels = o.squeezeChannels === undefined ? Math.max(1, Math.floor(this.channels / r)) : intArg(cls, 'squeezeChannels', o.squeezeChannels)
    this.fc1 = new Conv2d(this.channels, this.squeezeChannels, 1)
    this.fc2 = new Conv2d(this.squeezeChannels, this.channels, 1)
  }

  forward (x: TensorLike): Tensor { return runSync(this.#forward(x)) }
  override forwardAsync (x: TensorLike): Promise<Tensor> {
    try { return runAsync(this.#forward(x)) } catch (err) { return Promise.reject(err) }
  }

  backward (dOut: TensorLike): Tensor { return runSync(this.#backward(dOut)) }
  override backwardAsync (dOut: TensorLike): Promise<Tensor> { return runAsync(this.#backward(dOut)) }

  #drop (): void {
    const c = this.#c
    this.#c = null
    if (c !== null) for (const t of [c.p, c.mlp.z, c.mlp.h]) t.dispose()
  }

  * #forward (x: TensorLike): Steps<Tensor> {
    const X = input4d('SqueezeExcitation', x, this.channels)
    this.#drop()
    const { N, C } = X; const S = this.squeezeChannels
    const p = yield * step(ops.globalAvgPool2d, ops.globalAvgPool2dAsync, x)
    const { y, c } = yield * mlpForward(this.fc1, this.fc2, { data: p.data, shape: [N, C] }, C, S)
    // The map made [N, C, 1, 1] directly (a reshape would share the sigmoid result's fate).
    const g4 = yield * step(ops.sigmoid, ops.sigmoidAsync, { data: y.data, shape: [N, C, 1, 1] })
    y.dispose()
    const out = yield * step(ops.mul, ops.mulAsync, x, g4)
    this.setLastAttention(g4, true)
    if (this.cachesForBackward) this.#c = { x, p: keep(p), mlp: { z: keep(c.z), h: keep(c.h) }, g: g4 }
    else for (const t of [p, c.z, c.h]) t.dispose()
    return out
  }

  * #backward (dOut: TensorLike): Steps<Tensor> {
    const c = this.#c
    if (c === null) noForward('SqueezeExcitation')
    this.#c = null
    const N = c.g.shape[0]!; const C = this.channels; const S = this.squeezeChannels
    const m = yield * step(ops.mulBackward, ops.mulBackwardAsync, dOut, c.x, c.g)
    const du = yield * step(ops.sigmoidBackward, ops.sigmoidBackwardAsync, { data: m.db.data, shape: [N, C] }, { data: c.g.data, shape: [N, C] })
    m.db.dispose()
    const dp = yield * mlpBackward(this.fc1, this.fc2, du, { data: c.p.data, shape: [N, C] }, c.mlp, C, S)
    du.dispose()
    c.p.dispose()
    yield * step(ops.globalAvgPool2dBackward, ops.globalAvgPool2dBackwardAsync, { data: dp.data, shape: [N, C, 1, 1] }, c.x,
      { out: m.da, accumulate: true })
    dp.dispose()
    return m.da
  }
}

// ---------------------------------------------------------------------------------------

/**
 * Efficient channel attention (Wang et al., ECA-Net): `x · σ(conv1d(avgpool(x)))`, the 1-D
 * convolution running across the channel descriptor with `kernel` taps (odd), zero padding
 * (kernel − 1)/2 and no bias: conv.weight [1, 1, kernel], as the original's
 * nn.Conv1d(1, 1, k, padding=(k−1)//2, bias=False). lastAttention: [N, C, 1, 1].
 */
export class ECA extends AttentionBlock {
  readonly channels: number
  readonly kernel: number
  conv: Conv1d
  #c: { x: TensorLike, p: Tensor, g: Tensor } | null = null

  constructor (channels: number, kernel?: number | { kernel?: number }, opts?: { kernel?: number }) {
    super()
    const { values } = trailing('ECA', [kernel, opts], ['kernel'], [])
    this.channels = intArg('ECA', 'channels', channels)
    this.kernel = values.kernel === undefined ? 3 : intArg('ECA', 'kernel', values.kernel)
    if (this.kernel % 2 === 0) rangeError('ECA', 'kernel', 'an odd positive integer', String(this.kernel))
    this.conv = new Conv1d(1, 1, this.kernel, { padding: (this.kernel - 1) / 2, bias: false })
  }

  forward (x: TensorLike): Tensor { return runSync(this.#forward(x)) }
  override forwardAsync (x: TensorLike): Promise<Tensor> {
    try { return runAsync(this.#forward(x)) } catch (err) { return Promise.reject(err) }
  }

  backward (dOut: TensorLike): Tensor { return runSync(this.#backward(dOut)) }
  override backwardAsync (dOut: TensorLike): Promise<Tensor> { return runAsync(this.#backward(dOut)) }

  * #forward (x: TensorLike): Steps<Tensor> {
    const X = input4d('ECA', x, this.channels)
    if (this.#c !== null) this.#c.p.dispose()
    this.#c = null
    const { N, C } = X
    const p = yield * step(ops.globalAvgPool2d, ops.globalAvgPool2dAsync, x)
    const z = yield * forwardOf<Tensor>(this.conv, { data: p.data, shape: [N, 1, C] })
    const g4 = yield * step(ops.sigmoid, ops.sigmoidAsync, { data: z.data, shape: [N, C, 1, 1] })
    z.dispose()
    const out = yield * step(ops.mul, ops.mulAsync, x, g4)
    this.setLastAttention(g4, true)
    if (this.cachesForBackward) this.#c = { x, p: keep(p), g: g4 }
    else p.dispose()
    return out
  }

  * #backward (dOut: TensorLike): Steps<Tensor> {
    const c = this.#c
    if (c === null) noForward('ECA')
    this.#c = null
    const N = c.g.shape[0]!; const C = this.channels
    const m = yield * step(ops.mulBackward, ops.mulBackwardAsync, dOut, c.x, c.g)
    const dz = yield * step(ops.sigmoidBackward, ops.sigmoidBackwardAsync, { data: m.db.data, shape: [N, 1, C] }, { data: c.g.data, shape: [N, 1, C] })
    m.db.dispose()
    let dp: Tensor
    try {
      dp = yield * backwardOf<Tensor>(this.conv, dz)
    } finally {
      dz.dispose()
      c.p.dispose()
    }
    yield * step(ops.globalAvgPool2dBackward, ops.globalAvgPool2dBackwardAsync, { data: dp.data, shape: [N, C, 1, 1] }, c.x,
      { out: m.da, accumulate: true })
    dp.dispose()
    return m.da
  }
}

// ---------------------------------------------------------------------------------------

/**
 * CBAM's channel attention: σ(MLP(avgpool(x)) + MLP(maxpool(x))), one MLP (fc1: 1×1
 * Conv2d(C, C/r), ReLU, fc2: 1×1 Conv2d(C/r, C), no biases, as the paper's W₀, W₁) shared by
 * both descriptors. forward(x) → the map [N, C, 1, 1]; backward(dMap, into?) → dx (added
 * into `into` when given).
 */
export class ChannelAttention extends Module {
  readonly channels: number
  readonly hidden: number
  fc1: Conv2d
  fc2: Conv2d
  #c: { x: TensorLike, H: number, W: number, avg: Tensor, max: Tensor, a: MlpCache, m: MlpCache, g: Tensor } | null = null

  constructor (channels: number, reduction = 16) {
    super()
    this.channels = intArg('ChannelAttention', 'channels', channels)
    const r = intArg('ChannelAttention', 'reduction', reduction)
    this.hidden = Math.max(1, Math.floor(this.channels / r))
    this.fc1 = new Conv2d(this.channels, this.hidden, 1, { bias: false })
    this.fc2 = new Conv2d(this.hidden, this.channels, 1, { bias: false })
  }

  forward (x: TensorLike): Tensor { return runSync(this.body(x)) }
  override forwardAsync (x: TensorLike): Promise<Tensor> {
    try { return runAsync(this.body(x)) } catch (err) { return Promise.reject(err) }
  }

  backward (dMap: TensorLike, into?: Tensor): Tensor { return runSync(this.backBody(dMap, into)) }
  override backwardAsync (dMap: TensorLike, into?: Tensor): Promise<Tensor> { return runAsync(this.backBody(dMap, into)) }

  #drop (): void {
    const c = this.#c
    this.#c = null
    if (c !== null) for (const t of [c.avg, c.max, c.a.z, c.a.h, c.m.z, c.m.h]) t.dispose()
  }

  /** The forward's steps (CBAM runs them inside its own). */
  * body (x: TensorLike): Steps<Tensor> {
    const X = input4d('ChannelAttention', x, this.channels)
    this.#drop()
    const { N, C, H, W } = X; const S = this.hidden
    const avg = yield * step(ops.globalAvgPool2d, ops.globalAvgPool2dAsync, x)
    const max = yield * step(ops.maxPool2d, ops.maxPool2dAsync, x, { kernel: [H, W] })
    const a = yield * mlpForward(this.fc1, this.fc2, { data: avg.data, shape: [N, C] }, C, S)
    const m = yield * mlpForward(this.fc1, this.fc2, { data: max.data, shape: [N, C] }, C, S)
    const u = yield * step(ops.add, ops.addAsync, a.y, m.y)
    a.y.dispose()
    m.y.dispose()
    const g = yield * step(ops.sigmoid, ops.sigmoidAsync, { data: u.data, shape: [N, C, 1, 1] })
    u.dispose()
    if (this.cachesForBackward) {
      for (const t of [avg, max, a.c.z, a.c.h, m.c.z, m.c.h]) keep(t)
      this.#c = { x, H, W, avg, max, a: a.c, m: m.c, g }
    } else {
      for (const t of [avg, max, a.c.z, a.c.h, m.c.z, m.c.h]) t.dispose()
    }
    return g
  }

  /** The backward's steps. */
  * backBody (dMap: TensorLike, into?: Tensor): Steps<Tensor> {
    const c = this.#c
    if (c === null) noForward('ChannelAttention')
    this.#c = null
    const N = c.g.shape[0]!; const C = this.channels; const S = this.hidden
    const du = yield * step(ops.sigmoidBackward, ops.sigmoidBackwardAsync, dMap, c.g)
    const du2 = { data: du.data, shape: [N, C] }
    const dAvg = yield * mlpBackward(this.fc1, this.fc2, du2, { data: c.avg.data, shape: [N, C] }, c.a, C, S)
    const dMax = yield * mlpBackward(this.fc1, this.fc2, du2, { data: c.max.data, shape: [N, C] }, c.m, C, S)
    du.dispose()
    c.avg.dispose()
    c.max.dispose()
    const dx = yield * step(ops.globalAvgPool2dBackward, ops.globalAvgPool2dBackwardAsync,
      { data: dAvg.data, shape: [N, C, 1, 1] }, c.x, into === undefined ? undefined : { out: into, accumulate: true })
    dAvg.dispose()
    yield * step(ops.maxPool2dBackward, ops.maxPool2dBackwardAsync, { data: dMax.data, shape: [N, C, 1, 1] }, c.x,
      { kernel: [c.H, c.W], out: dx, accumulate: true })
    dMax.dispose()
    return dx
  }
}

/**
 * CBAM's spatial attention: σ(conv1([mean over C, max over C])), conv1 a k×k Conv2d(2, 1)
 * with zero padding (k − 1)/2 and no bias; the channel statistics in one pass
 * (fv.ops.channelPool). forward(x) → the map [N, 1, H, W]; backward(dMap, into?) → dx.
 */
export class SpatialAttention extends Module {
  readonly kernel: number
  conv1: Conv2d
  #c: { x: TensorLike, m: Tensor } | null = null
  // conv1's input, kept until its backward.
  #pooled: Tensor | null = null

  constructor (kernel = 7) {
    super()
    this.kernel = intArg('SpatialAttention', 'kernel', kernel)
    if (this.kernel % 2 === 0) rangeError('SpatialAttention', 'kernel', 'an odd positive integer', String(kernel))
    this.conv1 = new Conv2d(2, 1, this.kernel, { padding: (this.kernel - 1) / 2, bias: false })
  }

  forward (x: TensorLike): Tensor { return runSync(this.body(x)) }
  override forwardAsync (x: TensorLike): Promise<Tensor> {
    try { return runAsync(this.body(x)) } catch (err) { return Promise.reject(err) }
  }

  backward (dMap: TensorLike, into?: Tensor): Tensor { return runSync(this.backBody(dMap, into)) }
  override backwardAsync (dMap: TensorLike, into?: Tensor): Promise<Tensor> { return runAsync(this.backBody(dMap, into)) }

  /** The forward's steps. */
  * body (x: TensorLike): Steps<Tensor> {
    const X = tensorArg('SpatialAttention', 'x', x)
    if (X.shape.length !== 4) rangeError('SpatialAttention', 'x', '[N, C, H, W]', fmtShape(X.shape))
    this.#c = null
    this.#pooled?.dispose()
    this.#pooled = null
    const p = yield * step(ops.channelPool, ops.channelPoolAsync, x)
    const s = yield * forwardOf<Tensor>(this.conv1, p)
    const m = yield * step(ops.sigmoid, ops.sigmoidAsync, s)
    s.dispose()
    if (this.cachesForBackward) {
      // conv1 keeps p (its input) until its backward; it is released there.
      this.#pooled = keep(p)
      this.#c = { x, m }
    } else {
      p.dispose()
    }
    return m
  }

  /** The backward's steps. */
  * backBody (dMap: TensorLike, into?: Tensor): Steps<Tensor> {
    const c = this.#c
    if (c === null) noForward('SpatialAttention')
    this.#c = null
    const ds = yield * step(ops.sigmoidBackward, ops.sigmoidBackwardAsync, dMap, c.m)
    let dp: Tensor
    try {
      dp = yield * backwardOf<Tensor>(this.conv1, ds)
    } finally {
      ds.dispose()
      this.#pooled?.dispose()
      this.#pooled = null
    }
    const dx = yield * step(ops.channelPoolBackward, ops.channelPoolBackwardAsync, dp, c.x,
      into === undefined ? undefined : { out: into, accumulate: true })
    dp.dispose()
    return dx
  }
}

export interface CBAMOptions {
  /** The channel MLP's reduction (default 16), also the second argument. */
  reduction?: number
  /** The spatial convolution's size, odd (default 7), also the third argument. */
  kernel?: number
}

/**
 * CBAM (Woo et al.): x₁ = x · ca(x), out = x₁ · sa(x₁), with ca a ChannelAttention
 * (reduction, no biases) and sa a SpatialAttention (kernel × kernel conv, no bias). State
 * dict: ca.fc1.weight [C/r, C, 1, 1], ca.fc2.weight [C, C/r, 1, 1], sa.conv1.weight
 * [1, 2, k, k] — the layout of the widely used CBAM.PyTorch modules. The spatial
 * attention's input is [mean, max] over channels (that order). lastAttention: the spatial
 * map [N, 1, H, W].
 */
export class CBAM extends AttentionBlock {
  readonly channels: number
  ca: ChannelAttention
  sa: SpatialAttention
  #c: { x: TensorLike, g: Tensor, x1: Tensor, m: Tensor } | null = null

  constructor (channels: number, reduction?: number | CBAMOptions, kernel?: number | CBAMOptions, opts?: CBAMOptions) {
    super()
    const { values } = trailing('CBAM', [reduction, kernel, opts], ['reduction', 'kernel'], [])
    this.channels = intArg('CBAM', 'channels', channels)
    reduction = values.reduction === undefined ? 16 : intArg('CBAM', 'reduction', values.reduction)
    kernel = values.kernel === undefined ? 7 : intArg('CBAM', 'kernel', values.kernel)
    if (kernel % 2 === 0) rangeError('CBAM', 'kernel', 'an odd positive integer', String(kernel))
    this.ca = new ChannelAttention(this.channels, reduction)
    this.sa = new SpatialAttention(kernel)
  }

  forward (x: TensorLike): Tensor { return runSync(this.#forward(x)) }
  override forwardAsync (x: TensorLike): Promise<Tensor> {
    try { return runAsync(this.#forward(x)) } catch (err) { return Promise.reject(err) }
  }

  backward (dOut: TensorLike): Tensor { return runSync(this.#backward(dOut)) }
  override backwardAsync (dOut: TensorLike): Promise<Tensor> { return runAsync(this.#backward(dOut)) }

  #drop (): void {
    const c = this.#c
    this.#c = null
    if (c !== null) { c.g.dispose(); c.x1.dispose() }
  }

  * #forward (x: TensorLike): Steps<Tensor> {
    input4d('CBAM', x, this.channels)
    this.#drop()
    const g = yield * this.ca.body(x)
    const x1 = yield * step(ops.mul, ops.mulAsync, x, g)
    const m = yield * this.sa.body(x1)
    const out = yield * step(ops.mul, ops.mulAsync, x1, m)
    this.setLastAttention(m, true)
    if (this.cachesForBackward) this.#c = { x, g: keep(g), x1: keep(x1), m }
    else { g.dispose(); x1.dispose() }
    return out
  }

  * #backward (dOut: TensorLike): Steps<Tensor> {
    const c = this.#c
    if (c === null) noForward('CBAM')
    this.#c = null
    try {
      const a = yield * step(ops.mulBackward, ops.mulBackwardAsync, dOut, c.x1, c.m)
      yield * this.sa.backBody(a.db, a.da)  // dx₁ = dOut·m + sa's share, in a.da
      a.db.dispose()
      const b = yield * step(ops.mulBackward, ops.mulBackwardAsync, a.da, c.x, c.g)
      a.da.dispose()
      yield * this.ca.backBody(b.db, b.da)
      b.db.dispose()
      return b.da
    } finally {
      c.g.dispose()
      c.x1.dispose()
    }
  }
}

// ---------------------------------------------------------------------------------------

export interface NonLocal2dOptions {
  /** Channels of θ, φ and g (default max(1, ⌊channels / 2⌋)). */
  inter?: number
  /**
   * W_z is a 1×1 Conv2d followed by BatchNorm2d whose weight and bias start at 0 (default
   * true, as the paper: the block starts as the identity); false: a lone 1×1 Conv2d whose
   * weight and bias start at 0.
   */
  bnLayer?: boolean
  /**
   * Keep the centre pixel's attention weights in lastAttention ([N, H, W]). They come from
   * the kernel's returnWeights, an L×L buffer per image, so the default (false) keeps the
   * forward O(L) and lastAttention null.
   */
  keepAttention?: boolean
}

/**
 * The embedded-Gaussian non-local block (Wang et al.): z = W_z(y) + x with
 * y = softmax(θ(x)ᵀ φ(x)) g(x) over the L = H·W positions, θ, φ, g 1×1 Conv2d(C, inter)
 * with bias. The attention is the fused kernel (scale 1, no L×L buffer). Children and
 * state dict as the NLBlockND (mode 'embedded', dimension 2) of Non-Local-NN-Pytorch:
 * g, W_z (W_z.0 conv, W_z.1 BatchNorm2d with bnLayer; else W_z a conv), theta, phi.
 */
export class NonLocal2d extends AttentionBlock {
  readonly channels: number
  readonly inter: number
  readonly bnLayer: boolean
  /** See NonLocal2dOptions.keepAttention; may be changed between forwards. */
  keepAttention: boolean
  g: Conv2d
  W_z: Sequential | Conv2d
  theta: Conv2d
  phi: Conv2d
  #c: { x: TensorLike, xT: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor, y: Tensor } | null = null

  constructor (channels: number, opts: NonLocal2dOptions = {}) {
    super()
    const cls = 'NonLocal2d'
    const o = options(cls, opts, ['inter', 'bnLayer', 'keepAttention'])
    this.channels = intArg(cls, 'channels', channels)
    this.inter = o.inter === undefined ? Math.max(1, Math.floor(this.channels / 2)) : intArg(cls, 'inter', o.inter)
    this.bnLayer = boolArg(cls, 'bnLayer', o.bnLayer, true)
    this.keepAttention = boolArg(cls, 'keepAttention', o.keepAttention, false)
    const C = this.channels; const I = this.inter
    this.g = new Conv2d(C, I, 1)
    if (this.bnLayer) {
      const bn = new BatchNorm2d(C)
      constant_(bn.weight!, 0)
      zeros_(bn.bias!)
      this.W_z = new Sequential(new Conv2d(I, C, 1), bn)
    } else {
      const conv = new Conv2d(I, C, 1)
      zeros_(conv.weight)
      zeros_(conv.bias!)
      this.W_z = conv
    }
    this.theta = new Conv2d(C, I, 1)
    this.phi = new Conv2d(C, I, 1)
  }

  forward (x: TensorLike): Tensor { return runSync(this.#forward(x)) }
  override forwardAsync (x: TensorLike): Promise<Tensor> {
    try { return runAsync(this.#forward(x)) } catch (err) { return Promise.reject(err) }
  }

  backward (dOut: TensorLike): Tensor { return runSync(this.#backward(dOut)) }
  override backwardAsync (dOut: TensorLike): Promise<Tensor> { return runAsync(this.#backward(dOut)) }

  #drop (): void {
    const c = this.#c
    this.#c = null
    if (c !== null) for (const t of [c.xT, c.q, c.k, c.v, c.out, c.lse, c.y]) t.dispose()
  }

  * #forward (x: TensorLike): Steps<Tensor> {
    if (typeof this.keepAttention !== 'boolean') typeError('NonLocal2d', 'keepAttention', 'a boolean', describe(this.keepAttention))
    const X = input4d('NonLocal2d', x, this.channels)
    this.#drop()
    const { N, C, H, W } = X; const L = H * W; const I = this.inter
    // Positions × channels: θ, φ, g are then plain linears giving [N, L, inter] = [N, 1, L, inter].
    const xT = yield * step(ops.permute, ops.permuteAsync, { data: X.data, shape: [N, C, L] }, [0, 2, 1])
    const proj = (c: Conv2d) => step(ops.linear, ops.linearAsync, xT, as(c.weight, [I, C]), c.bias!.value)
    const heads = (t: Tensor): TensorLike => ({ data: t.data, shape: [N, 1, L, I] })
    const q = yield * proj(this.theta)
    const k = yield * proj(this.phi)
    const v = yield * proj(this.g)
    const keepMap = this.keepAttention
    const r = yield * step(ops.attention, ops.attentionAsync, heads(q), heads(k), heads(v), { scale: 1, returnWeights: keepMap })
    if (keepMap) {
      // The weights of the centre pixel, a row of each image's L×L map.
      const centre = Math.floor(H / 2) * W + Math.floor(W / 2)
      const map = new Float32Array(N * L)
      for (let n = 0; n < N; n++) map.set(r.weights!.data.subarray((n * L + centre) * L, (n * L + centre + 1) * L), n * L)
      r.weights!.dispose()
      this.setLastAttention(new Tensor(map, [N, H, W]), true)
    } else {
      this.setLastAttention(null, true)
    }
    // [N, L, inter] → [N, inter, H, W] for W_z.
    const y = yield * step(ops.permute, ops.permuteAsync, { data: r.out.data, shape: [N, L, I] }, [0, 2, 1])
    const wy = yield * forwardOf<Tensor>(this.W_z, { data: y.data, shape: [N, I, H, W] })
    const z = yield * step(ops.add, ops.addAsync, wy, x)
    wy.dispose()
    const parts = [xT, q, k, v, r.out, r.lse, y]
    if (this.cachesForBackward) {
      for (const t of parts) keep(t)
      this.#c = { x, xT, q, k, v, out: r.out, lse: r.lse, y }
    } else {
      for (const t of parts) t.dispose()
    }
    return z
  }

  * #backward (dOut: TensorLike): Steps<Tensor> {
    const c = this.#c
    if (c === null) noForward('NonLocal2d')
    this.#c = null
    const C = this.channels; const I = this.inter
    const [N, L] = c.xT.shape as [number, number, number]
    const heads = (t: TensorLike): TensorLike => ({ data: t.data, shape: [N, 1, L, I] })
    let dy: Tensor
    try {
      dy = yield * backwardOf<Tensor>(this.W_z, dOut)
    } finally {
      c.y.dispose()
    }
    const dyT = yield * step(ops.permute, ops.permuteAsync, { data: dy.data, shape: [N, I, L] }, [0, 2, 1])
    dy.dispose()
    let g: ops.AttentionGrads
    try {
      g = yield * step(ops.attentionBackward, ops.attentionBackwardAsync, heads(dyT), heads(c.q), heads(c.k), heads(c.v),
        heads(c.out), c.lse, { scale: 1 })
    } finally {
      for (const t of [dyT, c.q, c.k, c.v, c.out, c.lse]) t.dispose()
    }
    const as3 = (t: Tensor): TensorLike => ({ data: t.data, shape: [N, L, I] })
    let dxT: Tensor
    try {
      dxT = yield * linearBack(as3(g.dq), c.xT, this.theta.weight, [I, C], this.theta.bias)
      yield * linearBack(as3(g.dk), c.xT, this.phi.weight, [I, C], this.phi.bias, dxT)
      yield * linearBack(as3(g.dv), c.xT, this.g.weight, [I, C], this.g.bias, dxT)
    } finally {
      for (const t of [g.dq, g.dk, g.dv, c.xT]) t.dispose()
    }
    const dxp = yield * step(ops.permute, ops.permuteAsync, dxT, [0, 2, 1])
    dxT.dispose()
    const dx = yield * step(ops.add, ops.addAsync, { data: dxp.data, shape: shapeOfInput(c.x) }, dOut)
    dxp.dispose()
    return dx
  }
}

function shapeOfInput (x: TensorLike): Shape { return 'shape' in x ? x.shape : x.dims }

// ---------------------------------------------------------------------------------------

export interface AttentionPoolResult {
  /** Σᵢ aᵢ·xᵢ, [N, dim]. */
  out: Tensor
  /** The weights a = softmax(w·xᵢ + b) over the positions, [N, L] (also lastAttention). */
  weights: Tensor
}

/**
 * Additive attention pooling `Σᵢ softmax(w·xᵢ + b)ᵢ xᵢ` over the positions of x [N, L, dim]
 * (time steps, words, regions) or of x [N, C, H, W] (the L = H·W pixels, each a C-vector;
 * dim = C). score: Linear(dim, 1) (score.weight [1, dim], score.bias [1]). forward(x) →
 * { out [N, dim], weights [N, L] }; backward(dOut [N, dim]) → dx. lastAttention is the
 * returned weights: the caller's, so the block never disposes them.
 */
export class AttentionPool extends AttentionBlock {
  readonly dim: number
  score: Linear
  #c: { x: TensorLike, nchw: boolean, N: number, L: number, a: Tensor } | null = null

  constructor (dim: number, opts?: Record<string, never>) {
    super()
    options('AttentionPool', opts, [])
    this.dim = intArg('AttentionPool', 'dim', dim)
    this.score = new Linear(this.dim, 1)
  }

  forward (x: TensorLike): AttentionPoolResult { return runSync(this.#forward(x)) }
  override forwardAsync (x: TensorLike): Promise<AttentionPoolResult> {
    try { return runAsync(this.#forward(x)) } catch (err) { return Promise.reject(err) }
  }

  backward (dOut: TensorLike): Tensor { return runSync(this.#backward(dOut)) }
  override backwardAsync (dOut: TensorLike): Promise<Tensor> { return runAsync(this.#backward(dOut)) }

  * #forward (x: TensorLike): Steps<AttentionPoolResult> {
    const X = tensorArg('AttentionPool', 'x', x)
    const d = this.dim
    const nchw = X.shape.length === 4
    if (!(nchw ? X.shape[1] === d : X.shape.length === 3 && X.shape[2] === d)) {
      rangeError('AttentionPool', 'x', `[N, L, ${d}] or [N, ${d}, H, W] (dim=${d})`, fmtShape(X.shape))
    }
    this.#c = null
    const N = X.shape[0]!
    const L = nchw ? X.shape[2]! * X.shape[3]! : X.shape[1]!
    const w = this.score.weight.value; const b = this.score.bias!.value
    let s: Tensor
    if (nchw) {
      // Scores of the L pixels: w [1, C] · x[n] [C, L] for each image, then + b.
      const s0 = yield * step(ops.matmul, ops.matmulAsync, w, { data: X.data, shape: [N, d, L] })
      s = yield * step(ops.add, ops.addAsync, s0, b)
      s0.dispose()
    } else {
      s = yield * step(ops.linear, ops.linearAsync, x, w, b)
    }
    const a = yield * step(ops.softmax, ops.softmaxAsync, { data: s.data, shape: [N, L] }, -1)
    s.dispose()
    // out[n] = a[n] · x[n] ([1, L]·[L, dim]) or x[n] · a[n] ([C, L]·[L, 1]).
    const o = nchw
      ? yield * step(ops.matmul, ops.matmulAsync, { data: X.data, shape: [N, d, L] }, { data: a.data, shape: [N, L, 1] })
      : yield * step(ops.matmul, ops.matmulAsync, { data: a.data, shape: [N, 1, L] }, x)
    const out = o.reshape([N, d])
    this.setLastAttention(a, false)
    this.#c = this.cachesForBackward ? { x, nchw, N, L, a } : null
    return { out, weights: a }
  }

  * #backward (dOut: TensorLike): Steps<Tensor> {
    const c = this.#c
    if (c === null) noForward('AttentionPool')
    this.#c = null
    const { x, N, L, a } = c
    const d = this.dim
    const D = tensorArg('AttentionPool', 'dOut', dOut)
    if (D.shape.length !== 2 || D.shape[0] !== N || D.shape[1] !== d) {
      rangeError('AttentionPool', 'dOut', `[${N}, ${d}] (the shape of out)`, fmtShape(D.shape))
    }
    if (c.nchw) {
      const xv = { data: tensorArg('AttentionPool', 'x', x).data, shape: [N, d, L] }
      const m = yield * step(ops.matmulBackward, ops.matmulBackwardAsync, { data: D.data, shape: [N, d, 1] }, xv,
        { data: a.data, shape: [N, L, 1] })
      const ds = yield * step(ops.softmaxBackward, ops.softmaxBackwardAsync, { data: m.db.data, shape: [N, L] }, a, -1)
      m.db.dispose()
      // s = w·x[n] + b: dw = Σₙ ds[n]·x[n]ᵀ, db = Σ ds, dx += wᵀ·ds[n].
      const s = yield * step(ops.matmulBackward, ops.matmulBackwardAsync, { data: ds.data, shape: [N, 1, L] },
        this.score.weight.value, xv)
      const bg = yield * step(ops.addBackward, ops.addBackwardAsync, { data: ds.data, shape: [N, 1, L] }, [N, 1, L], [1])
      ds.dispose()
      addInto(this.score.weight, s.da)
      addInto(this.score.bias, bg.db)
      bg.da.dispose()
      const dx = yield * step(ops.add, ops.addAsync, m.da, s.db)
      m.da.dispose()
      s.db.dispose()
      return dx.reshape(shapeOfInput(x))
    }
    const m = yield * step(ops.matmulBackward, ops.matmulBackwardAsync, { data: D.data, shape: [N, 1, d] },
      { data: a.data, shape: [N, 1, L] }, x)
    const ds = yield * step(ops.softmaxBackward, ops.softmaxBackwardAsync, { data: m.da.data, shape: [N, L] }, a, -1)
    m.da.dispose()
    // s = x·wᵀ + b: its gradient into x is added to m.db (the pooling's share).
    yield * linearBack({ data: ds.data, shape: [N, L, 1] }, x, this.score.weight, [1, d], this.score.bias, m.db)
    ds.dispose()
    return m.db
  }
}
