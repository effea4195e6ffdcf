// CIFAR-10, "binary version" (https://www.cs.toronto.edu/~kriz/cifar.html): data_batch_1..5.bin
// and test_batch.bin, each 10000 records of 1 label byte + 3072 pixel bytes (32×32 red, then
// green, then blue: CHW). Read into one Float32Array [N, 3, 32, 32] and an Int32Array of labels.
// No npm package ships the data and foveal downloads nothing: the user points at a folder.
import * as fs from 'fs'
import * as path from 'path'
import { ByteSource, CHUNK_BYTES, type Dataset, byteTable, expandBytes } from './dataset'

/** Per-channel mean and standard deviation of x/255 over the 50000 training images. */
export const CIFAR10_MEAN = [0.4914, 0.4822, 0.4465] as const
export const CIFAR10_STD = [0.2470, 0.2435, 0.2616] as const
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const

const SIDE = 32
const PLANE = SIDE * SIDE
const RECORD = 1 + 3 * PLANE  // 3073
const RECORDS_PER_FILE = 10000
const TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin']
const TEST_FILES = ['test_batch.bin']

export type Cifar10Split = 'train' | 'test'

export interface Cifar10Options {
  /** Map channel c to (x/255 − mean[c]) / std[c] with CIFAR10_MEAN / CIFAR10_STD (default false: x/255). */
  normalize?: boolean
  /** Read only the first `limit` records of the split (default: all). */
  limit?: number
}

const EXPECTED = 'data_batch_1.bin … data_batch_5.bin and test_batch.bin, the "CIFAR-10 binary version": ' +
  `each ${RECORDS_PER_FILE} records of ${RECORD} bytes (1 label byte + 32×32×3 pixel bytes), ${RECORDS_PER_FILE * RECORD} bytes`

/**
 * The folder that holds the batch files: `dir` itself, or the `cifar-10-batches-bin`
 * folder the archive unpacks to inside it. A clear Error when neither has them.
 */
export function cifar10Dir (dir: string): string {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new Error(`cifar10: ${dir} is not a folder; expected one holding ${EXPECTED}`)
  }
  const nested = path.join(dir, 'cifar-10-batches-bin')
  if (!fs.existsSync(path.join(dir, TEST_FILES[0])) && fs.existsSync(path.join(nested, TEST_FILES[0]))) return nested
  return dir
}

/** Reads a split of CIFAR-10 into a Dataset [n, 3, 32, 32]. */
export function loadCifar10 (dir: string, split: Cifar10Split, opts: Cifar10Options = {}): Dataset {
  const root = cifar10Dir(dir)
  const names = split === 'train' ? TRAIN_FILES : TEST_FILES
  const missing = names.filter((f) => !fs.existsSync(path.join(root, f)))
  if (missing.length > 0) {
    throw new Error(`cifar10: ${root} is missing ${missing.join(', ')}; expected ${EXPECTED}`)
  }
  const files = names.map((f) => {
    const file = path.join(root, f)
    const size = fs.statSync(file).size
    if (size === 0 || size % RECORD !== 0) {
      throw new Error(`cifar10: ${file} has ${size} bytes, not a whole number of ${RECORD}-byte records ` +
        `(1 label byte + 3072 pixel bytes); expected ${RECORDS_PER_FILE * RECORD} bytes (${RECORDS_PER_FILE} records)`)
    }
    return { file, records: size / RECORD }
  })
  const available = files.reduce((s, f) => s + f.records, 0)
  const n = opts.limit === undefined ? available : Math.min(opts.limit, available)

  const normalize = opts.normalize ?? false
  const mean = normalize ? [...CIFAR10_MEAN] : [0, 0, 0]
  const std = normalize ? [...CIFAR10_STD] : [1, 1, 1]
  const tables = [0, 1, 2].map((c) => byteTable(mean[c], std[c]))
  const images = new Float32Array(n * 3 * PLANE)
  const labels = new Int32Array(n)
  const chunk = new Uint8Array(Math.floor(CHUNK_BYTES / RECORD) * RECORD)
  let i = 0
  for (const { file, records } of files) {
    if (i >= n) break
    const src = new ByteSource(file)
    try {
      const take = Math.min(records, n - i)
      for (let r = 0; r < take;) {
        const k = Math.min(chunk.length / RECORD, take - r)
        const bytes = src.read(r * RECORD, k * RECORD, chunk)
        if (bytes.length !== k * RECORD) throw new Error(`cifar10: ${file} ended early (at record ${r + Math.floor(bytes.length / RECORD)})`)
        for (let j = 0; j < k; j++, i++) {
          const at = j * RECORD
          const label = bytes[at]
          if (label >= 10) throw new Error(`cifar10: ${file}: record ${r + j} has label ${label}, outside [0, 10)`)
          labels[i] = label
          for (let c = 0; c < 3; c++) expandBytes(bytes, at + 1 + c * PLANE, PLANE, tables[c], images, (i * 3 + c) * PLANE)
        }
        r += k
      }
    } finally {
      src.close()
    }
  }
  return {
    name: `cifar10/${split}`,
    images,
    labels,
    shape: [n, 3, SIDE, SIDE],
    numClasses: 10,
    classNames: CIFAR10_CLASSES,
    background: Float32Array.from(tables, (t) => t[0]),
    normalization: { mean, std }
  }
}
