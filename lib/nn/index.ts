// fv.nn: modules (layers, attention blocks, containers) and their parameters.
export { Module } from './module'
export type { StateDict, StateTensor } from './module'
export { Parameter } from './parameter'
