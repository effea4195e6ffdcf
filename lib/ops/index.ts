// fv.ops: the functional ops, one file per family, each with its Async twin and backward.
export * from './linear'
export * from './attention'
