// `foveal predict`'s core: a trained model back from model.safetensors, pictures turned into
// its input, classes and probabilities out, and the attention drawn over each picture.
import { type Dataset } from '../data/dataset'
import { loadSafetensors, readSafetensorsMetadata } from '../io'
import { dispose } from '../lifetime'
import { softmax } from '../ops'
import { Tensor } from '../tensor'
import { heatmap } from '../viz/heatmap'
import { type RgbaImage, resizeArea } from '../viz/image'
import { toDigit, type DigitOptions } from '../viz/png'
import { createModel } from './models'
import { type TrainModel } from './types'

/** What a checkpoint's metadata says about the model (written by `foveal train`). */
export interface CheckpointInfo {
  model: string
  /** [C, H, W]. */
  input: [number, number, number]
  classNames: string[]
  normalization: Dataset['normalization']
}

/** Reads the metadata `foveal train` writes into model.safetensors, checked. */
export function checkpointInfo (meta: Record<string, string>, file: string): CheckpointInfo {
  const bad = (what: string): never => {
    throw new Error(`${file} was not written by foveal train: its metadata has no valid ${what}`)
  }
  const parse = (key: string): unknown => {
    try { return JSON.parse(meta[key]) } catch { return bad(key) }
  }
  const model = meta['foveal.model']
  if (typeof model !== 'string' || model === '') bad('foveal.model')
  const input = parse('foveal.input')
  if (!Array.isArray(input) || input.length !== 3 || !input.every((n) => Number.isInteger(n) && n > 0)) bad('foveal.input')
  const classNames = parse('foveal.classes')
  if (!Array.isArray(classNames) || classNames.length < 2) bad('foveal.classes')
  const normalization = parse('foveal.normalization') as CheckpointInfo['normalization']
  if (!Array.isArray(normalization?.mean) || !Array.isArray(normalization?.std)) bad('foveal.normalization')
  return { model, input: input as CheckpointInfo['input'], classNames: (classNames as unknown[]).map(String), normalization }
}

/** The model a checkpoint holds, in evaluation mode. */
export function loadCheckpoint (file: string): { model: TrainModel, info: CheckpointInfo } {
  const info = checkpointInfo(readSafetensorsMetadata(file), file)
  const model = createModel(info.model, { input: info.input, numClasses: info.classNames.length, seed: 0 })
  if (typeof model.loadStateDict !== 'function') throw new Error(`model '${info.model}' cannot load weights (no loadStateDict)`)
  model.loadStateDict(loadSafetensors(file))
  model.eval()
  return { model, info }
}

/**
 * A picture as the model's input [C, H, W], normalised as in training: a digit model (one
 * channel) gets toDigit's MNIST preparation; a colour model gets the picture area-resized
 * to H×W (transparent pixels count as black).
 */
export function toModelInput (img: RgbaImage, info: CheckpointInfo, digit: DigitOptions = {}): Float32Array {
  const [c, h, w] = info.input
  const { mean, std } = info.normalization
  const out = new Float32Array(c * h * w)
  if (c === 1) {
    if (h !== w) throw new Error(`a one-channel model must take square images, this one takes ${h}×${w}`)
    const d = toDigit(img, { ...digit, size: h })
    for (let i = 0; i < h * w; i++) out[i] = (d[i] - mean[0]) / std[0]
    return out
  }
  for (let ch = 0; ch < c; ch++) {
    const plane = new Float32Array(img.width * img.height)
    for (let i = 0; i < plane.length; i++) plane[i] = img.data[i * 4 + Math.min(ch, 2)] / 255 * (img.data[i * 4 + 3] / 255)
    const small = resizeArea(plane, img.width, img.height, w, h)
    for (let i = 0; i < h * w; i++) out[ch * h * w + i] = (small[i] - mean[ch]) / std[ch]
  }
  return out
}

export interface Predictions {
  /** The most probable class of each input. */
  classes: Int32Array
  /** [n, classes] softmax of the logits. */
  probabilities: Float32Array
  /** The model's attention per input, [n, h, w], when it has one. */
  attention: { data: Float32Array, shape: [number, number, number] } | null
}

/** Classes, probabilities and attention maps for n inputs [n, C, H, W]. */
export function predict (model: TrainModel, inputs: Float32Array, n: number, info: CheckpointInfo): Predictions {
  const [c, h, w] = info.input
  model.eval()
  const logits = model.forward(new Tensor(inputs, [n, c, h, w]))
  const probs = softmax(logits, -1)
  const k = info.classNames.length
  const probabilities = Float32Array.from(probs.data)
  const classes = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    let best = 0
    for (let j = 1; j < k; j++) if (probabilities[i * k + j] > probabilities[i * k + best]) best = j
    classes[i] = best
  }
  const map = typeof model.attentionMap === 'function' ? model.attentionMap() : null
  let attention: Predictions['attention'] = null
  if (map !== null && map.shape[0] === n && (map.shape.length === 3 || (map.shape.length === 4 && map.shape[1] === 1))) {
    const mh = map.shape[map.shape.length - 2]
    const mw = map.shape[map.shape.length - 1]
    attention = { data: Float32Array.from(map.data), shape: [n, mh, mw] }
  }
  dispose([logits, probs])
  return { classes, probabilities, attention }
}

/** The input the model saw (normalisation undone), with input i's attention map over it, scale× larger. */
export function predictionHeatmap (inputs: Float32Array, i: number, info: CheckpointInfo, p: Predictions, scale = 8): RgbaImage {
  const [c, h, w] = info.input
  const { mean, std } = info.normalization
  const grey = new Float32Array(h * w)
  for (let q = 0; q < h * w; q++) {
    let s = 0
    for (let ch = 0; ch < c; ch++) s += inputs[(i * c + ch) * h * w + q] * std[ch] + mean[ch]
    grey[q] = s / c
  }
  const picture = { width: w, height: h, data: grey }
  if (p.attention === null) return heatmap(picture, new Float32Array(1), [1, 1], { alpha: 0, scale })
  const [, mh, mw] = p.attention.shape
  return heatmap(picture, p.attention.data.subarray(i * mh * mw, (i + 1) * mh * mw), [mh, mw], { alpha: 0.55, scale })
}
