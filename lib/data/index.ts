// fv.data: datasets read straight into Float32Array tensors, and seeded batching.
export type { Dataset } from './dataset'
export { loadMnist, mnistDataDir, mnistFiles, MNIST_MEAN, MNIST_STD } from './mnist'
export type { MnistOptions, MnistSplit } from './mnist'
export { loadCifar10, CIFAR10_MEAN, CIFAR10_STD, CIFAR10_CLASSES } from './cifar10'
export type { Cifar10Options, Cifar10Split } from './cifar10'
export { Batcher } from './batcher'
export type { Batch, BatcherOptions } from './batcher'
export { Rng } from './rng'
