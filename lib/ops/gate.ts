// Gates: the memory-bound blocks of attention inside CNNs, each one native sweep over x
// instead of a chain of small ops (DESIGN.md, "Attention inside CNNs"):
//  - spatialGate: x·σ(conv1x1(x; wa, ba) ⊙ conv1x1(x; wb, bb)), both convolutions C → 1;
//  - channelPool: [mean over C, max over C], CBAM's spatial-attention input.
// The SE / CBAM channel scaling itself is ops.mul(x, g[N,C,1,1]).
import { binding } from '../native'
import { type Shape, type Tensor, type TensorLike } from '../tensor'
import {
  type Checked, booleanArg, fmtShape, optionalTensorArg, optionsArg, outArg, rangeError, sameShape, tensorArg,
  outsArg
} from '../validate'
import { defineOp, resultTensor } from './define'
import { rank4 } from './spatial'

export interface SpatialGateOptions {
  /** Tensors to write into: out [N,C,H,W], gate [N,1,H,W]. */
  out?: { out?: TensorLike, gate?: TensorLike }
}
export interface SpatialGateResult {
  /** x·gate, [N, C, H, W]. */
  out: Tensor
  /** σ(a ⊙ b), [N, 1, H, W] (keep it for the backward, or to draw it). */
  gate: Tensor
}
export interface SpatialGateBackwardOptions {
  out?: { dx?: TensorLike, dwa?: TensorLike, dba?: TensorLike, dwb?: TensorLike, dbb?: TensorLike }
  /** Add the gradients into out's five tensors (all required) instead of overwriting them. */
  accumulate?: boolean
}
export interface SpatialGateGrads {
  /** [N, C, H, W] */
  dx: Tensor
  /** Shaped like wa ([1, C, 1, 1] or [C]). */
  dwa: Tensor
  /** Shaped like ba. */
  dba: Tensor
  dwb: Tensor
  dbb: Tensor
}
export interface ChannelPoolOptions {
  /** A tensor [N, 2, H, W] to write into. */
  out?: TensorLike
}
export interface ChannelPoolBackwardOptions {
  /** A tensor [N, C, H, W] to write into. */
  out?: TensorLike
  /** Add the gradient into out (required) instead of overwriting it. */
  accumulate?: boolean
}

type F = Float32Array
type FN = Float32Array | null
type RawGateGrads = { dx: F, dwa: F, dba: F, dwb: F, dbb: F }

// wa / wb: a C → 1 conv1x1 weight, [1, C, 1, 1] (PyTorch's Conv2d(C, 1, 1).weight) or [C];
// ba / bb: its bias, [1] (or []).
function gateParams (op: string, C: number, wa: unknown, ba: unknown, wb: unknown, bb: unknown) {
  const w = (name: string, v: unknown) => {
    const T = tensorArg(op, name, v)
    const s = T.shape
    const ok = (s.length === 1 && s[0] === C) || (s.length === 4 && s[0] === 1 && s[1] === C && s[2] === 1 && s[3] === 1)
    if (!ok) rangeError(op, name, `[1,${C},1,1] or [${C}] (C of x)`, fmtShape(s))
    return T
  }
  const b = (name: string, v: unknown) => {
    const T = tensorArg(op, name, v)
    if (T.size !== 1 || T.shape.length > 1) rangeError(op, name, '[1] (one bias)', fmtShape(T.shape))
    return T
  }
  return { WA: w('wa', wa), BA: b('ba', ba), WB: w('wb', wb), BB: b('bb', bb) }
}

function planSpatialGate (x: TensorLike, wa: TensorLike, ba: TensorLike, wb: TensorLike, bb: TensorLike,
  opts?: SpatialGateOptions) {
  const op = 'spatialGate'
  const X = tensorArg(op, 'x', x)
  const [N, C, H, W] = rank4(op, 'x', X.shape, '[N,C,H,W]')
  const p = gateParams(op, C, wa, ba, wb, bb)
  const o = optionsArg(op, opts, ['out'])
  const outs = outsArg(op, o.out, ['out', 'gate'] as const)
  const inputs: Array<[string, Checked]> = [['x', X], ['wa', p.WA], ['ba', p.BA], ['wb', p.WB], ['bb', p.BB]]
  const gShape = Object.freeze([N, 1, H, W])
  const yOut = outArg(op, 'out.out', outs.out, X.shape, inputs)
  const gOut = outArg(op, 'out.gate', outs.gate, gShape, [...inputs, ['out.out', yOut]])
  return {
    args: [X.data, p.WA.data, p.BA.data, p.WB.data, p.BB.data, yOut?.data ?? null, gOut?.data ?? null, N, C, H * W] as
      [F, F, F, F, F, FN, FN, number, number, number],
    finish: (r: { out: F, gate: F }): SpatialGateResult => ({
      out: resultTensor(outs.out, yOut, r.out, X.shape),
      gate: resultTensor(outs.gate, gOut, r.gate, gShape)
    })
  }
}

