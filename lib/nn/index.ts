// fv.nn: modules (layers, attention blocks, containers) and their parameters.
export { Module } from './module'
export type { StateDict, StateTensor } from './module'
export { Parameter } from './parameter'
export * as init from './init'
export { Linear } from './linear'
export type { LinearOptions } from './linear'
export { Conv1d, Conv2d, ConvTranspose2d } from './conv'
export type { Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions } from './conv'
export { MaxPool2d, AvgPool2d, AdaptiveAvgPool2d } from './pool'
export type { MaxPool2dOptions, AvgPool2dOptions } from './pool'
export { ReLU, GELU, Sigmoid, Tanh, Softmax, Flatten, Dropout } from './activation'
export type { GELUOptions, FlattenOptions, DropoutOptions } from './activation'
export { LayerNorm, BatchNorm2d, GroupNorm } from './norm'
export type { LayerNormOptions, BatchNorm2dOptions, GroupNormOptions } from './norm'
export { Sequential, ModuleList, ModuleDict } from './container'
export { CrossEntropyLoss, MSELoss, BCEWithLogitsLoss } from './loss'
export type { CrossEntropyLossOptions, MSELossOptions, BCEWithLogitsLossOptions } from './loss'
export { MultiheadAttention } from './attention'
export type {
  MultiheadAttentionOptions, MultiheadAttentionForwardOptions, MultiheadAttentionResult, MultiheadAttentionGrads,
  AttentionMask
} from './attention'
export { TransformerEncoderLayer, TransformerEncoder } from './transformer'
export type {
  TransformerEncoderLayerOptions, TransformerEncoderLayerForwardOptions, TransformerEncoderOptions,
  TransformerEncoderForwardOptions
} from './transformer'
export {
  AttentionBlock, SpatialGate, SqueezeExcitation, ECA, ChannelAttention, SpatialAttention, CBAM, NonLocal2d, AttentionPool
} from './cnn_attention'
export type { NonLocal2dOptions, AttentionPoolResult, SqueezeExcitationOptions, CBAMOptions } from './cnn_attention'
export { Embedding } from './embedding'
export type { EmbeddingOptions } from './embedding'
