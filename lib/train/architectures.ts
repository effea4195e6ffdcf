// The models `foveal train --model <name>` trains: one small CNN, and the same CNN with each
// attention block of fv.nn in it. Written with fv.nn only, as a user would write them.
//
//   stage 1   conv 3×3 C→32, ReLU, max-pool 2          28×28 → 14×14 (MNIST)
//   attention the block under study, on 32 channels at 14×14 (gate, se, cbam, nonlocal, mha)
//   stage 2   conv 3×3 32→64, ReLU, max-pool 2          14×14 → 7×7
//   head      flatten, linear → 128, ReLU, dropout 0.25, linear → classes
//             ('pool': additive attention pooling over the 7×7 positions instead of flatten)
//
// Every attention block sits where its map has the most pixels worth drawing (14×14);
// attentionMap() hands that map to attention.png.
import * as nn from '../nn'
import * as ops from '../ops'
import { manualSeed } from '../seed'
import { Tensor, type TensorLike } from '../tensor'
import { type ModelName } from './models'
import { type ModelSpec, type TrainModel } from './types'

/** A Sequential classifier that can show the attention map of its last forward. */
class Classifier extends nn.Sequential implements TrainModel {
  readonly #map: () => Tensor | null

  constructor (map: () => Tensor | null, ...layers: nn.Module[]) {
    super(...layers)
    this.#map = map
  }

  /** [B, h, w] (or [B, 1, h, w]): larger = more attention; null for blocks without a spatial map. */
  attentionMap (): { data: Float32Array, shape: readonly number[] } | null {
    const m = this.#map()
    return m === null || m.isDisposed ? null : m
  }
}

/**
 * Multi-head self-attention over the positions of a feature map, with a residual:
 * x [B, C, H, W] → x + MHA(tokens) with tokens [B, H·W, C]. Keeps the head-averaged
 * weights of the centre position (in eval) as its map.
 */
class PositionAttention extends nn.Module {
  readonly mha: nn.MultiheadAttention
  #shape: readonly number[] | null = null
  #map: Tensor | null = null

  constructor (channels: number, heads: number) {
    super()
    this.mha = new nn.MultiheadAttention(channels, heads, { batchFirst: true })
  }

  get lastAttention (): Tensor | null { return this.#map }

  forward (x: TensorLike): Tensor {
    const [B, C, H, W] = (x as Tensor).shape
    this.#shape = [B!, C!, H!, W!]
    const tokens = ops.permute(x, [0, 2, 3, 1]).reshape([B!, H! * W!, C!])
    const wantMap = !this.training
    const { out, weights } = this.mha.forward(tokens, tokens, tokens, { needWeights: wantMap })
    if (this.training) this.#tokens = tokens
    else tokens.dispose()
    if (weights !== null) {
      // The centre position's weights over every position: [B, H, W].
      this.#map?.dispose()
      const L = H! * W!
      const centre = Math.floor(H! / 2) * W! + Math.floor(W! / 2)
      const m = new Float32Array(B! * L)
      for (let b = 0; b < B!; b++) m.set(weights.data.subarray((b * L + centre) * L, (b * L + centre + 1) * L), b * L)
      weights.dispose()
      this.#map = new Tensor(m, [B!, H!, W!])
    }
    const y = ops.permute(out.reshape([B!, H!, W!, C!]), [0, 3, 1, 2])
    out.dispose()
    const r = ops.add(y, x)
    y.dispose()
    return r
  }

  #tokens: Tensor | null = null

  backward (dOut: TensorLike): Tensor {
    const [B, C, H, W] = this.#shape!
    const dTokens = ops.permute(dOut, [0, 2, 3, 1]).reshape([B!, H! * W!, C!])
    const dIn = this.mha.backwardSelf(dTokens)
    dTokens.dispose()
    this.#tokens?.dispose()
    this.#tokens = null
    const dx = ops.permute(dIn.reshape([B!, H!, W!, C!]), [0, 3, 1, 2])
    dIn.dispose()
    const r = ops.add(dx, dOut) // the residual's gradient
    dx.dispose()
    return r
  }
}

/** Additive attention pooling over the positions, then a linear classifier. */
class PoolHead extends nn.Module {
  readonly pool: nn.AttentionPool
  readonly fc: nn.Linear

  constructor (channels: number, classes: number) {
    super()
    this.pool = new nn.AttentionPool(channels)
    this.fc = new nn.Linear(channels, classes)
  }

  get lastAttention (): Tensor | null { return this.pool.lastAttention }

  forward (x: TensorLike): Tensor {
    const { out } = this.pool.forward(x)
    const y = this.fc.forward(out)
    if (!this.training) out.dispose()
    else this.#pooled = out
    return y
  }

  #pooled: Tensor | null = null

  backward (dy: TensorLike): Tensor {
    const dPooled = this.fc.backward(dy)
    this.#pooled?.dispose()
    this.#pooled = null
    const dx = this.pool.backward(dPooled)
    dPooled.dispose()
    return dx
  }
}

/** Builds `name` for images of spec.input, its weights drawn from spec.seed. */
export function buildModel (name: ModelName, spec: ModelSpec): Classifier {
  manualSeed(spec.seed)
  const [C, H, W] = spec.input
  const h2 = Math.floor(Math.floor(H / 2) / 2)
  const w2 = Math.floor(Math.floor(W / 2) / 2)
  const stage1 = [new nn.Conv2d(C, 32, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2)]
  const stage2 = [new nn.Conv2d(32, 64, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2)]
  const head = (): nn.Module[] => [
    new nn.Flatten(), new nn.Linear(64 * h2 * w2, 128), new nn.ReLU(), new nn.Dropout(0.25), new nn.Linear(128, spec.numClasses)
  ]
  const withBlock = (block: nn.Module & { lastAttention: Tensor | null }): Classifier =>
    new Classifier(() => block.lastAttention, ...stage1, block, ...stage2, ...head())
  switch (name) {
    case 'cnn': return new Classifier(() => null, ...stage1, ...stage2, ...head())
    case 'gate': return withBlock(new nn.SpatialGate(32))
    case 'se': {
      const se = new nn.SqueezeExcitation(32, 8)
      return new Classifier(() => null, ...stage1, se, ...stage2, ...head())
    }
    case 'cbam': return withBlock(new nn.CBAM(32, 8, 7))
    case 'nonlocal': {
      const block = new nn.NonLocal2d(32, { keepAttention: true })
      return withBlock(block)
    }
    case 'mha': return withBlock(new PositionAttention(32, 4))
    case 'pool': {
      const ph = new PoolHead(64, spec.numClasses)
      return new Classifier(() => {
        const w = ph.lastAttention
        return w === null ? null : w.reshape([w.shape[0]!, h2, w2])
      }, ...stage1, ...stage2, ph)
    }
  }
}
