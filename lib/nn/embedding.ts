// Embedding (PyTorch's nn.Embedding) on fv.ops.embedding / embeddingBackward: a row lookup
// whose backward scatter-adds dy into the rows it read (deterministically), accumulating
// into weight.grad.
import * as ops from '../ops'
import { type Tensor, type TensorLike } from '../tensor'
import { normal_ } from './init'
import { Module } from './module'
import { Parameter } from './parameter'
import { gradOf, intArg, noForward, options, zeros } from './util'

export interface EmbeddingOptions {
  /**
   * A row (negative counts from the end) that gets no gradient and starts at zeros, as
   * PyTorch's padding_idx.
   */
  paddingIdx?: number | null
}

/**
 * A lookup table: forward(indices) → [...indices.shape, embeddingDim], indices an
 * Int32Array or { data: Int32Array, shape }. weight [numEmbeddings, embeddingDim],
 * initialised N(0, 1) (the paddingIdx row zeros), as PyTorch's. backward(dy) accumulates
 * into weight.grad and returns null: indices have no gradient.
 */
export class Embedding extends Module {
  readonly numEmbeddings: number
  readonly embeddingDim: number
  readonly paddingIdx: number | null
  weight: Parameter
  #indices: ops.IndexTensorLike | null = null

  constructor (numEmbeddings: number, embeddingDim: number, opts: EmbeddingOptions = {}) {
    super()
    const o = options('Embedding', opts, ['paddingIdx'])
    this.numEmbeddings = intArg('Embedding', 'numEmbeddings', numEmbeddings)
    this.embeddingDim = intArg('Embedding', 'embeddingDim', embeddingDim)
    let pad: number | null = null
    if (o.paddingIdx !== undefined && o.paddingIdx !== null) {
      pad = intArg('Embedding', 'paddingIdx', o.paddingIdx, -this.numEmbeddings)
      if (pad >= this.numEmbeddings) {
        throw new RangeError(`Embedding: paddingIdx must be an integer from ${-this.numEmbeddings} to ${this.numEmbeddings - 1}, got ${pad}`)
      }
      if (pad < 0) pad += this.numEmbeddings
    }
    this.paddingIdx = pad
    this.weight = new Parameter(zeros([this.numEmbeddings, this.embeddingDim]))
    this.resetParameters()
  }

  /** N(0, 1), the paddingIdx row zeros (PyTorch's reset_parameters). */
  resetParameters (): void {
    normal_(this.weight)
    if (this.paddingIdx !== null) {
      const d = this.embeddingDim
      this.weight.value.data.fill(0, this.paddingIdx * d, (this.paddingIdx + 1) * d)
    }
  }

  forward (indices: ops.IndexTensorLike): Tensor {
    const y = ops.embedding(indices, this.weight.value)
    this.#indices = this.cachesForBackward ? indices : null
    return y
  }

  override async forwardAsync (indices: ops.IndexTensorLike): Promise<Tensor> {
    const y = await ops.embeddingAsync(indices, this.weight.value)
    this.#indices = this.cachesForBackward ? indices : null
    return y
  }

  backward (dy: TensorLike): null {
    const [idx, out] = this.#take()
    const g = ops.embeddingBackward(dy, idx, this.numEmbeddings, { paddingIdx: this.paddingIdx, out, accumulate: out !== undefined })
    if (g !== out) g.dispose()
    return null
  }

  override async backwardAsync (dy: TensorLike): Promise<null> {
    const [idx, out] = this.#take()
    const g = await ops.embeddingBackwardAsync(dy, idx, this.numEmbeddings, { paddingIdx: this.paddingIdx, out, accumulate: out !== undefined })
    if (g !== out) g.dispose()
    return null
  }

  #take (): [ops.IndexTensorLike, Tensor | undefined] {
    const idx = this.#indices
    if (idx === null) noForward('Embedding')
    this.#indices = null
    return [idx, gradOf(this.weight)]
  }
}
