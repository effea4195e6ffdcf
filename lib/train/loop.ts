// The training loop: epochs of shuffled batches through any TrainModel and TrainOptimizer,
// the test set evaluated after each epoch, metrics per epoch. The loop owns no tensor
// memory per step: batches land in the Batcher's buffers, and the loop disposes the logits,
// loss and gradients it receives as soon as the step is done.
import { Batcher } from '../data/batcher'
import { type Dataset } from '../data/dataset'
import { dispose } from '../lifetime'
import { crossEntropy, crossEntropyBackward } from '../ops'
import { Tensor } from '../tensor'
import { type EpochMetrics, type ParameterLike, type TrainModel, type TrainOptimizer } from './types'

export interface FitOptions {
  /** Exactly this many epochs. Without it: until the test accuracy reaches targetAccuracy, at most maxEpochs. */
  epochs?: number
  /** Default 3. */
  maxEpochs?: number
  /** Default 0.993 (needs a test set). */
  targetAccuracy?: number
  /** Default 64. */
  batchSize?: number
  /**
   * Images per evaluation batch (default 250: no gradients are kept, so larger is faster, but
   * the mha model's attention weights grow as batch·L²: at 500 its run peaked above 1 GiB).
   */
  evalBatchSize?: number
  /** Seed of the shuffles and shifts (default 0). */
  seed?: number
  /** Random shifts of up to this many pixels (default 0: none). */
  shift?: number
  /** Let timers and I/O run at least this often, in ms (default 100): progress bars redraw, signals are handled. */
  yieldEveryMs?: number
}

/** Progress as the loop reports it. */
export interface BatchProgress {
  epoch: number
  /** Batches done in this epoch, of `batches`. */
  batch: number
  batches: number
  /** Images done in this epoch. */
  samples: number
  /** Mean loss and accuracy over this epoch so far. */
  loss: number
  accuracy: number
  samplesPerSecond: number
}

export interface FitPlan {
  /** The epochs that will run at most. */
  epochs: number
  batchSize: number
  batchesPerEpoch: number
  trainSamples: number
  testSamples: number
  parameters: number
}

/** What the loop tells a progress display. Every method is optional. */
export interface FitListener {
  start?(plan: FitPlan): void
  batch?(p: BatchProgress): void
  evaluating?(epoch: number): void
  epoch?(m: EpochMetrics, plan: FitPlan): void
}

export interface FitResult {
  epochs: EpochMetrics[]
  /** 'epochs': ran the epochs asked for (or maxEpochs); 'target': stopped at the target accuracy. */
  stoppedBy: 'epochs' | 'target'
  parameters: number
  /** The class predicted for each test image after the last epoch (null without a test set). */
  testPredictions: Int32Array | null
  seconds: number
}

/** The number of trainable values of a model. */
export function countParameters (params: Iterable<ParameterLike>): number {
  let n = 0
  for (const p of params) n += p.value.data.length
  return n
}

