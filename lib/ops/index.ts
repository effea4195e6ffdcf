// fv.ops: the functional ops, one file per family, each with its Async twin and backward.
export * from './linear'
export * from './activation'
export * from './softmax'
export * from './elementwise'
export * from './norm'
export * from './loss'
export * from './dropout'
export * from './attention'
