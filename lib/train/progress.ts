// Progress of a training run: a live bar (cli-progress) on a terminal, one plain line per
// epoch anywhere else (CI logs, files, pipes), or nothing.
import { type EpochMetrics } from './types'
import { type BatchProgress, type FitListener, type FitPlan } from './loop'

/** A FitListener that can also print a line of its own. */
export interface Reporter extends FitListener {
  log(line: string): void
  /** Called once at the end (stops a bar). */
  close(): void
}

/** `epoch 2/3  train loss 0.0912 acc 97.21%  test loss 0.0501 acc 98.40%  5123 img/s  11.7 s` */
export function epochLine (m: EpochMetrics, epochs: number): string {
  const test = m.testLoss === null || m.testAccuracy === null
    ? ''
    : `  test loss ${m.testLoss.toFixed(4)} acc ${pct(m.testAccuracy)}`
  return `epoch ${m.epoch}/${epochs}  train loss ${m.trainLoss.toFixed(4)} acc ${pct(m.trainAccuracy)}${test}  ` +
    `${Math.round(m.samplesPerSecond)} img/s  ${(m.seconds + m.evalSeconds).toFixed(1)} s`
}

export function pct (x: number): string {
  return `${(x * 100).toFixed(2)}%`
}

export function planLine (plan: FitPlan, what: string): string {
  return `${what}: ${plan.trainSamples} training images in ${plan.batchesPerEpoch} batches of ${plan.batchSize}` +
    `${plan.testSamples ? `, ${plan.testSamples} test images` : ''}, ${plan.parameters} parameters, at most ${plan.epochs} epoch(s)`
}

/** One line per epoch (and the run's first and last lines) on a stream. */
export class LineReporter implements Reporter {
  constructor (readonly stream: NodeJS.WritableStream, readonly title = 'training') {}
  start (plan: FitPlan): void {
    this.log(planLine(plan, this.title))
  }

  epoch (m: EpochMetrics, plan: FitPlan): void { this.log(epochLine(m, plan.epochs)) }
  log (line: string): void { this.stream.write(line + '\n') }
  close (): void {}
}

/** Prints nothing. */
export class QuietReporter implements Reporter {
  log (): void {}
  close (): void {}
}

// cli-progress ships no type declarations: the part used here.
interface SingleBar {
  start(total: number, value: number, payload?: object): void
  update(value: number, payload?: object): void
  stop(): void
}
interface CliProgress {
  SingleBar: new (opts: object, preset?: object) => SingleBar
  Presets: Record<string, object>
}

/** A live bar per epoch (loss, accuracy, images/s, ETA of the epoch), then its epoch line. */
export class BarReporter implements Reporter {
  #bar: SingleBar | null = null
  #plan: FitPlan | null = null
  readonly #cp: CliProgress

  constructor (readonly stream: NodeJS.WriteStream, readonly title = 'training') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use
    this.#cp = require('cli-progress') as CliProgress
  }

  start (plan: FitPlan): void {
    this.#plan = plan
    this.log(planLine(plan, this.title))
  }

  batch (p: BatchProgress): void {
    const plan = this.#plan as FitPlan
    if (this.#bar === null) {
      this.#bar = new this.#cp.SingleBar({
        stream: this.stream,
        format: `epoch ${p.epoch}/${plan.epochs} {bar} {percentage}% | loss {loss} | acc {acc} | {speed} img/s | ETA {eta_s}`,
        barsize: 24,
        clearOnComplete: true,
        fps: 8
      }, this.#cp.Presets.shades_classic)
      this.#bar.start(plan.trainSamples, 0, this.#payload(p, plan))
    }
    this.#bar.update(p.samples, this.#payload(p, plan))
  }

  #payload (p: BatchProgress, plan: FitPlan): object {
    const eta = p.samplesPerSecond > 0 ? (plan.trainSamples - p.samples) / p.samplesPerSecond : 0
    return {
      loss: p.loss.toFixed(4),
      acc: pct(p.accuracy),
      speed: Math.round(p.samplesPerSecond),
      eta_s: `${Math.ceil(eta)}s`
    }
  }

  evaluating (): void {
    this.#stopBar()
  }

  epoch (m: EpochMetrics, plan: FitPlan): void {
    this.#stopBar()
    this.log(epochLine(m, plan.epochs))
  }

  log (line: string): void {
    this.stream.write(line + '\n')
  }

  close (): void { this.#stopBar() }

  #stopBar (): void {
    if (this.#bar !== null) this.#bar.stop()
    this.#bar = null
  }
}

/** The reporter for a stream: a bar on a terminal, lines elsewhere, nothing when quiet. */
export function reporterFor (stream: NodeJS.WriteStream, opts: { quiet?: boolean, title?: string } = {}): Reporter {
  if (opts.quiet === true) return new QuietReporter()
  return stream.isTTY ? new BarReporter(stream, opts.title) : new LineReporter(stream, opts.title)
}
