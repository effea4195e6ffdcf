// fv.optim: optimizers that update parameters in place (one fused native pass per tensor),
// learning-rate schedulers, and gradient clipping. PyTorch's torch.optim, in its names.
export { Optimizer } from './optimizer'
export type {
  ParameterLike, ParamGroup, ParamGroupSpec, ParamsArg, OptimizerStateDict, SchedulerGroupKeys
} from './optimizer'
export { SGD } from './sgd'
export type { SGDOptions, SGDHyper, SGDState } from './sgd'
export { Adam, AdamW } from './adam'
export type { AdamOptions, AdamHyper, AdamState } from './adam'
export { LRScheduler, StepLR, CosineAnnealingLR, OneCycleLR } from './lr_scheduler'
export type { StepLROptions, CosineAnnealingLROptions, OneCycleLROptions, SchedulerStateDict } from './lr_scheduler'
export { clipGradNorm } from './clip'
export type { ClipGradNormOptions } from './clip'
