// fv.nn.init: PyTorch's torch.nn.init schemes, in place on a Tensor (or a Parameter's
// value). The random ones fill natively (fv.ops.uniform_ / normal_, Philox4x32-10) with a
// seed drawn from the global stream (fv.manualSeed), so the same seed gives the same
// weights on any thread count. Values are not PyTorch's stream: the distributions and
// bounds are.
import { uniform_ as uniformOp, normal_ as normalOp } from '../ops/random'
import { nextSeed } from '../seed'
import { Tensor } from '../tensor'
import { describe, rangeError, typeError } from '../validate'
import { Parameter } from './parameter'
import { fans } from './util'

type Target = Tensor | Parameter

export type Nonlinearity = 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose1d' | 'conv_transpose2d' |
  'conv_transpose3d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu'

export type FanMode = 'fan_in' | 'fan_out'

export interface KaimingOptions {
  /** The negative slope of the leaky ReLU after this layer (nonlinearity 'leaky_relu'); default 0. */
  a?: number
  /** 'fan_in' (default: preserves the forward's variance) or 'fan_out' (the backward's). */
  mode?: FanMode
  /** Default 'leaky_relu' (with a = 0, ReLU's gain √2). */
  nonlinearity?: Nonlinearity
}

const NONLINEARITIES: readonly string[] = ['linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d',
  'conv_transpose2d', 'conv_transpose3d', 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu']

function tensorOf (fn: string, t: unknown): Tensor {
  if (t instanceof Parameter) return t.value
  if (t instanceof Tensor) {
    if (t.isDisposed) typeError(fn, 'tensor', 'a live Tensor', 'a disposed Tensor')
    return t
  }
  return typeError(fn, 'tensor', 'a Tensor or a Parameter', describe(t))
}

function finite (fn: string, name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback
  if (typeof v !== 'number') typeError(fn, name, 'a finite number', describe(v))
  if (!Number.isFinite(v)) rangeError(fn, name, 'a finite number', describe(v))
  return v
}

/**
 * The recommended gain for a nonlinearity (PyTorch's calculate_gain): 1 for linear, conv
 * and sigmoid; 5/3 for tanh; √2 for relu; √(2/(1 + slope²)) for leaky_relu (slope
 * `param`, default 0.01); 3/4 for selu.
 */
export function calculateGain (nonlinearity: Nonlinearity, param?: number): number {
  const fn = 'calculateGain'
  if (typeof nonlinearity !== 'string') typeError(fn, 'nonlinearity', 'a string', describe(nonlinearity))
  if (!NONLINEARITIES.includes(nonlinearity)) {
    rangeError(fn, 'nonlinearity', NONLINEARITIES.map((n) => `'${n}'`).join(', '), describe(nonlinearity))
  }
  switch (nonlinearity) {
    case 'tanh': return 5 / 3
    case 'relu': return Math.SQRT2
    case 'leaky_relu': {
      const slope = finite(fn, 'param', param, 0.01)
      return Math.sqrt(2 / (1 + slope * slope))
    }
    case 'selu': return 3 / 4
    default: return 1
  }
}

/** Fills with values uniform in [a, b) (default [0, 1)). Returns its argument. */
export function uniform_<T extends Target> (tensor: T, a = 0, b = 1): T {
  const t = tensorOf('uniform_', tensor)
  uniformOp(t, finite('uniform_', 'a', a, 0), finite('uniform_', 'b', b, 1), nextSeed())
  return tensor
}

/** Fills with normal values of mean `mean` and standard deviation `std` (default 0, 1). Returns its argument. */
export function normal_<T extends Target> (tensor: T, mean = 0, std = 1): T {
  const t = tensorOf('normal_', tensor)
  normalOp(t, finite('normal_', 'mean', mean, 0), finite('normal_', 'std', std, 1), nextSeed())
  return tensor
}

/** Fills with `val`. Returns its argument. */
export function constant_<T extends Target> (tensor: T, val: number): T {
  const t = tensorOf('constant_', tensor)
  if (typeof val !== 'number') typeError('constant_', 'val', 'a number', describe(val))
  t.data.fill(val)
  return tensor
}

/** Fills with 0. Returns its argument. */
export function zeros_<T extends Target> (tensor: T): T {
  tensorOf('zeros_', tensor).data.fill(0)
  return tensor
}

/** Fills with 1. Returns its argument. */
export function ones_<T extends Target> (tensor: T): T {
  tensorOf('ones_', tensor).data.fill(1)
  return tensor
}

// kaiming*_(t, { a, mode, nonlinearity }) or PyTorch's positional kaiming*_(t, a, mode, nonlinearity).
function kaimingStd (fn: string, t: Tensor, aOrOpts: number | KaimingOptions | undefined, modeArg: unknown,
  nonlinearityArg: unknown): number | null {
  let a: unknown, mode: unknown, nonlinearity: unknown
  if (aOrOpts !== null && typeof aOrOpts === 'object') {
    for (const key of Object.keys(aOrOpts)) {
      if (!['a', 'mode', 'nonlinearity'].includes(key)) {
        typeError(fn, 'options', 'an object with keys among a, mode, nonlinearity', `unknown key '${key}'`)
      }
    }
    ;({ a, mode, nonlinearity } = aOrOpts)
  } else {
    a = aOrOpts; mode = modeArg; nonlinearity = nonlinearityArg
  }
  const slope = finite(fn, 'a', a, 0)
  if (mode !== undefined && mode !== 'fan_in' && mode !== 'fan_out') {
    if (typeof mode !== 'string') typeError(fn, 'mode', "'fan_in' or 'fan_out'", describe(mode))
    rangeError(fn, 'mode', "'fan_in' or 'fan_out'", describe(mode))
  }
  const [fanIn, fanOut] = fans(fn, t.shape)
  if (t.size === 0) return null  // PyTorch: initialising a zero-element tensor is a no-op
  const fan = mode === 'fan_out' ? fanOut : fanIn
  const gain = calculateGain((nonlinearity ?? 'leaky_relu') as Nonlinearity, slope)
  return gain / Math.sqrt(fan)
}

/**
 * He initialisation, uniform: U(−bound, bound) with bound = gain·√(3/fan), gain from
 * `nonlinearity` and `a` (calculateGain). Options { a = 0, mode = 'fan_in', nonlinearity =
 * 'leaky_relu' }, or PyTorch's positional (tensor, a, mode, nonlinearity). Returns its argument.
 */
export function kaimingUniform_<T extends Target> (tensor: T, a?: number | KaimingOptions, mode?: FanMode,
  nonlinearity?: Nonlinearity): T {
  const t = tensorOf('kaimingUniform_', tensor)
  const std = kaimingStd('kaimingUniform_', t, a, mode, nonlinearity)
  if (std !== null) {
    const bound = Math.sqrt(3) * std
    uniformOp(t, -bound, bound, nextSeed())
  }
  return tensor
}

/** He initialisation, normal: N(0, std²) with std = gain/√fan; the same options as kaimingUniform_. Returns its argument. */
export function kaimingNormal_<T extends Target> (tensor: T, a?: number | KaimingOptions, mode?: FanMode,
  nonlinearity?: Nonlinearity): T {
  const t = tensorOf('kaimingNormal_', tensor)
  const std = kaimingStd('kaimingNormal_', t, a, mode, nonlinearity)
  if (std !== null) normalOp(t, 0, std, nextSeed())
  return tensor
}

function xavierStd (fn: string, t: Tensor, gainArg: number | { gain?: number } | undefined): number {
  let gain: unknown = gainArg
  if (gainArg !== null && typeof gainArg === 'object') {
    for (const key of Object.keys(gainArg)) {
      if (key !== 'gain') typeError(fn, 'options', 'an object with keys among gain', `unknown key '${key}'`)
    }
    gain = gainArg.gain
  }
  const g = finite(fn, 'gain', gain, 1)
  const [fanIn, fanOut] = fans(fn, t.shape)
  return fanIn + fanOut === 0 ? 0 : g * Math.sqrt(2 / (fanIn + fanOut))
}

/** Glorot initialisation, uniform: U(−a, a) with a = gain·√(6/(fanIn + fanOut)). gain: a number or { gain } (default 1). */
export function xavierUniform_<T extends Target> (tensor: T, gain?: number | { gain?: number }): T {
  const t = tensorOf('xavierUniform_', tensor)
  const a = Math.sqrt(3) * xavierStd('xavierUniform_', t, gain)
  uniformOp(t, -a, a, nextSeed())
  return tensor
}

/** Glorot initialisation, normal: N(0, std²) with std = gain·√(2/(fanIn + fanOut)). Returns its argument. */
export function xavierNormal_<T extends Target> (tensor: T, gain?: number | { gain?: number }): T {
  const t = tensorOf('xavierNormal_', tensor)
  normalOp(t, 0, xavierStd('xavierNormal_', t, gain), nextSeed())
  return tensor
}
