// What a run leaves in runs/<name>/: model.safetensors, metrics.json, curves.png, attention.png.
import * as fs from 'fs'
import * as path from 'path'
import { type Dataset } from '../data/dataset'
import { saveSafetensors } from '../io'
import { dispose } from '../lifetime'
import { Tensor } from '../tensor'
import { curvesPng } from '../viz/curves'
import { type GridTile, grid } from '../viz/grid'
import { heatmap } from '../viz/heatmap'
import { type RgbaImage, rgbaImage } from '../viz/image'
import { encodePng } from '../viz/png'
import { countCorrect } from './loop'
import { type EpochMetrics, type TrainModel } from './types'

export const RUN_FILES = { model: 'model.safetensors', metrics: 'metrics.json', curves: 'curves.png', attention: 'attention.png' } as const

/** `<model>-<YYYYMMDD-HHMMSS>` in local time: sorts by date, unique per second. */
export function runName (model: string, now = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${model}-${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`
}

/** metrics.json: the run's settings, every epoch, and the outcome. */
export interface RunMetrics {
  foveal: string
  command: string | null
  model: string
  parameters: number
  data: { name: string, train: number, test: number, input: number[], classes: number, normalization: Dataset['normalization'] }
  config: { epochs: number | null, maxEpochs: number, targetAccuracy: number | null, batch: number, lr: number, schedule: string,
    optimizer: string, seed: number, shift: number, threads: number }
  epochs: EpochMetrics[]
  final: { epochs: number, stoppedBy: 'epochs' | 'target', trainLoss: number | null, testLoss: number | null,
    testAccuracy: number | null, seconds: number, samplesPerSecond: number, evalSamplesPerSecond: number }
  files: string[]
  /** Why an output was not written (a checkpoint of a model without stateDict(), a picture that failed to draw). */
  skipped: Record<string, string>
}

/** Writes metrics.json (pretty-printed, atomically: a reader never sees half a file). */
export function writeMetrics (dir: string, m: RunMetrics): string {
  const file = path.join(dir, RUN_FILES.metrics)
  writeAtomic(file, JSON.stringify(m, null, 2) + '\n')
  return file
}

export function writeCurves (dir: string, epochs: readonly EpochMetrics[], title: string): string {
  const file = path.join(dir, RUN_FILES.curves)
  const points = epochs.map((e) => ({
    epoch: e.epoch,
    trainLoss: e.trainLoss,
    trainAccuracy: e.trainAccuracy,
    testLoss: e.testLoss ?? undefined,
    testAccuracy: e.testAccuracy ?? undefined
  }))
  writeAtomic(file, curvesPng(points, { title }))
  return file
}

/**
 * model.safetensors through fv.io, with the metadata `foveal predict` rebuilds the model
 * from. Returns null when written, else why not (a model of one's own without stateDict()).
 */
export function saveCheckpoint (file: string, model: TrainModel, metadata: Record<string, string>): string | null {
  if (typeof model.stateDict !== 'function') return 'the model has no stateDict()'
  saveSafetensors(file, model.stateDict() as Parameters<typeof saveSafetensors>[1], metadata)
  return null
}

export interface AttentionGridOptions {
  /** Tiles in the grid (default 32). */
  count?: number
  /** Misclassified images shown first, up to this many (default 8). */
  wrong?: number
  columns?: number
  /** Output pixels per image pixel (default 3). */
  scale?: number
}

/**
 * Test images with the model's attention overlaid (plain when the model has no
 * attentionMap), framed green when classified right and red when wrong; labelled with the
 * predicted class, and for a wrong one "P:<predicted> T:<true>". The misclassified ones
 * (from `predictions`, the last evaluation) come first, so a reader sees what goes wrong.
 */
export function attentionGrid (model: TrainModel, test: Dataset, predictions: Int32Array | null,
  opts: AttentionGridOptions = {}): RgbaImage {
  const [n, c, h, w] = test.shape
  const count = Math.min(opts.count ?? 32, n)
  const picks: number[] = []
  if (predictions !== null) {
    for (let i = 0; i < n && picks.length < Math.min(opts.wrong ?? 8, count); i++) if (predictions[i] !== test.labels[i]) picks.push(i)
  }
  for (let i = 0; i < n && picks.length < count; i++) if (!picks.includes(i)) picks.push(i)
  const per = c * h * w
  const x = new Float32Array(picks.length * per)
  picks.forEach((i, j) => x.set(test.images.subarray(i * per, (i + 1) * per), j * per))
  model.eval()
  const logits = model.forward(new Tensor(x, [picks.length, c, h, w]))
  const pred = new Int32Array(picks.length)
  countCorrect(logits.data, Int32Array.from(picks, (i) => test.labels[i]), picks.length, test.numClasses, pred, 0)
  const map = typeof model.attentionMap === 'function' ? model.attentionMap() : null
  dispose(logits)
  model.train()
  const mapShape = map === null ? null : mapDims(map.shape, picks.length)
  const scale = opts.scale ?? 3
  const tiles: GridTile[] = picks.map((i, j) => {
    const picture = displayImage(test, i)
    const image = mapShape === null || map === null
      ? heatmap(picture, new Float32Array(1), [1, 1], { alpha: 0, scale })
      : heatmap(picture, map.data.subarray(j * mapShape[0] * mapShape[1], (j + 1) * mapShape[0] * mapShape[1]), mapShape, { scale, alpha: 0.55 })
    const truth = test.labels[i]
    const name = (k: number): string => test.classNames[k] ?? String(k)
    return { image, correct: pred[j] === truth, label: pred[j] === truth ? name(pred[j]) : `P:${name(pred[j])} T:${name(truth)}` }
  })
  return grid(tiles, { columns: opts.columns ?? 8 })
}

/** [h, w] of a per-image attention map [B, h, w] or [B, 1, h, w]; null for anything else. */
function mapDims (shape: readonly number[], batch: number): [number, number] | null {
  if (shape[0] !== batch) return null
  if (shape.length === 3) return [shape[1], shape[2]]
  if (shape.length === 4 && shape[1] === 1) return [shape[2], shape[3]]
  return null
}

/** Image i of a dataset as a picture: normalisation undone, grey for one channel, RGB for three. */
export function displayImage (ds: Dataset, i: number): RgbaImage {
  const [, c, h, w] = ds.shape
  const { mean, std } = ds.normalization
  const out = rgbaImage(w, h)
  const base = i * c * h * w
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < 3; k++) {
      const ch = c === 3 ? k : 0
      const v = ds.images[base + ch * h * w + p] * std[ch] + mean[ch]
      out.data[p * 4 + k] = Math.round(255 * Math.min(1, Math.max(0, v)))
    }
  }
  return out
}

export function writeAttention (dir: string, model: TrainModel, test: Dataset, predictions: Int32Array | null): string {
  const file = path.join(dir, RUN_FILES.attention)
  writeAtomic(file, encodePng(attentionGrid(model, test, predictions)))
  return file
}

function writeAtomic (file: string, content: string | Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, content)
  fs.renameSync(tmp, file)
}
