// fv.io: checkpoints (safetensors).
export * from './safetensors'
export { loadOnnxWeights, loadOnnxWeightsAsync } from './onnx'
export { toOrt, toTfjs, fromTensor } from './interop'
export type { OrtLike, TfLike } from './interop'
