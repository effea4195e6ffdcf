// Batches of a Dataset, shuffled by seed, copied into two buffers allocated once: a
// training epoch allocates no tensor memory per batch. Copies go through Buffer#copy on
// byte views made once (a native memmove per image row or image), so the JS side never
// loops over pixels and makes no view objects per sample.
import { type Dataset } from './dataset'
import { Rng } from './rng'

export interface BatcherOptions {
  /** Images per batch (the last batch of an epoch may be smaller unless dropLast). */
  batchSize: number
  /** Visit the images in a new random order every epoch (default true). */
  shuffle?: boolean
  /** Seed of the shuffles and shifts: the same seed gives the same batches (default 0). */
  seed?: number
  /** Drop the last, smaller batch (default false). */
  dropLast?: boolean
  /**
   * Light augmentation: each image moved by a random whole-pixel shift in [−shift, shift]
   * along each axis (0 = off, the default), the uncovered border filled with the dataset's
   * blank-pixel value.
   */
  shift?: number
}

/**
 * One batch. The object and its arrays are reused for the next batch: copy what you keep.
 * `x` holds `size` images ([size, C, H, W] as `shape` says) and `y` their labels.
 */
export interface Batch {
  x: Float32Array
  y: Int32Array
  shape: [number, number, number, number]
  size: number
  /** Index of this batch within its epoch. */
  index: number
  /** Position of its first image in `Batcher#order` (dataset indices of the batch: order[start … start+size)). */
  start: number
}

export class Batcher {
  readonly batchSize: number
  /** Batches per epoch. */
  readonly batches: number
  /** The visiting order of the current epoch (dataset indices). */
  readonly order: Int32Array
  readonly shuffle: boolean
  readonly shift: number
  /** The reusable buffers every batch is copied into. */
  readonly x: Float32Array
  readonly y: Int32Array
  readonly #ds: Dataset
  readonly #rng: Rng
  readonly #src: Buffer
  readonly #dst: Buffer
  readonly #full: Batch
  readonly #tail: Batch | null
  readonly #count: number
  readonly #imageBytes: number

  constructor (ds: Dataset, opts: BatcherOptions) {
    const [n, c, h, w] = ds.shape
    const b = opts.batchSize
    if (!Number.isInteger(b) || b < 1) throw new RangeError(`Batcher: batchSize must be a positive integer, got ${String(b)}`)
    const shift = opts.shift ?? 0
    if (!Number.isInteger(shift) || shift < 0 || shift >= Math.min(h, w)) {
      throw new RangeError(`Batcher: shift must be an integer in [0, ${Math.min(h, w) - 1}], got ${String(shift)}`)
    }
    this.#ds = ds
    this.batchSize = b
    this.shuffle = opts.shuffle ?? true
    this.shift = shift
    this.#rng = new Rng(opts.seed ?? 0)
    const dropLast = opts.dropLast ?? false
    this.#count = dropLast ? n - (n % b) : n
    this.batches = dropLast ? Math.floor(n / b) : Math.ceil(n / b)
    this.order = new Int32Array(n)
    for (let i = 0; i < n; i++) this.order[i] = i
    const per = c * h * w
    this.#imageBytes = per * 4
    this.x = new Float32Array(Math.min(b, Math.max(n, 1)) * per)
    this.y = new Int32Array(Math.min(b, Math.max(n, 1)))
    this.#src = Buffer.from(ds.images.buffer, ds.images.byteOffset, ds.images.byteLength)
    this.#dst = Buffer.from(this.x.buffer, this.x.byteOffset, this.x.byteLength)
    const make = (size: number): Batch => ({
      x: size === this.y.length ? this.x : this.x.subarray(0, size * per),
      y: size === this.y.length ? this.y : this.y.subarray(0, size),
      shape: [size, c, h, w],
      size,
      index: 0,
      start: 0
    })
    this.#full = make(Math.min(b, n))
    const rest = this.#count % b
    this.#tail = rest !== 0 && n > b ? make(rest) : null
  }

  /** One pass over the dataset: a new shuffle (when shuffling), then the batches in order. */
  * epoch (): Generator<Batch, void, undefined> {
    if (this.shuffle) this.#rng.shuffle(this.order)
    for (let k = 0; k < this.batches; k++) yield this.batch(k)
  }

  /** Fills the buffers with batch k of the current order and returns it (the reused Batch object). */
  batch (k: number): Batch {
    const start = k * this.batchSize
    const size = Math.min(this.batchSize, this.#count - start)
    const out = size === this.#full.size ? this.#full : (this.#tail as Batch)
    out.index = k
    out.start = start
    const labels = this.#ds.labels
    for (let j = 0; j < size; j++) {
      const i = this.order[start + j]
      out.y[j] = labels[i]
      if (this.shift === 0) this.#copy(i, j)
      else this.#copyShifted(i, j, this.#rng.int(2 * this.shift + 1) - this.shift, this.#rng.int(2 * this.shift + 1) - this.shift)
    }
    return out
  }

  #copy (i: number, j: number): void {
    const bytes = this.#imageBytes
    this.#src.copy(this.#dst, j * bytes, i * bytes, (i + 1) * bytes)
  }

  /**
   * Image i into slot j moved by dx columns right and dy rows down. Rows are contiguous, so
   * each channel is one memmove of the overlapping span, offset by dy·w + dx; the rows it
   * leaves uncovered are filled, and the |dx| columns per row that picked up the
   * neighbouring row's pixels are reset to the blank value (≤ 2·shift pixels per row:
   * cheaper than a copy call per row, which took 3× as long over an MNIST epoch).
   */
  #copyShifted (i: number, j: number, dx: number, dy: number): void {
    const [, c, h, w] = this.#ds.shape
    const plane = h * w
    const x = this.x
    const top = Math.max(0, dy)
    const bottom = Math.min(h, h + dy)
    for (let ch = 0; ch < c; ch++) {
      const bg = this.#ds.background[ch]
      const dstPlane = (j * c + ch) * plane
      const from = dstPlane + top * w + Math.max(0, dx)
      const to = dstPlane + bottom * w - Math.max(0, -dx)
      const srcFrom = (i * c + ch) * plane + (from - dstPlane) - dy * w - dx
      this.#src.copy(this.#dst, from * 4, srcFrom * 4, (srcFrom + to - from) * 4)
      x.fill(bg, dstPlane, dstPlane + top * w)
      x.fill(bg, dstPlane + bottom * w, dstPlane + plane)
      const c0 = dx > 0 ? 0 : w + dx
      const c1 = dx > 0 ? dx : w
      for (let y = top; y < bottom; y++) {
        for (let col = c0; col < c1; col++) x[dstPlane + y * w + col] = bg
      }
    }
  }
}
