// What every loader returns, and the one place where dataset bytes become floats.
import * as fs from 'fs'
import * as zlib from 'zlib'

/**
 * An image classification dataset held as one float tensor and its labels.
 * `images` is [n, channels, height, width] (NCHW, row-major) as `shape` says.
 */
export interface Dataset {
  /** e.g. 'mnist/train', 'cifar10/test'. */
  readonly name: string
  readonly images: Float32Array
  readonly labels: Int32Array
  /** [n, channels, height, width]. */
  readonly shape: readonly [number, number, number, number]
  readonly numClasses: number
  readonly classNames: readonly string[]
  /**
   * The value a blank pixel (byte 0) has in `images`, per channel: 0 without normalisation,
   * −mean/std with it. Augmentation fills the pixels it shifts in with it.
   */
  readonly background: Float32Array
  /** How a byte b of channel c became a float: (b/255 − mean[c]) / std[c]; mean 0, std 1 when not normalised. */
  readonly normalization: { readonly mean: readonly number[], readonly std: readonly number[] }
}

/** A 256-entry table: byte → (byte/255 − mean)/std, computed in float64 then rounded once. */
export function byteTable (mean = 0, std = 1): Float32Array {
  const t = new Float32Array(256)
  for (let b = 0; b < 256; b++) t[b] = (b / 255 - mean) / std
  return t
}

/**
 * dst[dstStart + i] = table[src[srcStart + i]] for i < count: the whole uint8 → float32
 * conversion of a dataset goes through this one loop (47M pixels for MNIST's training
 * set, ~0.1 s). There is no native op for it (a byte-to-float cast with an affine map would
 * be one); a table lookup keeps it exact and branch-free, and it runs once per load, never
 * per batch.
 */
export function expandBytes (src: Uint8Array, srcStart: number, count: number,
  table: Float32Array, dst: Float32Array, dstStart: number): void {
  for (let i = 0; i < count; i++) dst[dstStart + i] = table[src[srcStart + i]]
}

/**
 * A file read piecewise through one reusable buffer, so a 47 MB IDX file never sits in
 * memory beside the floats made from it; a .gz file is unpacked whole (it has no random access).
 */
export class ByteSource {
  readonly size: number
  #fd: number | null = null
  #whole: Buffer | null = null

  constructor (readonly file: string) {
    if (file.endsWith('.gz')) {
      this.#whole = zlib.gunzipSync(fs.readFileSync(file))
      this.size = this.#whole.length
    } else {
      this.#fd = fs.openSync(file, 'r')
      this.size = fs.fstatSync(this.#fd).size
    }
  }

  /** Reads bytes [pos, pos + len) into `into` (from its start); returns the view of what was read. */
  read (pos: number, len: number, into: Uint8Array): Uint8Array {
    if (this.#whole !== null) return this.#whole.subarray(pos, pos + len)
    let done = 0
    while (done < len) {
      const n = fs.readSync(this.#fd as number, into, done, len - done, pos + done)
      if (n === 0) break
      done += n
    }
    return into.subarray(0, done)
  }

  close (): void {
    if (this.#fd !== null) fs.closeSync(this.#fd)
    this.#fd = null
    this.#whole = null
  }
}

/** Bytes read per piece: large enough that syscalls do not matter, small enough to stay in cache. */
export const CHUNK_BYTES = 1 << 20