/** Trains `model` with `optimizer` on `train`, evaluating on `test` after every epoch. */
export async function fit (model: TrainModel, optimizer: TrainOptimizer, train: Dataset, test: Dataset | null,
  opts: FitOptions = {}, listener: FitListener = {}): Promise<FitResult> {
  const t0 = performance.now()
  const batchSize = opts.batchSize ?? 64
  const seed = opts.seed ?? 0
  const maxEpochs = opts.epochs ?? opts.maxEpochs ?? 3
  const target = opts.epochs === undefined && test !== null ? (opts.targetAccuracy ?? 0.993) : Infinity
  const batcher = new Batcher(train, { batchSize, seed, shift: opts.shift ?? 0, shuffle: true })
  const evalBatcher = test === null ? null : new Batcher(test, { batchSize: opts.evalBatchSize ?? 250, shuffle: false })
  const predictions = test === null ? null : new Int32Array(test.shape[0])
  const plan: FitPlan = {
    epochs: maxEpochs,
    batchSize,
    batchesPerEpoch: batcher.batches,
    trainSamples: train.shape[0],
    testSamples: test === null ? 0 : test.shape[0],
    parameters: countParameters(model.parameters())
  }
  listener.start?.(plan)
  const pause = pacer(opts.yieldEveryMs ?? 100)
  const inputs = new InputTensors()
  const classes = train.numClasses
  const epochs: EpochMetrics[] = []
  let stoppedBy: FitResult['stoppedBy'] = 'epochs'

  for (let e = 1; e <= maxEpochs; e++) {
    model.train()
    const start = performance.now()
    let lossSum = 0
    let correct = 0
    let seen = 0
    for (const batch of batcher.epoch()) {
      const x = inputs.get(batch.x, batch.shape)
      optimizer.zeroGrad()
      const logits = model.forward(x)
      const loss = crossEntropy(logits, batch.y)
      const dlogits = crossEntropyBackward(1, logits, batch.y)
      const dx = model.backward(dlogits)
      optimizer.step()
      lossSum += loss.data[0] * batch.size
      correct += countCorrect(logits.data, batch.y, batch.size, classes, null, 0)
      seen += batch.size
      dispose([logits, loss, dlogits])
      if (dx instanceof Tensor) dx.dispose()
      const now = performance.now()
      listener.batch?.({
        epoch: e, batch: batch.index + 1, batches: batcher.batches, samples: seen,
        loss: lossSum / seen, accuracy: correct / seen, samplesPerSecond: seen / ((now - start) / 1000)
      })
      await pause()
    }
    const seconds = (performance.now() - start) / 1000
    let testLoss: number | null = null
    let testAccuracy: number | null = null
    let evalSeconds = 0
    if (evalBatcher !== null && test !== null) {
      listener.evaluating?.(e)
      const r = await evaluate(model, evalBatcher, inputs, classes, predictions, pause)
      testLoss = r.loss
      testAccuracy = r.accuracy
      evalSeconds = r.seconds
    }
    const m: EpochMetrics = {
      epoch: e,
      trainLoss: lossSum / seen,
      trainAccuracy: correct / seen,
      testLoss,
      testAccuracy,
      seconds,
      evalSeconds,
      samplesPerSecond: seen / seconds,
      evalSamplesPerSecond: test === null || evalSeconds === 0 ? 0 : test.shape[0] / evalSeconds
    }
    epochs.push(m)
    listener.epoch?.(m, plan)
    if (testAccuracy !== null && testAccuracy >= target) {
      stoppedBy = 'target'
      break
    }
  }
  model.train()
  return { epochs, stoppedBy, parameters: plan.parameters, testPredictions: predictions, seconds: (performance.now() - t0) / 1000 }
}

/** Mean loss and accuracy of `model` over a batcher's dataset, in evaluation mode; fills `predictions`. */
async function evaluate (model: TrainModel, batcher: Batcher, inputs: InputTensors, classes: number,
  predictions: Int32Array | null, pause: () => Promise<void>): Promise<{ loss: number, accuracy: number, seconds: number }> {
  model.eval()
  const start = performance.now()
  let lossSum = 0
  let correct = 0
  let seen = 0
  for (const batch of batcher.epoch()) {
    const logits = model.forward(inputs.get(batch.x, batch.shape))
    const loss = crossEntropy(logits, batch.y, { reduction: 'sum' })
    lossSum += loss.data[0]
    correct += countCorrect(logits.data, batch.y, batch.size, classes, predictions, batch.start)
    seen += batch.size
    dispose([logits, loss])
    await pause()
  }
  model.train()
  return { loss: lossSum / seen, accuracy: correct / seen, seconds: (performance.now() - start) / 1000 }
}

/**
 * Rows of `logits` [n, classes] whose largest entry (the first of equals) is the label;
 * writes each row's argmax into predictions[at…] when given. A loop over n·classes floats
 * (640 for a batch of 64): a native argmax would cost more to call.
 */
export function countCorrect (logits: Float32Array, labels: Int32Array, n: number, classes: number,
  predictions: Int32Array | null, at: number): number {
  let correct = 0
  for (let i = 0; i < n; i++) {
    let best = 0
    let bestValue = logits[i * classes]
    for (let c = 1; c < classes; c++) {
      const v = logits[i * classes + c]
      if (v > bestValue) { bestValue = v; best = c }
    }
    if (best === labels[i]) correct++
    if (predictions !== null) predictions[at + i] = best
  }
  return correct
}

/** Tensors over the Batcher's buffers, made once per buffer and shape (full batch, last batch). */
class InputTensors {
  readonly #cache = new Map<Float32Array, Tensor>()
  get (data: Float32Array, shape: readonly number[]): Tensor {
    let t = this.#cache.get(data)
    if (t === undefined) {
      t = new Tensor(data, shape)
      this.#cache.set(data, t)
    }
    return t
  }
}

/** A function that yields to the event loop when `ms` have passed since it last did. */
function pacer (ms: number): () => Promise<void> {
  let last = performance.now()
  return async () => {
    const now = performance.now()
    if (now - last < ms) return
    await new Promise<void>((resolve) => setImmediate(resolve))
    last = performance.now()
  }
}
