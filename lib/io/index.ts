// fv.io: checkpoints (safetensors).
export * from './safetensors'
