// The seams of `foveal train`: what a model and an optimizer must offer the training loop.
// fv.nn modules and fv.optim optimizers have these shapes; so can hand-written ones.
import { type Shape, type Tensor, type TensorLike } from '../tensor'

/** A trainable tensor and its gradient (fv.nn.Parameter is one). */
export interface ParameterLike {
  value: TensorLike
  grad: TensorLike | null
}

/** A classifier the loop can train: fv.nn.Module has this shape. */
export interface TrainModel {
  /** images [B, C, H, W] → logits [B, classes]. The input's memory is reused for the next batch after backward. */
  forward(x: Tensor): Tensor
  /** Gradient of the mean loss w.r.t. the logits → accumulates parameter gradients (the return value is ignored). */
  backward(dlogits: Tensor): unknown
  parameters(): Iterable<ParameterLike>
  /** Training mode (dropout on, batch statistics) and evaluation mode. */
  train(): unknown
  eval(): unknown
  /** What model.safetensors holds (PyTorch names); without it no checkpoint is written. */
  stateDict?(): Record<string, unknown>
  /** Loads what stateDict() gave (`foveal predict` needs it). */
  loadStateDict?(sd: Record<string, unknown>): unknown
  /**
   * The attention map of the last forward, one per image: [B, h, w] (or [B, 1, h, w]), larger
   * = more attention. attention.png overlays it on each image; without it the images are
   * drawn plain.
   */
  attentionMap?(): { data: Float32Array, shape: Shape } | null
}

/** What a model is built for. */
export interface ModelSpec {
  /** [C, H, W] of one image. */
  input: readonly [number, number, number]
  numClasses: number
  /** Seed of the weight initialisation. */
  seed: number
}

export type ModelFactory = (spec: ModelSpec) => TrainModel

/** An optimizer the loop can drive: fv.optim.Adam has this shape. */
export interface TrainOptimizer {
  /** Updates every parameter in place from its gradient. */
  step(): unknown
  /** Zeroes the gradients before the next backward. */
  zeroGrad(): unknown
}

export interface OptimizerSpec {
  lr: number
}

export type OptimizerFactory = (params: ParameterLike[], spec: OptimizerSpec) => TrainOptimizer

/** One epoch, as metrics.json records it. Accuracies are fractions in [0, 1]. */
export interface EpochMetrics {
  epoch: number
  trainLoss: number
  trainAccuracy: number
  /** null when there is no test set. */
  testLoss: number | null
  testAccuracy: number | null
  /** Wall time of the training pass and of the evaluation, in seconds. */
  seconds: number
  evalSeconds: number
  /** Training images per second (forward, backward and step), and evaluation images per second. */
  samplesPerSecond: number
  evalSamplesPerSecond: number
}
