'use strict'
// A float64 forward of an fv.nn module tree, composed from the plain references in
// test/reference/ (no code shared with lib/): what each layer computes by definition,
// read from the module's public configuration and parameters. `values` may replace any
// parameter's data (a Map from Parameter to an array), for finite differences.
const fv = require('./fv')
const { linear } = require('../reference/linear')
const conv = require('../reference/conv')
const pool = require('../reference/pool')
const { activation } = require('../reference/activation')
const { softmax } = require('../reference/softmax')
const norm = require('../reference/norm')
const { crossEntropy, mse } = require('../reference/loss')

const size = (shape) => shape.reduce((a, b) => a * b, 1)
const f64 = (t) => Float64Array.from(t.data)

function valueOf (p, values) {
  if (p === null || p === undefined) return null
  return values.has(p) ? values.get(p) : f64(p.value)
}

/** { data: Float64Array, shape } of module m applied to x ({ data, shape }). */
function refForward (m, x, values = new Map()) {
  const P = (p) => valueOf(p, values)
  const T = (p) => (p ? { data: P(p), shape: p.value.shape } : null)
  const nn = fv.nn
  if (m instanceof nn.Sequential) {
    let a = x
    for (const child of m) a = refForward(child, a, values)
    return a
  }
  if (m instanceof nn.Linear) {
    const K = m.inFeatures; const N = m.outFeatures; const M = size(x.shape) / K
    return { data: linear(x.data, P(m.weight), P(m.bias), M, K, N), shape: [...x.shape.slice(0, -1), N] }
  }
  if (m instanceof nn.Conv2d) {
    return conv.conv2d(x, T(m.weight), T(m.bias), { stride: m.stride, padding: m.padding, dilation: m.dilation, groups: m.groups })
  }
  if (m instanceof nn.Conv1d) {
    return conv.conv1d(x, T(m.weight), T(m.bias), { stride: m.stride, padding: m.padding, dilation: m.dilation, groups: m.groups })
  }
  if (m instanceof nn.ConvTranspose2d) {
    return conv.conv2dTranspose(x, T(m.weight), T(m.bias), {
      stride: m.stride, padding: m.padding, outputPadding: m.outputPadding, dilation: m.dilation, groups: m.groups
    })
  }
  if (m instanceof nn.MaxPool2d) {
    const r = pool.maxPool2d(x, { kernel: m.kernelSize, stride: m.stride, padding: m.padding, dilation: m.dilation, ceilMode: m.ceilMode })
    return { data: r.data, shape: r.shape }
  }
  if (m instanceof nn.AvgPool2d) {
    return pool.avgPool2d(x, { kernel: m.kernelSize, stride: m.stride, padding: m.padding, ceilMode: m.ceilMode, countIncludePad: m.countIncludePad })
  }
  if (m instanceof nn.AdaptiveAvgPool2d) {
    const s = typeof m.outputSize === 'number' ? [m.outputSize, m.outputSize] : m.outputSize
    return pool.adaptiveAvgPool2d(x, s[0] ?? x.shape[2], s[1] ?? x.shape[3])
  }
  const pointwise = { ReLU: 'relu', Sigmoid: 'sigmoid', Tanh: 'tanh' }
  if (pointwise[m.constructor.name]) return { data: activation(pointwise[m.constructor.name], x.data), shape: x.shape }
  if (m instanceof nn.GELU) return { data: activation(m.approximate === 'tanh' ? 'geluTanh' : 'gelu', x.data), shape: x.shape }
  if (m instanceof nn.Softmax) {
    const axis = m.dim < 0 ? m.dim + x.shape.length : m.dim
    const outer = size(x.shape.slice(0, axis)); const inner = size(x.shape.slice(axis + 1))
    return { data: softmax(x.data, outer, x.shape[axis], inner), shape: x.shape }
  }
  if (m instanceof nn.Flatten) {
    const r = x.shape.length
    const s = m.startDim < 0 ? m.startDim + r : m.startDim; const e = m.endDim < 0 ? m.endDim + r : m.endDim
    return { data: x.data, shape: [...x.shape.slice(0, s), size(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)] }
  }
  if (m instanceof nn.Dropout && !m.training) return x
  if (m instanceof nn.LayerNorm) {
    const D = size(m.normalizedShape)
    return { data: norm.layerNorm(x.data, x.data.length / D, D, P(m.weight), P(m.bias), m.eps), shape: x.shape }
  }
  if (m instanceof nn.BatchNorm2d) {
    const [N, C] = x.shape; const S = size(x.shape.slice(2))
    const training = m.training || !m.trackRunningStats
    const rm = m.runningMean && f64(m.runningMean); const rv = m.runningVar && f64(m.runningVar)
    return { data: norm.batchNorm(x.data, N, C, S, rm, rv, P(m.weight), P(m.bias), { training, eps: m.eps }).y, shape: x.shape }
  }
  if (m instanceof nn.GroupNorm) {
    const [N, C] = x.shape; const S = size(x.shape.slice(2))
    return { data: norm.groupNorm(x.data, N, C, S, m.numGroups, P(m.weight), P(m.bias), m.eps), shape: x.shape }
  }
  throw new Error(`refForward: no reference for ${m.constructor.name}`)
}

/** The float64 loss of a loss module, as a number (reductions 'mean' / 'sum') or array. */
function refLoss (m, input, target) {
  if (m instanceof fv.nn.CrossEntropyLoss) {
    const [N, C] = input.shape
    return crossEntropy(input.data, target, N, C, { reduction: m.reduction, labelSmoothing: m.labelSmoothing, ignoreIndex: m.ignoreIndex })
  }
  if (m instanceof fv.nn.MSELoss) return mse(input.data, target.data, { reduction: m.reduction })
  throw new Error(`refLoss: no reference for ${m.constructor.name}`)
}

module.exports = { refForward, refLoss, f64, size }