function planSpatialGateBackward (dOut: TensorLike, x: TensorLike, wa: TensorLike, ba: TensorLike, wb: TensorLike,
  bb: TensorLike, gate?: TensorLike | null, opts?: SpatialGateBackwardOptions) {
  const op = 'spatialGateBackward'
  const X = tensorArg(op, 'x', x)
  const [N, C, H, W] = rank4(op, 'x', X.shape, '[N,C,H,W]')
  const DO = tensorArg(op, 'dOut', dOut)
  if (!sameShape(DO.shape, X.shape)) rangeError(op, 'dOut', `${fmtShape(X.shape)} (the shape of x)`, fmtShape(DO.shape))
  const p = gateParams(op, C, wa, ba, wb, bb)
  const G = optionalTensorArg(op, 'gate', gate)
  if (G !== null && !sameShape(G.shape, [N, 1, H, W])) {
    rangeError(op, 'gate', `${fmtShape([N, 1, H, W])} (spatialGate's gate for x)`, fmtShape(G.shape))
  }
  const o = optionsArg(op, opts, ['out', 'accumulate'])
  const outs = outsArg(op, o.out, ['dx', 'dwa', 'dba', 'dwb', 'dbb'] as const)
  const inputs: Array<[string, Checked | null]> = [['dOut', DO], ['x', X], ['wa', p.WA], ['ba', p.BA], ['wb', p.WB], ['bb', p.BB], ['gate', G]]
  const shapes = { dx: X.shape, dwa: p.WA.shape, dba: p.BA.shape, dwb: p.WB.shape, dbb: p.BB.shape } as const
  const checked: Partial<Record<keyof typeof shapes, Checked | null>> = {}
  for (const k of ['dx', 'dwa', 'dba', 'dwb', 'dbb'] as const) {
    checked[k] = outArg(op, `out.${k}`, outs[k], shapes[k], inputs)
    inputs.push([`out.${k}`, checked[k]!])
  }
  const accumulate = booleanArg(op, 'accumulate', o.accumulate, false)
  if (accumulate && Object.values(checked).some((c) => c === null)) {
    rangeError(op, 'out', 'all of dx, dwa, dba, dwb and dbb when accumulate is true', 'some missing')
  }
  return {
    args: [DO.data, X.data, p.WA.data, p.BA.data, p.WB.data, p.BB.data, G?.data ?? null, checked.dx?.data ?? null,
      checked.dwa?.data ?? null, checked.dba?.data ?? null, checked.dwb?.data ?? null, checked.dbb?.data ?? null,
      N, C, H * W, accumulate] as [F, F, F, F, F, F, FN, FN, FN, FN, FN, FN, number, number, number, boolean],
    finish: (g: RawGateGrads): SpatialGateGrads => ({
      dx: resultTensor(outs.dx, checked.dx!, g.dx, shapes.dx),
      dwa: resultTensor(outs.dwa, checked.dwa!, g.dwa, shapes.dwa),
      dba: resultTensor(outs.dba, checked.dba!, g.dba, shapes.dba),
      dwb: resultTensor(outs.dwb, checked.dwb!, g.dwb, shapes.dwb),
      dbb: resultTensor(outs.dbb, checked.dbb!, g.dbb, shapes.dbb)
    })
  }
}

function poolInput (op: string, x: TensorLike) {
  const X = tensorArg(op, 'x', x)
  const [N, C, H, W] = rank4(op, 'x', X.shape, '[N,C,H,W]')
  if (C < 1) rangeError(op, 'x', '[N,C,H,W] with C ≥ 1 (a max over no channels is undefined)', fmtShape(X.shape))
  return { X, N, C, H, W, yShape: Object.freeze([N, 2, H, W]) as Shape }
}

function planChannelPool (x: TensorLike, opts?: ChannelPoolOptions) {
  const op = 'channelPool'
  const c = poolInput(op, x)
  const o = optionsArg(op, opts, ['out'])
  const out = outArg(op, 'out', o.out, c.yShape, [['x', c.X]])
  return {
    args: [c.X.data, out?.data ?? null, c.N, c.C, c.H * c.W] as [F, FN, number, number, number],
    finish: (y: F): Tensor => resultTensor(o.out, out, y, c.yShape)
  }
}

function planChannelPoolBackward (dy: TensorLike, x: TensorLike, opts?: ChannelPoolBackwardOptions) {
  const op = 'channelPoolBackward'
  const c = poolInput(op, x)
  const DY = tensorArg(op, 'dy', dy)
  if (!sameShape(DY.shape, c.yShape)) rangeError(op, 'dy', `${fmtShape(c.yShape)} (channelPool's result for x)`, fmtShape(DY.shape))
  const o = optionsArg(op, opts, ['out', 'accumulate'])
  const out = outArg(op, 'out', o.out, c.X.shape, [['dy', DY], ['x', c.X]])
  const accumulate = booleanArg(op, 'accumulate', o.accumulate, false)
  if (accumulate && out === null) rangeError(op, 'out', 'a tensor when accumulate is true', 'none')
  return {
    args: [DY.data, c.X.data, out?.data ?? null, c.N, c.C, c.H * c.W, accumulate] as [F, F, FN, number, number, number, boolean],
    finish: (g: F): Tensor => resultTensor(o.out, out, g, c.X.shape)
  }
}

const spatialGateOp = defineOp(planSpatialGate, binding.spatialGate, binding.spatialGateAsync)
const spatialGateBackwardOp = defineOp(planSpatialGateBackward, binding.spatialGateBackward, binding.spatialGateBackwardAsync)
const channelPoolOp = defineOp(planChannelPool, binding.channelPool, binding.channelPoolAsync)
const channelPoolBackwardOp = defineOp(planChannelPoolBackward, binding.channelPoolBackward, binding.channelPoolBackwardAsync)

/**
 * The sigmoid spatial gate: with a = conv1x1(x; wa, ba) and b = conv1x1(x; wb, bb) (each
 * C → 1), gate = σ(a ⊙ b) [N,1,H,W] and out = x·gate [N,C,H,W], in one pass over x.
 * wa / wb are [1,C,1,1] (a Conv2d(C, 1, 1) weight) or [C]; ba / bb are [1].
 */
export function spatialGate (x: TensorLike, wa: TensorLike, ba: TensorLike, wb: TensorLike, bb: TensorLike,
  opts?: SpatialGateOptions): SpatialGateResult {
  return spatialGateOp.sync(x, wa, ba, wb, bb, opts)
}
/** spatialGate() computed off the event loop. */
export function spatialGateAsync (x: TensorLike, wa: TensorLike, ba: TensorLike, wb: TensorLike, bb: TensorLike,
  opts?: SpatialGateOptions): Promise<SpatialGateResult> {
  return spatialGateOp.async(x, wa, ba, wb, bb, opts)
}
/**
 * Gradients of spatialGate w.r.t. x and the four parameters, given dOut (the gradient of
 * out). gate (the forward's) saves recomputing σ; a and b are recomputed from x either
 * way. The weight gradients sum over N·H·W in a fixed order: the same bits for any
 * thread count.
 */
export function spatialGateBackward (dOut: TensorLike, x: TensorLike, wa: TensorLike, ba: TensorLike, wb: TensorLike,
  bb: TensorLike, gate?: TensorLike | null, opts?: SpatialGateBackwardOptions): SpatialGateGrads {
  return spatialGateBackwardOp.sync(dOut, x, wa, ba, wb, bb, gate, opts)
}
/** spatialGateBackward() computed off the event loop. */
export function spatialGateBackwardAsync (dOut: TensorLike, x: TensorLike, wa: TensorLike, ba: TensorLike,
  wb: TensorLike, bb: TensorLike, gate?: TensorLike | null, opts?: SpatialGateBackwardOptions): Promise<SpatialGateGrads> {
  return spatialGateBackwardOp.async(dOut, x, wa, ba, wb, bb, gate, opts)
}

/**
 * [mean over C, max over C] of x [N,C,H,W] → [N,2,H,W] (CBAM's spatial-attention input,
 * torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)); a NaN channel makes
 * both NaN.
 */
export function channelPool (x: TensorLike, opts?: ChannelPoolOptions): Tensor {
  return channelPoolOp.sync(x, opts)
}
/** channelPool() computed off the event loop. */
export function channelPoolAsync (x: TensorLike, opts?: ChannelPoolOptions): Promise<Tensor> {
  return channelPoolOp.async(x, opts)
}
/**
 * Gradient of channelPool w.r.t. x: dy[:,0]/C to every channel, plus dy[:,1] to the first
 * channel holding the maximum (the first NaN if any), as PyTorch's max breaks ties.
 */
export function channelPoolBackward (dy: TensorLike, x: TensorLike, opts?: ChannelPoolBackwardOptions): Tensor {
  return channelPoolBackwardOp.sync(dy, x, opts)
}
/** channelPoolBackward() computed off the event loop. */
export function channelPoolBackwardAsync (dy: TensorLike, x: TensorLike, opts?: ChannelPoolBackwardOptions): Promise<Tensor> {
  return channelPoolBackwardOp.async(dy, x, opts)
}
